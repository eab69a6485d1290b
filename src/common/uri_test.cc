#include "common/uri.h"

#include "gtest/gtest.h"

namespace shale {
namespace {

TEST(UriTest, ParsesSchemes) {
  auto file = Uri::Parse("file:///data/indexes/");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->protocol(), Uri::Protocol::kFile);
  EXPECT_EQ(file->str(), "file:///data/indexes");
  EXPECT_EQ(file->path(), "/data/indexes");

  auto s3 = Uri::Parse("s3://bucket/prefix#polling_interval=30s");
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->protocol(), Uri::Protocol::kS3);
  EXPECT_EQ(s3->path(), "bucket/prefix");
  EXPECT_EQ(s3->fragment(), "polling_interval=30s");

  auto ram = Uri::Parse("ram:///a");
  ASSERT_TRUE(ram.ok());
  EXPECT_EQ(ram->str(), "ram:///a");
}

TEST(UriTest, RelativePathsBecomeAbsolute) {
  auto uri = Uri::Parse("./shale-data/indexes");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->protocol(), Uri::Protocol::kFile);
  EXPECT_EQ(uri->path().front(), '/');
  EXPECT_NE(uri->path().find("shale-data/indexes"), std::string::npos);
}

TEST(UriTest, JoinsChildren) {
  auto uri = Uri::Parse("s3://bucket/prefix");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->Join("/logs/").str(), "s3://bucket/prefix/logs");
}

TEST(UriTest, RejectsUnknownSchemeAndEmpty) {
  EXPECT_EQ(Uri::Parse("ftp://x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Uri::Parse("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Uri::Parse("s3:///nobucket").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Uri::Parse("file://relative").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shale
