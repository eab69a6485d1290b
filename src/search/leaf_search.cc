#include "search/leaf_search.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/synchronization/blocking_counter.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/uri.h"
#include "query/query_language.h"
#include "search/aggregation_request.h"

namespace shale::search {

bool HitRanksBefore(const LeafHit& a, const LeafHit& b, const std::vector<index::SortField>& sort) {
  for (size_t i = 0; i < sort.size(); ++i) {
    if (sort[i].field == "_doc") break;  // falls through to the (split, doc) order below
    const std::optional<uint64_t> key_a =
        i < a.hit.sort_keys.size() ? a.hit.sort_keys[i] : std::nullopt;
    const std::optional<uint64_t> key_b =
        i < b.hit.sort_keys.size() ? b.hit.sort_keys[i] : std::nullopt;
    if (key_a.has_value() != key_b.has_value()) return key_a.has_value();
    if (!key_a.has_value() || *key_a == *key_b) continue;
    return sort[i].order == index::SortOrder::kAsc ? *key_a < *key_b : *key_a > *key_b;
  }
  const bool descending_doc_order =
      !sort.empty() && sort[0].field == "_doc" && sort[0].order == index::SortOrder::kDesc;
  if (a.split_id != b.split_id) {
    return descending_doc_order ? a.split_id > b.split_id : a.split_id < b.split_id;
  }
  return descending_doc_order ? a.hit.doc_id > b.hit.doc_id : a.hit.doc_id < b.hit.doc_id;
}

namespace {

// One index of a request, ready to search: its storage and its parsed query and aggregation.
struct PreparedIndex {
  const LeafIndexRequest* request = nullptr;
  std::shared_ptr<storage::Storage> storage;
  std::shared_ptr<const index::Query> query;
  std::shared_ptr<const index::AggregationRequest> aggregation;  // bound; null when none
};

absl::StatusOr<std::shared_ptr<storage::Storage>> ResolveIndexStorage(
    storage::StorageResolver& resolver, const std::string& index_uri) {
  absl::StatusOr<Uri> uri = Uri::Parse(index_uri);
  if (!uri.ok()) {
    return absl::InvalidArgumentError(fmt::format("index uri `{}`: {}", index_uri,
                                                  std::string(uri.status().message())));
  }
  return resolver.Resolve(*uri);
}

}  // namespace

struct LeafSearcher::SplitTask {
  const PreparedIndex* index = nullptr;
  const split::SplitLocation* location = nullptr;
  index::SplitSearchRequest request;
  std::shared_ptr<const index::SplitSearchResult> result;
  std::shared_ptr<split::OpenedSplit> opened;
  absl::Status status;
  absl::Time deadline;
};

LeafSearcher::LeafSearcher(storage::StorageResolver* storage_resolver,
                           const LeafSearcherOptions& options)
    : storage_resolver_(storage_resolver),
      options_(options),
      split_opener_(options.split_opener),
      partial_request_cache_(options.partial_request_cache_capacity),
      pool_("leaf_search", std::max(1, options.num_leaf_threads)),
      splits_searched_(MetricsRegistry::Global().GetCounter(
          "shale_leaf_splits_searched_total",
          "Splits searched by this node as a leaf (opened, or answered by the partial request "
          "cache)")) {}

LeafSearcher::~LeafSearcher() { Stop(); }

void LeafSearcher::Stop() { pool_.Stop(); }

SearchCacheStats LeafSearcher::cache_stats() const {
  SearchCacheStats stats;
  stats.split_footer = split_opener_.split_footer_cache_stats();
  stats.fast_field = split_opener_.fast_field_cache_stats();
  stats.partial_request = partial_request_cache_.stats();
  return stats;
}

void LeafSearcher::AcquireSplitSlot() {
  absl::MutexLock lock(&slots_mu_);
  slots_mu_.Await(absl::Condition(this, &LeafSearcher::SplitSlotFree));
  ++running_splits_;
}

bool LeafSearcher::SplitSlotFree() const {
  return running_splits_ < std::max<uint32_t>(1, options_.max_num_concurrent_split_searches);
}

void LeafSearcher::ReleaseSplitSlot() {
  absl::MutexLock lock(&slots_mu_);
  --running_splits_;
}

void LeafSearcher::SearchOneSplit(SplitTask& task) {
  if (absl::Now() > task.deadline) {
    task.status = absl::DeadlineExceededError("search deadline passed before the split started");
    return;
  }
  splits_searched_.Increment();
  const index::Query& query = *task.index->query;
  std::optional<std::string> cache_key =
      LeafRequestKey(task.location->split_id, query, task.request);
  if (cache_key.has_value()) task.result = partial_request_cache_.Get(*cache_key);
  if (task.result != nullptr) return;
  // Opens the split (footer from the split footer cache or one GET), warms the ranges the
  // query reads (concurrent GETs, through the fast field cache), then searches it.
  absl::StatusOr<std::unique_ptr<split::OpenedSplit>> opened =
      split_opener_.Open(task.index->storage, *task.location);
  if (!opened.ok()) {
    task.status = opened.status();
    return;
  }
  task.opened = *std::move(opened);
  task.status = task.opened->WarmForSearch(query, task.request);
  if (!task.status.ok()) return;
  absl::StatusOr<index::SplitSearchResult> result =
      task.opened->reader().Search(query, task.request);
  if (!result.ok()) {
    task.status = result.status();
    return;
  }
  task.result = std::make_shared<const index::SplitSearchResult>(*std::move(result));
  if (cache_key.has_value()) partial_request_cache_.Put(*std::move(cache_key), task.result);
}

absl::StatusOr<LeafSearchResponse> LeafSearcher::Search(const LeafSearchRequest& request) {
  const std::shared_ptr<const index::AggregationRequest>& aggregation = request.aggregation;
  std::vector<PreparedIndex> indexes(request.indexes.size());
  size_t num_splits = 0;
  for (size_t i = 0; i < request.indexes.size(); ++i) {
    const LeafIndexRequest& index_request = request.indexes[i];
    PreparedIndex& prepared = indexes[i];
    prepared.request = &index_request;
    ASSIGN_OR_RETURN(prepared.storage,
                     ResolveIndexStorage(*storage_resolver_, index_request.index_uri));
    prepared.query = index_request.parsed_query;
    if (prepared.query == nullptr) {
      ASSIGN_OR_RETURN(index::QueryPtr query,
                       query::ParseUserQuery(index_request.query, index_request.search_fields));
      prepared.query = std::move(query);
    }
    prepared.aggregation = index_request.bound_aggregation;
    if (prepared.aggregation == nullptr && aggregation != nullptr) {
      if (HasAggregationFilters(*aggregation)) {
        ASSIGN_OR_RETURN(index::AggregationRequest bound,
                         BindAggregationFilters(*aggregation, index_request.search_fields));
        prepared.aggregation = std::make_shared<const index::AggregationRequest>(std::move(bound));
      } else {
        prepared.aggregation = aggregation;
      }
    }
    num_splits += index_request.splits.size();
  }

  index::SplitSearchRequest split_request;
  split_request.start_timestamp_nanos = request.start_timestamp_nanos;
  split_request.end_timestamp_nanos = request.end_timestamp_nanos;
  split_request.top_k = request.top_k;
  split_request.sort_by = request.sort_by;
  split_request.count_all = request.count_all;
  index::AggregationMemoryBudget aggregation_budget(options_.aggregation_memory_limit_bytes);
  if (aggregation != nullptr) split_request.aggregation_budget = &aggregation_budget;

  std::vector<SplitTask> tasks;
  tasks.reserve(num_splits);
  for (const PreparedIndex& prepared : indexes) {
    for (const split::SplitLocation& location : prepared.request->splits) {
      SplitTask& task = tasks.emplace_back();
      task.index = &prepared;
      task.location = &location;
      task.request = split_request;
      task.request.aggregation = prepared.aggregation.get();
      task.deadline = request.deadline;
    }
  }
  absl::BlockingCounter pending(static_cast<int>(tasks.size()));
  for (SplitTask& task : tasks) {
    const bool submitted = pool_.Submit([this, &task, &pending] {
      AcquireSplitSlot();
      SearchOneSplit(task);
      ReleaseSplitSlot();
      pending.DecrementCount();
    });
    if (!submitted) {
      task.status = absl::UnavailableError("searcher is shutting down");
      pending.DecrementCount();
    }
  }
  pending.Wait();

  LeafSearchResponse response;
  response.num_splits_searched = tasks.size();
  if (aggregation != nullptr) response.aggregations = index::MakeEmptyAggs(aggregation->aggregations);
  for (SplitTask& task : tasks) {
    const std::string& split_id = task.location->split_id;
    if (!task.status.ok()) {
      response.failed_splits.push_back({split_id, task.status});
      continue;
    }
    if (aggregation != nullptr && task.result->aggregations.has_value()) {
      const absl::Status merged = index::MergeAggs(aggregation->aggregations,
                                                   *response.aggregations,
                                                   *task.result->aggregations);
      if (!merged.ok()) return merged;  // over the bucket limit: the whole request fails
    }
    response.num_hits += task.result->num_hits;
    for (const index::SplitHit& hit : task.result->hits) response.hits.push_back({split_id, hit});
    if (task.opened != nullptr) response.opened_splits.push_back(std::move(task.opened));
  }
  const std::vector<index::SortField>& sort = request.sort_by;
  auto by_rank = [&sort](const LeafHit& a, const LeafHit& b) { return HitRanksBefore(a, b, sort); };
  const size_t keep = std::min<size_t>(response.hits.size(), request.top_k);
  std::partial_sort(response.hits.begin(), response.hits.begin() + static_cast<ptrdiff_t>(keep),
                    response.hits.end(), by_rank);
  response.hits.resize(keep);
  // This node is one leaf: its merged result is cut off like each split's.
  if (aggregation != nullptr) index::CutOffAggs(aggregation->aggregations, *response.aggregations);
  return response;
}

absl::StatusOr<FetchDocsResponse> LeafSearcher::FetchDocs(const FetchDocsRequest& request) {
  std::map<std::string, std::shared_ptr<storage::Storage>> storages;
  for (const FetchDocsSplit& split : request.splits) {
    if (split.opened != nullptr || storages.count(split.index_uri) > 0) continue;
    ASSIGN_OR_RETURN(storages[split.index_uri],
                     ResolveIndexStorage(*storage_resolver_, split.index_uri));
  }
  FetchDocsResponse response;
  response.documents.resize(request.splits.size());
  // Per split: open it unless the leaf search left it open, warm the doc store blocks of its
  // hits (concurrent GETs), then read the documents.
  auto fetch_split = [&](size_t i) {
    const FetchDocsSplit& split = request.splits[i];
    std::vector<absl::StatusOr<std::string>>& documents = response.documents[i];
    std::shared_ptr<split::OpenedSplit> opened = split.opened;
    absl::Status status;
    if (absl::Now() > request.deadline) {
      status = absl::DeadlineExceededError("search deadline passed before the document fetch");
    } else if (opened == nullptr) {
      absl::StatusOr<std::unique_ptr<split::OpenedSplit>> reopened =
          split_opener_.Open(storages.at(split.index_uri), split.location);
      if (reopened.ok()) {
        opened = *std::move(reopened);
      } else {
        status = reopened.status();
      }
    }
    if (status.ok()) status = opened->WarmDocuments(split.doc_ids);
    documents.reserve(split.doc_ids.size());
    for (uint32_t doc_id : split.doc_ids) {
      documents.push_back(status.ok() ? opened->reader().FetchDocument(doc_id)
                                      : absl::StatusOr<std::string>(status));
    }
  };
  if (request.splits.size() == 1) {
    fetch_split(0);
    return response;
  }
  absl::BlockingCounter pending(static_cast<int>(request.splits.size()));
  for (size_t i = 0; i < request.splits.size(); ++i) {
    const bool submitted = pool_.Submit([&fetch_split, &pending, i] {
      fetch_split(i);
      pending.DecrementCount();
    });
    if (!submitted) {
      const size_t num_docs = request.splits[i].doc_ids.size();
      response.documents[i].assign(num_docs, absl::UnavailableError("searcher is shutting down"));
      pending.DecrementCount();
    }
  }
  pending.Wait();
  return response;
}

namespace {

class LocalLeafClient final : public LeafClient {
 public:
  explicit LocalLeafClient(LeafSearcher* leaf) : leaf_(leaf) {}

  absl::StatusOr<LeafSearchResponse> LeafSearch(const LeafSearchRequest& request) override {
    return leaf_->Search(request);
  }
  absl::StatusOr<FetchDocsResponse> FetchDocs(const FetchDocsRequest& request) override {
    return leaf_->FetchDocs(request);
  }

 private:
  LeafSearcher* const leaf_;
};

}  // namespace

std::unique_ptr<LeafClient> NewLocalLeafClient(LeafSearcher* leaf) {
  return std::make_unique<LocalLeafClient>(leaf);
}

}  // namespace shale::search
