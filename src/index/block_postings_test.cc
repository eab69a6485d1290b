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
