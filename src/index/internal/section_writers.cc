#include "index/internal/section_writers.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <numeric>
#include <string>

#include "absl/status/statusor.h"
#include "fmt/format.h"

#include "index/internal/encoding.h"
#include "zstd.h"

namespace shale::index::internal {

uint32_t SplitFileBuilder::AddSection(std::string name, std::string_view content,
                                      uint32_t version) {
  FileTableEntry entry;
  entry.name = std::move(name);
  entry.version = version;
  entry.offset = bytes_.size();
  entry.length = content.size();
  entry.checksum = Hash64(content);
  bytes_.append(content.data(), content.size());
  footer_.sections.push_back(std::move(entry));
  return static_cast<uint32_t>(footer_.sections.size() - 1);
}

void SplitFileBuilder::AddInvertedIndex(size_t field_id, TermDictionaryWriter& dictionary,
                                        FieldEntry& entry) {
  entry.terms_section =
      AddSection(fmt::format("terms.{}", field_id), dictionary.terms(), kTermsSectionVersion);
  entry.postings_section = AddSection(fmt::format("postings.{}", field_id), dictionary.postings(),
                                      kPostingsSectionVersion);
  if (entry.record_positions) {
    entry.positions_section =
        AddSection(fmt::format("positions.{}", field_id), dictionary.positions());
  }
}

std::string SplitFileBuilder::Finish(Hotcache hotcache, uint64_t& footer_start,
                                     uint64_t& footer_end) {
  footer_.hotcache = std::move(hotcache);
  footer_start = bytes_.size();
  bytes_ += SerializeFooter(footer_);
  footer_end = bytes_.size();
  return std::move(bytes_);
}

TermDictionaryWriter::TermDictionaryWriter(FieldEntry& entry, bool with_positions)
    : entry_(entry), with_positions_(with_positions) {
  entry_.num_terms = 0;
  entry_.term_blocks.clear();
}

void TermDictionaryWriter::Add(std::string_view term, uint64_t doc_freq, std::string_view posting,
                               std::string_view positions) {
  if (in_block_ == 0) {
    first_term_.assign(term);
    previous_term_.clear();
  }
  size_t shared = 0;
  while (shared < previous_term_.size() && shared < term.size() &&
         previous_term_[shared] == term[shared]) {
    ++shared;
  }
  // The entry's varints and checksums are gathered on the stack and appended at once.
  const std::string_view suffix = term.substr(shared);
  char head[2 * kMaxVarintBytes];
  char* at = WriteVarint(WriteVarint(head, shared), suffix.size());
  block_.append(head, static_cast<size_t>(at - head));
  block_.append(suffix.data(), suffix.size());
  char tail[5 * kMaxVarintBytes + 2 * 4];
  at = WriteVarint(tail, doc_freq);
  at = WriteVarint(at, postings_.size());
  at = WriteVarint(at, posting.size());
  at = WriteFixed32(at, Hash32(posting));
  postings_.append(posting.data(), posting.size());
  if (with_positions_) {
    at = WriteVarint(at, positions_.size());
    at = WriteVarint(at, positions.size());
    at = WriteFixed32(at, Hash32(positions));
    positions_.append(positions.data(), positions.size());
  }
  block_.append(tail, static_cast<size_t>(at - tail));
  previous_term_.assign(term);
  ++entry_.num_terms;
  if (++in_block_ == kTermsPerBlock) FlushBlock();
}

void TermDictionaryWriter::Finish() { FlushBlock(); }

void TermDictionaryWriter::FlushBlock() {
  if (in_block_ == 0) return;
  std::string encoded;
  PutVarint(encoded, in_block_);
  encoded += block_;
  entry_.term_blocks.push_back(
      TermBlockRef{first_term_, ChunkRef{terms_.size(), encoded.size(), Hash32(encoded)}});
  terms_ += encoded;
  block_.clear();
  in_block_ = 0;
}

void AppendDocList(const std::vector<uint32_t>& docs, std::string& out) {
  // Room for the longest varints (kMaxVarintBytes for the count, 5 per 32-bit delta) made
  // once, then cut back: no per-byte append.
  const size_t start = out.size();
  out.resize(start + kMaxVarintBytes + 5 * docs.size());
  char* const begin = out.data();
  char* at = WriteVarint(begin + start, docs.size());
  uint32_t previous = 0;
  for (const uint32_t doc : docs) {
    at = WriteVarint(at, doc - previous);
    previous = doc;
  }
  out.resize(static_cast<size_t>(at - begin));
}

void PackColumnValues(const std::vector<std::pair<uint32_t, uint64_t>>& values, uint64_t num_docs,
                      ColumnHeader& column, std::string& out) {
  column.num_values = values.size();
  column.single_valued = values.size() == num_docs;
  for (size_t i = 0; column.single_valued && i < values.size(); ++i) {
    column.single_valued = values[i].first == i;
  }
  uint64_t min_value = UINT64_MAX;
  for (const auto& [doc, value] : values) min_value = std::min(min_value, value);
  // The gcd of the deltas: a delta that the gcd so far divides leaves it as it is (one division,
  // against a gcd computation's dozens of steps), and once it is 1 nothing can change it.
  uint64_t gcd = 0;
  uint64_t max_delta = 0;
  for (const auto& [doc, value] : values) {
    const uint64_t delta = value - min_value;
    max_delta = std::max(max_delta, delta);
    if (gcd != 1 && (gcd == 0 || delta % gcd != 0)) gcd = std::gcd(gcd, delta);
  }
  if (gcd == 0) gcd = 1;
  column.min_value = min_value;
  column.gcd = gcd;
  column.value_bit_width = BitWidth(max_delta / gcd);
  if (!column.single_valued) {
    column.offset_bit_width = BitWidth(values.size());
    const size_t start = out.size();
    BitPacker packer(out, column.offset_bit_width);
    size_t index = 0;
    for (uint64_t doc = 0; doc <= num_docs; ++doc) {
      while (index < values.size() && values[index].first < doc) ++index;
      packer.Add(index);
    }
    packer.Finish();
    column.offsets = ChunkRef{start, out.size() - start, 0};
  }
  const size_t start = out.size();
  BitPacker packer(out, column.value_bit_width);
  if (gcd == 1) {
    for (const auto& [doc, value] : values) packer.Add(value - min_value);
  } else {
    // Every delta is a multiple of gcd = odd << shift: dividing it is shifting, then multiplying
    // by the inverse of `odd` modulo 2^64 (exact, and a multiply instead of a 64-bit division).
    const auto shift = static_cast<uint32_t>(std::countr_zero(gcd));
    const uint64_t odd = gcd >> shift;
    uint64_t inverse = odd;  // correct to 3 bits; each step doubles the correct bits
    for (int step = 0; step < 5; ++step) inverse *= 2 - odd * inverse;
    for (const auto& [doc, value] : values) packer.Add(((value - min_value) >> shift) * inverse);
  }
  packer.Finish();
  column.values = ChunkRef{start, out.size() - start, 0};
}

// One block's compression: its input, moved out of the writer, and its result. Shared by the
// writer and the executor's task; whichever claims it first runs it, the other one (the writer)
// then waits for `done`.
struct DocStoreWriter::CompressionTask {
  int compression_level = 0;
  std::vector<uint32_t> lengths;
  std::string docs;
  std::atomic<bool> claimed{false};
  // The result, then `done` (release; std atomics rather than absl::Notification so that
  // ThreadSanitizer sees the order with Debian's uninstrumented Abseil).
  absl::StatusOr<std::string> compressed;
  uint32_t uncompressed_length = 0;
  std::atomic<bool> done{false};

