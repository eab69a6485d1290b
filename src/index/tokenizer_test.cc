#include "index/tokenizer.h"

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale::index {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(TokenizerTest, RawKeepsWholeValue) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kRaw, "Hello World"), ElementsAre("Hello World"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kRaw, ""), ElementsAre(""));
}

TEST(TokenizerTest, DefaultSplitsAndLowercases) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kDefault, "Hello, World! GET /api/v1?x=42"),
              ElementsAre("hello", "world", "get", "api", "v1", "x", "42"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kDefault, "  ..  "), IsEmpty());
}

TEST(TokenizerTest, DefaultKeepsUtf8InsideWords) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kDefault, "Café crème"),
              ElementsAre("café", "crème"));
}

TEST(TokenizerTest, DefaultDropsLongTokens) {
  std::string long_token(256, 'a');
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kDefault, "ok " + long_token + " fine"),
              ElementsAre("ok", "fine"));
  std::string max_token(255, 'b');
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kDefault, max_token), ElementsAre(max_token));
}

// The word scan of the default tokenizers works on 64-byte windows of bit masks: it finds the
// words (and whether they hold capitals) of the byte-at-a-time scan, for every byte value,
// words across window edges, words ending at a window's last byte or at the text's end, and
// texts of 0 to 300 bytes.
TEST(TokenizerTest, WordScanMatchesTheByteAtATimeScan) {
  using Word = std::tuple<size_t, size_t, bool>;
  const auto words = [](std::string_view text, bool scalar) {
    std::vector<Word> found;
    const auto emit = [&found](size_t begin, size_t end, bool upper) {
      found.emplace_back(begin, end, upper);
    };
    if (scalar) {
      internal_tokenizer::ForEachWordScalar(text, emit);
    } else {
      internal_tokenizer::ForEachWord(text, emit);
    }
    return found;
  };
  // Alphabets: every byte; mostly word bytes; edges around the classes' bounds.
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  const std::vector<std::string> alphabets = {
      all_bytes,   "aaaaaaaaaaaaaaaaaaaaaaaaaZZZZZ012345 ", "/09:@AZ[`az{\x7f\x80\xff ", "a ", "A.",
      "\xc3\xa9 -"};
  std::mt19937 rng(3);
  size_t num_words = 0;
  for (int round = 0; round < 20'000; ++round) {
    const std::string& alphabet = alphabets[round % alphabets.size()];
    std::string text(rng() % 301, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    const std::vector<Word> expected = words(text, true);
    ASSERT_EQ(words(text, false), expected) << "round " << round << " length " << text.size();
    num_words += expected.size();
  }
  EXPECT_GT(num_words, 200'000u);
  // Words of exactly 64 and 128 bytes, at and across the window edges, capitals last.
  for (size_t offset : {0, 1, 63, 64, 65}) {
    for (size_t length : {1, 63, 64, 65, 128}) {
      std::string text = std::string(offset, '.') + std::string(length - 1, 'a') + "B";
      for (const std::string& suffix : {std::string(), std::string(" x"), std::string(70, '-')}) {
        ASSERT_EQ(words(text + suffix, false), words(text + suffix, true))
            << offset << " " << length << " " << suffix.size();
      }
    }
  }
}

TEST(TokenizerTest, LowercaseVariants) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kRawLowercase, "Hello World"),
              ElementsAre("hello world"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kLowercase, "ABC def"), ElementsAre("abc def"));
}

TEST(TokenizerTest, WhitespaceSplitsOnSpacesOnly) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kWhitespace, " a-B\tc\n\nD.e "),
              ElementsAre("a-B", "c", "D.e"));
}

TEST(TokenizerTest, EnStemStemsDefaultTokens) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kEnStem, "Running connections, CONNECTED nodes"),
              ElementsAre("run", "connect", "connect", "node"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kEnStem, "generously generalized"),
              ElementsAre("generous", "general"));
  // Same query-side: a query for "runs" finds a document saying "running".
  auto query = TokenizeQueryText("en_stem", "runs");
  ASSERT_TRUE(query.ok());
  EXPECT_THAT(*query, ElementsAre("run"));
}

TEST(TokenizerTest, ChineseCompatibleSplitsIdeographs) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kChineseCompatible, "日志abc Def。错误42"),
              ElementsAre("日", "志", "abc", "def", "错", "误", "42"));
  // Non-CJK UTF-8 letters stay inside words, as with `default`.
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kChineseCompatible, "Café，crème"),
              ElementsAre("café", "crème"));
  // A truncated UTF-8 sequence neither crashes nor reads past the end.
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kChineseCompatible, std::string("ab\xE6\x97", 4)),
              ElementsAre("ab\xE6\x97"));
}

TEST(TokenizerTest, SourceCodeSplitsIdentifiers) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kSourceCodeDefault,
                                "HTTPServerError404 fooBar snake_case_name"),
              ElementsAre("http", "server", "error", "404", "foo", "bar", "snake", "case", "name"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kSourceCodeDefault, "PigCaféFactory2 Ærø"),
              ElementsAre("pig", "cafe", "factory", "2", "aero"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kSourceCodeDefault, "ABc"), ElementsAre("a", "bc"));
}

TEST(TokenizerTest, NamesRoundTrip) {
  for (TokenizerKind kind :
       {TokenizerKind::kRaw, TokenizerKind::kDefault, TokenizerKind::kLowercase,
        TokenizerKind::kRawLowercase, TokenizerKind::kWhitespace, TokenizerKind::kEnStem,
        TokenizerKind::kChineseCompatible, TokenizerKind::kSourceCodeDefault}) {
    EXPECT_EQ(TokenizerFromName(TokenizerName(kind)), kind);
  }
  EXPECT_FALSE(IsKnownTokenizer("en_stem_unknown"));
}

TEST(TokenizerTest, TokenizeQueryText) {
  auto tokens = TokenizeQueryText("default", "Foo-Bar");
  ASSERT_TRUE(tokens.ok());
  EXPECT_THAT(*tokens, ElementsAre("foo", "bar"));
  EXPECT_EQ(TokenizeQueryText("nope", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shale::index
