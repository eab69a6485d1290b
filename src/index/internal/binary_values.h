// Text forms of the two binary field types: ip (every address is held as 16 bytes, IPv4 as its
// IPv4-mapped IPv6 address ::ffff:a.b.c.d, so that byte order is address order) and bytes
// (base64 or hex). Shared by the doc processor, the split reader and the aggregation collector.
// Private to index/.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "index/doc_mapping.h"

namespace shale::index::internal {

inline constexpr size_t kIpBytes = 16;

// Whether values of `type` are byte strings (text, ip, bytes): indexed as terms of their bytes
// (text after tokenization) and held in dictionary-encoded fast columns. Other types are u64
// encodings (internal/encoding.h).
inline bool IsByteStringType(FieldType type) {
  return type == FieldType::kText || type == FieldType::kIp || type == FieldType::kBytes;
}

// The 16-byte form of an IPv4 (`192.168.0.1`) or IPv6 (`2001:db8::1`, `::ffff:1.2.3.4`) address;
// nullopt when `text` is neither.
std::optional<std::string> ParseIp(std::string_view text);

// `bytes` (16 bytes) as text: dotted IPv4 for IPv4-mapped addresses, else RFC 5952 IPv6.
// REQUIRES: bytes.size() == kIpBytes (other sizes render as "").
std::string FormatIp(std::string_view bytes);

// An order-preserving u64 sort key of a 16-byte address (a < b implies key(a) <= key(b)): exact,
// without ties, for every address below 2^63 (all IPv4 addresses), coarser above.
uint64_t IpSortKey(std::string_view bytes);

// Decodes `text` in `format` (base64: standard alphabet, padding optional; hex: an even number
// of hex digits, either case). nullopt when `text` is not valid in that format.
std::optional<std::string> DecodeBytes(std::string_view text, BytesFormat format);

// `bytes` encoded in `format` (base64 with padding; lowercase hex).
std::string EncodeBytes(std::string_view bytes, BytesFormat format);

}  // namespace shale::index::internal
