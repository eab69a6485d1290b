#include "search/search_service.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/blocking_counter.h"
#include "fmt/format.h"

#include "cluster/rendezvous.h"
#include "common/json_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
#include "index/aggregation_codec.h"
#include "index/split_format.h"
#include "query/query_language.h"
#include "search/aggregation_request.h"
#include "search/aggregation_result.h"
#include "search/snippets.h"
#include "split/split_store.h"

namespace shale::search {
namespace {


// Parses Quickwit's sort spelling. No prefix or '+': descending; '-': ascending.
absl::StatusOr<std::vector<index::SortField>> ParseSortBy(const std::vector<std::string>& specs,
                                                          const config::IndexConfig& config) {
  std::vector<index::SortField> fields;
  for (const std::string& raw_spec : specs) {
    std::string_view spec = raw_spec;
    while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
    while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
    if (spec.empty()) continue;
    index::SortField field;
    field.order = index::SortOrder::kDesc;
    if (spec.front() == '-') {
      field.order = index::SortOrder::kAsc;
      spec.remove_prefix(1);
    } else if (spec.front() == '+') {
      spec.remove_prefix(1);
    }
    if (spec.empty()) return absl::InvalidArgumentError("sort_by holds an empty field name");
    field.field = std::string(spec);
    fields.push_back(std::move(field));
  }
  if (fields.size() > 2) {
    return absl::InvalidArgumentError(
        fmt::format("sort_by accepts at most 2 fields, got {}", fields.size()));
  }
  if (fields.empty()) {
    // Default order: newest first when the index has a timestamp field, else by document.
    if (config.doc_mapping.timestamp_field.has_value()) {
      fields.push_back({*config.doc_mapping.timestamp_field, index::SortOrder::kDesc});
    } else {
      fields.push_back({"_doc", index::SortOrder::kAsc});
    }
  }
  return fields;
}

bool SplitMissesTimeRange(const metastore::SplitMetadata& split,
                          const std::optional<int64_t>& start_secs,
                          const std::optional<int64_t>& end_secs) {
  if (!split.time_range_start_secs.has_value() || !split.time_range_end_secs.has_value()) {
    return false;  // no timestamp field: cannot prune
  }
  if (start_secs.has_value() && *split.time_range_end_secs < *start_secs) return true;
  if (end_secs.has_value() && *split.time_range_start_secs >= *end_secs) return true;
  return false;
}

// Finds the mapping of the field at `path` ("resource.service"), or nullptr.
const index::FieldMapping* FindFieldMapping(const std::vector<index::FieldMapping>& mappings,
                                            std::string_view path) {
  for (const index::FieldMapping& field : mappings) {
    if (path == field.name) return &field;
    if (field.type == index::FieldType::kObject && path.size() > field.name.size() &&
        path.substr(0, field.name.size()) == field.name && path[field.name.size()] == '.') {
      return FindFieldMapping(field.field_mappings, path.substr(field.name.size() + 1));
    }
  }
  return nullptr;
}

// The tag string ("field:value") a term query value produces, as the split writer renders it,
// or nullopt when the value cannot be a tag of that field (then the split is not pruned and the
// leaf reports any error).
std::optional<std::string> TagOfTerm(const std::string& field, const index::FieldMapping& mapping,
                                     const index::TermValue& value) {
  const std::string* text = std::get_if<std::string>(&value);
  if (text == nullptr) return std::nullopt;
  if (mapping.type == index::FieldType::kText) return field + ":" + *text;
  if (mapping.type == index::FieldType::kU64) {
    uint64_t number = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), number);
    if (error != std::errc() || end != text->data() + text->size()) return std::nullopt;
    return fmt::format("{}:{}", field, number);
  }
  if (mapping.type == index::FieldType::kI64) {
    int64_t number = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), number);
    if (error != std::errc() || end != text->data() + text->size()) return std::nullopt;
    return fmt::format("{}:{}", field, number);
  }
  return std::nullopt;
}