  void RunIfUnclaimed() {
    if (claimed.exchange(true)) return;
    // The block is `header | docs`; `docs` starts with kDocStoreHeaderRoom bytes left for the
    // header, which is written right before the documents when it fits (no copy of them).
    std::string header;
    header.reserve(lengths.size() * 3 + 8);
    PutVarint(header, lengths.size());
    for (uint32_t length : lengths) PutVarint(header, length);
    std::string fallback;
    std::string_view raw;
    if (header.size() <= kDocStoreHeaderRoom) {
      char* block_start = docs.data() + kDocStoreHeaderRoom - header.size();
      std::memcpy(block_start, header.data(), header.size());
      raw = std::string_view(block_start, docs.size() - (kDocStoreHeaderRoom - header.size()));
    } else {
      fallback.reserve(header.size() + docs.size() - kDocStoreHeaderRoom);
      fallback.append(header);
      fallback.append(docs, kDocStoreHeaderRoom);
      raw = fallback;
    }
    if (raw.size() > UINT32_MAX) {
      compressed = absl::InvalidArgumentError("doc store block larger than 4 GiB");
    } else {
      uncompressed_length = static_cast<uint32_t>(raw.size());
      // One context and one output buffer per thread, reused from block to block: no context
      // set up and no zero-filled megabyte per block (same bytes as ZSTD_compress).
      struct ContextDeleter {
        void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
      };
      thread_local std::unique_ptr<ZSTD_CCtx, ContextDeleter> context(ZSTD_createCCtx());
      thread_local std::unique_ptr<char[]> out;
      thread_local size_t out_capacity = 0;
      const size_t bound = ZSTD_compressBound(raw.size());
      if (out_capacity < bound) {
        out = std::make_unique_for_overwrite<char[]>(bound);
        out_capacity = bound;
      }
      const size_t size =
          context == nullptr
              ? ZSTD_compress(out.get(), bound, raw.data(), raw.size(), compression_level)
              : ZSTD_compressCCtx(context.get(), out.get(), bound, raw.data(), raw.size(),
                                  compression_level);
      if (ZSTD_isError(size)) {
        compressed = absl::InternalError(
            fmt::format("doc store compression failed: {}", ZSTD_getErrorName(size)));
      } else {
        compressed = std::string(out.get(), size);
      }
    }
    docs.clear();  // capacity kept: without an executor the writer takes the buffers back
    lengths.clear();
    done.store(true, std::memory_order_release);
    done.notify_all();
  }

