// A binary encoding of IntermediateAggs, so that a leaf searcher can send its merged
// intermediate aggregation results to the root over the network. The layout (a version byte,
// then the aggregations with their nested buckets) is documented in
// docs/format/intermediate-aggregations.md.
//
// The encoding does not need the aggregation specs: every member of an IntermediateAgg that is
// not empty is written, behind a presence mask. Decoding is bounds-checked everywhere and never
// allocates more than the input could describe, so a corrupt or hostile buffer gives an error,
// never a crash.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "index/aggregation.h"

namespace shale::index {

// PERSISTED: the current version byte of the encoding.
inline constexpr uint8_t kIntermediateAggsFormatVersion = 1;
// Deepest nesting of sub-aggregations a decoder accepts.
inline constexpr int kMaxEncodedAggregationDepth = 64;

// Encodes `aggs`. Decoding the result gives a value equal member by member (doubles bit for
// bit, sketches state for state).
std::string EncodeIntermediateAggs(const IntermediateAggs& aggs);

// Decodes the output of EncodeIntermediateAggs. DataLoss naming the offset for a truncated or
// malformed buffer, an unknown version byte, nesting deeper than kMaxEncodedAggregationDepth, or
// trailing bytes.
absl::StatusOr<IntermediateAggs> DecodeIntermediateAggs(std::string_view bytes);

// OK when `aggs` has the shape of `specs`, which MergeAggs and finalization rely on: one result
// per spec, as many fixed buckets as the spec has ranges or filters, composite and multi_terms
// keys with one component per source, and every bucket's sub-aggregations shaped like the
// spec's, recursively. DataLoss naming the aggregation otherwise (a decoded result from another
// node that does not match the request).
absl::Status CheckAggsShape(const std::vector<AggregationSpec>& specs, const IntermediateAggs& aggs);

}  // namespace shale::index
