// WildcardPattern: a compiled wildcard (`*` any run of bytes, `?` one UTF-8 character, `\`
// escapes the next character) matched against whole terms. Private to index/.
//
// Cost: Matches runs in O(term length x pattern length) at worst (greedy matching with one
// backtrack point per `*`), without allocation.
//
// Thread safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shale::index::internal {

class WildcardPattern {
 public:
  // `lowercase`: ASCII-lowercase the literal characters (fields whose tokenizer lowercases).
  WildcardPattern(std::string_view pattern, bool lowercase);

  // The literal characters before the first wildcard: every matching term starts with them.
  const std::string& literal_prefix() const { return literal_prefix_; }
  // Whether `term` as a whole matches the pattern.
  bool Matches(std::string_view term) const;

 private:
  enum class Kind : unsigned char { kLiteral, kAnyChar, kAnyRun };
  struct Token {
    Kind kind = Kind::kLiteral;
    char literal = 0;
  };

  std::vector<Token> tokens_;
  std::string literal_prefix_;
};

}  // namespace shale::index::internal
