#include "search/partial_request_cache.h"

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace shale::search {
namespace {

// A self-delimiting binary encoding: fixed-width integers, length-prefixed strings, the index
// before every variant alternative and a presence byte before every optional, so that distinct
// values never encode alike.
class KeyWriter {
 public:
  void U64(uint64_t value) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
    out_.append(bytes, 8);
  }
  void I64(int64_t value) { U64(static_cast<uint64_t>(value)); }
  void F64(double value) { U64(std::bit_cast<uint64_t>(value)); }
  void F32(float value) { U64(std::bit_cast<uint32_t>(value)); }
  void Bool(bool value) { out_.push_back(value ? '\1' : '\0'); }
  void String(const std::string& text) {
    U64(text.size());
    out_ += text;
  }
  template <typename T, typename Write>
  void Optional(const std::optional<T>& value, Write&& write) {
    Bool(value.has_value());
    if (value.has_value()) write(*value);
  }
  std::string Finish() { return std::move(out_); }

 private:
  std::string out_;
};

template <typename>
inline constexpr bool kAlwaysFalse = false;

void WriteValue(const index::TermValue& value, KeyWriter& out) {
  out.U64(value.index());
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.String(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out.I64(v);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          out.U64(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out.F64(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.Bool(v);
        } else {
          static_assert(kAlwaysFalse<T>, "encode the new TermValue alternative");
        }
      },
      value);
}

void WriteOptionalValue(const std::optional<index::TermValue>& value, KeyWriter& out) {
  out.Optional(value, [&out](const index::TermValue& v) { WriteValue(v, out); });
}

void WriteQuery(const index::Query& query, KeyWriter& out);

void WriteClauses(const std::vector<index::QueryPtr>& clauses, KeyWriter& out) {
  out.U64(clauses.size());
  for (const index::QueryPtr& clause : clauses) {
    out.Bool(clause != nullptr);
    if (clause != nullptr) WriteQuery(*clause, out);
  }
}

void WriteQuery(const index::Query& query, KeyWriter& out) {
  out.U64(query.node.index());
  out.F32(query.boost);
  std::visit(
      [&out](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, index::AllQuery> || std::is_same_v<T, index::EmptyQuery>) {
          // The alternative index says it all.
        } else if constexpr (std::is_same_v<T, index::TermQuery>) {
          out.String(node.field);
          WriteValue(node.value, out);
        } else if constexpr (std::is_same_v<T, index::PhraseQuery>) {
          out.String(node.field);
          out.U64(node.terms.size());
          for (const std::string& term : node.terms) out.String(term);
          out.U64(node.slop);
        } else if constexpr (std::is_same_v<T, index::RangeQuery>) {
          out.String(node.field);
          WriteOptionalValue(node.lower, out);
          out.Bool(node.lower_inclusive);
          WriteOptionalValue(node.upper, out);
          out.Bool(node.upper_inclusive);
        } else if constexpr (std::is_same_v<T, index::ExistsQuery>) {
          out.String(node.field);
        } else if constexpr (std::is_same_v<T, index::PrefixQuery>) {
          out.String(node.field);
          out.String(node.prefix);
        } else if constexpr (std::is_same_v<T, index::TermSetQuery>) {
          out.String(node.field);
          out.U64(node.values.size());
          for (const index::TermValue& value : node.values) WriteValue(value, out);
        } else if constexpr (std::is_same_v<T, index::WildcardQuery> ||
                             std::is_same_v<T, index::RegexQuery>) {
          out.String(node.field);
          out.String(node.pattern);
        } else if constexpr (std::is_same_v<T, index::BoolQuery>) {
          WriteClauses(node.must, out);
          WriteClauses(node.should, out);
          WriteClauses(node.must_not, out);
          WriteClauses(node.filter, out);
          out.Optional(node.minimum_should_match, [&out](uint32_t m) { out.U64(m); });
        } else {
          static_assert(kAlwaysFalse<T>, "encode the new query node");
        }
      },
      query.node);
}

}  // namespace

std::optional<std::string> LeafRequestKey(const std::string& split_id, const index::Query& query,
                           const index::SplitSearchRequest& request) {
  KeyWriter out;
  out.String(split_id);
  WriteQuery(query, out);
  out.Optional(request.start_timestamp_nanos, [&out](int64_t nanos) { out.I64(nanos); });
  out.Optional(request.end_timestamp_nanos, [&out](int64_t nanos) { out.I64(nanos); });
  out.U64(request.top_k);
  out.U64(request.sort_by.size());
  for (const index::SortField& sort : request.sort_by) {
    out.String(sort.field);
    out.U64(static_cast<uint64_t>(sort.order));
  }
  out.Bool(request.count_all);
  out.Bool(request.aggregation != nullptr);
  if (request.aggregation != nullptr) {
    if (request.aggregation->canonical_json.empty()) return std::nullopt;
    out.String(request.aggregation->canonical_json);
  }
  return out.Finish();
}

uint64_t EstimateResultBytes(const index::SplitSearchResult& result) {
  uint64_t bytes = sizeof(index::SplitSearchResult);
  for (const index::SplitHit& hit : result.hits) {
    bytes += sizeof(index::SplitHit) + hit.sort_keys.capacity() * sizeof(hit.sort_keys[0]);
  }
  if (result.aggregations.has_value()) bytes += index::EstimateMemoryBytes(*result.aggregations);
  return bytes;
}

}  // namespace shale::search
