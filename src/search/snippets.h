// `snippet_fields` of a search request: per hit, for each requested field, the fragments of its
// stored text around the query's terms (index/snippet.h), rendered as Quickwit does:
// `{"body": ["... <b>disk</b> full ..."]}`, one fragment per matching value of the field.
//
// Thread safety: SnippetPlan is immutable once built; RenderSnippets is a pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "index/doc_mapping.h"
#include "index/query.h"
#include "index/snippet.h"

namespace shale::search {

// What one index needs to render the snippets of its hits.
struct SnippetPlan {
  struct Field {
    std::string path;
    index::TokenizerKind tokenizer = index::TokenizerKind::kDefault;
    index::HighlightTerms terms;
  };
  std::vector<Field> fields;
};

// InvalidArgument naming the field when one of `fields` is not a stored text (or json) field of
// `mapping`.
absl::StatusOr<SnippetPlan> PlanSnippets(const std::vector<std::string>& fields,
                                         const index::DocMapping& mapping,
                                         const index::Query& query);

// The snippets of one fetched document (JSON text) as a JSON object text. A field whose values
// match nothing gets an empty list.
std::string RenderSnippets(const SnippetPlan& plan, std::string_view document_json);

}  // namespace shale::search
