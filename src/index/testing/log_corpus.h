// Test-only: a small log corpus covering every read path of the engine (term dictionary blocks,
// block postings, positions, field norms, numeric / text / multi-valued fast fields, presence,
// several doc store blocks), and a set of query cases over it. Used by the warmup tests of
// index/ and split/ to check that a warmed search reads nothing more.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/const_init.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/check.h"
#include "index/split_format.h"
#include "index/testing/field_builder.h"

namespace shale::index::testing {

inline DocMapping LogCorpusMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.index_field_presence = true;
  FieldMapping timestamp = Field("timestamp", FieldType::kDatetime, /*fast=*/true);
  mapping.field_mappings.push_back(timestamp);
  FieldMapping severity = Field("severity", FieldType::kText, /*fast=*/true);
  severity.tokenizer = "raw";
  mapping.field_mappings.push_back(severity);
  FieldMapping body = Field("body", FieldType::kText);
  body.record = IndexRecordOption::kPosition;
  body.fieldnorms = true;
  mapping.field_mappings.push_back(body);
  mapping.field_mappings.push_back(Field("tenant", FieldType::kU64, /*fast=*/true));
  mapping.field_mappings.push_back(Field("status", FieldType::kI64));  // indexed, not fast
  FieldMapping label = Field("label", FieldType::kText, /*fast=*/true);
  label.indexed = false;  // text reached through its fast dictionary only
  label.tokenizer = "raw";
  mapping.field_mappings.push_back(label);
  mapping.field_mappings.push_back(Field("latency", FieldType::kF64, /*fast=*/true));
  mapping.timestamp_field = "timestamp";
  return mapping;
}

// `num_docs` JSON documents; `body` holds a unique token per doc so its term dictionary spans
// many blocks, `tags` is multi-valued, `attributes` is captured dynamically.
inline std::vector<std::string> LogCorpusDocs(int num_docs) {
  static const char* const kSeverities[] = {"INFO", "INFO", "WARN", "ERROR"};
  static const char* const kWords[] = {"request",  "served",  "cache", "miss", "timeout",
                                       "upstream", "refused", "retry", "done"};
  std::vector<std::string> docs;
  docs.reserve(num_docs);
  for (int i = 0; i < num_docs; ++i) {
    std::string body = fmt::format("{} {} {} blk_{:05d}", kWords[i % 9], kWords[(i / 9) % 9],
                                   kWords[(i * 7) % 9], i);
    std::string optional_fields;
    if (i % 5 != 0) optional_fields += fmt::format(",\"latency\":{}.5", i % 97);
    if (i % 3 == 0) optional_fields += fmt::format(",\"label\":\"lbl-{}\"", i % 4);
    docs.push_back(fmt::format(
        R"({{"timestamp":{},"severity":"{}","body":"{}","tenant":{},"status":{},"tags":["t{}","t{}"],"attributes":{{"host":"h{}"}}{}}})",
        1'700'000'000 + i, kSeverities[i % 4], body, i % 13, 200 + (i % 7) * 50 - 300, i % 6,
        (i + 1) % 6, i % 11, optional_fields));
  }
  return docs;
}

inline absl::StatusOr<SerializedSplit> BuildLogCorpusSplit(int num_docs,
                                                           uint32_t docstore_blocksize = 8'192) {
  const DocMapping mapping = LogCorpusMapping();
  auto processor = DocProcessor::Create(mapping);
  if (!processor.ok()) return processor.status();
  SplitWriterOptions options;
  options.docstore_blocksize = docstore_blocksize;
  auto writer = SplitWriter::Create(mapping, options);
  if (!writer.ok()) return writer.status();
  for (const std::string& json : LogCorpusDocs(num_docs)) {
    auto doc = (*processor)->Process(json);
    if (!doc.ok()) return doc.status();
    (*writer)->AddDocument(*std::move(doc));
  }
  return (*writer)->Finish();
}

// The split of BuildLogCorpusSplit(num_docs), built once per size and process (tests share it).
// Aborts when the corpus does not build, which is a bug of this file.
inline const SerializedSplit& SharedLogCorpusSplit(int num_docs) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* splits = new std::map<int, std::unique_ptr<const SerializedSplit>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<const SerializedSplit>& slot = (*splits)[num_docs];
  if (slot == nullptr) {
    absl::StatusOr<SerializedSplit> split = BuildLogCorpusSplit(num_docs);
    SHALE_CHECK(split.ok()) << "the log corpus does not build: " << split.status();
    slot = std::make_unique<const SerializedSplit>(*std::move(split));
  }
  return *slot;
}

struct QueryCase {
  std::string name;
  std::shared_ptr<const Query> query;
  SplitSearchRequest request;
  std::shared_ptr<const AggregationRequest> aggregation;  // owns request.aggregation
};

inline QueryPtr WrapQuery(auto node) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  return query;
}

