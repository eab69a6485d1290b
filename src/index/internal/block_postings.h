// Block posting lists (section `postings.<f>` version 2, docs/format/split.md): doc ids as gaps
// bit-packed in blocks of 128 (a tail of fewer than 128 as varints), term frequencies packed the
// same way, and a skip list giving each full block's last doc id and byte length so that
// SeekTo() jumps over whole blocks without decoding them. Private to index/.
//
// Thread safety: an iterator is used by one thread; it reads bytes owned by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shale::index::internal {

inline constexpr uint32_t kPostingBlockSize = 128;

// Appends the v2 encoding of a posting list to `out`. REQUIRES: `docs` strictly increasing;
// `freqs` (each >= 1) has docs.size() entries when `with_freqs`.
void EncodeBlockPostings(const std::vector<uint32_t>& docs, const std::vector<uint32_t>& freqs,
                         bool with_freqs, std::string& out);

// Iterates a v2 posting list. Corrupt input never reads out of bounds: the iterator ends and
// `corrupt()` is true, with `corrupt_offset()` the offset (within the posting) where the
// inconsistency was found.
class BlockPostingIterator {
 public:
  static constexpr uint32_t kEnd = UINT32_MAX;

  // `bytes` must outlive the iterator. Parses the skip list and positions on the first doc.
  // `with_freqs`: the list holds term frequencies. `decode_freqs`: unpack them (else freq() is
  // 1; the layout is still validated). `track_positions`: keep position_index() up to date
  // (REQUIRES: with_freqs and decode_freqs); whole blocks skipped by SeekTo() then still have
  // their frequencies unpacked (not their doc ids) to add them up.
  BlockPostingIterator(std::string_view bytes, uint64_t doc_freq, uint32_t num_docs,
                       bool with_freqs, bool decode_freqs = true, bool track_positions = false);
  BlockPostingIterator(const BlockPostingIterator&) = delete;
  BlockPostingIterator& operator=(const BlockPostingIterator&) = delete;

  // The current doc id, or kEnd once exhausted (or corrupt).
  uint32_t doc() const { return doc_; }
  // Term frequency of the current doc (1 when frequencies are not recorded).
  uint32_t freq() const { return freqs_[index_]; }
  uint64_t doc_freq() const { return doc_freq_; }
  // The sum of the frequencies of the docs before the current one: the index of the current
  // doc's first position in the term's position list. Only with `track_positions`.
  uint64_t position_index() const { return freq_base_ + freq_prefix_[index_]; }
  // Advances to the next doc and returns it.
  uint32_t Next() {
    if (doc_ == kEnd) return kEnd;
    if (++index_ < block_count_) return doc_ = docs_[index_];
    return NextBlock();
  }
  // Advances to the first doc >= `target` (never backwards) and returns it. Full blocks whose
  // last doc is below `target` are skipped without being decoded.
  uint32_t SeekTo(uint32_t target);

  bool corrupt() const { return corrupt_; }
  uint64_t corrupt_offset() const { return corrupt_offset_; }

 private:
  uint32_t NextBlock();
  bool LoadBlock(uint64_t block);
  // The sum of the term frequencies of full block `block`, without decoding its doc ids; fails
  // (returns false) on a corrupt block.
  bool SumBlockFreqs(uint64_t block, uint64_t& sum);
  void FillFreqPrefix();
  // Marks the iterator corrupt and ended; returns false.
  bool Fail(uint64_t offset);

  std::string_view bytes_;
  uint64_t doc_freq_;
  uint32_t num_docs_;
  bool with_freqs_;
  bool decode_freqs_;
  bool track_positions_;
  uint64_t freq_base_ = 0;  // sum of the frequencies of the blocks before the loaded one
  uint64_t num_full_blocks_ = 0;
  std::vector<uint32_t> block_last_doc_;  // per full block
  std::vector<uint64_t> block_offset_;    // per block (full blocks + tail), within bytes_
  uint64_t block_ = 0;                    // loaded block
  uint32_t block_count_ = 0;              // docs in the loaded block
  uint32_t index_ = 0;                    // current doc within the loaded block
  uint32_t doc_ = kEnd;
  uint32_t docs_[kPostingBlockSize] = {};
  uint32_t freqs_[kPostingBlockSize] = {};
  // With track_positions_: freq_prefix_[i] = freqs_[0] + ... + freqs_[i - 1]. Else zeroes.
  uint64_t freq_prefix_[kPostingBlockSize + 1] = {};
  bool corrupt_ = false;
  uint64_t corrupt_offset_ = 0;
};

// Reads the position list of one term (section `positions.<f>`: for each doc of the posting list,
// its term frequency's positions as varint deltas, the first from 0), seeking forward by position
// index: positions of skipped docs are stepped over by counting varint terminators, eight bytes at
// a time, without being decoded. Corrupt input never reads out of bounds: Read() then fails.
class PositionListReader {
 public:
  // `bytes` must outlive the reader.
  explicit PositionListReader(std::string_view bytes) : bytes_(bytes) {}

  // Decodes into `out` the `count` positions starting at position index `index` (the
  // position_index() of a BlockPostingIterator). REQUIRES: `index` not below the end of the
  // previous Read(). Returns false on corrupt input; `corrupt_offset()` then tells where.
  bool Read(uint64_t index, uint32_t count, std::vector<uint32_t>& out);
  uint64_t corrupt_offset() const { return offset_; }

 private:
  // Steps over `count` varints. False when the bytes end first.
  bool Skip(uint64_t count);

  std::string_view bytes_;
  size_t offset_ = 0;   // byte offset of position `index_`
  uint64_t index_ = 0;  // position index at offset_
};

}  // namespace shale::index::internal
