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
//   en_stem        default, then the Snowball English stemmer (libstemmer): "running" -> "run"
//   chinese_compatible
//                  default, except that every CJK ideograph is a token of its own and CJK /
//                  fullwidth punctuation separates tokens: "日志abc" -> "日", "志", "abc"
//   source_code_default
//                  default, and words are also split at case changes and letter/digit
//                  boundaries: "HTTPServerError404" -> "http", "server", "error", "404";
//                  Latin-1 letters are folded to ASCII ("Café" -> "cafe")
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shale::index {

// PERSISTED (in split schemas as the tokenizer name): never rename the names.
enum class TokenizerKind : uint8_t {
  kRaw,
  kDefault,
  kLowercase,
  kRawLowercase,
  kWhitespace,
  kEnStem,
  kChineseCompatible,
  kSourceCodeDefault,
};
// The highest persisted id; readers reject larger ones as corrupt. Keep it the last value.
inline constexpr TokenizerKind kLastTokenizerKind = TokenizerKind::kSourceCodeDefault;

// Longest token the default tokenizer keeps, in bytes.
inline constexpr size_t kMaxDefaultTokenBytes = 255;

// Returns the tokenizer called `name`, or nullopt when unknown.
std::optional<TokenizerKind> TokenizerFromName(std::string_view name);
// Returns the persisted name of `kind`.
const char* TokenizerName(TokenizerKind kind);
bool IsKnownTokenizer(std::string_view name);

namespace internal_tokenizer {

// Byte classes, one table lookup per byte on the tokenizers' hot loops.
inline constexpr uint8_t kWordByteBit = 1;
inline constexpr uint8_t kUpperByteBit = 2;
inline constexpr std::array<uint8_t, 256> kByteClasses = [] {
  std::array<uint8_t, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || upper || c >= 0x80;
    classes[c] = static_cast<uint8_t>((word ? kWordByteBit : 0) | (upper ? kUpperByteBit : 0));
  }
  return classes;
}();

inline bool IsWordByte(unsigned char c) { return (kByteClasses[c] & kWordByteBit) != 0; }
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

// Decodes the UTF-8 sequence starting at text[i] (text[i] >= 0x80). Sets `length` to its byte
// count (1 for an invalid lead or truncated sequence, which is then returned as U+FFFD).
inline uint32_t DecodeUtf8(std::string_view text, size_t i, size_t& length) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07;
  } else if (lead >= 0xE0) {
    n = lead <= 0xEF ? 3 : 0;
    cp = lead & 0x0F;
  } else if (lead >= 0xC2) {
    n = 2;
    cp = lead & 0x1F;
  }
  if (n == 0 || i + n > text.size()) {
    length = 1;
    return 0xFFFD;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      length = 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  length = n;
  return cp;
}

