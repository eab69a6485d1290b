// Writers of the sections a split file is made of (docs/format/split.md), shared by SplitWriter,
// which builds a split from documents, and the split merger, which builds one from other splits.
// Private to index/.
//
// Thread safety: none; each writer is used by one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "index/internal/split_layout.h"

namespace shale::index::internal {

class TermDictionaryWriter;

// Appends sections one after another and finally the footer (file table + hotcache + trailer).
class SplitFileBuilder {
 public:
  // Reserves room for `bytes` of sections and footer: with an upper bound of the file's size,
  // the file is written in one buffer instead of a chain of ever larger ones (each copied into
  // the next, on fresh pages). Pages reserved and never written cost address space only.
  void Reserve(uint64_t bytes) { bytes_.reserve(bytes); }
  // Appends `content` as the section `name`; returns its index in the file table.
  uint32_t AddSection(std::string name, std::string_view content,
                      uint32_t version = kSectionVersion);
  // Adds the terms, postings and (when entry.record_positions) positions sections that
  // `dictionary` wrote for field `field_id`, and records their indexes in `entry`.
  void AddInvertedIndex(size_t field_id, TermDictionaryWriter& dictionary, FieldEntry& entry);
  // Appends the footer describing `hotcache` and the sections added so far. `footer_start` and
  // `footer_end` receive the footer's byte range. The builder must not be used afterwards.
  std::string Finish(Hotcache hotcache, uint64_t& footer_start, uint64_t& footer_end);

 private:
  std::string bytes_;
  Footer footer_;
};

// Writes the term dictionary (`terms.<f>`), postings (`postings.<f>`) and, when the field
// records them, positions (`positions.<f>`) of one indexed field.
class TermDictionaryWriter {
 public:
  // `entry` receives term_blocks and num_terms; it must outlive the writer.
  TermDictionaryWriter(FieldEntry& entry, bool with_positions);
  TermDictionaryWriter(const TermDictionaryWriter&) = delete;
  TermDictionaryWriter& operator=(const TermDictionaryWriter&) = delete;

  // Adds a term with its encoded posting list (internal/block_postings.h) and, when the field
  // records positions, its position list. REQUIRES: terms strictly increasing; doc_freq >= 1.
  void Add(std::string_view term, uint64_t doc_freq, std::string_view posting,
           std::string_view positions);
  // Writes the last block. REQUIRES: called once, after the last Add.
  void Finish();

  std::string& terms() { return terms_; }
  std::string& postings() { return postings_; }
  std::string& positions() { return positions_; }

 private:
  void FlushBlock();

