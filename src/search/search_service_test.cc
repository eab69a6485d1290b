#include "search/search_service.h"

#include <map>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "split/split_store.h"
#include "storage/storage_decorators.h"
#include "search/testing/test_index.h"
#include "storage/testing/latency_storage.h"

namespace shale::search {
namespace {

constexpr char kIndexConfig[] = R"({
  "version": "0.8",
  "index_id": "logs",
  "index_uri": "ram:///indexes/logs",
  "doc_mapping": {
    "mode": "dynamic",
    "field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true, "input_formats": ["unix_timestamp"]},
      {"name": "severity", "type": "text", "tokenizer": "raw", "fast": true},
      {"name": "body", "type": "text", "tokenizer": "default"}
    ],
    "timestamp_field": "ts",
    "tag_fields": ["severity"]
  },
  "search_settings": {"default_search_fields": ["body"]}
})";

// Resolves uris through `inner`, wrapping each storage in a counting decorator (and, with a
// delay, a LatencyStorage recording concurrent GETs), one wrapper per uri.
class CountingResolver final : public storage::StorageResolver {
 public:
  explicit CountingResolver(storage::StorageResolver* inner,
                            absl::Duration get_delay = absl::ZeroDuration())
      : inner_(inner), get_delay_(get_delay) {}

  absl::StatusOr<std::shared_ptr<storage::Storage>> Resolve(const Uri& uri) override {
    absl::MutexLock lock(&mu_);
    auto found = storages_.find(uri.str());
    if (found != storages_.end()) return found->second;
    absl::StatusOr<std::shared_ptr<storage::Storage>> inner = inner_->Resolve(uri);
    if (!inner.ok()) return inner.status();
    std::shared_ptr<storage::CountingStorage> counting = storage::NewCountingStorage(
        std::make_unique<storage::testing::ForwardingStorage>(*std::move(inner)));
    counting_.push_back(counting);
    std::shared_ptr<storage::Storage> outer = counting;
    if (get_delay_ > absl::ZeroDuration()) {
      auto slow = std::make_shared<storage::testing::LatencyStorage>(counting, get_delay_);
      slow_.push_back(slow);
      outer = slow;
    }
    storages_.emplace(uri.str(), outer);
    return outer;
  }

  int64_t get_slices() const {
    absl::MutexLock lock(&mu_);
    int64_t total = 0;
    for (const auto& counting : counting_) {
      total += counting->num_requests(storage::StorageOp::kGetSlice);
    }
    return total;
  }
  int64_t max_get_slices_in_flight() const {
    absl::MutexLock lock(&mu_);
    int64_t max = 0;
    for (const auto& slow : slow_) max = std::max(max, slow->max_get_slices_in_flight());
    return max;
  }

 private:
  storage::StorageResolver* const inner_;
  const absl::Duration get_delay_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<storage::Storage>> storages_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<storage::CountingStorage>> counting_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<storage::testing::LatencyStorage>> slow_ ABSL_GUARDED_BY(mu_);
};

SearchServiceOptions NoCaches() {
  SearchServiceOptions options;
  options.split_opener.split_footer_cache_capacity = 0;
  options.split_opener.fast_field_cache_capacity = 0;
  options.partial_request_cache_capacity = 0;
  return options;
}

class SearchServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto index = testing::NewRamIndex(*resolver_, kIndexConfig);
    ASSERT_TRUE(index.ok()) << index.status();
    metastore_ = std::move(index->metastore);
    metadata_ = index->metadata;
    service_ = std::make_unique<SearchService>(metastore_.get(), resolver_.get(),
                                               SearchServiceOptions{});
  }

  // Publishes one split holding docs with timestamps [first_ts, first_ts + num_docs).
  void PublishSplit(int64_t first_ts, int num_docs,
                    std::optional<std::string> only_severity = std::nullopt,
                    const metastore::IndexMetadata* target = nullptr) {
    std::vector<std::string> docs;
    for (int i = 0; i < num_docs; ++i) {
      const int64_t ts = first_ts + i;
      docs.push_back("{\"ts\":" + std::to_string(ts) + ",\"severity\":\"" +
                     only_severity.value_or(ts % 3 == 0 ? "ERROR" : "INFO") +
                     "\",\"body\":\"request " + (ts % 2 == 0 ? "even" : "odd") + " done\"}");
    }
    auto split_id = testing::PublishSplit(*resolver_, *metastore_,
                                          target != nullptr ? *target : metadata_, docs);
    ASSERT_TRUE(split_id.ok()) << split_id.status();
  }

  static int64_t OpenedSplits() {
    return MetricsRegistry::Global()
        .GetCounter("shale_search_splits_opened_total", "Splits opened by leaf searches")
        .value();
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  metastore::IndexMetadata metadata_;
  std::unique_ptr<SearchService> service_;
};