// CJK ideographs (Unified, Extension A, compatibility, Extensions B and later).
inline bool IsCjkIdeograph(uint32_t cp) {
  return (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F);
}
// CJK symbols and punctuation, fullwidth ASCII punctuation, halfwidth CJK punctuation.
inline bool IsCjkPunctuation(uint32_t cp) {
  return (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF01 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
         (cp >= 0xFF5B && cp <= 0xFF65);
}

// Stems a lowercased token with the Snowball English stemmer. The view is valid until the next
// call on this thread. Tokens the stemmer cannot take come back unchanged.
std::string_view StemEnglish(std::string_view token);

// Byte classes of the source-code tokenizer.
enum class CodeClass : uint8_t { kLower, kUpper, kDigit };
inline CodeClass ClassifyCodeByte(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return CodeClass::kUpper;
  if (c >= '0' && c <= '9') return CodeClass::kDigit;
  return CodeClass::kLower;  // a-z and every byte of a UTF-8 sequence
}

// Lowercases `word` and folds Latin-1 letters (U+00C0..U+00FF) to ASCII into `scratch`.
void LowerAndFoldLatin1(std::string_view word, std::string& scratch);

// Emits the sub-words of one word run (ASCII alphanumeric / UTF-8 bytes) of the source-code
// tokenizer: boundaries at lower->Upper ("fooBar"), at the last capital of a capital run
// followed by a lowercase letter ("HTTPServer" -> "HTTP", "Server") and at letter/digit changes.
template <typename Sink>
void SplitCodeWord(std::string_view word, std::string& scratch, Sink& sink) {
  size_t start = 0;
  for (size_t i = 1; i <= word.size(); ++i) {
    bool boundary = i == word.size();
    if (!boundary) {
      const CodeClass previous = ClassifyCodeByte(static_cast<unsigned char>(word[i - 1]));
      const CodeClass current = ClassifyCodeByte(static_cast<unsigned char>(word[i]));
      if ((previous == CodeClass::kDigit) != (current == CodeClass::kDigit)) {
        boundary = true;
      } else if (previous == CodeClass::kLower && current == CodeClass::kUpper) {
        boundary = true;  // also after a UTF-8 letter: "CaféBar" -> "Café", "Bar"
      } else if (previous == CodeClass::kUpper && current == CodeClass::kUpper &&
                 i + 1 < word.size() &&
                 ClassifyCodeByte(static_cast<unsigned char>(word[i + 1])) == CodeClass::kLower) {
        boundary = true;
      }
    }
    if (!boundary) continue;
    const std::string_view part = word.substr(start, i - start);
    if (!part.empty() && part.size() <= kMaxDefaultTokenBytes) {
      LowerAndFoldLatin1(part, scratch);
      sink(std::string_view(scratch));
    }
    start = i;
  }
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
    case TokenizerKind::kDefault:
    case TokenizerKind::kEnStem:
    case TokenizerKind::kSourceCodeDefault: {
      size_t i = 0;
      while (i < text.size()) {
        while (i < text.size() && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
        const size_t start = i;
        // One pass finds the end of the word and whether it needs lowercasing.
        uint8_t classes = internal_tokenizer::kWordByteBit;
        while (i < text.size()) {
          const uint8_t byte_class =
              internal_tokenizer::kByteClasses[static_cast<unsigned char>(text[i])];
          if ((byte_class & internal_tokenizer::kWordByteBit) == 0) break;
          classes |= byte_class;
          ++i;
        }
        const size_t length = i - start;
        if (length == 0) continue;
        const std::string_view word = text.substr(start, length);
        if (kind == TokenizerKind::kSourceCodeDefault) {
          internal_tokenizer::SplitCodeWord(word, scratch, sink);
        } else if (length <= kMaxDefaultTokenBytes) {
          const std::string_view lowered =
              (classes & internal_tokenizer::kUpperByteBit) != 0 ? Lower(word, scratch) : word;
          sink(kind == TokenizerKind::kEnStem ? internal_tokenizer::StemEnglish(lowered)
                                              : lowered);
        }
      }
      return;
    }
    case TokenizerKind::kChineseCompatible: {
      // Like kDefault, but a CJK ideograph is a token by itself and CJK punctuation separates.
      size_t i = 0;
      size_t start = 0;
      const auto flush = [&](size_t end) {
        const size_t length = end - start;
        if (length > 0 && length <= kMaxDefaultTokenBytes) {
          sink(Lower(text.substr(start, length), scratch));
        }
      };
      while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
          if (!IsWordByte(c)) {
            flush(i);
            start = i + 1;
          }
          ++i;
          continue;
        }
        size_t length = 1;
        const uint32_t cp = internal_tokenizer::DecodeUtf8(text, i, length);
        if (internal_tokenizer::IsCjkIdeograph(cp)) {
          flush(i);
          sink(text.substr(i, length));
          start = i + length;
        } else if (internal_tokenizer::IsCjkPunctuation(cp)) {
          flush(i);
          start = i + length;
        }
        i += length;
      }
      flush(text.size());
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
