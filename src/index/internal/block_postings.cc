#include "index/internal/block_postings.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "index/internal/encoding.h"

namespace shale::index::internal {

namespace {

// Writes 128 values of `bit_width` bits (LSB first): exactly 16 * bit_width bytes. The bits go
// out as little-endian 32-bit words (128 * bit_width bits are 4 * bit_width whole words), into
// room made once: no per-byte append.
void PackBlock(const uint32_t* values, uint32_t bit_width, std::string& out) {
  static_assert(std::endian::native == std::endian::little, "the words are stored as they are");
  if (bit_width == 0) return;
  const size_t start = out.size();
  out.resize(start + size_t{16} * bit_width);
  char* word_out = out.data() + start;
  uint64_t buffer = 0;
  uint32_t filled = 0;  // < 32 before each value, so a value of up to 32 bits fits
  for (uint32_t i = 0; i < kPostingBlockSize; ++i) {
    buffer |= static_cast<uint64_t>(values[i]) << filled;
    filled += bit_width;
    if (filled >= 32) {
      const auto word = static_cast<uint32_t>(buffer);
      std::memcpy(word_out, &word, sizeof(word));
      word_out += sizeof(word);
      buffer >>= 32;
      filled -= 32;
    }
  }
}

// Reads 128 values written by PackBlock. REQUIRES: `in` holds 16 * bit_width bytes.
void UnpackBlock(const unsigned char* in, uint32_t bit_width, uint32_t* values) {
  if (bit_width == 0) {
    std::fill(values, values + kPostingBlockSize, 0u);
    return;
  }
  // Copy into a zero-padded buffer so every value is one unaligned 64-bit load: a value starts
  // at most 7 bits into its first byte and has at most 32 bits.
  unsigned char padded[16 * 32 + 8] = {};
  std::memcpy(padded, in, size_t{16} * bit_width);
  const uint64_t mask = (uint64_t{1} << bit_width) - 1;
  uint64_t bit = 0;
  for (uint32_t i = 0; i < kPostingBlockSize; ++i, bit += bit_width) {
    uint64_t word;
    std::memcpy(&word, padded + bit / 8, sizeof(word));
    values[i] = static_cast<uint32_t>((word >> (bit % 8)) & mask);
  }
}

uint32_t MaxBitWidth(const uint32_t* values) {
  uint32_t all = 0;
  for (uint32_t i = 0; i < kPostingBlockSize; ++i) all |= values[i];
  return static_cast<uint32_t>(std::bit_width(all));
}

// Appends the docs (and freqs) from `begin` that follow the full blocks as varints: each doc's
// gap after `previous` (the last doc of the blocks, -1 without any) minus one, then the freqs.
void PutTail(const std::vector<uint32_t>& docs, const std::vector<uint32_t>& freqs, size_t begin,
             int64_t previous, bool with_freqs, std::string& out) {
  for (size_t i = begin; i < docs.size(); ++i) {
    PutVarint(out, static_cast<uint64_t>(docs[i] - previous - 1));
    previous = docs[i];
  }
  if (with_freqs) {
    for (size_t i = begin; i < docs.size(); ++i) PutVarint(out, freqs[i]);
  }
}

}  // namespace

void EncodeBlockPostings(const std::vector<uint32_t>& docs, const std::vector<uint32_t>& freqs,
                         bool with_freqs, std::string& out) {
  const size_t num_full_blocks = docs.size() / kPostingBlockSize;
  if (num_full_blocks == 0) {
    // No skip data: the varints go straight to `out` (most terms have a few docs).
    PutTail(docs, freqs, 0, -1, with_freqs, out);
    return;
  }
  std::string blocks;
  std::string skip;
  uint32_t gaps[kPostingBlockSize];
  uint32_t freq_values[kPostingBlockSize];
  int64_t previous = -1;
  int64_t previous_last = 0;
  for (size_t block = 0; block < num_full_blocks; ++block) {
    const size_t begin = block * kPostingBlockSize;
    for (uint32_t i = 0; i < kPostingBlockSize; ++i) {
      gaps[i] = static_cast<uint32_t>(docs[begin + i] - previous - 1);
      previous = docs[begin + i];
      if (with_freqs) freq_values[i] = freqs[begin + i] - 1;
    }
    const size_t start = blocks.size();
    const uint32_t doc_width = MaxBitWidth(gaps);
    blocks.push_back(static_cast<char>(doc_width));
    PackBlock(gaps, doc_width, blocks);
    if (with_freqs) {
      const uint32_t freq_width = MaxBitWidth(freq_values);
      blocks.push_back(static_cast<char>(freq_width));
      PackBlock(freq_values, freq_width, blocks);
    }
    PutVarint(skip, static_cast<uint64_t>(previous - (block == 0 ? 0 : previous_last)));
    PutVarint(skip, blocks.size() - start);
    previous_last = previous;
  }
  PutTail(docs, freqs, num_full_blocks * kPostingBlockSize, previous, with_freqs, blocks);
  out += skip;
  out += blocks;
}

BlockPostingIterator::BlockPostingIterator(std::string_view bytes, uint64_t doc_freq,
                                           uint32_t num_docs, bool with_freqs, bool decode_freqs,
                                           bool track_positions)
    : bytes_(bytes),
      doc_freq_(doc_freq),
      num_docs_(num_docs),
      with_freqs_(with_freqs),
      decode_freqs_(with_freqs && decode_freqs),
      track_positions_(track_positions) {
  std::fill(freqs_, freqs_ + kPostingBlockSize, 1u);
  num_full_blocks_ = doc_freq / kPostingBlockSize;
  // Each full block takes at least 3 bytes (2 of skip data, 1 bit width).
  if (doc_freq > num_docs || num_full_blocks_ * 3 > bytes.size()) {
    Fail(0);
    return;
  }
  ByteReader reader(bytes);
  block_last_doc_.resize(num_full_blocks_);
  block_offset_.resize(num_full_blocks_ + 1);
  std::vector<uint64_t> lengths(num_full_blocks_);
  uint64_t last = 0;
  for (uint64_t block = 0; block < num_full_blocks_; ++block) {
    const uint64_t gap = reader.Varint();
    lengths[block] = reader.Varint();
    last = block == 0 ? gap : last + gap;
    if (!reader.ok() || (block > 0 && gap == 0) || last >= num_docs) {
      Fail(reader.position());
      return;
    }
    block_last_doc_[block] = static_cast<uint32_t>(last);
  }
  uint64_t offset = reader.position();
  for (uint64_t block = 0; block < num_full_blocks_; ++block) {
    block_offset_[block] = offset;
    if (lengths[block] > bytes.size() - offset) {
      Fail(offset);
      return;
    }
    offset += lengths[block];
  }
  block_offset_[num_full_blocks_] = offset;  // the tail
  if (doc_freq == 0) return;
  if (!LoadBlock(0)) return;
  doc_ = docs_[0];
}

bool BlockPostingIterator::Fail(uint64_t offset) {
  corrupt_ = true;
  corrupt_offset_ = offset;
  doc_ = kEnd;
  block_count_ = 0;
  return false;
}

bool BlockPostingIterator::LoadBlock(uint64_t block) {
  block_ = block;
  index_ = 0;
  const int64_t previous_last = block == 0 ? -1 : static_cast<int64_t>(block_last_doc_[block - 1]);
  if (block < num_full_blocks_) {
    const uint64_t begin = block_offset_[block];
    const uint64_t end = block_offset_[block + 1];  // the next block, or the tail
    uint64_t at = begin;
    auto read_packed = [&](uint32_t* values) {
      if (at >= end) return false;
      const auto width = static_cast<unsigned char>(bytes_[at]);
      if (width > 32 || uint64_t{16} * width > end - at - 1) return false;
      if (values != nullptr) {
        UnpackBlock(reinterpret_cast<const unsigned char*>(bytes_.data() + at + 1), width, values);
      }
      at += 1 + uint64_t{16} * width;
      return true;
    };
    if (!read_packed(docs_)) return Fail(at);
    if (with_freqs_ && !decode_freqs_) {
      if (!read_packed(nullptr)) return Fail(at);
    } else if (with_freqs_) {
      if (!read_packed(freqs_)) return Fail(at);
      for (uint32_t& freq : freqs_) {
        if (freq == UINT32_MAX) return Fail(at);
        ++freq;
      }
    }
    if (at != end) return Fail(at);
    int64_t doc = previous_last;
    for (uint32_t& value : docs_) {
      doc += static_cast<int64_t>(value) + 1;
      value = static_cast<uint32_t>(std::min<int64_t>(doc, UINT32_MAX));
    }
    if (doc != static_cast<int64_t>(block_last_doc_[block])) return Fail(begin);
    block_count_ = kPostingBlockSize;
    FillFreqPrefix();
    return true;
  }
  // The tail: fewer than 128 docs as varints.
  const uint64_t begin = block_offset_[num_full_blocks_];
  ByteReader reader(bytes_.substr(begin));
  const auto count = static_cast<uint32_t>(doc_freq_ % kPostingBlockSize);
  int64_t doc = previous_last;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t gap = reader.Varint();
    doc += static_cast<int64_t>(std::min<uint64_t>(gap, UINT32_MAX)) + 1;
    if (!reader.ok() || doc >= static_cast<int64_t>(num_docs_)) {
      return Fail(begin + reader.position());
    }
    docs_[i] = static_cast<uint32_t>(doc);
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t freq = 1;
    if (with_freqs_) freq = reader.Varint();
    if (!reader.ok() || freq == 0 || freq > UINT32_MAX) {
      return Fail(begin + reader.position());
    }
    freqs_[i] = decode_freqs_ ? static_cast<uint32_t>(freq) : 1;
  }
  if (!reader.AtEnd()) return Fail(begin + reader.position());
  block_count_ = count;
  FillFreqPrefix();
  return true;
}

