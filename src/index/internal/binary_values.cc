#include "index/internal/binary_values.h"

#include <arpa/inet.h>

#include <cstring>

namespace shale::index::internal {
namespace {

constexpr unsigned char kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int digit = Base64Digit(c);
    if (digit < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(digit);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // The bits left over must be zero padding (a canonical encoding).
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::string> ParseIp(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid text form is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buffer[46];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::string out(kIpBytes, '\0');
  if (text.find(':') == std::string_view::npos) {
    unsigned char v4[4];
    if (inet_pton(AF_INET, buffer, v4) != 1) return std::nullopt;
    std::memcpy(out.data(), kV4MappedPrefix, sizeof(kV4MappedPrefix));
    std::memcpy(out.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, buffer, out.data()) != 1) return std::nullopt;
  return out;
}

std::string FormatIp(std::string_view bytes) {
  if (bytes.size() != kIpBytes) return "";
  char buffer[INET6_ADDRSTRLEN];
  if (std::memcmp(bytes.data(), kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0) {
    if (inet_ntop(AF_INET, bytes.data() + 12, buffer, sizeof(buffer)) == nullptr) return "";
    return buffer;
  }
  if (inet_ntop(AF_INET6, bytes.data(), buffer, sizeof(buffer)) == nullptr) return "";
  return buffer;
}

uint64_t IpSortKey(std::string_view bytes) {
  uint64_t high = 0;
  uint64_t low = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    high = (high << 8) | static_cast<unsigned char>(bytes[i]);
  }
  for (size_t i = 8; i < 16 && i < bytes.size(); ++i) {
    low = (low << 8) | static_cast<unsigned char>(bytes[i]);
  }
  constexpr uint64_t kTopBit = uint64_t{1} << 63;
  if (high == 0 && low < kTopBit) return low;
  return kTopBit | (high >> 1);
}

std::optional<std::string> DecodeBytes(std::string_view text, BytesFormat format) {
  if (format == BytesFormat::kBase64) return DecodeBase64(text);
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int high = HexDigit(text[2 * i]);
    const int low = HexDigit(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<char>(high * 16 + low);
  }
  return out;
}

std::string EncodeBytes(std::string_view bytes, BytesFormat format) {
  std::string out;
  if (format == BytesFormat::kHex) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
    return out;
  }
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                           static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(group >> 18) & 63]);
    out.push_back(kBase64Alphabet[(group >> 12) & 63]);
    out.push_back(kBase64Alphabet[(group >> 6) & 63]);
    out.push_back(kBase64Alphabet[group & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(group >> 18) & 63]);
    out.push_back(kBase64Alphabet[(group >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(group >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace shale::index::internal
