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
  // 1; the layout is still validated).
  BlockPostingIterator(std::string_view bytes, uint64_t doc_freq, uint32_t num_docs,
                       bool with_freqs, bool decode_freqs = true);
  BlockPostingIterator(const BlockPostingIterator&) = delete;
  BlockPostingIterator& operator=(const BlockPostingIterator&) = delete;

  // The current doc id, or kEnd once exhausted (or corrupt).
  uint32_t doc() const { return doc_; }
  // Term frequency of the current doc (1 when frequencies are not recorded).
  uint32_t freq() const { return freqs_[index_]; }
  uint64_t doc_freq() const { return doc_freq_; }
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
  // Marks the iterator corrupt and ended; returns false.
  bool Fail(uint64_t offset);

  std::string_view bytes_;
  uint64_t doc_freq_;
  uint32_t num_docs_;
  bool with_freqs_;
  bool decode_freqs_;
  uint64_t num_full_blocks_ = 0;
  std::vector<uint32_t> block_last_doc_;  // per full block
  std::vector<uint64_t> block_offset_;    // per block (full blocks + tail), within bytes_
  uint64_t block_ = 0;                    // loaded block
  uint32_t block_count_ = 0;              // docs in the loaded block
  uint32_t index_ = 0;                    // current doc within the loaded block
  uint32_t doc_ = kEnd;
  uint32_t docs_[kPostingBlockSize] = {};
  uint32_t freqs_[kPostingBlockSize] = {};
  bool corrupt_ = false;
  uint64_t corrupt_offset_ = 0;
};

}  // namespace shale::index::internal
