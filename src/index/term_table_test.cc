// TermTable and ByteArena (internal/term_table.h): the interning of SplitWriter's terms.

#include "index/internal/term_table.h"

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace shale::index::internal {
namespace {

// Random keys around the inline limit (kInlineKeyBytes = 28), a few much longer than an arena
// page's quarter, keys with NUL bytes and keys that differ only in their last byte.
std::vector<std::string> RandomKeys(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> keys;
  keys.reserve(count + 3);
  keys.push_back("");
  keys.push_back(std::string(1, '\0'));
  keys.push_back(std::string(40'000, 'x'));  // a block of its own in the arena
  for (size_t i = 0; i < count; ++i) {
    const size_t length = rng() % 8 == 0 ? 29 + rng() % 40 : rng() % 30;
    std::string key(length, '\0');
    for (char& byte : key) byte = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 'a' + rng() % 3);
    keys.push_back(std::move(key));
    if (i % 97 == 0 && !keys.back().empty()) {
      std::string sibling = keys.back();
      sibling.back() = static_cast<char>(sibling.back() ^ 1);
      keys.push_back(std::move(sibling));
    }
  }
  return keys;
}

TEST(TermTableTest, IdsAreDenseInFirstInsertionOrderAndMatchAMap) {
  ByteArena arena;
  TermTable<uint64_t> table;
  std::map<std::string, uint32_t> expected;  // key -> id, by first insertion
  std::map<std::string, uint64_t> lookups;   // key -> times looked up
  const std::vector<std::string> keys = RandomKeys(60'000, 5);
  std::mt19937 rng(9);
  for (size_t i = 0; i < keys.size() * 2; ++i) {
    // Every key once in order (so every key is inserted), then random repeats.
    const std::string& key = i < keys.size() ? keys[i] : keys[rng() % keys.size()];
    const auto [id, inserted] = table.FindOrInsert(key, arena);
    auto [it, is_new] = expected.emplace(key, static_cast<uint32_t>(expected.size()));
    ASSERT_EQ(inserted, is_new) << i;
    ASSERT_EQ(id, it->second) << i;
    if (inserted) {
      EXPECT_EQ(table.value(id), 0u);
    }
    ++table.value(id);
    ++lookups[key];
  }
  ASSERT_EQ(table.size(), expected.size());
  // Keys and values survive every growth of the slots and entries.
  for (const auto& [key, id] : expected) {
    ASSERT_EQ(table.key(id), key) << id;
    EXPECT_EQ(table.value(id), lookups[key]) << id;
  }
  // A lookup with the caller's hash is the same lookup.
  for (size_t i = 0; i < keys.size(); i += 101) {
    const auto found = table.FindOrInsert(keys[i], TermTable<uint64_t>::Hash(keys[i]), arena);
    EXPECT_FALSE(found.inserted);
    EXPECT_EQ(found.id, expected[keys[i]]);
  }
  EXPECT_EQ(table.size(), expected.size());
}

TEST(TermTableTest, MemoryIsCountedAndSmallTablesStaySmall) {
  ByteArena arena;
  TermTable<uint64_t> empty;
  EXPECT_EQ(empty.memory_bytes(), 0u);
  TermTable<uint64_t> one;
  one.FindOrInsert("word", arena);
  // A table of one term: a few hundred bytes (a dynamic mapping may capture thousands of fields).
  EXPECT_LT(one.memory_bytes(), 1024u);
  EXPECT_EQ(arena.memory_bytes(), 0u);  // an inline key takes no arena bytes

  TermTable<uint64_t> many;
  const std::string long_key(100, 'k');
  uint64_t long_key_bytes = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::string key = i % 2 == 0 ? std::to_string(i) : long_key + std::to_string(i);
    if (i % 2 == 1) long_key_bytes += key.size();
    many.FindOrInsert(key, arena);
  }
  // Entries (one per term) and slots (at least 4/3 per term) are counted...
  EXPECT_GE(many.memory_bytes(), 100'000u * (sizeof(uint64_t) + sizeof(uint64_t) * 4 / 3));
  // ...and the long keys are in the arena, once, in 64 KiB pages.
  EXPECT_GE(arena.memory_bytes(), long_key_bytes);
  EXPECT_LT(arena.memory_bytes(), long_key_bytes + 2 * (64u << 10));
}

// Every length from 0 to 40 bytes (the 1-3, 4-7 and 8-byte-word paths): equal bytes compare
// equal, and a difference at any one position is seen.
TEST(ShortBytesEqualTest, SeesADifferenceAtEveryPosition) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, '\0');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    const std::string b = a;
    EXPECT_TRUE(ShortBytesEqual(a, b)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 0x80);
      EXPECT_FALSE(ShortBytesEqual(a, c)) << n << " " << i;
    }
    EXPECT_FALSE(ShortBytesEqual(a, a + "x")) << n;
  }
}

TEST(ByteArenaTest, CopiesStayValidAcrossPages) {
  ByteArena arena;
  std::vector<std::pair<std::string, std::string_view>> copies;
  std::mt19937 rng(3);
  for (int i = 0; i < 5'000; ++i) {
    std::string bytes(rng() % (i % 50 == 0 ? 70'000 : 300), static_cast<char>('a' + i % 26));
    const std::string_view copy = arena.Copy(bytes);
    EXPECT_EQ(copy, bytes);
    copies.emplace_back(std::move(bytes), copy);
  }
  for (const auto& [bytes, copy] : copies) ASSERT_EQ(copy, bytes);
}

}  // namespace
}  // namespace shale::index::internal
