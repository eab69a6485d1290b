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
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Calls `emit(begin, end, has_upper)` for each word of `text` (a maximal run of word bytes, see
// IsWordByte), in order; `has_upper` tells whether it holds an ASCII capital. One byte at a
// time with the class table.
template <typename Emit>
void ForEachWordScalar(std::string_view text, Emit&& emit) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    uint8_t classes = kWordByteBit;
    while (i < text.size()) {
      const uint8_t byte_class = kByteClasses[static_cast<unsigned char>(text[i])];
      if ((byte_class & kWordByteBit) == 0) break;
      classes |= byte_class;
      ++i;
    }
    if (i > start) emit(start, i, (classes & kUpperByteBit) != 0);
  }
}

#if defined(__SSE2__)
// Sets bit k of `word` (of `upper`) when byte k of the 64 at `p` is a word byte (an ASCII
// capital). SSE2, part of x86-64.
inline void WordMasks64(const char* p, uint64_t& word, uint64_t& upper) {
  word = 0;
  upper = 0;
  for (int chunk = 0; chunk < 4; ++chunk) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * chunk));
    // Unsigned range checks as signed compares: (uint8)(x - lo) < n  <=>
    // (int8)(x - lo - 128) < (int8)(n - 128).
    const auto in_range = [](__m128i x, int lo, int n) {
      return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(-lo - 128))),
                            _mm_set1_epi8(static_cast<char>(n - 128)));
    };
    const __m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128());  // >= 0x80
    const __m128i digit = in_range(v, '0', 10);
    const __m128i letter = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26);
    const __m128i capital = in_range(v, 'A', 26);
    const auto bits = [](__m128i mask) {
      return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(mask)));
    };
    word |= bits(_mm_or_si128(high, _mm_or_si128(digit, letter))) << (16 * chunk);
    upper |= bits(capital) << (16 * chunk);
  }
}

// ForEachWordScalar's words, found 64 bytes at a time from bit masks: a branch per word edge
// rather than per byte.
template <typename Emit>
void ForEachWord(std::string_view text, Emit&& emit) {
  const size_t n = text.size();
  size_t start = 0;         // of the word in progress
  bool open = false;        // a word runs past the previous window
  bool open_upper = false;  // ... and holds a capital before this window
  uint64_t carry = 0;       // 1 when the previous window ended in a word
  for (size_t base = 0; base < n; base += 64) {
    uint64_t word;
    uint64_t upper;
    if (n - base >= 64) {
      WordMasks64(text.data() + base, word, upper);
    } else {
      alignas(16) char tail[64] = {};  // zero bytes are no word bytes
      std::memcpy(tail, text.data() + base, n - base);
      WordMasks64(tail, word, upper);
    }
    // Word starts, and word ends (the first byte after a word; an end at the window's end is
    // seen by the next window, or after the loop).
    const uint64_t previous = (word << 1) | carry;
    const uint64_t starts = word & ~previous;
    uint64_t edges = starts | (~word & previous);
    while (edges != 0) {
      const int bit = std::countr_zero(edges);
      edges &= edges - 1;
      if ((starts >> bit) & 1) {
        start = base + static_cast<size_t>(bit);
        open = true;
        open_upper = false;
        continue;
      }
      const size_t from = start > base ? start - base : 0;
      const uint64_t range = ((uint64_t{1} << bit) - 1) & ~((uint64_t{1} << from) - 1);
      emit(start, base + static_cast<size_t>(bit), open_upper || (upper & range) != 0);
      open = false;
    }
    if (open) {
      const size_t from = start > base ? start - base : 0;
      open_upper = open_upper || ((upper >> from) != 0);
    }
    carry = word >> 63;
  }
  if (open) emit(start, n, open_upper);
}
#else
template <typename Emit>
void ForEachWord(std::string_view text, Emit&& emit) {
  ForEachWordScalar(text, emit);
}
#endif

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
      internal_tokenizer::ForEachWord(text, [&](size_t start, size_t end, bool has_upper) {
        const std::string_view word = text.substr(start, end - start);
        if (kind == TokenizerKind::kSourceCodeDefault) {
          internal_tokenizer::SplitCodeWord(word, scratch, sink);
        } else if (word.size() <= kMaxDefaultTokenBytes) {
          const std::string_view lowered = has_upper ? Lower(word, scratch) : word;
          sink(kind == TokenizerKind::kEnStem ? internal_tokenizer::StemEnglish(lowered)
                                              : lowered);
        }
      });
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
