#include "index/internal/wildcard_pattern.h"

#include <algorithm>

namespace shale::index::internal {
namespace {

// Length of the UTF-8 character starting at `term[i]` (1 for a stray continuation byte).
size_t CharLength(std::string_view term, size_t i) {
  const auto lead = static_cast<unsigned char>(term[i]);
  size_t length = 1;
  if (lead >= 0xF0) {
    length = 4;
  } else if (lead >= 0xE0) {
    length = 3;
  } else if (lead >= 0xC0) {
    length = 2;
  }
  return std::min(length, term.size() - i);
}

}  // namespace

WildcardPattern::WildcardPattern(std::string_view pattern, bool lowercase) {
  bool in_prefix = true;
  for (size_t i = 0; i < pattern.size(); ++i) {
    Token token;
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      c = pattern[++i];
    } else if (c == '*' || c == '?') {
      token.kind = c == '*' ? Kind::kAnyRun : Kind::kAnyChar;
      in_prefix = false;
      // Consecutive `*` are one.
      if (token.kind == Kind::kAnyRun && !tokens_.empty() && tokens_.back().kind == Kind::kAnyRun) {
        continue;
      }
      tokens_.push_back(token);
      continue;
    }
    if (lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    token.literal = c;
    tokens_.push_back(token);
    if (in_prefix) literal_prefix_.push_back(c);
  }
}

bool WildcardPattern::Matches(std::string_view term) const {
  size_t t = 0;  // position in term
  size_t p = 0;  // position in tokens_
  // The last `*` seen and the term position it currently swallows up to.
  size_t star = tokens_.size();
  size_t star_term = 0;
  while (t < term.size()) {
    if (p < tokens_.size()) {
      const Token& token = tokens_[p];
      if (token.kind == Kind::kAnyRun) {
        star = p++;
        star_term = t;
        continue;
      }
      if (token.kind == Kind::kAnyChar) {
        t += CharLength(term, t);
        ++p;
        continue;
      }
      if (token.literal == term[t]) {
        ++t;
        ++p;
        continue;
      }
    }
    if (star == tokens_.size()) return false;
    // Backtrack: the last `*` swallows one more character.
    p = star + 1;
    star_term += CharLength(term, star_term);
    t = star_term;
  }
  while (p < tokens_.size() && tokens_[p].kind == Kind::kAnyRun) ++p;
  return p == tokens_.size();
}

}  // namespace shale::index::internal
