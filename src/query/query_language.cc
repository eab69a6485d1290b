#include "query/query_language.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/status_macros.h"

namespace shale::query {
namespace {

using nlohmann::json;

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Characters that end a bare word (unless escaped with a backslash).
bool IsWordTerminator(char c) {
  switch (c) {
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '"':
    case '^':
      return true;
    default:
      return IsSpace(c);
  }
}

// Collects split terms of a phrase (whitespace separated) for slop queries.
std::vector<std::string> SplitWhitespace(std::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) {
      ++i;
    }
    if (i > start) {
      tokens.emplace_back(text.substr(start, i - start));
    }
  }
  return tokens;
}

// A recursive-descent parser over the query text. Positions are byte offsets into the text.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<QueryAst> ParseAll() {
    SkipSpaces();
    if (AtEnd()) {
      return QueryAst{MatchAllAst{}};
    }
    ASSIGN_OR_RETURN(QueryAst ast, ParseOr());
    SkipSpaces();
    if (!AtEnd()) {
      if (Peek() == ')') {
        return Error(pos_, "unexpected `)` without a matching `(`");
      }
      return Error(pos_, fmt::format("unexpected `{}`", Peek()));
    }
    return ast;
  }

 private:
  struct Word {
    std::string value;       // unescaped, without a trailing wildcard
    bool is_star = false;    // the word is exactly an unescaped `*`
    bool is_prefix = false;  // the word ends with an unescaped `*`, its only wildcard
    // Other unescaped `*` or `?`: `pattern` holds the word with `\`, `*` and `?` escaped when
    // they were escaped in the query (WildcardQuery syntax).
    bool is_wildcard = false;
    std::string pattern;
  };

  absl::Status Error(size_t position, std::string_view message) const {
    return absl::InvalidArgumentError(
        fmt::format("query parse error at position {}: {}", position, message));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t offset = 0) const {
    return pos_ + offset < text_.size() ? text_[pos_ + offset] : '\0';
  }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(Peek())) {
      ++pos_;
    }
  }

  // True when `keyword` starts at the current position and is followed by a boundary.
  bool AtKeyword(std::string_view keyword) const {
    if (text_.substr(pos_, keyword.size()) != keyword) {
      return false;
    }
    size_t after = pos_ + keyword.size();
    if (after >= text_.size()) {
      return true;
    }
    char next = text_[after];
    return IsSpace(next) || next == '(' || next == '"';
  }
  bool AtAnd() const { return AtKeyword("AND") || text_.substr(pos_, 2) == "&&"; }
  bool AtOr() const { return AtKeyword("OR") || text_.substr(pos_, 2) == "||"; }
  void ConsumeOperator() {
    if (Peek() == '&' || Peek() == '|') {
      pos_ += 2;
    } else {
      pos_ += Peek() == 'A' ? 3 : 2;  // AND / OR
    }
  }

  absl::Status EnterNesting() {
    if (++depth_ > kMaxQueryNestingDepth) {
      return Error(pos_,
                   fmt::format("query is nested deeper than {} levels", kMaxQueryNestingDepth));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<QueryAst> ParseOr() {
    std::vector<QueryAst> clauses;
    ASSIGN_OR_RETURN(QueryAst first, ParseAnd());
    clauses.push_back(std::move(first));
    while (true) {
      SkipSpaces();
      if (!AtOr()) {
        break;
      }
      size_t operator_pos = pos_;
      ConsumeOperator();
      SkipSpaces();
      if (AtEnd() || Peek() == ')') {
        return Error(operator_pos, "expected a clause after OR");
      }
      ASSIGN_OR_RETURN(QueryAst next, ParseAnd());
      clauses.push_back(std::move(next));
    }
    if (clauses.size() == 1) {
      return std::move(clauses[0]);
    }
    BoolAst bool_ast;
    bool_ast.should = std::move(clauses);
    return QueryAst{std::move(bool_ast)};
  }

  absl::StatusOr<QueryAst> ParseAnd() {
    std::vector<std::pair<bool, QueryAst>> clauses;  // (negated, clause)
    ASSIGN_OR_RETURN(auto first, ParseUnary());
    clauses.push_back(std::move(first));
    while (true) {
      SkipSpaces();
      if (AtEnd() || Peek() == ')' || AtOr()) {
        break;
      }
      if (AtAnd()) {
        size_t operator_pos = pos_;
        ConsumeOperator();
        SkipSpaces();
        if (AtEnd() || Peek() == ')' || AtOr() || AtAnd()) {
          return Error(operator_pos, "expected a clause after AND");
        }
      }
      ASSIGN_OR_RETURN(auto next, ParseUnary());
      clauses.push_back(std::move(next));
    }
    if (clauses.size() == 1 && !clauses[0].first) {
      return std::move(clauses[0].second);
    }
    BoolAst bool_ast;
    for (auto& [negated, clause] : clauses) {
      (negated ? bool_ast.must_not : bool_ast.must).push_back(std::move(clause));
    }
    return QueryAst{std::move(bool_ast)};
  }

  // Returns (negated, clause).
  absl::StatusOr<std::pair<bool, QueryAst>> ParseUnary() {
    size_t start = pos_;
    bool is_not = AtKeyword("NOT");
    if (is_not || Peek() == '!' || Peek() == '-' || Peek() == '+') {
      bool negate = Peek() != '+';
      bool allows_space = is_not || Peek() == '!';
      pos_ += is_not ? 3 : 1;
      if (allows_space) {
        SkipSpaces();
      }
      if (AtEnd() || IsSpace(Peek()) || Peek() == ')') {
        return Error(start,
                     fmt::format("expected a clause after `{}`",
                                 is_not ? std::string("NOT") : std::string(1, text_[start])));
      }
      RETURN_IF_ERROR(EnterNesting());
      ASSIGN_OR_RETURN(auto inner, ParseUnary());
      --depth_;
      if (negate) {
        inner.first = !inner.first;
      }
      return inner;
    }
    ASSIGN_OR_RETURN(QueryAst primary, ParsePrimary());
    return std::make_pair(false, std::move(primary));
  }

  absl::StatusOr<QueryAst> ParsePrimary() {
    if (AtEnd()) {
      return Error(pos_, "expected a clause");
    }
    if (Peek() == '(') {
      size_t open_pos = pos_;
      ++pos_;
      RETURN_IF_ERROR(EnterNesting());
      SkipSpaces();
      if (Peek() == ')') {
        return Error(open_pos, "empty parentheses");
      }
      ASSIGN_OR_RETURN(QueryAst inner, ParseOr());
      SkipSpaces();
      if (Peek() != ')') {
        return Error(pos_, fmt::format("expected `)` closing the `(` at position {}", open_pos));
      }
      ++pos_;
      --depth_;
      RETURN_IF_ERROR(ParseBoost(inner));
      return inner;
    }
    if (Peek() == ')') {
      return Error(pos_, "unexpected `)`");
    }
    ASSIGN_OR_RETURN(QueryAst clause, ParseClause());
    RETURN_IF_ERROR(ParseBoost(clause));
    return clause;
  }

  absl::Status ParseBoost(QueryAst& ast) {
    if (Peek() != '^') {
      return absl::OkStatus();
    }
    size_t caret_pos = pos_;
    ++pos_;
    size_t start = pos_;
    while (!AtEnd() && (std::isdigit(static_cast<unsigned char>(Peek())) || Peek() == '.')) {
      ++pos_;
    }
    std::string_view number = text_.substr(start, pos_ - start);
    float boost = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), boost);
    if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() ||
        !std::isfinite(boost) || boost < 0) {
      return Error(caret_pos, "expected a non-negative number after `^`");
    }
    ast.boost *= boost;
    return absl::OkStatus();
  }

  absl::StatusOr<QueryAst> ParseClause() {
    size_t start = pos_;
    if (AtAnd() || AtOr()) {
      return Error(start, fmt::format("unexpected operator `{}`",
                                      text_.substr(start, AtKeyword("AND") ? 3 : 2)));
    }
    switch (Peek()) {
      case '"':
      case '\'':
        return ParsePhraseOrPrefix(std::nullopt);
      case '[':
      case '{':
        return Error(start, "a range needs a field, e.g. `field:[a TO b]`");
      case '>':
      case '<':
        return Error(start, "a comparison needs a field, e.g. `field:>=10`");
      case '/':
        return ParseRegex(std::nullopt);
      case ']':
      case '}':
      case '^':
        return Error(start, fmt::format("unexpected `{}`", Peek()));
      default:
        break;
    }
    ASSIGN_OR_RETURN(std::optional<std::string> field, ScanFieldName());
    if (field.has_value()) {
      return ParseFieldValue(*field);
    }
    if (AtSetStart()) {
      ASSIGN_OR_RETURN(TermSetAst set, ParseSet(std::nullopt));
      return QueryAst{std::move(set)};
    }
    return ParseWordClause(std::nullopt);
  }

  // If a field name followed by `:` starts here, consumes both and returns the name (escaped dots
  // kept as `\.`, other escapes resolved). Otherwise consumes nothing and returns nullopt.
  absl::StatusOr<std::optional<std::string>> ScanFieldName() {
    std::string name;
    size_t i = pos_;
    while (i < text_.size()) {
      char c = text_[i];
      if (c == '\\') {
        if (i + 1 >= text_.size()) {
          return std::optional<std::string>();
        }
        char escaped = text_[i + 1];
        if (escaped == '.') {
          name += '\\';
        }
        name += escaped;
        i += 2;
        continue;
      }
      if (c == ':') {
        if (name.empty()) {
          return Error(i, "expected a field name before `:`");
        }
        pos_ = i + 1;
        return std::optional<std::string>(std::move(name));
      }
      if (IsWordTerminator(c) || c == '*') {
        return std::optional<std::string>();
      }
      name += c;
      ++i;
    }
    return std::optional<std::string>();
  }

  bool AtSetStart() const {
    if (text_.substr(pos_, 2) != "IN") {
      return false;
    }
    size_t i = pos_ + 2;
    while (i < text_.size() && IsSpace(text_[i])) {
      ++i;
    }
    return i < text_.size() && text_[i] == '[';
  }

  absl::StatusOr<QueryAst> ParseFieldValue(const std::string& field) {
    if (AtEnd() || IsSpace(Peek()) || Peek() == ')') {
      return Error(pos_, fmt::format("expected a value after `{}:`", field));
    }
    switch (Peek()) {
      case '"':
      case '\'':
        return ParsePhraseOrPrefix(field);
      case '[':
      case '{': {
        ASSIGN_OR_RETURN(RangeAst range, ParseRange(field));
        return QueryAst{std::move(range)};
      }
      case '>':
      case '<': {
        ASSIGN_OR_RETURN(RangeAst range, ParseComparison(field));
        return QueryAst{std::move(range)};
      }
      case '/':
        return ParseRegex(field);
      case '(':
        return Error(pos_, fmt::format("grouping after `{}:` is not supported yet, repeat the "
                                       "field in each clause",
                                       field));
      default:
        break;
    }
    if (AtSetStart()) {
      ASSIGN_OR_RETURN(TermSetAst set, ParseSet(field));
      return QueryAst{std::move(set)};
    }
    return ParseWordClause(field);
  }

  // Scans a bare word ending at a word terminator (or also at `extra_terminators`).
  absl::StatusOr<Word> ScanWord(std::string_view extra_terminators) {
    Word word;
    size_t start = pos_;
    size_t num_wildcards = 0;
    bool star_is_last = false;
    while (!AtEnd()) {
      char c = Peek();
      if (IsWordTerminator(c) || extra_terminators.find(c) != std::string_view::npos) {
        break;
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) {
          return Error(pos_, "dangling `\\` at the end of the query");
        }
        const char escaped = text_[pos_ + 1];
        word.value += escaped;
        if (escaped == '*' || escaped == '?' || escaped == '\\') word.pattern += '\\';
        word.pattern += escaped;
        pos_ += 2;
        star_is_last = false;
        continue;
      }
      if (c == '*' || c == '?') {
        ++num_wildcards;
        star_is_last = c == '*';
        word.pattern += c;
        ++pos_;
        continue;
      }
      star_is_last = false;
      word.value += c;
      word.pattern += c;
      ++pos_;
    }
    if (pos_ == start) {
      return Error(start, AtEnd() ? std::string("expected a value")
                                  : fmt::format("unexpected `{}`", Peek()));
    }
    if (num_wildcards == 1 && star_is_last) {
      word.is_star = word.value.empty();
      word.is_prefix = !word.value.empty();
    } else if (num_wildcards > 0) {
      word.is_wildcard = true;
    }
    return word;
  }

  absl::StatusOr<QueryAst> ParseWordClause(const std::optional<std::string>& field) {
    ASSIGN_OR_RETURN(Word word, ScanWord(""));
    if (word.is_star) {
      if (field.has_value()) {
        return QueryAst{ExistsAst{*field}};
      }
      return QueryAst{MatchAllAst{}};
    }
    if (word.is_prefix) {
      return QueryAst{PrefixAst{field, std::move(word.value)}};
    }
    if (word.is_wildcard) {
      return QueryAst{WildcardAst{field, std::move(word.pattern)}};
    }
    return QueryAst{TermAst{field, std::move(word.value)}};
  }

  // Scans `"..."` or `'...'` (at the opening quote), resolving backslash escapes. Returns the
  // content.
  absl::StatusOr<std::string> ScanQuoted() {
    size_t open_pos = pos_;
    const char quote = Peek();
    ++pos_;
    std::string content;
    while (true) {
      if (AtEnd()) {
        return Error(open_pos, "unterminated quoted string");
      }
      char c = Peek();
      if (c == '\\' && pos_ + 1 < text_.size()) {
        content += text_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      ++pos_;
      if (c == quote) {
        break;
      }
      content += c;
    }
    return content;
  }

  absl::StatusOr<PhraseAst> ParsePhrase(const std::optional<std::string>& field) {
    PhraseAst phrase;
    phrase.field = field;
    ASSIGN_OR_RETURN(phrase.phrase, ScanQuoted());
    if (Peek() == '~') {
      size_t tilde_pos = pos_;
      ++pos_;
      size_t start = pos_;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(Peek()))) {
        ++pos_;
      }
      std::string_view digits = text_.substr(start, pos_ - start);
      uint32_t slop = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), slop);
      if (digits.empty() || ec != std::errc()) {
        return Error(tilde_pos, "expected a slop (a non-negative integer) after `~`");
      }
      phrase.slop = slop;
    }
    return phrase;
  }

  // `"text"*`: a prefix query on one quoted word (the quotes allow characters such as `-` or
  // `:` without escapes). Several words are not supported.
  absl::StatusOr<QueryAst> ParsePhraseOrPrefix(const std::optional<std::string>& field) {
    const size_t start = pos_;
    ASSIGN_OR_RETURN(PhraseAst phrase, ParsePhrase(field));
    if (Peek() != '*') return QueryAst{std::move(phrase)};
    if (phrase.slop != 0 || SplitWhitespace(phrase.phrase).size() > 1) {
      return Error(start, "phrase prefix queries over several words are not supported yet");
    }
    ++pos_;
    if (phrase.phrase.empty()) return Error(start, "empty prefix");
    return QueryAst{PrefixAst{field, std::move(phrase.phrase)}};
  }

  // `/regex/` (at the `/`): the text up to the next unescaped `/`, where `\/` stands for `/`
  // and every other escape is kept for RE2.
  absl::StatusOr<QueryAst> ParseRegex(const std::optional<std::string>& field) {
    const size_t open_pos = pos_;
    ++pos_;
    std::string pattern;
    while (true) {
      if (AtEnd()) return Error(open_pos, "unterminated regex, expected a closing `/`");
      const char c = Peek();
      if (c == '\\' && pos_ + 1 < text_.size()) {
        if (text_[pos_ + 1] != '/') pattern += '\\';
        pattern += text_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      ++pos_;
      if (c == '/') break;
      pattern += c;
    }
    if (absl::Status valid = index::ValidateRegexPattern(pattern); !valid.ok()) {
      return Error(open_pos, std::string(valid.message()));
    }
    return QueryAst{RegexAst{field, std::move(pattern)}};
  }

  // A range bound or set element: a bare word ending at whitespace, `]` or `}`.
  absl::StatusOr<std::string> ScanBoundWord(std::string_view what, bool& is_star) {
    is_star = false;
    if (AtEnd()) {
      return Error(pos_, fmt::format("expected {}", what));
    }
    if (Peek() == '"') {
      return Error(pos_, fmt::format("quoted {} are not supported, use the Elasticsearch query "
                                     "DSL for values with spaces",
                                     what == "a range bound" ? "range bounds" : "values"));
    }
    size_t start = pos_;
    std::string value;
    bool escaped_any = false;
    while (!AtEnd()) {
      char c = Peek();
      if (IsSpace(c) || c == ']' || c == '}' || c == '[' || c == '{') {
        break;
      }
      if (c == '\\' && pos_ + 1 < text_.size()) {
        value += text_[pos_ + 1];
        pos_ += 2;
        escaped_any = true;
        continue;
      }
      value += c;
      ++pos_;
    }
    if (pos_ == start) {
      return Error(pos_, fmt::format("expected {}", what));
    }
    is_star = value == "*" && !escaped_any;
    return value;
  }

  absl::StatusOr<RangeAst> ParseRange(const std::string& field) {
    size_t open_pos = pos_;
    RangeAst range;
    range.field = field;
    range.lower_inclusive = Peek() == '[';
    ++pos_;
    SkipSpaces();
    bool is_star = false;
    ASSIGN_OR_RETURN(std::string lower, ScanBoundWord("a range bound", is_star));
    if (!is_star) {
      range.lower = std::move(lower);
    }
    if (AtEnd() || !IsSpace(Peek())) {
      return Error(pos_, "expected ` TO ` after the lower bound of the range");
    }
    SkipSpaces();
    if (!(text_.substr(pos_, 2) == "TO" && pos_ + 2 < text_.size() && IsSpace(text_[pos_ + 2]))) {
      return Error(pos_,
                   "expected `TO` after the lower bound of the range (range bounds cannot "
                   "contain spaces)");
    }
    pos_ += 2;
    SkipSpaces();
    ASSIGN_OR_RETURN(std::string upper, ScanBoundWord("a range bound", is_star));
    if (!is_star) {
      range.upper = std::move(upper);
    }
    SkipSpaces();
    if (Peek() != ']' && Peek() != '}') {
      return Error(pos_, fmt::format("expected `]` or `}}` closing the range opened at position {}",
                                     open_pos));
    }
    range.upper_inclusive = Peek() == ']';
    ++pos_;
    return range;
  }

  absl::StatusOr<RangeAst> ParseComparison(const std::string& field) {
    size_t op_pos = pos_;
    bool greater = Peek() == '>';
    bool inclusive = Peek(1) == '=';
    pos_ += inclusive ? 2 : 1;
    std::string_view op = text_.substr(op_pos, pos_ - op_pos);
    if (AtEnd() || IsSpace(Peek()) || Peek() == ')') {
      return Error(pos_, fmt::format("expected a value after `{}`", op));
    }
    if (Peek() == '"') {
      return Error(pos_, fmt::format("quoted values are not supported after `{}`", op));
    }
    ASSIGN_OR_RETURN(Word word, ScanWord(""));
    if (word.is_star || word.is_prefix) {
      return Error(op_pos, fmt::format("wildcards are not allowed after `{}`", op));
    }
    RangeAst range;
    range.field = field;
    if (greater) {
      range.lower = std::move(word.value);
      range.lower_inclusive = inclusive;
    } else {
      range.upper = std::move(word.value);
      range.upper_inclusive = inclusive;
    }
    return range;
  }

  absl::StatusOr<TermSetAst> ParseSet(const std::optional<std::string>& field) {
    TermSetAst set;
    set.field = field;
    pos_ += 2;  // IN
    SkipSpaces();
    size_t open_pos = pos_;
    ++pos_;  // [
    while (true) {
      SkipSpaces();
      if (AtEnd()) {
        return Error(open_pos, "unterminated `IN [` set");
      }
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      if (set.values.size() >= kMaxTermSetValues) {
        return Error(open_pos, fmt::format("the `IN` set has more than {} values",
                                           kMaxTermSetValues));
      }
      if (Peek() == '"' || Peek() == '\'') {
        ASSIGN_OR_RETURN(std::string value, ScanQuoted());
        set.values.push_back(std::move(value));
        continue;
      }
      bool unused_star = false;
      ASSIGN_OR_RETURN(std::string value, ScanBoundWord("a value", unused_star));
      set.values.push_back(std::move(value));
    }
    return set;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Building the engine query.

index::QueryPtr NewQuery() { return std::make_unique<index::Query>(); }

index::QueryPtr NewAll() {
  index::QueryPtr query = NewQuery();
  query->node = index::AllQuery{};
  return query;
}

index::QueryPtr NewTerm(const std::string& field, const std::string& value) {
  index::QueryPtr query = NewQuery();
  query->node = index::TermQuery{field, index::TermValue(value)};
  return query;
}

class Builder {
 public:
  explicit Builder(const std::vector<std::string>& default_search_fields)
      : default_search_fields_(default_search_fields) {}

  absl::StatusOr<index::QueryPtr> Build(const QueryAst& ast) {
    ASSIGN_OR_RETURN(index::QueryPtr query,
                     std::visit([&](const auto& node) { return BuildNode(node); }, ast.node));
    query->boost *= ast.boost;
    return query;
  }

 private:
  // Resolves the field list of a clause: its own field, else the default search fields.
  absl::StatusOr<std::vector<std::string>> Fields(const std::optional<std::string>& field,
                                                  std::string_view clause_text) const {
    if (field.has_value()) {
      return std::vector<std::string>{*field};
    }
    if (default_search_fields_.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "query `{}` has no field and the index has no default search fields", clause_text));
    }
    return default_search_fields_;
  }

  // One clause per field; several are OR-ed.
  template <typename MakeOne>
  static index::QueryPtr PerField(const std::vector<std::string>& fields, MakeOne make_one) {
    if (fields.size() == 1) {
      return make_one(fields[0]);
    }
    index::BoolQuery bool_query;
    for (const std::string& field : fields) {
      bool_query.should.push_back(make_one(field));
    }
    index::QueryPtr query = NewQuery();
    query->node = std::move(bool_query);
    return query;
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const MatchAllAst&) { return NewAll(); }

  absl::StatusOr<index::QueryPtr> BuildNode(const TermAst& term) {
    ASSIGN_OR_RETURN(std::vector<std::string> fields, Fields(term.field, term.value));
    return PerField(fields, [&](const std::string& field) { return NewTerm(field, term.value); });
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const PhraseAst& phrase) {
    ASSIGN_OR_RETURN(std::vector<std::string> fields,
                     Fields(phrase.field, fmt::format("\"{}\"", phrase.phrase)));
    // Without slop, a TermQuery carries the whole text: the engine tokenizes it per field (one
    // token is a term; several must sit at consecutive positions), which also keeps raw-tokenized
    // fields exact. With slop, a PhraseQuery over whitespace-separated words.
    std::vector<std::string> words = SplitWhitespace(phrase.phrase);
    return PerField(fields, [&](const std::string& field) {
      if (phrase.slop == 0 || words.size() <= 1) {
        return NewTerm(field, phrase.phrase);
      }
      index::QueryPtr query = NewQuery();
      query->node = index::PhraseQuery{field, words, phrase.slop};
      return query;
    });
  }

  // One copy of `node` per field of the clause (its own field, else the default search fields),
  // OR-ed. `Node` is an engine query node with a `field`.
  template <typename Node>
  absl::StatusOr<index::QueryPtr> NodePerField(const std::optional<std::string>& field,
                                               std::string_view clause_text, const Node& node) {
    ASSIGN_OR_RETURN(std::vector<std::string> fields, Fields(field, clause_text));
    return PerField(fields, [&](const std::string& name) {
      Node copy = node;
      copy.field = name;
      index::QueryPtr query = NewQuery();
      query->node = std::move(copy);
      return query;
    });
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const PrefixAst& prefix) {
    return NodePerField(prefix.field, fmt::format("{}*", prefix.prefix),
                        index::PrefixQuery{"", prefix.prefix});
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const RangeAst& range) {
    index::RangeQuery range_query;
    range_query.field = range.field;
    if (range.lower.has_value()) {
      range_query.lower = index::TermValue(*range.lower);
    }
    range_query.lower_inclusive = range.lower_inclusive;
    if (range.upper.has_value()) {
      range_query.upper = index::TermValue(*range.upper);
    }
    range_query.upper_inclusive = range.upper_inclusive;
    index::QueryPtr query = NewQuery();
    query->node = std::move(range_query);
    return query;
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const TermSetAst& set) {
    if (set.values.empty()) {
      index::QueryPtr query = NewQuery();
      query->node = index::EmptyQuery{};
      return query;
    }
    const std::vector<index::TermValue> values(set.values.begin(), set.values.end());
    return NodePerField(set.field, fmt::format("IN [{}]", fmt::join(set.values, " ")),
                        index::TermSetQuery{"", values});
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const WildcardAst& wildcard) {
    return NodePerField(wildcard.field, wildcard.pattern,
                        index::WildcardQuery{"", wildcard.pattern});
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const RegexAst& regex) {
    return NodePerField(regex.field, fmt::format("/{}/", regex.pattern),
                        index::RegexQuery{"", regex.pattern});
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const ExistsAst& exists) {
    index::QueryPtr query = NewQuery();
    query->node = index::ExistsQuery{exists.field};
    return query;
  }

  absl::StatusOr<index::QueryPtr> BuildNode(const BoolAst& bool_ast) {
    index::BoolQuery bool_query;
    for (const QueryAst& child : bool_ast.must) {
      ASSIGN_OR_RETURN(index::QueryPtr built, Build(child));
      bool_query.must.push_back(std::move(built));
    }
    for (const QueryAst& child : bool_ast.should) {
      ASSIGN_OR_RETURN(index::QueryPtr built, Build(child));
      bool_query.should.push_back(std::move(built));
    }
    for (const QueryAst& child : bool_ast.must_not) {
      ASSIGN_OR_RETURN(index::QueryPtr built, Build(child));
      bool_query.must_not.push_back(std::move(built));
    }
    // `-a AND -b` means "everything but a and b": give the exclusions something to subtract from.
    if (bool_query.must.empty() && bool_query.should.empty() && !bool_query.must_not.empty()) {
      bool_query.must.push_back(NewAll());
    }
    index::QueryPtr query = NewQuery();
    query->node = std::move(bool_query);
    return query;
  }

  const std::vector<std::string>& default_search_fields_;
};

