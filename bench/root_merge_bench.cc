// The root's cost per leaf of a distributed search: decoding a leaf response as it arrives over
// gRPC (protobuf parse, hits, intermediate aggregations) and merging it (hits kept for the
// final top-k sort, MergeAggs), then the final sort and aggregation finalization once per
// query. Leaf responses are synthetic but shaped like real ones: top_k hits with one sort key,
// and a terms (100 buckets with a stats sub-aggregation), a date_histogram (1,440 buckets), a
// percentiles and a dense cardinality aggregation.
//
// shale_root_merge_bench [--leaves N,...] [--top-k K] [--runs R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "index/aggregation_codec.h"
#include "query/aggregation_parser.h"
#include "search/aggregation_result.h"
#include "search/leaf_grpc.h"

namespace shale {
namespace {

constexpr char kAggregations[] = R"({
  "levels": {"terms": {"field": "level", "size": 10},
             "aggs": {"latency": {"stats": {"field": "latency"}}}},
  "per_minute": {"date_histogram": {"field": "ts", "fixed_interval": "60s"}},
  "p": {"percentiles": {"field": "latency"}},
  "distinct": {"cardinality": {"field": "user"}}
})";

// The position of the aggregation `name` in `request` (the parser orders them by name).
size_t IndexOf(const index::AggregationRequest& request, const std::string& name) {
  for (size_t i = 0; i < request.aggregations.size(); ++i) {
    if (request.aggregations[i].name == name) return i;
  }
  std::fprintf(stderr, "no aggregation %s\n", name.c_str());
  std::exit(1);
}

index::IntermediateAggs LeafAggs(const index::AggregationRequest& request, std::mt19937_64& rng) {
  index::IntermediateAggs aggs = index::MakeEmptyAggs(request.aggregations);
  const size_t levels = IndexOf(request, "levels");
  const auto& stats_specs = request.aggregations[levels].sub_aggregations;
  for (int term = 0; term < 100; ++term) {
    index::IntermediateBucket bucket = index::MakeEmptyBucket(stats_specs);
    bucket.doc_count = 1 + rng() % 1000;
    for (int i = 0; i < 10; ++i) {
      bucket.sub_aggregations[0].metric.Add(static_cast<double>(rng() % 1000));
    }
    aggs[levels].terms.emplace(index::AggKey::Text(fmt::format("level-{}", term)), bucket);
  }
  for (int64_t minute = 0; minute < 1440; ++minute) {
    index::IntermediateBucket bucket;
    bucket.doc_count = 1 + rng() % 100;
    aggs[IndexOf(request, "per_minute")].histogram.emplace(1'700'000'000'000 + minute * 60'000,
                                                           bucket);
  }
  for (int i = 0; i < 10'000; ++i) {
    aggs[IndexOf(request, "p")].percentiles.Add(static_cast<double>(rng() % 5000));
  }
  for (int i = 0; i < 20'000; ++i) aggs[IndexOf(request, "distinct")].cardinality.AddHash(rng());
  return aggs;
}

std::string LeafResponseBytes(const index::AggregationRequest& request, uint32_t top_k,
                              int leaf, std::mt19937_64& rng) {
  search::LeafSearchResponse response;
  response.num_hits = 100'000;
  for (uint32_t i = 0; i < top_k; ++i) {
    search::LeafHit hit;
    hit.split_id = fmt::format("01HZYB6Q1M1T8W0V9J3K2N{:04d}", leaf * 10 + i % 10);
    hit.hit.doc_id = static_cast<uint32_t>(rng() % 1'000'000);
    hit.hit.sort_keys = {rng()};
    response.hits.push_back(std::move(hit));
  }
  response.aggregations = LeafAggs(request, rng);
  return search::ToProto(response).SerializeAsString();
}

double Micros(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

int Run(const std::vector<int>& leaf_counts, uint32_t top_k, int runs) {
  absl::StatusOr<index::AggregationRequest> request =
      query::ParseAggregations(nlohmann::json::parse(kAggregations));
  if (!request.ok()) {
    std::fprintf(stderr, "%s\n", request.status().ToString().c_str());
    return 1;
  }
  const std::vector<index::SortField> sort = {{"ts", index::SortOrder::kDesc}};
  std::printf("| leaves | response bytes per leaf | decode us/leaf | merge us/leaf | "
              "final sort + finalize us | total ms per query |\n|---|---|---|---|---|---|\n");
  for (int num_leaves : leaf_counts) {
    std::mt19937_64 rng(42);
    std::vector<std::string> wire;
    for (int leaf = 0; leaf < num_leaves; ++leaf) {
      wire.push_back(LeafResponseBytes(*request, top_k, leaf, rng));
    }
    double decode_us = 0;
    double merge_us = 0;
    double final_us = 0;
    for (int run = 0; run < runs; ++run) {
      std::vector<search::LeafHit> hits;
      index::IntermediateAggs merged = index::MakeEmptyAggs(request->aggregations);
      for (const std::string& bytes : wire) {
        const auto t0 = std::chrono::steady_clock::now();
        search::proto::LeafSearchResponse message;
        if (!message.ParseFromString(bytes)) return 1;
        absl::StatusOr<search::LeafSearchResponse> response = search::FromProto(message);
        if (!response.ok()) return 1;
        const auto t1 = std::chrono::steady_clock::now();
        if (!index::CheckAggsShape(request->aggregations, *response->aggregations).ok()) return 1;
        if (!index::MergeAggs(request->aggregations, merged, *response->aggregations).ok()) {
          return 1;
        }
        for (search::LeafHit& hit : response->hits) hits.push_back(std::move(hit));
        const auto t2 = std::chrono::steady_clock::now();
        decode_us += Micros(t1 - t0);
        merge_us += Micros(t2 - t1);
      }
      const auto t0 = std::chrono::steady_clock::now();
      const size_t keep = std::min<size_t>(hits.size(), top_k);
      std::partial_sort(hits.begin(), hits.begin() + static_cast<ptrdiff_t>(keep), hits.end(),
                        [&sort](const search::LeafHit& a, const search::LeafHit& b) {
                          return search::HitRanksBefore(a, b, sort);
                        });
      absl::StatusOr<nlohmann::json> rendered =
          search::FinalizeAggregations(request->aggregations, merged);
      if (!rendered.ok()) return 1;
      final_us += Micros(std::chrono::steady_clock::now() - t0);
    }
    const double per_leaf = static_cast<double>(runs) * num_leaves;
    std::printf("| %d | %zu | %.1f | %.1f | %.1f | %.2f |\n", num_leaves, wire.front().size(),
                decode_us / per_leaf, merge_us / per_leaf, final_us / runs,
                (decode_us + merge_us + final_us) / runs / 1000);
  }
  return 0;
}

}  // namespace
}  // namespace shale

int main(int argc, char** argv) {
  std::vector<int> leaf_counts = {1, 3, 10, 30};
  uint32_t top_k = 20;
  int runs = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--leaves") {
      leaf_counts.clear();
      for (size_t start = 0; start <= value.size();) {
        const size_t comma = value.find(',', start);
        leaf_counts.push_back(std::atoi(value.substr(start, comma - start).c_str()));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (flag == "--top-k") {
      top_k = static_cast<uint32_t>(std::atoi(value.c_str()));
    } else if (flag == "--runs") {
      runs = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "usage: %s [--leaves N,...] [--top-k K] [--runs R]\n", argv[0]);
      return 2;
    }
  }
  return shale::Run(leaf_counts, top_k, runs);
}