// Query shapes that exercise every kind of read, each with a request shape.
inline std::vector<QueryCase> LogCorpusQueryCases() {
  std::vector<QueryCase> cases;
  auto add = [&cases](std::string name, QueryPtr query, SplitSearchRequest request = {},
                      std::shared_ptr<const AggregationRequest> aggregation = nullptr) {
    if (aggregation != nullptr) request.aggregation = aggregation.get();
    cases.push_back(QueryCase{std::move(name), std::shared_ptr<const Query>(std::move(query)),
                              std::move(request), std::move(aggregation)});
  };
  SplitSearchRequest count_only;
  count_only.top_k = 0;
  SplitSearchRequest by_score;
  by_score.top_k = 10;
  by_score.sort_by = {SortField{"_score", SortOrder::kDesc}};

  add("term_raw_count_only", MakeTermQuery("severity", std::string("ERROR")), count_only);
  add("term_raw_sorted_by_timestamp", MakeTermQuery("severity", std::string("WARN")));
  add("term_tokenized", MakeTermQuery("body", std::string("timeout")));
  add("term_unique_token", MakeTermQuery("body", std::string("blk_00777")));
  add("term_absent", MakeTermQuery("body", std::string("nosuchword")));
  add("term_scored", MakeTermQuery("body", std::string("cache")), by_score);
  add("term_u64", MakeTermQuery("tenant", uint64_t{7}));
  add("term_i64_indexed_not_fast", MakeTermQuery("status", std::string("-50")));
  add("term_text_fast_only", MakeTermQuery("label", std::string("lbl-2")));
  add("term_dynamic_multi_valued", MakeTermQuery("tags", std::string("t3")));
  add("match_several_tokens_is_a_phrase", MakeTermQuery("body", std::string("cache miss")));
  add("phrase_with_slop", WrapQuery(PhraseQuery{"body", {"request", "retry"}, 2}), by_score);
  add("range_fast_u64", WrapQuery(RangeQuery{"tenant", uint64_t{3}, true, uint64_t{5}, false}));
  add("range_f64", WrapQuery(RangeQuery{"latency", 10.0, true, 20.0, true}));
  add("range_indexed_i64_scans_terms",
      WrapQuery(RangeQuery{"status", int64_t{-100}, true, int64_t{50}, true}));
  add("range_text_scans_terms", WrapQuery(RangeQuery{"body", std::string("blk_00100"), true,
                                                     std::string("blk_00400"), false}));
  add("range_text_open_lower",
      WrapQuery(RangeQuery{"severity", std::nullopt, true, std::string("INFO"), true}));
  add("range_text_fast_only",
      WrapQuery(RangeQuery{"label", std::string("lbl-1"), true, std::string("lbl-2"), true}));
  add("prefix", WrapQuery(PrefixQuery{"body", "blk_001"}));
  add("prefix_wide", WrapQuery(PrefixQuery{"body", "blk_"}), count_only);
  add("term_set_text", WrapQuery(TermSetQuery{"body", {std::string("timeout"), std::string("miss"),
                                                      std::string("blk_00777"),
                                                      std::string("nosuchword")}}));
  add("term_set_typed_and_fast_only",
      WrapQuery(TermSetQuery{"tenant", {uint64_t{2}, std::string("5")}}), count_only);
  add("wildcard", WrapQuery(WildcardQuery{"body", "blk_00?7*"}));
  add("wildcard_leading", WrapQuery(WildcardQuery{"body", "*77"}), count_only);
  add("wildcard_fast_only", WrapQuery(WildcardQuery{"label", "lbl-?"}));
  add("regex", WrapQuery(RegexQuery{"body", "blk_00[1-2][0-9]7"}));
  add("exists", WrapQuery(ExistsQuery{"latency"}));
  add("exists_object", WrapQuery(ExistsQuery{"attributes"}));
  {
    BoolQuery query;
    query.must.push_back(MakeTermQuery("severity", std::string("ERROR")));
    query.filter.push_back(MakeTermQuery("body", std::string("request")));
    query.must_not.push_back(MakeTermQuery("tenant", uint64_t{2}));
    query.should.push_back(MakeTermQuery("body", std::string("retry")));
    add("bool_must_filter_must_not_should", WrapQuery(std::move(query)));
  }
  {
    BoolQuery query;
    query.must.push_back(MakeTermQuery("body", std::string("served")));
    query.should.push_back(MakeTermQuery("body", std::string("miss")));
    query.should.push_back(WrapQuery(PrefixQuery{"body", "blk_0002"}));
    add("bool_scored_should", WrapQuery(std::move(query)), by_score);
  }
  {
    BoolQuery query;
    query.should.push_back(MakeTermQuery("severity", std::string("WARN")));
    query.should.push_back(MakeTermQuery("tenant", uint64_t{4}));
    query.should.push_back(MakeTermQuery("body", std::string("refused")));
    query.minimum_should_match = 2;
    add("bool_minimum_should_match", WrapQuery(std::move(query)));
  }
  {
    BoolQuery query;
    query.filter.push_back(MakeTermQuery("body", std::string("request")));
    query.filter.push_back(MakeTermQuery("body", std::string("done")));
    query.filter.push_back(MakeTermQuery("severity", std::string("INFO")));
    add("bool_leapfrog_intersection", WrapQuery(std::move(query)), count_only);
  }
  {
    SplitSearchRequest request;
    request.start_timestamp_nanos = int64_t{1'700'000'100} * 1'000'000'000;
    request.end_timestamp_nanos = int64_t{1'700'000'900} * 1'000'000'000;
    request.top_k = 5;
    add("time_filter", MakeAllQuery(), request);
  }
  {
    SplitSearchRequest request;
    request.top_k = 7;
    request.sort_by = {SortField{"severity", SortOrder::kAsc},
                       SortField{"latency", SortOrder::kDesc}};
    add("two_sort_fields", MakeTermQuery("body", std::string("upstream")), request);
  }
  {
    SplitSearchRequest request;
    request.top_k = 3;
    request.sort_by = {SortField{"_doc", SortOrder::kAsc}};
    request.count_all = false;
    add("doc_order_early_stop", MakeAllQuery(), request);
  }
  {
    auto aggregation = std::make_shared<AggregationRequest>();
    AggregationSpec terms;
    terms.name = "by_severity";
    terms.kind = AggregationKind::kTerms;
    terms.field = "severity";
    AggregationSpec average;
    average.name = "avg_latency";
    average.kind = AggregationKind::kAvg;
    average.field = "latency";
    terms.sub_aggregations.push_back(average);
    aggregation->aggregations.push_back(terms);
    AggregationSpec histogram;
    histogram.name = "per_minute";
    histogram.kind = AggregationKind::kDateHistogram;
    histogram.field = "timestamp";
    histogram.date_interval.fixed_interval_millis = 60'000;
    aggregation->aggregations.push_back(histogram);
    AggregationSpec tags;
    tags.name = "by_tag";
    tags.kind = AggregationKind::kTerms;
    tags.field = "tags";
    aggregation->aggregations.push_back(tags);
    SplitSearchRequest request;
    request.top_k = 0;
    add("aggregations", MakeTermQuery("body", std::string("request")), request, aggregation);
    SplitSearchRequest with_hits;
    with_hits.top_k = 4;
    with_hits.start_timestamp_nanos = int64_t{1'700'000'050} * 1'000'000'000;
    add("aggregations_with_hits_and_time_filter", MakeAllQuery(), with_hits, aggregation);
  }
  return cases;
}

// A deterministic text rendering of aggregation results, to compare two of them.
inline void AppendAggs(const IntermediateAggs& aggs, std::string& out);

inline void AppendAggKey(const AggKey& key, std::string& out) {
  out += fmt::format("{}:{}:{}", static_cast<int>(key.type), key.bits, key.text);
}

inline void AppendBucket(const IntermediateBucket& bucket, std::string& out) {
  out += fmt::format("{}(", bucket.doc_count);
  AppendAggs(bucket.sub_aggregations, out);
  out += ")";
}

inline void AppendAggs(const IntermediateAggs& aggs, std::string& out) {
  for (const IntermediateAgg& agg : aggs) {
    out += fmt::format("[m {} {} {} {} {}", agg.metric.count, agg.metric.sum,
                       agg.metric.sum_of_squares, agg.metric.min, agg.metric.max);
    for (const auto& [key, bucket] : agg.terms) {
      out += " t:";
      AppendAggKey(key, out);
      out += "=";
      AppendBucket(bucket, out);
    }
    for (const auto& [keys, bucket] : agg.keyed) {
      out += " k:";
      for (const AggKey& key : keys) {
        AppendAggKey(key, out);
        out += ",";
      }
      out += "=";
      AppendBucket(bucket, out);
    }
    out += fmt::format(" other:{} error:{}", agg.sum_other_doc_count,
                       agg.doc_count_error_upper_bound);
    for (const auto& [key, bucket] : agg.histogram) {
      out += fmt::format(" h:{}=", key);
      AppendBucket(bucket, out);
    }
    for (const IntermediateBucket& bucket : agg.fixed_buckets) {
      out += " f=";
      AppendBucket(bucket, out);
    }
    out += fmt::format(" card:{} pct:{}", agg.cardinality.Estimate(), agg.percentiles.count());
    for (const TopHit& hit : agg.top_hits) out += fmt::format(" hit:{}:{}", hit.doc_id, hit.source);
    out += "]";
  }
}

// A deterministic text rendering of a search result (hits with keys and scores, count, aggs).
inline std::string DescribeResult(const SplitSearchResult& result) {
  std::string out = fmt::format("num_hits={} hits=", result.num_hits);
  for (const SplitHit& hit : result.hits) {
    out += fmt::format("{}:{}", hit.doc_id, hit.score);
    for (const std::optional<uint64_t>& key : hit.sort_keys) {
      out += key.has_value() ? fmt::format("/{}", *key) : std::string("/-");
    }
    out += " ";
  }
  if (result.aggregations.has_value()) {
    out += "aggs=";
    AppendAggs(*result.aggregations, out);
  }
  return out;
}

}  // namespace shale::index::testing