json FieldJson(const std::optional<std::string>& field) {
  return field.has_value() ? json(*field) : json(nullptr);
}

json BoundJson(const std::optional<std::string>& bound, bool inclusive) {
  if (!bound.has_value()) {
    return json("unbounded");
  }
  return json{{inclusive ? "included" : "excluded", *bound}};
}

json NodeToJson(const MatchAllAst&) { return json{{"type", "match_all"}}; }
json NodeToJson(const TermAst& term) {
  return json{{"type", "term"}, {"field", FieldJson(term.field)}, {"value", term.value}};
}
json NodeToJson(const PhraseAst& phrase) {
  return json{{"type", "phrase"},
              {"field", FieldJson(phrase.field)},
              {"phrase", phrase.phrase},
              {"slop", phrase.slop}};
}
json NodeToJson(const PrefixAst& prefix) {
  return json{{"type", "prefix"}, {"field", FieldJson(prefix.field)}, {"prefix", prefix.prefix}};
}
json NodeToJson(const RangeAst& range) {
  return json{{"type", "range"},
              {"field", range.field},
              {"lower_bound", BoundJson(range.lower, range.lower_inclusive)},
              {"upper_bound", BoundJson(range.upper, range.upper_inclusive)}};
}
json NodeToJson(const TermSetAst& set) {
  return json{{"type", "term_set"}, {"field", FieldJson(set.field)}, {"values", set.values}};
}
json NodeToJson(const WildcardAst& wildcard) {
  return json{
      {"type", "wildcard"}, {"field", FieldJson(wildcard.field)}, {"value", wildcard.pattern}};
}
json NodeToJson(const RegexAst& regex) {
  return json{{"type", "regex"}, {"field", FieldJson(regex.field)}, {"regex", regex.pattern}};
}
json NodeToJson(const ExistsAst& exists) {
  return json{{"type", "field_presence"}, {"field", exists.field}};
}
json NodeToJson(const BoolAst& bool_ast) {
  json out = json{{"type", "bool"}};
  auto list = [](const std::vector<QueryAst>& clauses) {
    json array = json::array();
    for (const QueryAst& clause : clauses) {
      array.push_back(QueryAstToJson(clause));
    }
    return array;
  };
  if (!bool_ast.must.empty()) {
    out["must"] = list(bool_ast.must);
  }
  if (!bool_ast.should.empty()) {
    out["should"] = list(bool_ast.should);
  }
  if (!bool_ast.must_not.empty()) {
    out["must_not"] = list(bool_ast.must_not);
  }
  return out;
}

}  // namespace

absl::StatusOr<QueryAst> ParseQueryLanguage(std::string_view text) {
  Parser parser(text);
  return parser.ParseAll();
}

json QueryAstToJson(const QueryAst& ast) {
  json out = std::visit([](const auto& node) { return NodeToJson(node); }, ast.node);
  if (ast.boost != 1.0f) {
    out["boost"] = ast.boost;
  }
  return out;
}

absl::StatusOr<index::QueryPtr> BuildQuery(const QueryAst& ast,
                                           const std::vector<std::string>& default_search_fields) {
  Builder builder(default_search_fields);
  return builder.Build(ast);
}

absl::StatusOr<index::QueryPtr> ParseUserQuery(
    std::string_view text, const std::vector<std::string>& default_search_fields) {
  ASSIGN_OR_RETURN(QueryAst ast, ParseQueryLanguage(text));
  return BuildQuery(ast, default_search_fields);
}

}  // namespace shale::query
