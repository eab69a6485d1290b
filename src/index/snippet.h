// Snippets: the fragment of a stored text value around the query's terms, with each matching word
// wrapped in <b>...</b> (Quickwit's `snippet_fields`). They are computed on the fetched documents
// only, so their cost is per displayed hit, not per matching document.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

#include "index/doc_mapping.h"
#include "index/query.h"
#include "index/tokenizer.h"

namespace shale::index {

// Longest fragment, in bytes of the original text (tantivy's default is 150 characters).
inline constexpr size_t kDefaultSnippetMaxBytes = 150;

// The tokenizer of the text field at `path` (a dotted path; a path below a json field or a
// dynamic field uses that field's / the dynamic mapping's tokenizer). InvalidArgument naming the
// field when it is absent from a strict mapping, is not text or json, or is not stored.
absl::StatusOr<TokenizerKind> SnippetTokenizer(const DocMapping& mapping, std::string_view path);

// The tokens a snippet highlights: exact terms and term prefixes.
struct HighlightTerms {
  absl::flat_hash_set<std::string> terms;
  std::vector<std::string> prefixes;

  bool empty() const { return terms.empty() && prefixes.empty(); }
  bool Matches(std::string_view token) const;
};

// Adds the text terms of `query` that target `field` (terms of term, term set and phrase queries,
// prefixes of prefix queries; wildcard and regex queries highlight nothing), skipping must_not
// clauses: the words a snippet of `field` highlights.
void CollectHighlightTerms(const Query& query, std::string_view field, HighlightTerms& out);

// The best fragment of `text`: the window of at most `max_bytes` holding the most words with a
// token (by `tokenizer`) that `terms` matches, HTML-escaped, each such word in <b>...</b>. Empty
// when no word matches.
std::string MakeSnippet(std::string_view text, TokenizerKind tokenizer,
                        const HighlightTerms& terms, size_t max_bytes = kDefaultSnippetMaxBytes);

}  // namespace shale::index