// Whether a split with `tags` may hold a document matching `query`. Conservative: false only
// when a required clause is a term on a tag field whose exhaustive value list ("field!" present)
// lacks the value. must_not clauses never prune.
// Whether a split with `tags` may hold a document whose `field` holds one of `values`.
bool TermsMayMatch(const std::string& field, const std::vector<const index::TermValue*>& values,
                   const std::set<std::string>& tags, const config::IndexConfig& config) {
  const std::vector<std::string>& tag_fields = config.doc_mapping.tag_fields;
  if (std::find(tag_fields.begin(), tag_fields.end(), field) == tag_fields.end()) return true;
  if (tags.count(field + "!") == 0) return true;  // too many values to list
  const index::FieldMapping* mapping = FindFieldMapping(config.doc_mapping.field_mappings, field);
  if (mapping == nullptr) return true;
  for (const index::TermValue* value : values) {
    const std::optional<std::string> tag = TagOfTerm(field, *mapping, *value);
    if (!tag.has_value() || tags.count(*tag) > 0) return true;
  }
  return false;
}

bool SplitMayMatch(const index::Query& query, const std::set<std::string>& tags,
                   const config::IndexConfig& config) {
  if (const auto* term = std::get_if<index::TermQuery>(&query.node)) {
    return TermsMayMatch(term->field, {&term->value}, tags, config);
  }
  if (const auto* set = std::get_if<index::TermSetQuery>(&query.node)) {
    std::vector<const index::TermValue*> values;
    values.reserve(set->values.size());
    for (const index::TermValue& value : set->values) values.push_back(&value);
    return TermsMayMatch(set->field, values, tags, config);
  }
  if (std::holds_alternative<index::EmptyQuery>(query.node)) return false;
  const auto* boolean = std::get_if<index::BoolQuery>(&query.node);
  if (boolean == nullptr) return true;
  for (const auto* clauses : {&boolean->must, &boolean->filter}) {
    for (const index::QueryPtr& clause : *clauses) {
      if (!SplitMayMatch(*clause, tags, config)) return false;
    }
  }
  uint32_t minimum_should_match = boolean->minimum_should_match.value_or(
      boolean->must.empty() && boolean->filter.empty() && !boolean->should.empty() ? 1 : 0);
  if (minimum_should_match == 0) return true;
  uint32_t may_match = 0;
  for (const index::QueryPtr& clause : boolean->should) {
    if (SplitMayMatch(*clause, tags, config)) ++may_match;
  }
  return may_match >= minimum_should_match;
}

struct TargetIndex {
  metastore::IndexMetadata metadata;
  std::vector<std::string> search_fields;  // the query's default fields
  std::shared_ptr<const index::Query> query;
  // The request's aggregations with filter queries parsed for this index (set when it has any).
  std::shared_ptr<const index::AggregationRequest> aggregation;
  // Set when the request asks for snippets.
  std::optional<SnippetPlan> snippets;
};