  bool IsDone() const { return done.load(std::memory_order_acquire); }
  void WaitUntilDone() const { done.wait(false, std::memory_order_acquire); }
};

void DocStoreWriter::Add(std::string_view doc) {
  if (lengths_.empty()) {
    block_first_doc_ = next_doc_;
    buffer_.resize(kDocStoreHeaderRoom);
  }
  lengths_.push_back(static_cast<uint32_t>(doc.size()));
  buffer_.append(doc.data(), doc.size());
  ++next_doc_;
  if (buffer_.size() - kDocStoreHeaderRoom >= blocksize_) FlushBlock();
}

void DocStoreWriter::AddCompressedBlock(uint32_t num_docs, uint32_t uncompressed_length,
                                        std::string_view compressed) {
  FlushBlock();
  AppendCompressedBlocks(0);
  DocStoreBlockRef block;
  block.first_doc = next_doc_;
  block.uncompressed_length = uncompressed_length;
  block.chunk = ChunkRef{bytes_.size(), compressed.size(), Hash32(compressed)};
  bytes_.append(compressed.data(), compressed.size());
  blocks_.push_back(std::move(block));
  next_doc_ += num_docs;
}

absl::Status DocStoreWriter::Finish() {
  FlushBlock();
  AppendCompressedBlocks(0);
  return error_;
}

void DocStoreWriter::FlushBlock() {
  if (lengths_.empty()) return;
  auto task = std::make_shared<CompressionTask>();
  task->compression_level = compression_level_;
  CompressingBlock block;
  block.first_doc = block_first_doc_;
  block.memory_bytes = buffer_.capacity() + lengths_.capacity() * sizeof(uint32_t) +
                       ZSTD_compressBound(buffer_.size());
  if (executor_ == nullptr) {
    // Compressed here; the buffers come back (empty, their capacity kept) for the next block.
    task->docs.swap(buffer_);
    task->lengths.swap(lengths_);
    task->RunIfUnclaimed();
    buffer_.swap(task->docs);
    lengths_.swap(task->lengths);
  } else {
    const size_t capacity = buffer_.capacity();
    task->docs = std::move(buffer_);
    task->lengths = std::move(lengths_);
    // The next block's buffers: those of a block already compressed, else allocated once rather
    // than grown (fresh memory costs a page fault per 4 KiB).
    buffer_ = std::exchange(spare_buffer_, std::string());
    lengths_ = std::exchange(spare_lengths_, std::vector<uint32_t>());
    if (buffer_.capacity() < capacity) buffer_.reserve(capacity);
    if (!executor_([task] { task->RunIfUnclaimed(); })) task->RunIfUnclaimed();
  }
  block.task = std::move(task);
  compressing_bytes_ += block.memory_bytes;
  compressing_.push_back(std::move(block));
  AppendCompressedBlocks(max_compressing_blocks_);
}

void DocStoreWriter::AppendCompressedBlocks(size_t wait_until_at_most) {
  while (!compressing_.empty()) {
    CompressionTask& task = *compressing_.front().task;
    if (!task.IsDone()) {
      if (compressing_.size() <= wait_until_at_most) return;
      task.RunIfUnclaimed();  // when the executor has not started it yet
      task.WaitUntilDone();
    }
    if (!task.compressed.ok()) {
      if (error_.ok()) error_ = task.compressed.status();
    } else {
      const std::string& compressed = *task.compressed;
      DocStoreBlockRef block;
      block.first_doc = compressing_.front().first_doc;
      block.uncompressed_length = task.uncompressed_length;
      block.chunk = ChunkRef{bytes_.size(), compressed.size(), Hash32(compressed)};
      bytes_ += compressed;
      blocks_.push_back(std::move(block));
    }
    if (task.docs.capacity() > spare_buffer_.capacity()) {  // emptied by the task
      spare_buffer_ = std::move(task.docs);
      spare_lengths_ = std::move(task.lengths);
    }
    compressing_bytes_ -= compressing_.front().memory_bytes;
    compressing_.pop_front();
  }
}

}  // namespace shale::index::internal
