// Tokenizers of engine v1. A tokenizer turns a text value into the terms of a text field's
// inverted index. All tokenizers are stateless and thread-safe.
//
//   raw            the whole value is one token
//   raw_lowercase  the whole value, ASCII-lowercased, is one token
//   lowercase      same as raw_lowercase
//   whitespace     split on ASCII whitespace, no case folding
//   default        split on non-word bytes (a word byte is ASCII alphanumeric or any byte >= 0x80,
//                  so UTF-8 letters stay inside words), ASCII-lowercased, tokens longer than
//                  255 bytes are dropped
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shale::index {

// PERSISTED (in split schemas as the tokenizer name): never rename the names.
enum class TokenizerKind : uint8_t { kRaw, kDefault, kLowercase, kRawLowercase, kWhitespace };

// Longest token the default tokenizer keeps, in bytes.
inline constexpr size_t kMaxDefaultTokenBytes = 255;

// Returns the tokenizer called `name`, or nullopt when unknown.
std::optional<TokenizerKind> TokenizerFromName(std::string_view name);
// Returns the persisted name of `kind`.
const char* TokenizerName(TokenizerKind kind);
bool IsKnownTokenizer(std::string_view name);

namespace internal_tokenizer {

inline bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
inline bool IsAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline bool HasUpper(std::string_view text) {
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}
// Lowercases `text` into `scratch` when needed and returns a view of the lowercased text.
inline std::string_view Lower(std::string_view text, std::string& scratch) {
  if (!HasUpper(text)) return text;
  scratch.assign(text.data(), text.size());
  for (char& c : scratch) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return scratch;
}

}  // namespace internal_tokenizer

// Calls `sink(std::string_view token)` for each token of `text`, in order. The views are valid
// only during the call. `scratch` is a reusable buffer so that tokenizing allocates nothing in
// the steady state.
template <typename Sink>
void Tokenize(TokenizerKind kind, std::string_view text, std::string& scratch, Sink&& sink) {
  using internal_tokenizer::IsAsciiSpace;
  using internal_tokenizer::IsWordByte;
  using internal_tokenizer::Lower;
  switch (kind) {
    case TokenizerKind::kRaw:
      sink(text);
      return;
    case TokenizerKind::kLowercase:
    case TokenizerKind::kRawLowercase:
      sink(Lower(text, scratch));
      return;
    case TokenizerKind::kWhitespace: {
      size_t i = 0;
      while (i < text.size()) {
        while (i < text.size() && IsAsciiSpace(static_cast<unsigned char>(text[i]))) ++i;
        const size_t start = i;
        while (i < text.size() && !IsAsciiSpace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) sink(text.substr(start, i - start));
      }
      return;
    }
    case TokenizerKind::kDefault: {
      size_t i = 0;
      while (i < text.size()) {
        while (i < text.size() && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
        const size_t start = i;
        while (i < text.size() && IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
        const size_t length = i - start;
        if (length > 0 && length <= kMaxDefaultTokenBytes) {
          sink(Lower(text.substr(start, length), scratch));
        }
      }
      return;
    }
  }
}

// Tokenizes `text` into owned strings.
std::vector<std::string> TokenizeToStrings(TokenizerKind kind, std::string_view text);

// Tokenizes user text of a query with the tokenizer called `tokenizer_name` (the reader uses it
// for TermQuery values on text fields). InvalidArgument when the tokenizer is unknown.
absl::StatusOr<std::vector<std::string>> TokenizeQueryText(std::string_view tokenizer_name,
                                                           std::string_view text);

}  // namespace shale::index
