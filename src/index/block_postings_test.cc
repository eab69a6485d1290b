// Block posting lists: encode/decode round trips, SeekTo against std::lower_bound, and corrupt
// input (runs under ASan + UBSan).

#include "index/internal/block_postings.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shale::index::internal {
namespace {

struct Posting {
  std::vector<uint32_t> docs;
  std::vector<uint32_t> freqs;
};

Posting RandomPosting(std::mt19937& rng, uint32_t num_docs, double density) {
  Posting posting;
  std::bernoulli_distribution keep(density);
  for (uint32_t doc = 0; doc < num_docs; ++doc) {
    if (!keep(rng)) continue;
    posting.docs.push_back(doc);
    posting.freqs.push_back(1 + static_cast<uint32_t>(rng() % (rng() % 4 == 0 ? 70000 : 3)));
  }
  return posting;
}

TEST(BlockPostingsTest, RoundTripsAndSeeks) {
  std::mt19937 rng(11);
  constexpr uint32_t kNumDocs = 20'000;
  for (double density : {0.0001, 0.01, 0.3, 1.0}) {
    for (bool with_freqs : {false, true}) {
      Posting posting = RandomPosting(rng, kNumDocs, density);
      std::string bytes;
      EncodeBlockPostings(posting.docs, posting.freqs, with_freqs, bytes);
      BlockPostingIterator it(bytes, posting.docs.size(), kNumDocs, with_freqs);
      for (size_t i = 0; i < posting.docs.size(); ++i) {
        ASSERT_EQ(it.doc(), posting.docs[i]) << density << " " << i;
        ASSERT_EQ(it.freq(), with_freqs ? posting.freqs[i] : 1u);
        it.Next();
      }
      EXPECT_EQ(it.doc(), BlockPostingIterator::kEnd);
      EXPECT_FALSE(it.corrupt());

      BlockPostingIterator docs_only(bytes, posting.docs.size(), kNumDocs, with_freqs,
                                     /*decode_freqs=*/false);
      for (size_t i = 0; i < posting.docs.size(); ++i) {
        ASSERT_EQ(docs_only.doc(), posting.docs[i]);
        ASSERT_EQ(docs_only.freq(), 1u);
        docs_only.Next();
      }
      EXPECT_EQ(docs_only.doc(), BlockPostingIterator::kEnd);
      EXPECT_FALSE(docs_only.corrupt());

      BlockPostingIterator seeker(bytes, posting.docs.size(), kNumDocs, with_freqs);
      uint32_t target = 0;
      while (true) {
        target += static_cast<uint32_t>(rng() % 700);
        auto expected = std::lower_bound(posting.docs.begin(), posting.docs.end(), target);
        const uint32_t doc = seeker.SeekTo(target);
        if (expected == posting.docs.end()) {
          EXPECT_EQ(doc, BlockPostingIterator::kEnd);
          break;
        }
        ASSERT_EQ(doc, *expected) << "target " << target;
        if (with_freqs) {
          ASSERT_EQ(seeker.freq(), posting.freqs[expected - posting.docs.begin()]);
        }
      }
      EXPECT_FALSE(seeker.corrupt());
    }
  }
}

// The bytes of one full block (PERSISTED), for every bit width of the doc gaps and of the
// freqs, against a packer that sets one bit at a time: values LSB first, bit i * width + b of
// the payload is bit b of value i, the payload's bytes in order.
TEST(BlockPostingsTest, FullBlockBytesMatchABitByBitPacker) {
  auto pack = [](const std::vector<uint32_t>& values, uint32_t width) {
    std::string bytes(size_t{16} * width, '\0');
    for (size_t i = 0; i < values.size(); ++i) {
      for (uint32_t b = 0; b < width; ++b) {
        if ((values[i] >> b) & 1)
          bytes[(i * width + b) / 8] |= static_cast<char>(1 << ((i * width + b) % 8));
      }
    }
    return bytes;
  };
  auto varint = [](uint64_t value) {
    std::string bytes;
    for (; value >= 0x80; value >>= 7) bytes.push_back(static_cast<char>((value & 0x7f) | 0x80));
    bytes.push_back(static_cast<char>(value));
    return bytes;
  };
  std::mt19937 rng(7);
  for (uint32_t width = 0; width <= 31; ++width) {
    const uint32_t freq_width = 31 - width;
    std::vector<uint32_t> gaps(kPostingBlockSize);
    std::vector<uint32_t> freq_values(kPostingBlockSize);
    for (uint32_t i = 0; i < kPostingBlockSize; ++i) {
      // Random below 2^min(width, 24) (so 128 of them add up within uint32), one gap of
      // exactly `width` bits below.
      gaps[i] = static_cast<uint32_t>(rng() & ((uint64_t{1} << std::min(width, 24u)) - 1));
      freq_values[i] =
          freq_width == 0 ? 0 : static_cast<uint32_t>(rng() & ((uint64_t{1} << freq_width) - 1));
    }
    if (width > 0) gaps[5] = static_cast<uint32_t>((uint64_t{1} << width) - 1);
    if (width > 1) gaps[0] = 0;
    if (freq_width > 0) freq_values[127] = static_cast<uint32_t>((uint64_t{1} << freq_width) - 1);
    std::vector<uint32_t> docs;
    std::vector<uint32_t> freqs;
    uint64_t previous = UINT64_MAX;  // -1: the first gap is the first doc
    for (uint32_t i = 0; i < kPostingBlockSize; ++i) {
      previous = previous + 1 + gaps[i];
      docs.push_back(static_cast<uint32_t>(previous));
      freqs.push_back(freq_values[i] + 1);
    }
    std::string block;
    block.push_back(static_cast<char>(width));
    block += pack(gaps, width);
    block.push_back(static_cast<char>(freq_width));
    block += pack(freq_values, freq_width);
    const std::string expected = varint(docs.back()) + varint(block.size()) + block;
    std::string bytes;
    EncodeBlockPostings(docs, freqs, /*with_freqs=*/true, bytes);
    ASSERT_EQ(bytes, expected) << "doc gap width " << width << ", freq width " << freq_width;
    // And the iterator reads them back.
    BlockPostingIterator it(bytes, docs.size(), docs.back() + 1, true, true, false);
    for (uint32_t i = 0; i < kPostingBlockSize; ++i) {
      ASSERT_EQ(it.doc(), docs[i]) << width;
      ASSERT_EQ(it.freq(), freqs[i]) << width;
      it.Next();
    }
  }
}

TEST(BlockPostingsTest, DenseBlocksAreSmall) {
  std::vector<uint32_t> docs(1024);
  for (uint32_t i = 0; i < docs.size(); ++i) docs[i] = i;
  std::string bytes;
  EncodeBlockPostings(docs, {}, false, bytes);
  EXPECT_LT(bytes.size(), 40u);  // 8 blocks of gap 0: width 0, no payload
}

TEST(BlockPostingsTest, CorruptBytesEndTheIteratorWithoutCrashing) {
  std::mt19937 rng(5);
  Posting posting = RandomPosting(rng, 3000, 0.2);
  std::string bytes;
  EncodeBlockPostings(posting.docs, posting.freqs, true, bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      BlockPostingIterator it(corrupt, posting.docs.size(), 3000, true);
      uint64_t count = 0;
      uint32_t previous = 0;
      for (uint32_t doc = it.doc(); doc != BlockPostingIterator::kEnd; doc = it.Next()) {
        ASSERT_LT(doc, 3000u);
        if (count > 0) {
          ASSERT_GT(doc, previous);
        }
        previous = doc;
        ++count;
      }
      ASSERT_LE(count, posting.docs.size());
      BlockPostingIterator seeker(corrupt, posting.docs.size(), 3000, true);
      for (uint32_t target = 0; target < 3000; target += 97) {
        if (seeker.SeekTo(target) == BlockPostingIterator::kEnd) break;
      }
    }
  }
  // Truncations.
  for (size_t length = 0; length < bytes.size(); length += 7) {
    BlockPostingIterator it(std::string_view(bytes).substr(0, length), posting.docs.size(), 3000,
                            true);
    while (it.doc() != BlockPostingIterator::kEnd) it.Next();
    EXPECT_TRUE(it.corrupt()) << length;
  }
}

}  // namespace
}  // namespace shale::index::internal
