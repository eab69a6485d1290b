#include "index/tokenizer.h"

#include <string>
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

TEST(TokenizerTest, LowercaseVariants) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kRawLowercase, "Hello World"),
              ElementsAre("hello world"));
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kLowercase, "ABC def"), ElementsAre("abc def"));
}

TEST(TokenizerTest, WhitespaceSplitsOnSpacesOnly) {
  EXPECT_THAT(TokenizeToStrings(TokenizerKind::kWhitespace, " a-B\tc\n\nD.e "),
              ElementsAre("a-B", "c", "D.e"));
}

TEST(TokenizerTest, NamesRoundTrip) {
  for (TokenizerKind kind :
       {TokenizerKind::kRaw, TokenizerKind::kDefault, TokenizerKind::kLowercase,
        TokenizerKind::kRawLowercase, TokenizerKind::kWhitespace}) {
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