TEST_F(SearchServiceTest, CountsAcrossSplitsAndPrunesByTime) {
  PublishSplit(1000, 100);  // ts 1000..1099
  PublishSplit(2000, 100);  // ts 2000..2099
  PublishSplit(3000, 100);  // ts 3000..3099

  SearchRequest request;
  request.index_id = "logs";
  auto all = service_->Search(request);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->num_hits, 300u);
  EXPECT_EQ(all->hits.size(), 20u);
  EXPECT_TRUE(all->errors.empty());

  request.query = "severity:ERROR";
  auto errors = service_->Search(request);
  ASSERT_TRUE(errors.ok()) << errors.status();
  uint64_t expected_errors = 0;
  for (int64_t base : {1000, 2000, 3000}) {
    for (int64_t ts = base; ts < base + 100; ++ts) expected_errors += ts % 3 == 0 ? 1 : 0;
  }
  EXPECT_EQ(errors->num_hits, expected_errors);

  // Only the middle split intersects [2050, 2060): the two others are never opened.
  request.query = "*";
  request.start_timestamp_secs = 2050;
  request.end_timestamp_secs = 2060;
  const int64_t opened_before = OpenedSplits();
  auto ranged = service_->Search(request);
  ASSERT_TRUE(ranged.ok()) << ranged.status();
  EXPECT_EQ(ranged->num_hits, 10u);
  EXPECT_EQ(OpenedSplits() - opened_before, 1);

  // Bounds beyond the nanosecond range (year 2262) saturate instead of overflowing.
  request.start_timestamp_secs = -99'999'999'999;
  request.end_timestamp_secs = 99'999'999'999;
  auto unbounded = service_->Search(request);
  ASSERT_TRUE(unbounded.ok()) << unbounded.status();
  EXPECT_EQ(unbounded->num_hits, 300u);
}

TEST_F(SearchServiceTest, DefaultSortIsNewestFirstAndPagesAreConsistent) {
  PublishSplit(1000, 30);
  PublishSplit(1030, 30);
  SearchRequest request;
  request.index_id = "logs";
  request.max_hits = 5;
  auto page = service_->Search(request);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->hits.size(), 5u);
  EXPECT_NE(page->hits[0].find("\"ts\""), std::string::npos);
  EXPECT_NE(page->hits[0].find("1970-01-01T00:17:39Z"), std::string::npos) << page->hits[0];

  request.sort_by = {"-ts"};  // ascending
  auto ascending = service_->Search(request);
  ASSERT_TRUE(ascending.ok()) << ascending.status();
  EXPECT_NE(ascending->hits[0].find("1970-01-01T00:16:40Z"), std::string::npos)
      << ascending->hits[0];

  request.start_offset = 58;
  auto tail = service_->Search(request);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->hits.size(), 2u);
}

