#include "index/snippet.h"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>

#include "fmt/format.h"

#include "common/markup.h"

namespace shale::index {
namespace {

absl::Status NotSnippetable(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("snippet field `{}` {}", path, why));
}

// The field mapping at `path` among `fields` (objects descended), with the rest of the path when
// it goes below a json field; null when absent.
const FieldMapping* FindField(const std::vector<FieldMapping>& fields, std::string_view path,
                              std::string_view& rest) {
  const size_t dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  for (const FieldMapping& field : fields) {
    if (field.name != head) continue;
    rest = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (field.type == FieldType::kObject && !rest.empty()) {
      return FindField(field.field_mappings, rest, rest);
    }
    return &field;
  }
  return nullptr;
}

bool IsTokenizedWordByte(TokenizerKind kind, unsigned char c) {
  if (kind == TokenizerKind::kWhitespace) return !internal_tokenizer::IsAsciiSpace(c);
  return internal_tokenizer::IsWordByte(c);
}

// The spans of `text` that are tokenized one at a time: the whole text for the single-token
// tokenizers, else runs of word bytes (non-space bytes for `whitespace`).
std::vector<std::pair<size_t, size_t>> WordSpans(std::string_view text, TokenizerKind kind) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (kind == TokenizerKind::kRaw || kind == TokenizerKind::kLowercase ||
      kind == TokenizerKind::kRawLowercase) {
    if (!text.empty()) spans.emplace_back(0, text.size());
    return spans;
  }
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !IsTokenizedWordByte(kind, static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && IsTokenizedWordByte(kind, static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) spans.emplace_back(start, i);
  }
  return spans;
}

}  // namespace

absl::StatusOr<TokenizerKind> SnippetTokenizer(const DocMapping& mapping, std::string_view path) {
  std::string_view rest;
  const FieldMapping* field = FindField(mapping.field_mappings, path, rest);
  std::string_view tokenizer_name;
  if (field == nullptr) {
    if (mapping.mode != DocMappingMode::kDynamic) return NotSnippetable(path, "is not mapped");
    if (!mapping.dynamic_mapping.stored) return NotSnippetable(path, "is not stored");
    tokenizer_name = mapping.dynamic_mapping.tokenizer;
  } else {
    if (field->type != FieldType::kText && field->type != FieldType::kJson) {
      return NotSnippetable(path, fmt::format("is a {} field, not text", FieldTypeName(field->type)));
    }
    if (field->type == FieldType::kText && !rest.empty()) {
      return NotSnippetable(path, "goes below a text field");
    }
    if (!field->stored) return NotSnippetable(path, "is not stored");
    tokenizer_name = field->tokenizer;
  }
  const std::optional<TokenizerKind> kind = TokenizerFromName(tokenizer_name);
  if (!kind.has_value()) {
    return NotSnippetable(path, fmt::format("has the unknown tokenizer `{}`", tokenizer_name));
  }
  return *kind;
}

bool HighlightTerms::Matches(std::string_view token) const {
  if (terms.contains(absl::string_view(token.data(), token.size()))) return true;
  return std::any_of(prefixes.begin(), prefixes.end(), [token](const std::string& prefix) {
    return token.substr(0, prefix.size()) == prefix;
  });
}

void CollectHighlightTerms(const Query& query, std::string_view field, HighlightTerms& out) {
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, TermQuery>) {
          const auto* text = std::get_if<std::string>(&node.value);
          if (node.field == field && text != nullptr) out.terms.insert(*text);
        } else if constexpr (std::is_same_v<T, TermSetQuery>) {
          if (node.field != field) return;
          for (const TermValue& value : node.values) {
            if (const auto* text = std::get_if<std::string>(&value)) out.terms.insert(*text);
          }
        } else if constexpr (std::is_same_v<T, PhraseQuery>) {
          if (node.field == field) out.terms.insert(node.terms.begin(), node.terms.end());
        } else if constexpr (std::is_same_v<T, PrefixQuery>) {
          if (node.field == field) out.prefixes.push_back(node.prefix);
        } else if constexpr (std::is_same_v<T, BoolQuery>) {
          for (const auto* clauses : {&node.must, &node.should, &node.filter}) {
            for (const QueryPtr& clause : *clauses) CollectHighlightTerms(*clause, field, out);
          }
        }
      },
      query.node);
}

std::string MakeSnippet(std::string_view text, TokenizerKind tokenizer,
                        const HighlightTerms& terms, size_t max_bytes) {
  if (terms.empty() || max_bytes == 0) return "";
  std::vector<std::pair<size_t, size_t>> matches;
  std::string scratch;
  for (const auto& [start, end] : WordSpans(text, tokenizer)) {
    bool matched = false;
    Tokenize(tokenizer, text.substr(start, end - start), scratch,
             [&](std::string_view token) { matched = matched || terms.Matches(token); });
    if (matched) matches.emplace_back(start, end);
  }
  if (matches.empty()) return "";

  // The window starting at a match that holds the most whole matches (the first on ties).
  size_t best = 0;
  size_t best_count = 0;
  for (size_t i = 0, j = 0; i < matches.size(); ++i) {
    j = std::max(j, i);
    while (j < matches.size() && matches[j].second <= matches[i].first + max_bytes) ++j;
    if (j - i > best_count) {
      best = i;
      best_count = j - i;
    }
  }
  size_t window_start = matches[best].first;
  size_t window_end = std::min(text.size(), window_start + max_bytes);
  // Near the end of the text, the window takes context before the first match instead.
  if (window_end - window_start < max_bytes) {
    window_start = window_end > max_bytes ? window_end - max_bytes : 0;
  }
  // Never cut a word (nor so a UTF-8 sequence, whose bytes are word bytes) at either edge.
  auto inside_word = [&](size_t at) {
    return at > 0 && at < text.size() &&
           IsTokenizedWordByte(tokenizer, static_cast<unsigned char>(text[at - 1])) &&
           IsTokenizedWordByte(tokenizer, static_cast<unsigned char>(text[at]));
  };
  while (window_start < matches[best].first && inside_word(window_start)) ++window_start;
  while (window_end > matches[best].second && inside_word(window_end)) --window_end;
  auto is_space = [&](size_t at) {
    return internal_tokenizer::IsAsciiSpace(static_cast<unsigned char>(text[at]));
  };
  while (window_start < matches[best].first && is_space(window_start)) ++window_start;
  while (window_end > matches[best].second && is_space(window_end - 1)) --window_end;

  std::string out;
  out.reserve(window_end - window_start + 16 * best_count);
  size_t at = window_start;
  for (const auto& [start, end] : matches) {
    if (start < window_start || end > window_end) continue;
    AppendMarkupEscaped(text.substr(at, start - at), out);
    out += "<b>";
    AppendMarkupEscaped(text.substr(start, end - start), out);
    out += "</b>";
    at = end;
  }
  AppendMarkupEscaped(text.substr(at, window_end - at), out);
  return out;
}

}  // namespace shale::index