  FieldEntry& entry_;
  const bool with_positions_;
  std::string terms_;
  std::string postings_;
  std::string positions_;
  std::string block_;
  std::string first_term_;
  std::string previous_term_;
  uint32_t in_block_ = 0;
};

// Appends a doc id list `varint count | count × varint doc_delta` (presence lists).
// REQUIRES: `docs` strictly increasing.
void AppendDocList(const std::vector<uint32_t>& docs, std::string& out);

// Fills the value part of a fast field column header (num_values, single_valued, min_value, gcd,
// bit widths, offsets and values chunks) and appends its offsets and values regions to `out`.
// `values` holds (doc, value) pairs sorted and without duplicates; values are the
// order-preserving u64 encoding, or dictionary ordinals. `kind`, `dict_num_terms` and `dict`
// are the caller's.
void PackColumnValues(const std::vector<std::pair<uint32_t, uint64_t>>& values, uint64_t num_docs,
                      ColumnHeader& column, std::string& out);

// Room left at the front of a doc store block's buffer for its header (the doc count and
// lengths, written once the block is full), so that header and documents are compressed from
// one buffer without copying the documents. A larger header (over about 8,000 documents in a
// block) is joined to them by a copy.
inline constexpr size_t kDocStoreHeaderRoom = 16 * 1024;

// Runs a task, on any thread, or returns false without running it.
using BlockExecutor = std::function<bool(std::function<void()>)>;

// Writes the doc store (`docstore`): documents concatenated into blocks of about `blocksize`
// uncompressed bytes, each one zstd frame.
//
// Without an executor a full block is compressed inside the Add that fills it. With one, the
// block is handed to the executor and Add returns at once; blocks are appended to bytes() in
// doc order as their compression ends. At most `max_compressing_blocks` blocks are in flight:
// past that, Add waits for the oldest one, or compresses it itself when the executor has not
// started it yet (so a busy or stopped executor delays nothing and can never deadlock the
// writer: a block the writer waits for is always being compressed). Compression tasks own
// their input and output and refer to nothing of the writer: the writer may be destroyed while
// one runs. The bytes are the same with or without an executor.
class DocStoreWriter {
 public:
  DocStoreWriter(int compression_level, uint32_t blocksize, BlockExecutor executor = nullptr,
                 uint32_t max_compressing_blocks = 4)
      : compression_level_(compression_level),
        blocksize_(blocksize),
        executor_(std::move(executor)),
        max_compressing_blocks_(std::max<uint32_t>(max_compressing_blocks, 1)) {}
  DocStoreWriter(const DocStoreWriter&) = delete;
  DocStoreWriter& operator=(const DocStoreWriter&) = delete;

  // Adds the next document. A compression failure is reported by Finish().
  void Add(std::string_view doc);
  // Adds a block already compressed in the same layout, holding the next `num_docs` docs.
  // Pending docs are first compressed into a block of their own.
  void AddCompressedBlock(uint32_t num_docs, uint32_t uncompressed_length,
                          std::string_view compressed);
  // Uncompressed bytes of documents not yet in a block.
  uint64_t pending_bytes() const {
    return buffer_.empty() ? 0 : buffer_.size() - kDocStoreHeaderRoom;
  }
  uint32_t blocksize() const { return blocksize_; }
  // Compresses the pending docs into a last block and waits for the blocks in flight. The first
  // error of any compression, or ok.
  absl::Status Finish();

  // The doc store and its blocks; complete once Finish() has returned.
  std::string& bytes() { return bytes_; }
  std::vector<DocStoreBlockRef>& blocks() { return blocks_; }
  uint64_t memory_usage_bytes() const {
    return bytes_.capacity() + buffer_.capacity() + lengths_.capacity() * sizeof(uint32_t) +
           spare_buffer_.capacity() + spare_lengths_.capacity() * sizeof(uint32_t) +
           compressing_bytes_;
  }

 private:
  struct CompressionTask;
  struct CompressingBlock {
    std::shared_ptr<CompressionTask> task;
    uint32_t first_doc = 0;
    uint64_t memory_bytes = 0;  // counted in compressing_bytes_
  };

  // Hands the pending docs to a compression task (run by the executor, or here without one).
  void FlushBlock();
  // Appends the blocks whose compression has ended, in order; with `wait_until_at_most`, then
  // also waits for (or runs) the oldest ones until at most that many are in flight.
  void AppendCompressedBlocks(size_t wait_until_at_most = SIZE_MAX);

  const int compression_level_;
  const uint32_t blocksize_;
  const BlockExecutor executor_;
  const uint32_t max_compressing_blocks_;
  std::deque<CompressingBlock> compressing_;  // in doc order
  uint64_t compressing_bytes_ = 0;
  uint32_t next_doc_ = 0;
  std::string bytes_;
  std::vector<DocStoreBlockRef> blocks_;
  std::string buffer_;
  std::vector<uint32_t> lengths_;
  // With an executor: the emptied buffers of a compressed block, for the next one.
  std::string spare_buffer_;
  std::vector<uint32_t> spare_lengths_;
  uint32_t block_first_doc_ = 0;
  absl::Status error_;
};

}  // namespace shale::index::internal
