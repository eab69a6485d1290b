#include "common/ulid.h"

#include <set>

#include "gtest/gtest.h"

namespace shale {
namespace {

TEST(UlidTest, FormatsKnownValue) {
  EXPECT_EQ(FormatUlid(0, 0, 0), "00000000000000000000000000");
  EXPECT_EQ(FormatUlid(1, 0, 0), "00000000010000000000000000");
}

TEST(UlidTest, NewUlidsAreValidUniqueAndSortByTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string ulid = NewUlid();
    EXPECT_TRUE(IsValidUlid(ulid)) << ulid;
    EXPECT_TRUE(seen.insert(ulid).second);
  }
  EXPECT_LT(FormatUlid(1000, 0xFFFF, ~0ull), FormatUlid(1001, 0, 0));
}

TEST(UlidTest, RejectsInvalidText) {
  EXPECT_FALSE(IsValidUlid("short"));
  EXPECT_FALSE(IsValidUlid("0000000000000000000000000U"));  // U is not Crockford
}

}  // namespace
}  // namespace shale
