// libFuzzer target: a split file made of the input bytes is opened, searched, aggregated,
// warmed up and its documents fetched. Every outcome but a crash, a sanitizer report or a hang is
// fine: a corrupt split must give DataLoss (or another error), never undefined behaviour.
//
// Mutated bytes nearly always break the footer checksum, which would stop every input at the
// first check; so when the input's first byte is odd, the checksum is recomputed over the
// mutated footer and the rest of the reader (footer parsing, sections, chunks) gets exercised.
// Seeds: the golden splits of tests/compat and fuzz_seed_split's split of every field type.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_mapping.h"
#include "index/aggregation.h"
#include "index/query.h"
#include "index/split_format.h"
#include "xxhash.h"

namespace {

using shale::index::Query;
using shale::index::QueryPtr;

constexpr size_t kTrailerSize = 32;

uint64_t Load64(const std::string& bytes, size_t at) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;  // little-endian host (x86-64, arm64)
}

void FixFooterChecksum(std::string& bytes) {
  if (bytes.size() < kTrailerSize) return;
  const size_t trailer = bytes.size() - kTrailerSize;
  const uint64_t body_length = Load64(bytes, trailer);
  if (body_length > trailer) return;
  const uint64_t checksum = XXH64(bytes.data() + trailer - body_length, body_length, 0);
  std::memcpy(bytes.data() + trailer + 16, &checksum, sizeof(checksum));
}

template <typename Node>
QueryPtr Wrap(Node node, float boost = 1.0f) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  query->boost = boost;
  return query;
}

std::vector<QueryPtr> Queries() {
  using namespace shale::index;  // NOLINT(google-build-using-namespace): a fuzz harness
  std::vector<QueryPtr> queries;
  queries.push_back(MakeAllQuery());
  for (const char* field : {"level", "body", "all", "resource.service", "attributes.k"}) {
    queries.push_back(MakeTermQuery(field, std::string("ERROR")));
    queries.push_back(MakeTermQuery(field, std::string("disk full")));
    queries.push_back(Wrap(PrefixQuery{field, "re"}));
    queries.push_back(Wrap(WildcardQuery{field, "*e?r*"}));
    queries.push_back(Wrap(RegexQuery{field, "[a-s].*"}));
    queries.push_back(Wrap(TermSetQuery{field, {std::string("INFO"), std::string("api")}}));
    queries.push_back(Wrap(RangeQuery{field, std::string("a"), true, std::string("t"), false}));
    queries.push_back(Wrap(ExistsQuery{field}));
  }
  for (const char* field : {"i", "u", "f", "b", "ts", "status", "latency", "user", "ok"}) {
    queries.push_back(MakeTermQuery(field, std::string("12")));
    queries.push_back(Wrap(RangeQuery{field, int64_t{-3}, true, std::string("100"), true}));
    queries.push_back(Wrap(TermSetQuery{field, {int64_t{-5}, uint64_t{7}, 1.5, true}}));
  }
  queries.push_back(MakeTermQuery("ip", std::string("10.0.0.1")));
  queries.push_back(Wrap(RangeQuery{"ip", std::string("10.0.0.0"), true, std::string("::1"), true}));
  queries.push_back(MakeTermQuery("hash", std::string("AP8=")));
  queries.push_back(Wrap(PhraseQuery{"body", {"disk", "full"}, 1}));
  BoolQuery bool_query;
  bool_query.must.push_back(MakeTermQuery("level", std::string("INFO")));
  bool_query.filter.push_back(MakeTermQuery("body", std::string("request")));
  bool_query.should.push_back(MakeTermQuery("body", std::string("retry")));
  bool_query.must_not.push_back(MakeTermQuery("i", int64_t{3}));
  queries.push_back(Wrap(std::move(bool_query)));
  // Document-at-a-time paths: a phrase required with a term (counted by walking the scorers),
  // a union with a must_not.
  BoolQuery phrase_and_term;
  phrase_and_term.must.push_back(MakeTermQuery("body", std::string("disk full")));
  phrase_and_term.must.push_back(MakeTermQuery("body", std::string("request")));
  phrase_and_term.should.push_back(Wrap(PhraseQuery{"body", {"retry", "disk"}, 2}));
  queries.push_back(Wrap(std::move(phrase_and_term), 2.0f));
  BoolQuery union_query;
  union_query.should.push_back(MakeTermQuery("body", std::string("disk")));
  union_query.should.push_back(MakeTermQuery("body", std::string("request")));
  union_query.must_not.push_back(MakeTermQuery("level", std::string("INFO")));
  queries.push_back(Wrap(std::move(union_query)));
  return queries;
}

shale::index::AggregationRequest Aggregations() {
  shale::index::AggregationRequest request;
  for (const auto& [name, kind, field] :
       {std::tuple{"terms", shale::index::AggregationKind::kTerms, "level"},
        std::tuple{"ips", shale::index::AggregationKind::kTerms, "ip"},
        std::tuple{"stats", shale::index::AggregationKind::kStats, "i"},
        std::tuple{"cardinality", shale::index::AggregationKind::kCardinality, "body"}}) {
    shale::index::AggregationSpec spec;
    spec.name = name;
    spec.kind = kind;
    spec.field = field;
    request.aggregations.push_back(spec);
  }
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (fix_checksum) FixFooterChecksum(bytes);
  auto reader = shale::index::SplitReader::Open(
      shale::index::NewMemoryByteRangeSource("fuzz", std::move(bytes)));
  if (!reader.ok()) return 0;
  static const std::vector<QueryPtr> kQueries = Queries();
  static const shale::index::AggregationRequest kAggregations = Aggregations();
  for (const QueryPtr& query : kQueries) {
    shale::index::SplitSearchRequest request;
    request.top_k = 3;
    request.sort_by = {shale::index::SortField{"ip", shale::index::SortOrder::kAsc}};
    (void)(*reader)->RangesFor(*query, request, shale::index::WarmupRound::kFromHotcache);
    (void)(*reader)->RangesFor(*query, request, shale::index::WarmupRound::kFromTermBlocks);
    shale::index::SplitSearchRequest by_score;
    by_score.top_k = 3;
    by_score.count_all = false;
    by_score.sort_by = {shale::index::SortField{"_score", shale::index::SortOrder::kDesc}};
    (void)(*reader)->Search(*query, by_score);
    shale::index::SplitSearchRequest count;
    count.top_k = 0;
    (void)(*reader)->Search(*query, count);
    auto result = (*reader)->Search(*query, request);
    if (!result.ok()) continue;
    for (const shale::index::SplitHit& hit : result->hits) {
      (void)(*reader)->FetchDocument(hit.doc_id);
    }
  }
  shale::index::SplitSearchRequest sorted;
  sorted.top_k = 5;
  sorted.start_timestamp_nanos = 0;
  (void)(*reader)->Search(*kQueries[0], sorted);
  sorted.sort_by = {shale::index::SortField{"_score", shale::index::SortOrder::kDesc},
                    shale::index::SortField{"level", shale::index::SortOrder::kAsc}};
  (void)(*reader)->Search(*kQueries[2], sorted);
  (void)(*reader)->Aggregate(*kQueries[0], shale::index::SplitSearchRequest{}, kAggregations);
  (void)(*reader)->FetchDocument(0);
  return 0;
}
