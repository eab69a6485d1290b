// libFuzzer target: the input is a query in the query language (and, when it parses as JSON, an
// Elasticsearch query DSL object). Whatever parses is rendered, built and run against a small
// split of every field type, so hostile queries (deep nesting, huge regexes or term sets, leading
// wildcards) must end in an error or an answer, never a crash or a hang.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "fuzz_mapping.h"
#include "index/query.h"
#include "index/split_format.h"
#include "nlohmann/json.hpp"
#include "query/es_query_dsl.h"
#include "query/query_language.h"

namespace {

const shale::index::SplitReader& SeedReader() {
  static const std::unique_ptr<shale::index::SplitReader> kReader = [] {
    const std::string split = shale::fuzz::BuildSeedSplit();
    auto reader = shale::index::SplitReader::Open(
        shale::index::NewMemoryByteRangeSource("fuzz-query", split));
    if (!reader.ok()) std::abort();
    return *std::move(reader);
  }();
  return *kReader;
}

void RunQueryText(const std::string& text) {
  static const std::vector<std::string> kDefaultFields = {"body", "level", "all"};
  auto ast = shale::query::ParseQueryLanguage(text);
  if (!ast.ok()) return;
  (void)shale::query::QueryAstToJson(*ast).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
  auto query = shale::query::BuildQuery(*ast, kDefaultFields);
  if (!query.ok()) return;
  (void)shale::index::DebugString(**query);
  shale::index::SplitSearchRequest request;
  request.top_k = 2;
  (void)SeedReader().RangesFor(**query, request, shale::index::WarmupRound::kFromHotcache);
  (void)SeedReader().Search(**query, request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  RunQueryText(text);
  const nlohmann::json dsl = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!dsl.is_discarded()) {
    auto translated = shale::query::EsQueryToQueryLanguage(dsl);
    if (translated.ok()) RunQueryText(*translated);
  }
  return 0;
}