void BlockPostingIterator::FillFreqPrefix() {
  if (!track_positions_) return;
  for (uint32_t i = 0; i < block_count_; ++i) freq_prefix_[i + 1] = freq_prefix_[i] + freqs_[i];
}

bool BlockPostingIterator::SumBlockFreqs(uint64_t block, uint64_t& sum) {
  const uint64_t begin = block_offset_[block];
  const uint64_t end = block_offset_[block + 1];
  if (begin >= end) return Fail(begin);
  const auto doc_width = static_cast<unsigned char>(bytes_[begin]);
  const uint64_t at = begin + 1 + uint64_t{16} * doc_width;
  if (doc_width > 32 || at >= end) return Fail(begin);
  const auto freq_width = static_cast<unsigned char>(bytes_[at]);
  if (freq_width > 32 || 1 + uint64_t{16} * freq_width != end - at) return Fail(at);
  uint32_t values[kPostingBlockSize];
  UnpackBlock(reinterpret_cast<const unsigned char*>(bytes_.data() + at + 1), freq_width, values);
  sum = kPostingBlockSize;
  for (uint32_t value : values) sum += value;
  return true;
}

uint32_t BlockPostingIterator::NextBlock() {
  const uint64_t num_blocks = num_full_blocks_ + (doc_freq_ % kPostingBlockSize != 0 ? 1 : 0);
  if (block_ + 1 >= num_blocks) return doc_ = kEnd;
  freq_base_ += freq_prefix_[block_count_];
  if (!LoadBlock(block_ + 1)) return kEnd;
  return doc_ = docs_[0];
}

