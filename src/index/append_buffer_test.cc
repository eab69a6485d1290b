#include "index/internal/append_buffer.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace shale::index::internal {
namespace {

// Every append lands after the previous ones across many growths; Truncate and clear keep the
// capacity; a moved buffer keeps the bytes and leaves an empty one.
TEST(AppendBufferTest, AppendsAcrossGrowthsTruncatesAndMoves) {
  AppendBuffer buffer;
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.view(), "");
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    const std::string piece = std::to_string(i * 7919);
    if (i % 3 == 0) {
      buffer.push_back('#');
      expected.push_back('#');
    }
    buffer.append(piece);
    expected += piece;
    buffer += ",";
    expected += ",";
  }
  buffer.append("", 0);
  EXPECT_EQ(buffer.view(), expected);
  EXPECT_GE(buffer.capacity(), buffer.size());

  const size_t capacity = buffer.capacity();
  buffer.Truncate(10);
  EXPECT_EQ(buffer.view(), expected.substr(0, 10));
  buffer.append("tail");
  EXPECT_EQ(buffer.view(), expected.substr(0, 10) + "tail");
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.reserve(capacity / 2);
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.reserve(capacity * 3);
  EXPECT_EQ(buffer.capacity(), capacity * 3);

  buffer.append("moved bytes");
  AppendBuffer moved(std::move(buffer));
  EXPECT_EQ(moved.view(), "moved bytes");
  EXPECT_TRUE(buffer.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(buffer.capacity(), 0u);
  AppendBuffer assigned;
  assigned.append("old");
  assigned = std::move(moved);
  EXPECT_EQ(assigned.view(), "moved bytes");
  buffer.append("reused");
  EXPECT_EQ(buffer.view(), "reused");
}

}  // namespace
}  // namespace shale::index::internal
