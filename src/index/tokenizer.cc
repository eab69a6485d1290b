#include "index/tokenizer.h"

#include <memory>

#include "fmt/format.h"
#include "libstemmer.h"

namespace shale::index {

std::optional<TokenizerKind> TokenizerFromName(std::string_view name) {
  if (name == "raw") return TokenizerKind::kRaw;
  if (name == "default") return TokenizerKind::kDefault;
  if (name == "lowercase") return TokenizerKind::kLowercase;
  if (name == "raw_lowercase") return TokenizerKind::kRawLowercase;
  if (name == "whitespace") return TokenizerKind::kWhitespace;
  if (name == "en_stem") return TokenizerKind::kEnStem;
  if (name == "chinese_compatible") return TokenizerKind::kChineseCompatible;
  if (name == "source_code_default") return TokenizerKind::kSourceCodeDefault;
  return std::nullopt;
}

const char* TokenizerName(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kRaw:
      return "raw";
    case TokenizerKind::kDefault:
      return "default";
    case TokenizerKind::kLowercase:
      return "lowercase";
    case TokenizerKind::kRawLowercase:
      return "raw_lowercase";
    case TokenizerKind::kWhitespace:
      return "whitespace";
    case TokenizerKind::kEnStem:
      return "en_stem";
    case TokenizerKind::kChineseCompatible:
      return "chinese_compatible";
    case TokenizerKind::kSourceCodeDefault:
      return "source_code_default";
  }
  return "raw";
}

namespace internal_tokenizer {

namespace {
struct StemmerDeleter {
  void operator()(sb_stemmer* stemmer) const { sb_stemmer_delete(stemmer); }
};
}  // namespace

std::string_view StemEnglish(std::string_view token) {
  // sb_stemmer keeps per-call state: one per thread, created on first use.
  thread_local std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer(
      sb_stemmer_new("english", "UTF_8"));
  if (stemmer == nullptr) return token;
  const sb_symbol* stemmed = sb_stemmer_stem(
      stemmer.get(), reinterpret_cast<const sb_symbol*>(token.data()), static_cast<int>(token.size()));
  if (stemmed == nullptr) return token;  // out of memory: index the unstemmed token
  return std::string_view(reinterpret_cast<const char*>(stemmed),
                          static_cast<size_t>(sb_stemmer_length(stemmer.get())));
}

void LowerAndFoldLatin1(std::string_view word, std::string& scratch) {
  // ASCII folding of U+00C0..U+00FF, indexed by code point - 0xC0 ("" = keep as is).
  static constexpr const char* kFold[64] = {
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};
  scratch.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    const auto c = static_cast<unsigned char>(word[i]);
    if (c >= 'A' && c <= 'Z') {
      scratch.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c == 0xC3) && i + 1 < word.size() &&
               (static_cast<unsigned char>(word[i + 1]) & 0xC0) == 0x80 &&
               kFold[static_cast<unsigned char>(word[i + 1]) & 0x3F][0] != '\0') {
      // U+00C0..U+00FF are encoded C3 80..C3 BF.
      scratch.append(kFold[static_cast<unsigned char>(word[i + 1]) & 0x3F]);
      ++i;
    } else {
      scratch.push_back(static_cast<char>(c));
    }
  }
}

}  // namespace internal_tokenizer

bool IsKnownTokenizer(std::string_view name) { return TokenizerFromName(name).has_value(); }

std::vector<std::string> TokenizeToStrings(TokenizerKind kind, std::string_view text) {
  std::vector<std::string> tokens;
  std::string scratch;
  Tokenize(kind, text, scratch, [&tokens](std::string_view token) { tokens.emplace_back(token); });
  return tokens;
}

absl::StatusOr<std::vector<std::string>> TokenizeQueryText(std::string_view tokenizer_name,
                                                           std::string_view text) {
  std::optional<TokenizerKind> kind = TokenizerFromName(tokenizer_name);
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(fmt::format("unknown tokenizer `{}`", tokenizer_name));
  }
  return TokenizeToStrings(*kind, text);
}

}  // namespace shale::index
