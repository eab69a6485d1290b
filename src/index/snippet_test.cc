#include "index/snippet.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/testing/field_builder.h"

namespace shale::index {
namespace {

using ::testing::HasSubstr;

FieldMapping Text(std::string name, std::string tokenizer) {
  FieldMapping field = testing::Field(std::move(name), FieldType::kText);
  field.tokenizer = std::move(tokenizer);
  return field;
}

HighlightTerms Terms(std::initializer_list<const char*> terms) {
  HighlightTerms out;
  for (const char* term : terms) out.terms.insert(term);
  return out;
}

TEST(SnippetTest, HighlightsEveryMatchingWordAndEscapesHtml) {
  EXPECT_EQ(MakeSnippet("Disk <full> on node-7: DISK error", TokenizerKind::kDefault,
                        Terms({"disk", "error"})),
            "<b>Disk</b> &lt;full&gt; on node-7: <b>DISK</b> <b>error</b>");
  EXPECT_EQ(MakeSnippet("nothing here", TokenizerKind::kDefault, Terms({"disk"})), "");
  EXPECT_EQ(MakeSnippet("anything", TokenizerKind::kDefault, HighlightTerms{}), "");
}

TEST(SnippetTest, UsesTheFieldTokenizer) {
  // en_stem: the query term is the stem.
  EXPECT_EQ(MakeSnippet("he was running", TokenizerKind::kEnStem, Terms({"run"})),
            "he was <b>running</b>");
  // raw: the whole value is one token.
  EXPECT_EQ(MakeSnippet("a b", TokenizerKind::kRaw, Terms({"a"})), "");
  EXPECT_EQ(MakeSnippet("a b", TokenizerKind::kRaw, Terms({"a b"})), "<b>a b</b>");
  // whitespace: punctuation stays inside the word, case is kept.
  EXPECT_EQ(MakeSnippet("x=Error; y", TokenizerKind::kWhitespace, Terms({"x=Error;"})),
            "<b>x=Error;</b> y");
  // Prefixes.
  HighlightTerms prefix;
  prefix.prefixes.push_back("term");
  EXPECT_EQ(MakeSnippet("terminated, not started", TokenizerKind::kDefault, prefix),
            "<b>terminated</b>, not started");
}

TEST(SnippetTest, PicksTheWindowWithTheMostMatchesWithoutCuttingWords) {
  std::string text = "error at the start. ";
  for (int i = 0; i < 20; ++i) text += "filler words go here ";
  text += "then disk error and disk full near the end";
  const std::string snippet = MakeSnippet(text, TokenizerKind::kDefault, Terms({"disk", "error"}),
                                          /*max_bytes=*/60);
  EXPECT_THAT(snippet, HasSubstr("<b>disk</b> <b>error</b> and <b>disk</b> full"));
  EXPECT_THAT(snippet, ::testing::Not(HasSubstr("start")));
  // The window is filled with context before the matches, starting at a word.
  EXPECT_THAT(snippet, ::testing::StartsWith("words go here then"));
  // Multi-byte text is never cut inside a character.
  const std::string utf8 = "éééééééééé café ééééééééé";
  const std::string cut = MakeSnippet(utf8, TokenizerKind::kDefault, Terms({"café"}), 8);
  EXPECT_EQ(cut, "<b>café</b>");
}

TEST(SnippetTest, CollectsTheTermsOfTheFieldOutsideNegations) {
  BoolQuery query;
  query.must.push_back(MakeTermQuery("body", std::string("disk")));
  query.should.push_back(MakeTermQuery("severity", std::string("error")));
  auto phrase = std::make_unique<Query>();
  phrase->node = PhraseQuery{"body", {"out", "of"}, 0};
  query.filter.push_back(std::move(phrase));
  auto prefix = std::make_unique<Query>();
  prefix->node = PrefixQuery{"body", "space"};
  query.should.push_back(std::move(prefix));
  query.must_not.push_back(MakeTermQuery("body", std::string("ignored")));
  auto set = std::make_unique<Query>();
  set->node = TermSetQuery{"body", {std::string("lost"), std::string("gone")}};
  query.should.push_back(std::move(set));
  Query root;
  root.node = std::move(query);
  HighlightTerms terms;
  CollectHighlightTerms(root, "body", terms);
  EXPECT_THAT(terms.terms, ::testing::UnorderedElementsAre("disk", "out", "of", "lost", "gone"));
  EXPECT_THAT(terms.prefixes, ::testing::ElementsAre("space"));
}

TEST(SnippetTest, SnippetTokenizerChecksTheField) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  mapping.field_mappings.push_back(Text("body", "en_stem"));
  FieldMapping hidden = Text("hidden", "default");
  hidden.stored = false;
  mapping.field_mappings.push_back(hidden);
  mapping.field_mappings.push_back(testing::Field("count", FieldType::kU64));
  FieldMapping object = testing::Field("resource", FieldType::kObject);
  object.field_mappings.push_back(Text("service", "raw"));
  mapping.field_mappings.push_back(object);

  EXPECT_EQ(SnippetTokenizer(mapping, "body").value(), TokenizerKind::kEnStem);
  EXPECT_EQ(SnippetTokenizer(mapping, "resource.service").value(), TokenizerKind::kRaw);
  EXPECT_THAT(SnippetTokenizer(mapping, "hidden").status().message(), HasSubstr("not stored"));
  EXPECT_THAT(SnippetTokenizer(mapping, "count").status().message(), HasSubstr("u64"));
  EXPECT_THAT(SnippetTokenizer(mapping, "missing").status().message(), HasSubstr("not mapped"));
  mapping.mode = DocMappingMode::kDynamic;
  EXPECT_EQ(SnippetTokenizer(mapping, "missing").value(), TokenizerKind::kRaw);
}

}  // namespace
}  // namespace shale::index
