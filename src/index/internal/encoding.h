// Byte-level encodings shared by the split writer and reader: varints, fixed little-endian
// integers, order-preserving u64 encodings of typed values, bit packing, and a bounds-checked
// reader that never reads out of its buffer. Private to index/.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "xxhash.h"

namespace shale::index::internal {

// ---- order-preserving u64 encodings (unsigned comparison == typed comparison) ----

inline uint64_t EncodeI64(int64_t value) {
  return static_cast<uint64_t>(value) ^ (uint64_t{1} << 63);
}
inline int64_t DecodeI64(uint64_t encoded) {
  return static_cast<int64_t>(encoded ^ (uint64_t{1} << 63));
}
inline uint64_t EncodeF64(double value) {
  if (value == 0.0) value = 0.0;  // -0.0 and 0.0 compare equal
  uint64_t bits = std::bit_cast<uint64_t>(value);
  return (bits & (uint64_t{1} << 63)) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}
inline double DecodeF64(uint64_t encoded) {
  uint64_t bits = (encoded & (uint64_t{1} << 63)) != 0 ? encoded & ~(uint64_t{1} << 63) : ~encoded;
  return std::bit_cast<double>(bits);
}

// 8 bytes big-endian: lexicographic order of the bytes == numeric order.
inline void AppendBigEndian64(uint64_t value, std::string& out) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out.append(bytes, 8);
}
inline std::string BigEndianTerm(uint64_t value) {
  std::string out;
  AppendBigEndian64(value, out);
  return out;
}
inline uint64_t ReadBigEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

// ---- writing ----

inline void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}
// Writes `value` as a varint at `at` and returns the end, for callers that make room once
// (kMaxVarintBytes per value) instead of appending byte by byte.
inline constexpr size_t kMaxVarintBytes = 10;
inline char* WriteVarint(char* at, uint64_t value) {
  while (value >= 0x80) {
    *at++ = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *at++ = static_cast<char>(value);
  return at;
}
// Writes `value` as 4 little-endian bytes at `at`; returns the end.
inline char* WriteFixed32(char* at, uint32_t value) {
  for (int i = 0; i < 4; ++i) *at++ = static_cast<char>((value >> (8 * i)) & 0xff);
  return at;
}
inline void PutFixed32(std::string& out, uint32_t value) {
  char bytes[4];
  out.append(bytes, static_cast<size_t>(WriteFixed32(bytes, value) - bytes));
}
inline void PutFixed64(std::string& out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out.append(bytes, 8);
}
inline void PutBytes(std::string& out, std::string_view bytes) {
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

inline uint64_t Hash64(std::string_view bytes) { return XXH64(bytes.data(), bytes.size(), 0); }
// Per-block checksums keep the low 32 bits of xxhash64.
inline uint32_t Hash32(std::string_view bytes) {
  return static_cast<uint32_t>(Hash64(bytes) & 0xffffffffu);
}

// Number of bits needed to represent `value` (0 for 0).
inline uint32_t BitWidth(uint64_t value) { return static_cast<uint32_t>(std::bit_width(value)); }

// Appends `count` values of `bit_width` bits each (LSB first), padded with 8 zero bytes so that
// the reader may always load a full 64-bit word.
class BitPacker {
 public:
  BitPacker(std::string& out, uint32_t bit_width) : out_(out), bit_width_(bit_width) {}
  void Add(uint64_t value) {
    if (bit_width_ == 0) return;
    buffer_ |= value << filled_;
    const uint32_t room = 64 - filled_;
    if (bit_width_ >= room) {
      PutFixed64(out_, buffer_);
      buffer_ = room == 64 ? 0 : value >> room;
      filled_ = bit_width_ - room;
    } else {
      filled_ += bit_width_;
    }
  }
  void Finish() {
    if (bit_width_ == 0) return;
    if (filled_ > 0) {
      const uint32_t num_bytes = (filled_ + 7) / 8;
      for (uint32_t i = 0; i < num_bytes; ++i) {
        out_.push_back(static_cast<char>((buffer_ >> (8 * i)) & 0xff));
      }
    }
    out_.append(8, '\0');
  }
  static uint64_t NumBytes(uint64_t count, uint32_t bit_width) {
    if (bit_width == 0) return 0;
    return (count * bit_width + 7) / 8 + 8;
  }

 private:
  std::string& out_;
  uint32_t bit_width_;
  uint64_t buffer_ = 0;
  uint32_t filled_ = 0;
};

// REQUIRES: `data` holds at least BitPacker::NumBytes(index + 1, bit_width) bytes.
inline uint64_t BitUnpack(const char* data, uint32_t bit_width, uint64_t index) {
  if (bit_width == 0) return 0;
  const uint64_t bit = index * bit_width;
  const uint64_t byte = bit / 8;
  const uint32_t shift = static_cast<uint32_t>(bit % 8);
  uint64_t word;
  std::memcpy(&word, data + byte, 8);
  word = word >> shift;
  if (shift + bit_width > 64) {
    const auto extra = static_cast<unsigned char>(data[byte + 8]);
    word |= static_cast<uint64_t>(extra) << (64 - shift);
  }
  return bit_width == 64 ? word : word & ((uint64_t{1} << bit_width) - 1);
}

// ---- field norms: a token count quantized to one byte ----
// Counts below 8 are exact; above, a count keeps its top 4 significant bits (3 below the leading
// one), i.e. it is rounded down to within 12.5%. Codes are monotonic in the count.
inline uint8_t EncodeFieldNorm(uint32_t count) {
  if (count < 8) return static_cast<uint8_t>(count);
  const uint32_t exponent = static_cast<uint32_t>(std::bit_width(count)) - 1;  // >= 3
  const uint32_t mantissa = (count >> (exponent - 3)) & 7;
  return static_cast<uint8_t>(8 + (exponent - 3) * 8 + mantissa);
}
inline uint32_t DecodeFieldNorm(uint8_t code) {
  if (code < 8) return code;
  const uint32_t exponent = (code - 8u) / 8 + 3;
  const uint32_t mantissa = (code - 8u) % 8;
  if (exponent > 31) return UINT32_MAX;  // codes above 239 are never written
  return static_cast<uint32_t>((uint64_t{8 + mantissa} << (exponent - 3)) & 0xffffffffu);
}

// ---- reading ----

// A cursor over a byte buffer. Every read checks bounds; after a failed read `ok()` is false and
// all further reads return zero values.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  size_t position() const { return pos_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool AtEnd() const { return pos_ == data_.size(); }

  uint64_t Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!ok_ || pos_ >= data_.size()) return Fail();
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return Fail();
  }
  uint32_t Varint32() {
    const uint64_t value = Varint();
    if (value > UINT32_MAX) return static_cast<uint32_t>(Fail());
    return static_cast<uint32_t>(value);
  }
  uint8_t Byte() {
    if (!ok_ || pos_ >= data_.size()) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint32_t Fixed32() {
    std::string_view bytes = Bytes(4);
    uint32_t value = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    }
    return value;
  }
  uint64_t Fixed64() {
    std::string_view bytes = Bytes(8);
    uint64_t value = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    }
    return value;
  }
  std::string_view Bytes(uint64_t length) {
    if (!ok_ || length > data_.size() - pos_) {
      Fail();
      return {};
    }
    std::string_view bytes = data_.substr(pos_, length);
    pos_ += length;
    return bytes;
  }
  std::string_view LengthPrefixed() { return Bytes(Varint()); }

 private:
  uint64_t Fail() {
    ok_ = false;
    return 0;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace shale::index::internal
