#include "index/tokenizer.h"

#include "fmt/format.h"

namespace shale::index {

std::optional<TokenizerKind> TokenizerFromName(std::string_view name) {
  if (name == "raw") return TokenizerKind::kRaw;
  if (name == "default") return TokenizerKind::kDefault;
  if (name == "lowercase") return TokenizerKind::kLowercase;
  if (name == "raw_lowercase") return TokenizerKind::kRawLowercase;
  if (name == "whitespace") return TokenizerKind::kWhitespace;
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
  }
  return "raw";
}

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