// Glob match where '*' matches any run of characters.
bool GlobMatches(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

absl::StatusOr<std::vector<metastore::IndexMetadata>> ResolveIndexPatterns(
    metastore::Metastore& metastore, const std::string& patterns) {
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  size_t start = 0;
  while (start <= patterns.size()) {
    const size_t comma = patterns.find(',', start);
    std::string part = patterns.substr(start, comma == std::string::npos ? std::string::npos
                                                                         : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) {
      if (part[0] == '-') {
        excludes.push_back(part.substr(1));
      } else {
        includes.push_back(part);
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (includes.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("index pattern `{}` selects no index (exclusions alone select nothing)",
                    patterns));
  }
  if (includes.size() == 1 && excludes.empty() && includes[0].find('*') == std::string::npos) {
    ASSIGN_OR_RETURN(metastore::IndexMetadata metadata, metastore.GetIndexMetadata(includes[0]));
    return std::vector<metastore::IndexMetadata>{std::move(metadata)};
  }
  ASSIGN_OR_RETURN(std::vector<metastore::IndexMetadata> all, metastore.ListIndexes());
  std::vector<metastore::IndexMetadata> selected;
  for (const std::string& include : includes) {
    bool matched = false;
    for (const metastore::IndexMetadata& metadata : all) {
      if (!GlobMatches(include, metadata.index_id())) continue;
      matched = true;
      bool excluded = false;
      for (const std::string& exclude : excludes) excluded |= GlobMatches(exclude, metadata.index_id());
      bool duplicate = false;
      for (const metastore::IndexMetadata& chosen : selected) {
        duplicate |= chosen.index_uid == metadata.index_uid;
      }
      if (!excluded && !duplicate) selected.push_back(metadata);
    }
    if (!matched && include.find('*') == std::string::npos) {
      return absl::NotFoundError(fmt::format("index `{}` not found", include));
    }
  }
  if (selected.empty()) {
    return absl::NotFoundError(fmt::format("no index matches `{}`", patterns));
  }
  return selected;
}


namespace {

bool IsQueryError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

// A split that survived pruning, and how its search went.
struct SplitWork {
  const metastore::SplitMetadata* metadata = nullptr;
  const TargetIndex* target = nullptr;
  // Indexes into the live searchers, in the split's rendezvous order.
  std::vector<size_t> order;
  size_t position = 0;  // the node of `order` trying it now
  uint32_t attempts = 0;
  bool done = false;
  absl::Status last_error;
  std::shared_ptr<split::OpenedSplit> opened;  // in process: left open by the leaf search
};

// Moves `work.position` to the first node of its order, from the current one on, that has not
// failed. False when there is none.
bool FindLiveNode(SplitWork& work, const std::vector<bool>& node_failed) {
  while (work.position < work.order.size() && node_failed[work.order[work.position]]) {
    ++work.position;
  }
  return work.position < work.order.size();
}

split::SplitLocation LocationOf(const metastore::SplitMetadata& metadata) {
  return split::SplitLocation{metadata.split_id, metadata.split_size_bytes, metadata.footer_start,
                              metadata.footer_end};
}

// Runs task(0) ... task(count - 1) concurrently and waits for them all. The last one runs on the
// calling thread, so a single leaf costs no thread hop.
void RunConcurrently(ThreadPool& pool, size_t count, const std::function<void(size_t)>& task) {
  if (count == 0) return;
  absl::BlockingCounter pending(static_cast<int>(count - 1));
  for (size_t i = 0; i + 1 < count; ++i) {
    const bool submitted = pool.Submit([&task, &pending, i] {
      task(i);
      pending.DecrementCount();
    });
    if (!submitted) {  // shutting down: run it here
      task(i);
      pending.DecrementCount();
    }
  }
  task(count - 1);
  pending.Wait();
}

using WorkBySplit = absl::flat_hash_map<std::string_view, SplitWork*>;

// The documents of `page`, in order, from the nodes that searched their splits: one FetchDocs
// per node, concurrently. A node whose call fails is marked failed and its part is asked once
// of the next live node of its first split's rendezvous order. A document that cannot be read
// is left out, with a message in `errors`. With snippet fields, `snippets` gets one object per
// returned document.
std::vector<std::string> FetchPage(const std::vector<LeafHit>& page,
                                   const WorkBySplit& work_by_split,
                                   const std::vector<SearcherNode>& searchers,
                                   std::vector<bool>& node_failed, absl::Time deadline,
                                   ThreadPool& pool, std::vector<std::string>& errors,
                                   std::vector<std::string>& snippets) {
  struct FetchGroup {
    size_t node = 0;
    FetchDocsRequest request;
    std::vector<SplitWork*> works;                // per split of the request
    std::vector<std::vector<size_t>> positions;   // per split: the hits' positions in `page`
    absl::StatusOr<FetchDocsResponse> result = absl::UnknownError("documents not fetched");
  };
  std::vector<FetchGroup> groups;
  absl::flat_hash_map<size_t, size_t> group_of_node;
  absl::flat_hash_map<std::string_view, std::pair<size_t, size_t>> slot_of_split;
  for (size_t position = 0; position < page.size(); ++position) {
    SplitWork* work = work_by_split.at(page[position].split_id);
    auto [slot, inserted] = slot_of_split.try_emplace(page[position].split_id);
    if (inserted) {
      const size_t node = work->order[work->position];
      auto [group_it, new_group] = group_of_node.try_emplace(node, groups.size());
      if (new_group) {
        groups.emplace_back().node = node;
        groups.back().request.deadline = deadline;
      }
      FetchGroup& group = groups[group_it->second];
      slot->second = {group_it->second, group.request.splits.size()};
      FetchDocsSplit& split = group.request.splits.emplace_back();
      split.index_uri = *work->target->metadata.index_config.index_uri;
      split.location = LocationOf(*work->metadata);
      split.opened = work->opened;
      group.works.push_back(work);
      group.positions.emplace_back();
    }
    FetchGroup& group = groups[slot->second.first];
    group.request.splits[slot->second.second].doc_ids.push_back(page[position].hit.doc_id);
    group.positions[slot->second.second].push_back(position);
  }

  std::vector<size_t> to_run(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) to_run[i] = i;
  for (int round = 0; round < 2 && !to_run.empty(); ++round) {
    RunConcurrently(pool, to_run.size(), [&](size_t i) {
      FetchGroup& group = groups[to_run[i]];
      group.result = searchers[group.node].client->FetchDocs(group.request);
      if (!group.result.ok()) return;
      // A response of the wrong shape is the searcher's fault: treat it as a failed call.
      bool well_formed = group.result->documents.size() == group.request.splits.size();
      for (size_t j = 0; well_formed && j < group.request.splits.size(); ++j) {
        well_formed = group.result->documents[j].size() == group.request.splits[j].doc_ids.size();
      }
      if (!well_formed) {
        group.result = absl::InternalError(fmt::format(
            "searcher {} answered a document fetch with the wrong number of documents",
            searchers[group.node].node_id));
      }
    });
    std::vector<size_t> retry;
    for (size_t index : to_run) {
      FetchGroup& group = groups[index];
      if (group.result.ok() || round == 1) continue;
      node_failed[group.node] = true;
      SplitWork next = *group.works.front();
      ++next.position;
      if (!FindLiveNode(next, node_failed)) continue;
      group.node = next.order[next.position];
      retry.push_back(index);
    }
    to_run = std::move(retry);
  }

  std::vector<absl::StatusOr<std::string>> documents(page.size(),
                                                     absl::UnknownError("document not fetched"));
  for (FetchGroup& group : groups) {
    for (size_t j = 0; j < group.positions.size(); ++j) {
      for (size_t k = 0; k < group.positions[j].size(); ++k) {
        documents[group.positions[j][k]] =
            group.result.ok() ? std::move(group.result->documents[j][k])
                              : absl::StatusOr<std::string>(group.result.status());
      }
    }
  }
  std::vector<std::string> hits;
  hits.reserve(page.size());
  for (size_t position = 0; position < page.size(); ++position) {
    if (!documents[position].ok()) {
      errors.push_back(fmt::format("split {}: {}", page[position].split_id,
                                   documents[position].status().ToString()));
      continue;
    }
    const std::optional<SnippetPlan>& plan = work_by_split.at(page[position].split_id)->target->snippets;
    if (plan.has_value()) snippets.push_back(RenderSnippets(*plan, *documents[position]));
    hits.push_back(*std::move(documents[position]));
  }
  return hits;
}

}  // namespace

SearchService::SearchService(metastore::Metastore* metastore,
                             storage::StorageResolver* storage_resolver,
                             const SearchServiceOptions& options)
    : SearchService(metastore, nullptr, nullptr, options) {
  owned_leaf_ = std::make_unique<LeafSearcher>(storage_resolver, options);
  owned_searchers_ = NewSingleSearcherPool("local", owned_leaf_.get());
  local_leaf_ = owned_leaf_.get();
  searchers_ = owned_searchers_.get();
}

SearchService::SearchService(metastore::Metastore* metastore, SearcherPool* searchers,
                             LeafSearcher* local_leaf, const SearchServiceOptions& options)
    : metastore_(metastore),
      options_(options),
      local_leaf_(local_leaf),
      searchers_(searchers),
      root_pool_("root_search", std::max(1, options.num_root_threads)),
      splits_opened_(MetricsRegistry::Global().GetCounter(
          "shale_search_splits_opened_total",
          "Leaf searches on splits sent by this node as a root, after pruning (retries "
          "included)")),
      leaf_retries_(MetricsRegistry::Global().GetCounter(
          "shale_search_leaf_retries_total",
          "Splits a root sent to another searcher after a failed leaf search")),
      splits_pruned_(MetricsRegistry::Global().GetCounter("shale_search_splits_pruned_total",
                                                          "Splits skipped by time or tag pruning")),
      num_searches_(MetricsRegistry::Global().GetCounter("shale_search_requests_total",
                                                         "Root search requests")) {}

SearchService::~SearchService() { Stop(); }

void SearchService::Stop() {
  root_pool_.Stop();
  if (owned_leaf_ != nullptr) owned_leaf_->Stop();
}

SearchCacheStats SearchService::cache_stats() const {
  return local_leaf_ != nullptr ? local_leaf_->cache_stats() : SearchCacheStats();
}

absl::StatusOr<SearchResponse> SearchService::Search(const SearchRequest& request) {
  const Stopwatch stopwatch;
  num_searches_.Increment();
  if (static_cast<uint64_t>(request.max_hits) + request.start_offset > kMaxHitsPlusOffset) {
    return absl::InvalidArgumentError(
        fmt::format("max_hits + start_offset must be at most {}, got {}", kMaxHitsPlusOffset,
                    static_cast<uint64_t>(request.max_hits) + request.start_offset));
  }
  ASSIGN_OR_RETURN(std::vector<metastore::IndexMetadata> indexes,
                   ResolveIndexPatterns(*metastore_, request.index_id));
  // Each index parses the query with its own default search fields; the first index decides
  // the default sort.
  std::vector<TargetIndex> targets(indexes.size());
  for (size_t i = 0; i < indexes.size(); ++i) {
    TargetIndex& target = targets[i];
    target.metadata = std::move(indexes[i]);
    const config::IndexConfig& index_config = target.metadata.index_config;
    target.search_fields = request.search_fields.empty()
                               ? index_config.search_settings.default_search_fields
                               : request.search_fields;
    ASSIGN_OR_RETURN(index::QueryPtr query,
                     query::ParseUserQuery(request.query, target.search_fields));
    target.query = std::move(query);
    if (request.aggregation.has_value() && HasAggregationFilters(*request.aggregation)) {
      ASSIGN_OR_RETURN(index::AggregationRequest bound,
                       BindAggregationFilters(*request.aggregation, target.search_fields));
      target.aggregation = std::make_shared<const index::AggregationRequest>(std::move(bound));
    }
    if (!index_config.index_uri.has_value()) {
      return absl::InternalError(fmt::format("index {} has no index uri", index_config.index_id));
    }
    if (!request.snippet_fields.empty()) {
      ASSIGN_OR_RETURN(targets[i].snippets, PlanSnippets(request.snippet_fields,
                                                         index_config.doc_mapping,
                                                         *targets[i].query));
    }
  }
  ASSIGN_OR_RETURN(std::vector<index::SortField> sort_fields,
                   ParseSortBy(request.sort_by, targets.front().metadata.index_config));
  std::shared_ptr<const index::AggregationRequest> aggregation;
  if (request.aggregation.has_value()) {
    aggregation = std::make_shared<const index::AggregationRequest>(*request.aggregation);
  }

  SearchResponse response;
  if (request.start_timestamp_secs.has_value() && request.end_timestamp_secs.has_value() &&
      *request.start_timestamp_secs >= *request.end_timestamp_secs) {
    if (aggregation != nullptr) {
      const auto& specs = aggregation->aggregations;
      ASSIGN_OR_RETURN(nlohmann::json aggregations,
                       FinalizeAggregations(specs, index::MakeEmptyAggs(specs)));
      response.aggregations = DumpJson(aggregations);
    }
    response.elapsed_time_micros = stopwatch.ElapsedMicros();
    return response;  // empty time range
  }

  metastore::ListSplitsQuery list_query;
  for (const TargetIndex& target : targets) list_query.index_uids.push_back(target.metadata.index_uid);
  list_query.states = {metastore::SplitState::kPublished};
  ASSIGN_OR_RETURN(std::vector<metastore::Split> splits, metastore_->ListSplits(list_query));

  absl::flat_hash_map<std::string_view, const TargetIndex*> target_by_uid;
  for (const TargetIndex& target : targets) target_by_uid[target.metadata.index_uid] = &target;
  std::vector<SplitWork> works;
  for (const metastore::Split& split : splits) {
    const auto found = target_by_uid.find(split.metadata.index_uid);
    if (found == target_by_uid.end()) continue;
    const TargetIndex* target = found->second;
    if (SplitMissesTimeRange(split.metadata, request.start_timestamp_secs,
                             request.end_timestamp_secs) ||
        !SplitMayMatch(*target->query, split.metadata.tags, target->metadata.index_config)) {
      splits_pruned_.Increment();
      continue;
    }
    SplitWork& work = works.emplace_back();
    work.metadata = &split.metadata;
    work.target = target;
  }

  // Each split goes to the first searcher of its rendezvous order.
  const std::vector<SearcherNode> searchers = searchers_->LiveSearchers();
  if (!works.empty() && searchers.empty()) {
    return absl::UnavailableError(
        "no searcher is available: no live node of the cluster runs the searcher service");
  }
  std::vector<std::string> node_ids;
  absl::flat_hash_map<std::string, size_t> node_index;
  for (size_t i = 0; i < searchers.size(); ++i) {
    node_ids.push_back(searchers[i].node_id);
    node_index[searchers[i].node_id] = i;
  }
  for (SplitWork& work : works) {
    if (searchers.size() == 1) {
      work.order = {0};
      continue;
    }
    for (const std::string& node_id : cluster::RendezvousOrder(work.metadata->split_id, node_ids)) {
      work.order.push_back(node_index.at(node_id));
    }
  }

  LeafSearchRequest leaf_template;
  if (request.start_timestamp_secs.has_value()) {
    leaf_template.start_timestamp_nanos = SecondsToNanosSaturated(*request.start_timestamp_secs);
  }
  if (request.end_timestamp_secs.has_value()) {
    leaf_template.end_timestamp_nanos = SecondsToNanosSaturated(*request.end_timestamp_secs);
  }
  leaf_template.top_k = request.max_hits + request.start_offset;
  leaf_template.sort_by = sort_fields;
  leaf_template.count_all = request.count_all;
  leaf_template.aggregation = aggregation;
  leaf_template.deadline = absl::Now() + options_.request_timeout;

  std::vector<LeafHit> all_hits;
  index::IntermediateAggs merged_aggs;
  if (aggregation != nullptr) merged_aggs = index::MakeEmptyAggs(aggregation->aggregations);
  WorkBySplit work_by_split;
  for (SplitWork& work : works) work_by_split[work.metadata->split_id] = &work;
  std::vector<bool> node_failed(searchers.size(), false);

  // Round 0 sends every split to its first node; round 1 sends the splits that failed to the
  // next node of their order that has not failed.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::vector<SplitWork*>> splits_by_node(searchers.size());
    for (SplitWork& work : works) {
      if (work.done) continue;
      if (round == 1) {
        ++work.position;
        if (!FindLiveNode(work, node_failed)) continue;
        leaf_retries_.Increment();
      }
      splits_by_node[work.order[work.position]].push_back(&work);
    }
    std::vector<size_t> nodes;
    for (size_t node = 0; node < searchers.size(); ++node) {
      if (!splits_by_node[node].empty()) nodes.push_back(node);
    }
    if (nodes.empty()) break;
    std::vector<absl::StatusOr<LeafSearchResponse>> results(
        nodes.size(), absl::UnknownError("leaf search not run"));
    RunConcurrently(root_pool_, nodes.size(), [&](size_t i) {
      const size_t node = nodes[i];
      LeafSearchRequest leaf_request = leaf_template;
      absl::flat_hash_map<const TargetIndex*, size_t> index_position;
      for (SplitWork* work : splits_by_node[node]) {
        auto [it, inserted] = index_position.emplace(work->target, leaf_request.indexes.size());
        if (inserted) {
          LeafIndexRequest& index_request = leaf_request.indexes.emplace_back();
          const TargetIndex& target = *work->target;
          index_request.index_id = target.metadata.index_config.index_id;
          index_request.index_uri = *target.metadata.index_config.index_uri;
          index_request.query = request.query;
          index_request.search_fields = target.search_fields;
          index_request.parsed_query = target.query;
          index_request.bound_aggregation =
              target.aggregation != nullptr ? target.aggregation : aggregation;
        }
        leaf_request.indexes[it->second].splits.push_back(LocationOf(*work->metadata));
        ++work->attempts;
      }
      splits_opened_.Increment(static_cast<int64_t>(splits_by_node[node].size()));
      results[i] = searchers[node].client->LeafSearch(leaf_request);
    });
    for (size_t i = 0; i < nodes.size(); ++i) {
      const size_t node = nodes[i];
      absl::StatusOr<LeafSearchResponse>& result = results[i];
      if (!result.ok()) {
        if (IsQueryError(result.status())) return result.status();
        node_failed[node] = true;
        for (SplitWork* work : splits_by_node[node]) work->last_error = result.status();
        continue;
      }
      for (const SplitError& error : result->failed_splits) {
        if (IsQueryError(error.status)) return error.status;
        const auto found = work_by_split.find(error.split_id);
        if (found != work_by_split.end()) found->second->last_error = error.status;
      }
      if (aggregation != nullptr && result->aggregations.has_value()) {
        RETURN_IF_ERROR(index::CheckAggsShape(aggregation->aggregations, *result->aggregations));
        RETURN_IF_ERROR(index::MergeAggs(aggregation->aggregations, merged_aggs,
                                         *result->aggregations));
      }
      response.num_hits += result->num_hits;
      std::set<std::string_view> failed;
      for (const SplitError& error : result->failed_splits) failed.insert(error.split_id);
      for (SplitWork* work : splits_by_node[node]) {
        if (failed.count(work->metadata->split_id) == 0) work->done = true;
      }
      for (std::shared_ptr<split::OpenedSplit>& opened : result->opened_splits) {
        const auto found = work_by_split.find(opened->split_id());
        if (found != work_by_split.end()) found->second->opened = std::move(opened);
      }
      for (LeafHit& hit : result->hits) {
        const auto found = work_by_split.find(hit.split_id);
        // A leaf answers for the splits it was asked for only.
        if (found == work_by_split.end() || found->second->order[found->second->position] != node) {
          return absl::InternalError(fmt::format("searcher {} returned a hit of split {} it was "
                                                 "not asked for",
                                                 searchers[node].node_id, hit.split_id));
        }
        all_hits.push_back(std::move(hit));
      }
    }
  }
  for (const SplitWork& work : works) {
    if (!work.done) {
      response.errors.push_back(
          fmt::format("split {}: {}", work.metadata->split_id, work.last_error.ToString()));
    }
  }

  const size_t page_end =
      std::min(all_hits.size(), static_cast<size_t>(request.start_offset) + request.max_hits);
  if (page_end > request.start_offset) {
    auto by_rank = [&sort_fields](const LeafHit& a, const LeafHit& b) {
      return HitRanksBefore(a, b, sort_fields);
    };
    std::partial_sort(all_hits.begin(), all_hits.begin() + static_cast<ptrdiff_t>(page_end),
                      all_hits.end(), by_rank);
    const std::vector<LeafHit> page(all_hits.begin() + request.start_offset,
                                    all_hits.begin() + static_cast<ptrdiff_t>(page_end));
    response.hits = FetchPage(page, work_by_split, searchers, node_failed,
                              leaf_template.deadline, root_pool_, response.errors,
                              response.snippets);
  }
  if (aggregation != nullptr) {
    ASSIGN_OR_RETURN(nlohmann::json aggregations,
                     FinalizeAggregations(aggregation->aggregations, merged_aggs));
    response.aggregations = DumpJson(aggregations);
  }
  if (request.debug) {
    for (const SplitWork& work : works) {
      response.split_placements.push_back(
          {work.metadata->split_id, work.done ? searchers[work.order[work.position]].node_id : "",
           work.attempts});
    }
    std::sort(response.split_placements.begin(), response.split_placements.end(),
              [](const SplitPlacement& a, const SplitPlacement& b) {
                return a.split_id < b.split_id;
              });
  }
  response.elapsed_time_micros = stopwatch.ElapsedMicros();
  return response;
}

}  // namespace shale::search
