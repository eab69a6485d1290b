#include "search/search_service.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/blocking_counter.h"
#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
#include "index/split_format.h"
#include "query/query_language.h"
#include "search/aggregation_request.h"
#include "search/aggregation_result.h"
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

struct LeafResult {
  std::string split_id;
  std::shared_ptr<storage::Storage> storage;
  split::SplitLocation location;
  // Null when the result came from the partial request cache (the root opens the split if it
  // needs documents of it).
  std::unique_ptr<split::OpenedSplit> split;
  // Shared with the partial request cache; null when `status` is an error.
  std::shared_ptr<const index::SplitSearchResult> result;
  absl::Status status;
};

struct HitRef {
  size_t leaf = 0;
  const index::SplitHit* hit = nullptr;
};

// A leaf search that ran: the split stays open (with its warm bytes) for the document fetch.
struct LeafSearch {
  std::unique_ptr<split::OpenedSplit> split;
  std::shared_ptr<const index::SplitSearchResult> result;
};

// Opens the split (footer from the split footer cache or one GET), warms the ranges the query
// reads (concurrent GETs, through the fast field cache), then searches it.
absl::StatusOr<LeafSearch> SearchSplit(split::SplitOpener& opener, const LeafResult& leaf,
                                       const index::Query& query,
                                       const index::SplitSearchRequest& request) {
  LeafSearch search;
  ASSIGN_OR_RETURN(search.split, opener.Open(leaf.storage, leaf.location));
  RETURN_IF_ERROR(search.split->WarmForSearch(query, request));
  ASSIGN_OR_RETURN(index::SplitSearchResult result, search.split->reader().Search(query, request));
  search.result = std::make_shared<const index::SplitSearchResult>(std::move(result));
  return search;
}

// True when `a` ranks before `b`. Missing sort values always rank last.
bool RanksBefore(const HitRef& a, const HitRef& b, const std::vector<index::SortField>& sort,
                 const std::vector<LeafResult>& leaves) {
  for (size_t i = 0; i < sort.size(); ++i) {
    if (sort[i].field == "_doc") break;  // falls through to the (split, doc) order below
    const std::optional<uint64_t> key_a =
        i < a.hit->sort_keys.size() ? a.hit->sort_keys[i] : std::nullopt;
    const std::optional<uint64_t> key_b =
        i < b.hit->sort_keys.size() ? b.hit->sort_keys[i] : std::nullopt;
    if (key_a.has_value() != key_b.has_value()) return key_a.has_value();
    if (!key_a.has_value() || *key_a == *key_b) continue;
    return sort[i].order == index::SortOrder::kAsc ? *key_a < *key_b : *key_a > *key_b;
  }
  const bool descending_doc_order =
      !sort.empty() && sort[0].field == "_doc" && sort[0].order == index::SortOrder::kDesc;
  const std::string& split_a = leaves[a.leaf].split_id;
  const std::string& split_b = leaves[b.leaf].split_id;
  if (split_a != split_b) return descending_doc_order ? split_a > split_b : split_a < split_b;
  return descending_doc_order ? a.hit->doc_id > b.hit->doc_id : a.hit->doc_id < b.hit->doc_id;
}

// The documents of `page`, in order: per split (concurrently on `pool`), open the split when
// its leaf result came from the partial request cache, warm the doc store blocks of its hits
// (concurrent GETs), then read the documents. A document that cannot be read is an error in
// its slot.
std::vector<absl::StatusOr<std::string>> FetchDocuments(const std::vector<HitRef>& page,
                                                        std::vector<LeafResult>& leaves,
                                                        split::SplitOpener& opener,
                                                        ThreadPool& pool) {
  std::vector<absl::StatusOr<std::string>> documents(page.size(),
                                                     absl::UnknownError("document not fetched"));
  std::map<size_t, std::vector<size_t>> positions_by_leaf;
  for (size_t i = 0; i < page.size(); ++i) positions_by_leaf[page[i].leaf].push_back(i);
  auto fetch_leaf = [&](size_t leaf_index, const std::vector<size_t>& positions) {
    LeafResult& leaf = leaves[leaf_index];
    absl::Status status;
    if (leaf.split == nullptr) {
      absl::StatusOr<std::unique_ptr<split::OpenedSplit>> opened =
          opener.Open(leaf.storage, leaf.location);
      if (opened.ok()) {
        leaf.split = *std::move(opened);
      } else {
        status = opened.status();
      }
    }
    if (status.ok()) {
      std::vector<uint32_t> doc_ids;
      doc_ids.reserve(positions.size());
      for (size_t position : positions) doc_ids.push_back(page[position].hit->doc_id);
      status = leaf.split->WarmDocuments(doc_ids);
    }
    for (size_t position : positions) {
      documents[position] = status.ok()
                                ? leaf.split->reader().FetchDocument(page[position].hit->doc_id)
                                : absl::StatusOr<std::string>(status);
    }
  };
  if (positions_by_leaf.size() == 1) {
    fetch_leaf(positions_by_leaf.begin()->first, positions_by_leaf.begin()->second);
    return documents;
  }
  absl::BlockingCounter pending(static_cast<int>(positions_by_leaf.size()));
  for (const auto& [leaf_index, positions] : positions_by_leaf) {
    const bool submitted = pool.Submit([&, leaf_index = leaf_index, &positions = positions] {
      fetch_leaf(leaf_index, positions);
      pending.DecrementCount();
    });
    if (!submitted) {
      for (size_t position : positions) {
        documents[position] = absl::UnavailableError("searcher is shutting down");
      }
      pending.DecrementCount();
    }
  }
  pending.Wait();
  return documents;
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
  index::QueryPtr query;
  // The request's aggregations with filter queries parsed for this index (set when it has any).
  std::optional<index::AggregationRequest> aggregation;
  std::shared_ptr<storage::Storage> storage;
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

}  // namespace