TEST_F(SearchServiceTest, TagPruningSkipsSplitsWhoseTagsCannotMatch) {
  PublishSplit(1000, 60, "INFO");
  PublishSplit(2000, 60, "WARN");
  PublishSplit(3000, 60);  // ERROR and INFO

  SearchRequest request;
  request.index_id = "logs";
  auto count_opened = [&](const std::string& query, uint64_t expected_hits) {
    request.query = query;
    const int64_t before = OpenedSplits();
    auto response = service_->Search(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (response.ok()) {
      EXPECT_EQ(response->num_hits, expected_hits) << query;
    }
    return OpenedSplits() - before;
  };
  EXPECT_EQ(count_opened("severity:ERROR", 20), 1);
  EXPECT_EQ(count_opened("severity:WARN", 60), 1);
  EXPECT_EQ(count_opened("severity:INFO", 100), 2);
  EXPECT_EQ(count_opened("severity:WARN OR severity:ERROR", 80), 2);
  EXPECT_EQ(count_opened("severity:IN [WARN ERROR]", 80), 2);
  EXPECT_EQ(count_opened("severity:DEBUG", 0), 0);
  EXPECT_EQ(count_opened("severity:ERROR AND body:even", 10), 1);
  // Negations and non-tag clauses never prune.
  EXPECT_EQ(count_opened("NOT severity:INFO", 80), 3);
  EXPECT_EQ(count_opened("severity:ERROR OR body:odd", 100), 3);  // 30 + 30 + (20 + 30 - 10)
}

TEST_F(SearchServiceTest, SearchesSeveralIndexesByListGlobAndExclusion) {
  auto second_config = metadata_.index_config;
  second_config.index_id = "logs-archive";
  second_config.index_uri = "ram:///indexes-" + NewUlid() + "/logs-archive";
  auto second = metastore_->CreateIndex(second_config);
  ASSERT_TRUE(second.ok()) << second.status();
  auto third_config = second_config;
  third_config.index_id = "other";
  third_config.index_uri = "ram:///indexes-" + NewUlid() + "/other";
  auto third = metastore_->CreateIndex(third_config);
  ASSERT_TRUE(third.ok());
  PublishSplit(1000, 10);
  PublishSplit(2000, 20, std::nullopt, &*second);
  PublishSplit(3000, 40, std::nullopt, &*third);

  auto hits = [&](const std::string& target) -> absl::StatusOr<uint64_t> {
    SearchRequest request;
    request.index_id = target;
    request.max_hits = 100;
    auto response = service_->Search(request);
    if (!response.ok()) return response.status();
    EXPECT_EQ(response->hits.size(), std::min<uint64_t>(100, response->num_hits));
    return response->num_hits;
  };
  EXPECT_EQ(*hits("logs"), 10u);
  EXPECT_EQ(*hits("logs,logs-archive"), 30u);
  EXPECT_EQ(*hits("logs*"), 30u);
  EXPECT_EQ(*hits("*"), 70u);
  EXPECT_EQ(*hits("*,-logs-*"), 50u);
  EXPECT_EQ(*hits("logs*,logs"), 30u);  // an index selected twice counts once
  EXPECT_EQ(hits("logs,missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hits("nomatch*").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hits("-logs").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SearchServiceTest, RejectsBadRequests) {
  SearchRequest request;
  request.index_id = "missing";
  EXPECT_EQ(service_->Search(request).status().code(), absl::StatusCode::kNotFound);
  request.index_id = "logs";
  request.max_hits = 10'001;
  EXPECT_EQ(service_->Search(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.max_hits = 10;
  request.query = "body:(unbalanced";
  EXPECT_EQ(service_->Search(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.query = "*";
  request.sort_by = {"a", "b", "c"};
  EXPECT_EQ(service_->Search(request).status().code(), absl::StatusCode::kInvalidArgument);
}

// The GET budget of docs/storage.md: a cold term query with hits on a one-split index costs at
// most 5 GETs (footer + hotcache; term dictionary block and timestamp column, concurrently;
// posting list; doc store block), and repeating it costs none.
TEST_F(SearchServiceTest, ColdTermQueryCostsAtMostFiveGetsAndAWarmRepeatNone) {
  PublishSplit(1000, 300);
  CountingResolver resolver(resolver_.get());
  SearchService service(metastore_.get(), &resolver, SearchServiceOptions{});
  SearchRequest request;
  request.index_id = "logs";
  request.query = "severity:ERROR";
  request.max_hits = 5;
  auto cold = service.Search(request);
  ASSERT_TRUE(cold.ok()) << cold.status();
  EXPECT_EQ(cold->num_hits, 100u);  // ts % 3 == 0 in [1000, 1300)
  EXPECT_EQ(cold->hits.size(), 5u);
  const int64_t cold_gets = resolver.get_slices();
  EXPECT_GT(cold_gets, 0);
  EXPECT_LE(cold_gets, 5);
  EXPECT_EQ(service.cache_stats().split_footer.misses, 1);

  auto warm = service.Search(request);
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ(resolver.get_slices(), cold_gets) << "a repeated query costs no GET";
  EXPECT_EQ(warm->hits, cold->hits);
  EXPECT_EQ(warm->num_hits, cold->num_hits);
  EXPECT_EQ(service.cache_stats().partial_request.hits, 1);

  // Another query on the same split: its footer comes from the split footer cache (every open
  // after the first one, the document fetch of the repeated query included, is a hit).
  request.query = "severity:INFO";
  auto other = service.Search(request);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->num_hits, 200u);
  EXPECT_EQ(service.cache_stats().split_footer.misses, 1);
  EXPECT_GE(service.cache_stats().split_footer.hits, 1);
  EXPECT_LE(resolver.get_slices() - cold_gets, 4);
}

TEST_F(SearchServiceTest, TheFooterCacheSavesTheFooterGetOfEveryOpen) {
  PublishSplit(1000, 300);
  CountingResolver resolver(resolver_.get());
  SearchServiceOptions options = NoCaches();
  options.split_opener.split_footer_cache_capacity = 1'000'000;
  SearchService service(metastore_.get(), &resolver, options);
  SearchRequest request;
  request.index_id = "logs";
  request.query = "body:even";
  request.max_hits = 3;
  ASSERT_TRUE(service.Search(request).ok());
  const int64_t cold_gets = resolver.get_slices();
  ASSERT_TRUE(service.Search(request).ok());
  EXPECT_EQ(resolver.get_slices() - cold_gets, cold_gets - 1);
}

TEST_F(SearchServiceTest, ThePartialRequestCacheAnswersARepeatedLeafRequestWithoutGets) {
  PublishSplit(1000, 100);
  PublishSplit(2000, 100);
  CountingResolver resolver(resolver_.get());
  SearchServiceOptions options = NoCaches();
  options.partial_request_cache_capacity = 1'000'000;
  SearchService service(metastore_.get(), &resolver, options);
  SearchRequest request;
  request.index_id = "logs";
  request.query = "body:even";
  request.max_hits = 0;
  auto first = service.Search(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->num_hits, 100u);
  const int64_t first_gets = resolver.get_slices();
  EXPECT_GT(first_gets, 0);
  auto second = service.Search(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->num_hits, 100u);
  EXPECT_EQ(resolver.get_slices(), first_gets);
  EXPECT_EQ(service.cache_stats().partial_request.hits, 2);  // one per split
  // A different leaf request (another time range) is not answered from the cache.
  request.start_timestamp_secs = 1050;
  auto narrower = service.Search(request);
  ASSERT_TRUE(narrower.ok());
  EXPECT_EQ(narrower->num_hits, 75u);  // 25 of the first split, all 50 of the second
  EXPECT_GT(resolver.get_slices(), first_gets);
}

TEST_F(SearchServiceTest, WarmupFetchesTheRangesOfAQueryConcurrently) {
  PublishSplit(1000, 300);
  CountingResolver resolver(resolver_.get(), absl::Milliseconds(10));
  SearchServiceOptions options = NoCaches();
  options.split_opener.coalesce_max_bytes = 1;  // one GET per range
  SearchService service(metastore_.get(), &resolver, options);
  SearchRequest request;
  request.index_id = "logs";
  request.query = "severity:ERROR";
  request.max_hits = 5;
  index::AggregationSpec terms;
  terms.name = "by_severity";
  terms.kind = index::AggregationKind::kTerms;
  terms.field = "severity";
  request.aggregation.emplace();
  request.aggregation->aggregations.push_back(terms);
  auto response = service.Search(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->num_hits, 100u);
  // Round 1 needs the term dictionary block, the timestamp column and the severity column.
  EXPECT_GE(resolver.max_get_slices_in_flight(), 2);
}

TEST_F(SearchServiceTest, ResultsAreTheSameWithAndWithoutCaches) {
  PublishSplit(1000, 120);
  PublishSplit(1100, 80, "WARN");
  PublishSplit(2000, 150);
  SearchService uncached(metastore_.get(), resolver_.get(), NoCaches());
  SearchServiceOptions tiny;
  tiny.split_opener.split_footer_cache_capacity = 2'000;
  tiny.split_opener.fast_field_cache_capacity = 3'000;
  tiny.partial_request_cache_capacity = 1'000;
  SearchService tiny_caches(metastore_.get(), resolver_.get(), tiny);
  std::vector<SearchRequest> requests;
  auto add = [&requests](std::string query, uint32_t max_hits = 10) {
    SearchRequest request;
    request.index_id = "logs";
    request.query = std::move(query);
    request.max_hits = max_hits;
    requests.push_back(request);
    return &requests.back();
  };
  add("*");
  add("severity:ERROR", 50);
  add("severity:WARN OR body:odd", 7)->start_offset = 30;
  add("body:even AND NOT severity:INFO");
  add("ts:[1050 TO 2100}", 200);
  add("*", 5)->sort_by = {"-ts"};
  add("body:\"request even\"");
  add("*", 4)->start_timestamp_secs = 1090;
  SearchRequest* aggregated = add("body:done", 3);
  index::AggregationSpec histogram;
  histogram.name = "per_100s";
  histogram.kind = index::AggregationKind::kHistogram;
  histogram.field = "ts";
  histogram.interval = 100'000;
  aggregated->aggregation.emplace();
  aggregated->aggregation->aggregations.push_back(histogram);
  for (int pass = 0; pass < 2; ++pass) {
    for (const SearchRequest& request : requests) {
      SCOPED_TRACE(request.query);
      auto expected = uncached.Search(request);
      ASSERT_TRUE(expected.ok()) << expected.status();
      EXPECT_TRUE(expected->errors.empty());
      for (SearchService* cached : {service_.get(), &tiny_caches}) {
        auto actual = cached->Search(request);
        ASSERT_TRUE(actual.ok()) << actual.status();
        EXPECT_EQ(actual->num_hits, expected->num_hits);
        EXPECT_EQ(actual->hits, expected->hits);
        EXPECT_EQ(actual->aggregations, expected->aggregations);
        EXPECT_EQ(actual->errors, expected->errors);
      }
    }
  }
  EXPECT_GT(service_->cache_stats().partial_request.hits, 0);
  EXPECT_GT(tiny_caches.cache_stats().fast_field.evictions, 0);
}

}  // namespace
}  // namespace shale::search
