// SigV4, hashing and XML helpers of the S3 client (see internal/s3_util.h).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"

#include "common/check.h"
#include "common/markup.h"
#include "storage/internal/s3_util.h"

namespace shale::storage::internal {
namespace {

std::string Digest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int out_size = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &out_size, md, nullptr);
  SHALE_CHECK(ok == 1) << "EVP_Digest failed";
  return std::string(reinterpret_cast<const char*>(out.data()), out_size);
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xF]);
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Digest(EVP_sha256(), data)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int out_size = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &out_size);
  SHALE_CHECK(result != nullptr) << "HMAC-SHA256 failed";
  return std::string(reinterpret_cast<const char*>(out.data()), out_size);
}

std::string Md5Base64(std::string_view data) {
  const std::string md5 = Digest(EVP_md5(), data);
  std::array<unsigned char, 32> encoded{};  // 4 * ceil(16 / 3) + 1
  const int size = EVP_EncodeBlock(encoded.data(),
                                   reinterpret_cast<const unsigned char*>(md5.data()),
                                   static_cast<int>(md5.size()));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(size));
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendMarkupEscaped(text, out);
  return out;
}

namespace {

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Decodes the entity `name` (between '&' and ';'); false when unknown.
bool DecodeEntity(std::string_view name, std::string& out) {
  if (name == "amp") { out.push_back('&'); return true; }
  if (name == "lt") { out.push_back('<'); return true; }
  if (name == "gt") { out.push_back('>'); return true; }
  if (name == "quot") { out.push_back('"'); return true; }
  if (name == "apos") { out.push_back('\''); return true; }
  if (name.size() < 2 || name[0] != '#') {
    return false;
  }
  const bool hex = name[1] == 'x' || name[1] == 'X';
  const std::string_view digits = name.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) {
    return false;
  }
  uint32_t code_point = 0;
  for (const char c : digits) {
    uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    code_point = code_point * (hex ? 16 : 10) + digit;
  }
  if (code_point > 0x10FFFF) {
    return false;
  }
  AppendUtf8(code_point, out);
  return true;
}

}  // namespace

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, amp - pos));
    const size_t semicolon = text.find(';', amp);
    if (semicolon == std::string_view::npos ||
        !DecodeEntity(text.substr(amp + 1, semicolon - amp - 1), out)) {
      out.push_back('&');
      pos = amp + 1;
      continue;
    }
    pos = semicolon + 1;
  }
  return out;
}

std::vector<std::string_view> XmlRawElements(std::string_view xml, std::string_view tag) {
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  std::vector<std::string_view> elements;
  size_t pos = 0;
  while (true) {
    const size_t start = xml.find(open, pos);
    if (start == std::string_view::npos) {
      break;
    }
    const size_t content = start + open.size();
    const size_t end = xml.find(close, content);
    if (end == std::string_view::npos) {
      break;
    }
    elements.push_back(xml.substr(content, end - content));
    pos = end + close.size();
  }
  return elements;
}

std::optional<std::string> XmlFirstText(std::string_view xml, std::string_view tag) {
  const std::vector<std::string_view> elements = XmlRawElements(xml, tag);
  if (elements.empty()) {
    return std::nullopt;
  }
  return XmlUnescape(elements.front());
}

std::string SigV4Authorization(const SigV4Request& request, std::string_view access_key_id,
                               std::string_view secret_access_key, std::string_view region) {
  constexpr std::string_view kSignedHeaders = "host;x-amz-content-sha256;x-amz-date";
  const std::string_view date = request.amz_date.substr(0, 8);
  const std::string canonical_request = fmt::format(
      "{}\n{}\n{}\nhost:{}\nx-amz-content-sha256:{}\nx-amz-date:{}\n\n{}\n{}", request.method,
      request.canonical_uri, request.canonical_query, request.host, request.payload_sha256,
      request.amz_date, kSignedHeaders, request.payload_sha256);
  const std::string scope = fmt::format("{}/{}/s3/aws4_request", date, region);
  const std::string string_to_sign = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", request.amz_date,
                                                 scope, Sha256Hex(canonical_request));
  std::string key = HmacSha256(fmt::format("AWS4{}", secret_access_key), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, "s3");
  key = HmacSha256(key, "aws4_request");
  const std::string signature = HexEncode(HmacSha256(key, string_to_sign));
  return fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                     access_key_id, scope, kSignedHeaders, signature);
}

}  // namespace shale::storage::internal
