#include "index/doc_mapping.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/query.h"
#include "index/testing/field_builder.h"

namespace shale::index {
namespace {

using ::testing::HasSubstr;

using ::shale::index::testing::Field;

TEST(DocMappingTest, Names) {
  EXPECT_STREQ(FieldTypeName(FieldType::kDatetime), "datetime");
  EXPECT_STREQ(FieldTypeName(FieldType::kJson), "json");
  EXPECT_STREQ(DocMappingModeName(DocMappingMode::kStrict), "strict");
}

TEST(DocMappingTest, ValidMapping) {
  DocMapping mapping;
  FieldMapping ts = Field("ts", FieldType::kDatetime);
  ts.fast = true;
  mapping.field_mappings.push_back(ts);
  FieldMapping service = Field("service", FieldType::kText);
  service.tokenizer = "raw";
  FieldMapping resource = Field("resource", FieldType::kObject);
  resource.field_mappings.push_back(service);
  mapping.field_mappings.push_back(resource);
  mapping.timestamp_field = "ts";
  mapping.tag_fields = {"resource.service"};
  EXPECT_TRUE(ValidateDocMapping(mapping).ok());
}

TEST(DocMappingTest, RejectsDuplicatesAndEmptyNames) {
  DocMapping mapping;
  mapping.field_mappings = {Field("a", FieldType::kText), Field("a", FieldType::kI64)};
  absl::Status status = ValidateDocMapping(mapping);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("`a`"));
  mapping.field_mappings = {Field("", FieldType::kText)};
  EXPECT_EQ(ValidateDocMapping(mapping).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DocMappingTest, RejectsBadTimestampField) {
  DocMapping mapping;
  mapping.field_mappings = {Field("ts", FieldType::kDatetime), Field("n", FieldType::kI64)};
  mapping.timestamp_field = "ts";
  EXPECT_THAT(ValidateDocMapping(mapping).message(), HasSubstr("fast"));
  mapping.timestamp_field = "n";
  EXPECT_THAT(ValidateDocMapping(mapping).message(), HasSubstr("datetime"));
  mapping.timestamp_field = "missing";
  EXPECT_THAT(ValidateDocMapping(mapping).message(), HasSubstr("`missing`"));
}

TEST(DocMappingTest, RejectsBadTagFieldsAndTokenizers) {
  DocMapping mapping;
  mapping.field_mappings = {Field("body", FieldType::kText)};
  mapping.tag_fields = {"body"};
  EXPECT_THAT(ValidateDocMapping(mapping).message(), HasSubstr("tag field `body`"));
  mapping.tag_fields.clear();
  mapping.field_mappings[0].tokenizer = "klingon";
  EXPECT_THAT(ValidateDocMapping(mapping).message(), HasSubstr("klingon"));
}

TEST(QueryTest, DebugString) {
  auto query = std::make_unique<Query>();
  BoolQuery bool_query;
  bool_query.must.push_back(MakeTermQuery("service", std::string("api")));
  bool_query.must_not.push_back(MakeTermQuery("status", int64_t{500}));
  bool_query.should.push_back(MakeAllQuery());
  query->node = std::move(bool_query);
  EXPECT_EQ(DebugString(*query),
            "Bool(must=[Term(service:\"api\")] should=[All] must_not=[Term(status:500i64)])");
  EXPECT_EQ(DebugString(*MakeEmptyQuery()), "Empty");
}

}  // namespace
}  // namespace shale::index