uint32_t BlockPostingIterator::SeekTo(uint32_t target) {
  if (doc_ == kEnd || doc_ >= target) return doc_;
  if (block_ < num_full_blocks_ && block_last_doc_[block_] < target) {
    // Skip whole blocks: the first block whose last doc reaches the target, else the tail.
    auto it = std::lower_bound(block_last_doc_.begin() + static_cast<std::ptrdiff_t>(block_) + 1,
                               block_last_doc_.end(), target);
    const auto block = static_cast<uint64_t>(it - block_last_doc_.begin());
    if (block == num_full_blocks_ && doc_freq_ % kPostingBlockSize == 0) return doc_ = kEnd;
    if (track_positions_) {
      freq_base_ += freq_prefix_[block_count_];
      for (uint64_t skipped = block_ + 1; skipped < block; ++skipped) {
        uint64_t sum = 0;
        if (!SumBlockFreqs(skipped, sum)) return kEnd;
        freq_base_ += sum;
      }
    }
    if (!LoadBlock(block)) return kEnd;
  }
  while (index_ < block_count_ && docs_[index_] < target) ++index_;
  if (index_ < block_count_) return doc_ = docs_[index_];
  // Only the tail can end below the target (full blocks were chosen by their last doc).
  return doc_ = kEnd;
}

bool PositionListReader::Skip(uint64_t count) {
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  // Whole words of 8 bytes while they end fewer varints than are left to skip.
  while (count >= 8 && bytes_.size() - offset_ >= 8) {
    uint64_t word;
    std::memcpy(&word, bytes_.data() + offset_, sizeof(word));
    // Varint terminators (high bit clear) of the word, added up bytewise by one multiply.
    const uint64_t ends = (((~word & kHighBits) >> 7) * 0x0101010101010101ull) >> 56;
    if (ends > count) break;
    count -= ends;
    offset_ += 8;
  }
  while (count > 0) {
    if (offset_ >= bytes_.size()) return false;
    if ((static_cast<unsigned char>(bytes_[offset_++]) & 0x80) == 0) --count;
  }
  return true;
}

bool PositionListReader::Read(uint64_t index, uint32_t count, std::vector<uint32_t>& out) {
  out.clear();
  if (index < index_ || !Skip(index - index_)) return false;
  index_ = index;
  ByteReader reader(bytes_.substr(offset_));
  uint64_t position = 0;
  for (uint32_t j = 0; j < count; ++j) {
    const uint64_t delta = reader.Varint();
    position += delta;
    if (!reader.ok() || (j > 0 && delta == 0) || position > UINT32_MAX) {
      offset_ += reader.position();
      return false;
    }
    out.push_back(static_cast<uint32_t>(position));
  }
  offset_ += reader.position();
  index_ += count;
  return true;
}

}  // namespace shale::index::internal