SearchService::SearchService(metastore::Metastore* metastore,
                             storage::StorageResolver* storage_resolver,
                             const SearchServiceOptions& options)
    : metastore_(metastore),
      storage_resolver_(storage_resolver),
      options_(options),
      split_opener_(options.split_opener),
      partial_request_cache_(options.partial_request_cache_capacity),
      leaf_pool_("leaf_search", std::max(1, options.num_leaf_threads)),
      splits_opened_(MetricsRegistry::Global().GetCounter(
          "shale_search_splits_opened_total",
          "Leaf searches on splits, after pruning (answered by opening the split or by the "
          "partial request cache)")),
      splits_pruned_(MetricsRegistry::Global().GetCounter("shale_search_splits_pruned_total",
                                                          "Splits skipped by time or tag pruning")),
      num_searches_(MetricsRegistry::Global().GetCounter("shale_search_requests_total",
                                                         "Root search requests")) {}

SearchService::~SearchService() { Stop(); }

void SearchService::Stop() { leaf_pool_.Stop(); }

SearchCacheStats SearchService::cache_stats() const {
  SearchCacheStats stats;
  stats.split_footer = split_opener_.split_footer_cache_stats();
  stats.fast_field = split_opener_.fast_field_cache_stats();
  stats.partial_request = partial_request_cache_.stats();
  return stats;
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
    targets[i].metadata = std::move(indexes[i]);
    const config::IndexConfig& index_config = targets[i].metadata.index_config;
    const std::vector<std::string>& default_fields =
        request.search_fields.empty() ? index_config.search_settings.default_search_fields
                                      : request.search_fields;
    ASSIGN_OR_RETURN(targets[i].query, query::ParseUserQuery(request.query, default_fields));
    if (request.aggregation.has_value() && HasAggregationFilters(*request.aggregation)) {
      ASSIGN_OR_RETURN(targets[i].aggregation,
                       BindAggregationFilters(*request.aggregation, default_fields));
    }
  }
  ASSIGN_OR_RETURN(std::vector<index::SortField> sort_fields,
                   ParseSortBy(request.sort_by, targets.front().metadata.index_config));

  SearchResponse response;
  if (request.start_timestamp_secs.has_value() && request.end_timestamp_secs.has_value() &&
      *request.start_timestamp_secs >= *request.end_timestamp_secs) {
    if (request.aggregation.has_value()) {
      const auto& specs = request.aggregation->aggregations;
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

  struct Candidate {
    const metastore::SplitMetadata* split;
    TargetIndex* target;
  };
  absl::flat_hash_map<std::string_view, TargetIndex*> target_by_uid;
  for (TargetIndex& target : targets) target_by_uid[target.metadata.index_uid] = &target;
  std::vector<Candidate> candidates;
  for (const metastore::Split& split : splits) {
    const auto found = target_by_uid.find(split.metadata.index_uid);
    if (found == target_by_uid.end()) continue;
    TargetIndex* target = found->second;
    if (SplitMissesTimeRange(split.metadata, request.start_timestamp_secs,
                             request.end_timestamp_secs) ||
        !SplitMayMatch(*target->query, split.metadata.tags, target->metadata.index_config)) {
      splits_pruned_.Increment();
      continue;
    }
    if (target->storage == nullptr) {
      const config::IndexConfig& index_config = target->metadata.index_config;
      if (!index_config.index_uri.has_value()) {
        return absl::InternalError(
            fmt::format("index {} has no index uri", index_config.index_id));
      }
      ASSIGN_OR_RETURN(Uri index_uri, Uri::Parse(*index_config.index_uri));
      ASSIGN_OR_RETURN(target->storage, storage_resolver_->Resolve(index_uri));
    }
    candidates.push_back({&split.metadata, target});
  }

  index::SplitSearchRequest leaf_request;
  if (request.start_timestamp_secs.has_value()) {
    leaf_request.start_timestamp_micros = *request.start_timestamp_secs * kMicrosPerSecond;
  }
  if (request.end_timestamp_secs.has_value()) {
    leaf_request.end_timestamp_micros = *request.end_timestamp_secs * kMicrosPerSecond;
  }
  leaf_request.top_k = request.max_hits + request.start_offset;
  leaf_request.sort_by = sort_fields;
  leaf_request.count_all = request.count_all;
  index::AggregationMemoryBudget aggregation_budget(options_.aggregation_memory_limit_bytes);
  if (request.aggregation.has_value()) {
    leaf_request.aggregation = &*request.aggregation;
    leaf_request.aggregation_budget = &aggregation_budget;
  }

  std::vector<LeafResult> leaves(candidates.size());
  absl::BlockingCounter pending(static_cast<int>(candidates.size()));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const metastore::SplitMetadata& metadata = *candidates[i].split;
    LeafResult& leaf = leaves[i];
    leaf.split_id = metadata.split_id;
    leaf.storage = candidates[i].target->storage;
    leaf.location = split::SplitLocation{metadata.split_id, metadata.split_size_bytes,
                                         metadata.footer_start, metadata.footer_end};
    auto task = [&, i]() {
      LeafResult& result = leaves[i];
      const TargetIndex& target = *candidates[i].target;
      splits_opened_.Increment();
      // Each target index has its own aggregation (field types may differ between indexes).
      index::SplitSearchRequest split_request = leaf_request;
      if (target.aggregation.has_value()) split_request.aggregation = &*target.aggregation;
      std::optional<std::string> cache_key =
          LeafRequestKey(result.split_id, *target.query, split_request);
      if (cache_key.has_value()) result.result = partial_request_cache_.Get(*cache_key);
      if (result.result == nullptr) {
        absl::StatusOr<LeafSearch> searched =
            SearchSplit(split_opener_, result, *target.query, split_request);
        if (searched.ok()) {
          result.split = std::move(searched->split);
          result.result = std::move(searched->result);
          if (cache_key.has_value()) partial_request_cache_.Put(*std::move(cache_key), result.result);
        } else {
          result.status = searched.status();
        }
      }
      pending.DecrementCount();
    };
    if (!leaf_pool_.Submit(task)) {
      leaf.status = absl::UnavailableError("searcher is shutting down");
      pending.DecrementCount();
    }
  }
  pending.Wait();

  std::vector<HitRef> all_hits;
  index::IntermediateAggs merged_aggs;
  if (request.aggregation.has_value()) {
    merged_aggs = index::MakeEmptyAggs(request.aggregation->aggregations);
  }
  for (size_t i = 0; i < leaves.size(); ++i) {
    const LeafResult& leaf = leaves[i];
    if (!leaf.status.ok()) {
      if (IsQueryError(leaf.status)) return leaf.status;
      response.errors.push_back(
          fmt::format("split {}: {}", leaf.split_id, leaf.status.ToString()));
      continue;
    }
    if (request.aggregation.has_value() && leaf.result->aggregations.has_value()) {
      RETURN_IF_ERROR(index::MergeAggs(request.aggregation->aggregations, merged_aggs,
                                       *leaf.result->aggregations));
    }
    response.num_hits += leaf.result->num_hits;
    for (const index::SplitHit& hit : leaf.result->hits) all_hits.push_back({i, &hit});
  }

  const size_t page_end =
      std::min(all_hits.size(), static_cast<size_t>(request.start_offset) + request.max_hits);
  if (page_end > request.start_offset) {
    auto by_rank = [&](const HitRef& a, const HitRef& b) {
      return RanksBefore(a, b, sort_fields, leaves);
    };
    std::partial_sort(all_hits.begin(), all_hits.begin() + static_cast<ptrdiff_t>(page_end),
                      all_hits.end(), by_rank);
    std::vector<HitRef> page(all_hits.begin() + request.start_offset,
                             all_hits.begin() + static_cast<ptrdiff_t>(page_end));
    std::vector<absl::StatusOr<std::string>> documents =
        FetchDocuments(page, leaves, split_opener_, leaf_pool_);
    for (size_t i = 0; i < page.size(); ++i) {
      if (!documents[i].ok()) {
        response.errors.push_back(fmt::format("split {}: {}", leaves[page[i].leaf].split_id,
                                              documents[i].status().ToString()));
        continue;
      }
      response.hits.push_back(*std::move(documents[i]));
    }
  }
  if (request.aggregation.has_value()) {
    // This node is one leaf: its merged result is cut off like each split's.
    index::CutOffAggs(request.aggregation->aggregations, merged_aggs);
    ASSIGN_OR_RETURN(nlohmann::json aggregations,
                     FinalizeAggregations(request.aggregation->aggregations, merged_aggs));
    response.aggregations = DumpJson(aggregations);
  }
  response.elapsed_time_micros = stopwatch.ElapsedMicros();
  return response;
}

}  // namespace shale::search
