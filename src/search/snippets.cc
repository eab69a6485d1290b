#include "search/snippets.h"

#include <utility>

#include "nlohmann/json.hpp"

#include "common/json_util.h"
#include "common/status_macros.h"

namespace shale::search {
namespace {

// The value at dotted `path` of `document`: nested objects first, then a top-level key holding
// the whole path (dynamic fields ingested with dots kept). Null when absent.
const nlohmann::json* ValueAt(const nlohmann::json& document, std::string_view path) {
  const nlohmann::json* node = &document;
  std::string_view rest = path;
  while (node->is_object()) {
    const size_t dot = rest.find('.');
    const auto child = node->find(std::string(rest.substr(0, dot)));
    if (child == node->end()) break;
    if (dot == std::string_view::npos) return &*child;
    node = &*child;
    rest.remove_prefix(dot + 1);
  }
  if (!document.is_object()) return nullptr;
  const auto whole = document.find(std::string(path));
  return whole == document.end() ? nullptr : &*whole;
}

void AppendFragments(const SnippetPlan::Field& field, const nlohmann::json& value,
                     nlohmann::json& fragments) {
  if (value.is_array()) {
    for (const nlohmann::json& element : value) AppendFragments(field, element, fragments);
    return;
  }
  if (!value.is_string()) return;
  std::string fragment =
      index::MakeSnippet(value.get_ref<const std::string&>(), field.tokenizer, field.terms);
  if (!fragment.empty()) fragments.push_back(std::move(fragment));
}

}  // namespace

absl::StatusOr<SnippetPlan> PlanSnippets(const std::vector<std::string>& fields,
                                         const index::DocMapping& mapping,
                                         const index::Query& query) {
  SnippetPlan plan;
  for (const std::string& path : fields) {
    SnippetPlan::Field field;
    field.path = path;
    ASSIGN_OR_RETURN(field.tokenizer, index::SnippetTokenizer(mapping, path));
    index::CollectHighlightTerms(query, path, field.terms);
    plan.fields.push_back(std::move(field));
  }
  return plan;
}

std::string RenderSnippets(const SnippetPlan& plan, std::string_view document_json) {
  const nlohmann::json document =
      nlohmann::json::parse(document_json, nullptr, /*allow_exceptions=*/false);
  nlohmann::json snippets = nlohmann::json::object();
  for (const SnippetPlan::Field& field : plan.fields) {
    nlohmann::json fragments = nlohmann::json::array();
    if (const nlohmann::json* value = ValueAt(document, field.path)) {
      AppendFragments(field, *value, fragments);
    }
    snippets[field.path] = std::move(fragments);
  }
  return DumpJson(snippets);
}

}  // namespace shale::search
