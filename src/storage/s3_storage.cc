// S3 storage: our own small S3 client, AWS Signature V4 over libcurl (see
// docs/adr/003-s3-client.md). Each request uses its own curl easy handle, so the storage is
// thread-safe without locks; curl's global state is initialised once.
//
// Objects are named `prefix/path` inside the bucket of the root uri s3://bucket/prefix.
// Answers are small XML documents, read by plain scanning (internal/s3_util.h).
#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/uri.h"
#include "storage/internal/path.h"
#include "storage/internal/s3_util.h"
#include "storage/storage.h"

namespace shale::storage {
namespace {

using internal::Sha256Hex;
using internal::UriEncode;

constexpr size_t kMaxKeysPerBulkDelete = 1000;
const char* const kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // host[:port]
};

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  const size_t separator = text.find("://");
  if (separator == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("s3 endpoint `{}` has no scheme (expected http:// or https://)", text));
  }
  Endpoint endpoint;
  endpoint.scheme = std::string(text.substr(0, separator));
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return absl::InvalidArgumentError(
        fmt::format("s3 endpoint `{}` must use http or https", text));
  }
  std::string_view host = text.substr(separator + 3);
  host = host.substr(0, host.find('/'));
  if (host.empty()) {
    return absl::InvalidArgumentError(fmt::format("s3 endpoint `{}` has no host", text));
  }
  endpoint.host = std::string(host);
  return endpoint;
}

std::string AmzDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  const size_t size = std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return std::string(buffer, size);
}

// One HTTP request to the bucket.
struct HttpRequest {
  const char* method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string key;             // object key; empty for bucket-level requests
  // (name, value) pairs, unencoded; sorted and encoded when sent.
  std::vector<std::pair<std::string, std::string>> query;
  std::string_view body;
  std::vector<std::string> headers;  // extra unsigned headers, "Name: value"
  // When set, the body of a 2xx answer is written there instead of into HttpResponse::body.
  std::ofstream* sink = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

// Receives body bytes. Runs inside curl_easy_perform().
struct BodySink {
  CURL* handle = nullptr;
  std::string* body = nullptr;
  std::ofstream* file = nullptr;
  bool file_failed = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t num_bytes = size * count;
  long status = 0;
  curl_easy_getinfo(sink->handle, CURLINFO_RESPONSE_CODE, &status);
  if (sink->file != nullptr && status >= 200 && status < 300) {
    sink->file->write(data, static_cast<std::streamsize>(num_bytes));
    if (!*sink->file) {
      sink->file_failed = true;
      return 0;  // aborts the transfer
    }
    return num_bytes;
  }
  sink->body->append(data, num_bytes);
  return num_bytes;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const size_t num_bytes = size * count;
  const std::string_view line(data, num_bytes);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return num_bytes;  // status line or the blank line
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  (*headers)[name] = std::string(value);
  return num_bytes;
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Credentials {
  std::string access_key_id;  // empty: unsigned requests
  std::string secret_access_key;
  std::string region;
};

class S3Storage final : public Storage {
 public:
  S3Storage(Uri uri, std::string bucket, std::string prefix, Endpoint endpoint, S3Options options,
            Credentials credentials)
      : uri_(std::move(uri)),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        endpoint_(std::move(endpoint)),
        options_(std::move(options)),
        credentials_(std::move(credentials)) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    const std::string key = Key(path);
    if (data.size() > options_.multipart_threshold) {
      return PutMultipart(key, data);
    }
    HttpRequest request;
    request.method = "PUT";
    request.key = key;
    request.body = data;
    ASSIGN_OR_RETURN(const HttpResponse response, Send(request));
    return CheckOk(response, "PUT", key);
  }

  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    const std::string key = Key(path);
    if (length == 0 || length > UINT64_MAX - offset) {
      // No byte range expresses these: answer from the object's size.
      ASSIGN_OR_RETURN(const uint64_t size, FileNumBytes(path));
      if (length == 0 && offset <= size) {
        return std::string();
      }
      return RangeError(key, offset, length, std::to_string(size));
    }
    HttpRequest request;
    request.key = key;
    request.headers.push_back(fmt::format("Range: bytes={}-{}", offset, offset + length - 1));
    ASSIGN_OR_RETURN(HttpResponse response, Send(request));
    if (response.status == 416) {
      return RangeError(key, offset, length, "fewer");
    }
    RETURN_IF_ERROR(CheckOk(response, "GET", key));
    if (response.status == 200) {
      // The server ignored the range and sent the whole object.
      if (offset + length > response.body.size()) {
        return RangeError(key, offset, length, std::to_string(response.body.size()));
      }
      return response.body.substr(offset, length);
    }
    if (response.body.size() != length) {
      // S3 truncates ranges that end past the end of the object.
      return RangeError(key, offset, length, "fewer");
    }
    return std::move(response.body);
  }

  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    HttpRequest request;
    request.key = Key(path);
    ASSIGN_OR_RETURN(HttpResponse response, Send(request));
    RETURN_IF_ERROR(CheckOk(response, "GET", request.key));
    return std::move(response.body);
  }

  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    // Download next to the target, then rename: a failed download leaves no partial file.
    std::filesystem::path temp_path = local_path;
    temp_path += ".shale-download";
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::FailedPreconditionError(fmt::format("failed to create `{}`: {}",
                                                       temp_path.string(), std::strerror(errno)));
    }
    HttpRequest request;
    request.key = Key(path);
    request.sink = &out;
    absl::StatusOr<HttpResponse> response = Send(request);
    out.close();
    absl::Status status = response.ok() ? CheckOk(*response, "GET", request.key)
                                        : response.status();
    if (status.ok() && !out) {
      status = absl::InternalError(fmt::format("failed to write `{}`", temp_path.string()));
    }
    std::error_code error;
    if (status.ok()) {
      std::filesystem::rename(temp_path, local_path, error);
      if (error) {
        status = absl::InternalError(fmt::format("failed to rename `{}` to `{}`: {}",
                                                 temp_path.string(), local_path.string(),
                                                 error.message()));
      }
    }
    if (!status.ok()) {
      std::filesystem::remove(temp_path, error);
    }
    return status;
  }

  absl::Status Delete(std::string_view path) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    HttpRequest request;
    request.method = "DELETE";
    request.key = Key(path);
    ASSIGN_OR_RETURN(const HttpResponse response, Send(request));
    if (response.status == 404) {
      return absl::OkStatus();
    }
    return CheckOk(response, "DELETE", request.key);
  }

  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    for (const std::string& path : paths) {
      RETURN_IF_ERROR(ValidateStoragePath(path));
    }
    for (size_t begin = 0; begin < paths.size(); begin += kMaxKeysPerBulkDelete) {
      const size_t end = std::min(paths.size(), begin + kMaxKeysPerBulkDelete);
      std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
      for (size_t i = begin; i < end; ++i) {
        xml += fmt::format("<Object><Key>{}</Key></Object>", internal::XmlEscape(Key(paths[i])));
      }
      xml += "</Delete>";
      HttpRequest request;
      request.method = "POST";
      request.query = {{"delete", ""}};
      request.body = xml;
      request.headers.push_back(fmt::format("Content-MD5: {}", internal::Md5Base64(xml)));
      request.headers.emplace_back("Content-Type: application/xml");
      ASSIGN_OR_RETURN(const HttpResponse response, Send(request));
      RETURN_IF_ERROR(CheckOk(response, "bulk DELETE", Key(paths[begin])));
      // Quiet mode lists only the keys that failed.
      for (const std::string_view error : internal::XmlRawElements(response.body, "Error")) {
        const std::string code = internal::XmlFirstText(error, "Code").value_or("");
        if (code == "NoSuchKey") {
          continue;
        }
        const std::string key = internal::XmlFirstText(error, "Key").value_or("?");
        const std::string message = internal::XmlFirstText(error, "Message").value_or("");
        const std::string text = fmt::format("s3 bulk delete of `{}` failed: {} {}",
                                             ObjectUri(key), code, message);
        if (code == "AccessDenied") {
          return absl::PermissionDeniedError(text);
        }
        if (code == "InternalError" || code == "SlowDown" || code == "ServiceUnavailable") {
          return absl::UnavailableError(text);
        }
        return absl::InternalError(text);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    RETURN_IF_ERROR(internal::ValidateListPrefix(prefix));
    const std::string key_prefix = prefix_.empty() ? std::string(prefix)
                                                   : fmt::format("{}/{}", prefix_, prefix);
    const size_t strip = prefix_.empty() ? 0 : prefix_.size() + 1;
    std::vector<std::string> paths;
    std::optional<std::string> continuation_token;
    while (true) {
      HttpRequest request;
      request.query = {{"list-type", "2"}, {"prefix", key_prefix}};
      if (continuation_token.has_value()) {
        request.query.emplace_back("continuation-token", *continuation_token);
      }
      ASSIGN_OR_RETURN(const HttpResponse response, Send(request));
      RETURN_IF_ERROR(CheckOk(response, "LIST", key_prefix));
      for (const std::string_view contents : internal::XmlRawElements(response.body, "Contents")) {
        std::optional<std::string> key = internal::XmlFirstText(contents, "Key");
        if (!key.has_value() || key->size() <= strip || key->back() == '/') {
          continue;  // "folder" markers made by other tools
        }
        paths.push_back(key->substr(strip));
      }
      const bool truncated = internal::XmlFirstText(response.body, "IsTruncated") == "true";
      continuation_token = internal::XmlFirstText(response.body, "NextContinuationToken");
      if (!truncated) {
        break;
      }
      if (!continuation_token.has_value() || continuation_token->empty()) {
        return absl::InternalError(fmt::format(
            "s3 LIST of `{}` is truncated but has no continuation token", ObjectUri(key_prefix)));
      }
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  absl::StatusOr<bool> Exists(std::string_view path) override {
    ASSIGN_OR_RETURN(const HttpResponse response, Head(path));
    if (response.status == 404) {
      return false;
    }
    RETURN_IF_ERROR(CheckOk(response, "HEAD", Key(path)));
    return true;
  }

  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    ASSIGN_OR_RETURN(const HttpResponse response, Head(path));
    const std::string key = Key(path);
    RETURN_IF_ERROR(CheckOk(response, "HEAD", key));
    const auto it = response.headers.find("content-length");
    if (it == response.headers.end()) {
      return absl::InternalError(
          fmt::format("s3 HEAD of `{}` has no Content-Length", ObjectUri(key)));
    }
    char* end = nullptr;
    errno = 0;
    const unsigned long long size = std::strtoull(it->second.c_str(), &end, 10);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') {
      return absl::InternalError(fmt::format("s3 HEAD of `{}` has an invalid Content-Length `{}`",
                                             ObjectUri(key), it->second));
    }
    return static_cast<uint64_t>(size);
  }

  const Uri& uri() const override { return uri_; }

 private:
  // Sends a HEAD for `path`; the caller interprets the status (404 included).
  absl::StatusOr<HttpResponse> Head(std::string_view path) const {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    HttpRequest request;
    request.method = "HEAD";
    request.key = Key(path);
    return Send(request);
  }

  std::string Key(std::string_view path) const {
    return prefix_.empty() ? std::string(path) : fmt::format("{}/{}", prefix_, path);
  }

  std::string ObjectUri(std::string_view key) const {
    return fmt::format("s3://{}/{}", bucket_, key);
  }

  absl::Status RangeError(std::string_view key, uint64_t offset, uint64_t length,
                          std::string_view size) const {
    return absl::OutOfRangeError(
        fmt::format("range [{}, +{}) of `{}` ends past the end of the file ({} bytes)", offset,
                    length, ObjectUri(key), size));
  }

  // Maps a non-2xx answer to a status naming the operation, the object and the HTTP status.
  absl::Status CheckOk(const HttpResponse& response, std::string_view operation,
                       std::string_view key) const {
    if (response.status >= 200 && response.status < 300) {
      // CompleteMultipartUpload may fail with a 200 whose body is an <Error>.
      if (!response.body.starts_with("<?xml") ||
          response.body.find("<Error>") == std::string::npos || operation == "GET") {
        return absl::OkStatus();
      }
    }
    const std::string code = internal::XmlFirstText(response.body, "Code").value_or("");
    const std::string message = internal::XmlFirstText(response.body, "Message").value_or("");
    const std::string text =
        fmt::format("s3 {} of `{}` failed: http {}{}{}", operation, ObjectUri(key),
                    response.status, code.empty() ? "" : " ", code,
                    message.empty() ? "" : fmt::format(": {}", message));
    const long status = response.status;
    if (status == 404) {
      return absl::NotFoundError(fmt::format("file `{}` not found ({})", ObjectUri(key), text));
    }
    if (status == 416) {
      return absl::OutOfRangeError(text);
    }
    if (status == 401 || status == 403) {
      return absl::PermissionDeniedError(text);
    }
    if (status == 408 || status == 429 || status >= 500 || code == "RequestTimeout" ||
        code == "SlowDown" || code == "InternalError") {
      return absl::UnavailableError(text);
    }
    if (status == 400) {
      return absl::InvalidArgumentError(text);
    }
    if (status == 409 || status == 412) {
      return absl::FailedPreconditionError(text);
    }
    return absl::InternalError(text);
  }

  absl::Status PutMultipart(const std::string& key, std::string_view data) {
    HttpRequest create;
    create.method = "POST";
    create.key = key;
    create.query = {{"uploads", ""}};
    ASSIGN_OR_RETURN(const HttpResponse created, Send(create));
    RETURN_IF_ERROR(CheckOk(created, "CreateMultipartUpload", key));
    const std::optional<std::string> upload_id = internal::XmlFirstText(created.body, "UploadId");
    if (!upload_id.has_value() || upload_id->empty()) {
      return absl::InternalError(
          fmt::format("s3 CreateMultipartUpload of `{}` returned no UploadId", ObjectUri(key)));
    }
    absl::Status status = UploadPartsAndComplete(key, *upload_id, data);
    if (!status.ok()) {
      // Best effort: the bucket's lifecycle rules clean up what an abort could not.
      HttpRequest abort;
      abort.method = "DELETE";
      abort.key = key;
      abort.query = {{"uploadId", *upload_id}};
      (void)Send(abort);
    }
    return status;
  }

  absl::Status UploadPartsAndComplete(const std::string& key, const std::string& upload_id,
                                      std::string_view data) {
    const uint64_t part_size = std::max<uint64_t>(options_.multipart_part_size, 1);
    std::string complete = "<CompleteMultipartUpload>";
    int part_number = 1;
    for (uint64_t offset = 0; offset < data.size(); offset += part_size, ++part_number) {
      HttpRequest part;
      part.method = "PUT";
      part.key = key;
      part.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
      part.body = data.substr(offset, part_size);
      ASSIGN_OR_RETURN(const HttpResponse uploaded, Send(part));
      RETURN_IF_ERROR(CheckOk(uploaded, fmt::format("UploadPart {}", part_number), key));
      const auto etag = uploaded.headers.find("etag");
      if (etag == uploaded.headers.end()) {
        return absl::InternalError(fmt::format("s3 UploadPart {} of `{}` returned no ETag",
                                               part_number, ObjectUri(key)));
      }
      complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                              part_number, internal::XmlEscape(etag->second));
    }
    complete += "</CompleteMultipartUpload>";
    HttpRequest request;
    request.method = "POST";
    request.key = key;
    request.query = {{"uploadId", upload_id}};
    request.body = complete;
    request.headers.emplace_back("Content-Type: application/xml");
    ASSIGN_OR_RETURN(const HttpResponse response, Send(request));
    return CheckOk(response, "CompleteMultipartUpload", key);
  }

  // Sends one signed request. Transport failures (connection refused, timeouts, resets) are
  // Unavailable; any HTTP answer is returned for the caller to map.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) const {
    const std::string encoded_key = UriEncode(request.key, /*keep_slash=*/true);
    std::string host = endpoint_.host;
    std::string canonical_uri;
    if (options_.force_path_style_access) {
      canonical_uri = encoded_key.empty() ? fmt::format("/{}", bucket_)
                                          : fmt::format("/{}/{}", bucket_, encoded_key);
    } else {
      host = fmt::format("{}.{}", bucket_, endpoint_.host);
      canonical_uri = fmt::format("/{}", encoded_key);
    }
    std::vector<std::pair<std::string, std::string>> query;
    query.reserve(request.query.size());
    for (const auto& [name, value] : request.query) {
      query.emplace_back(UriEncode(name, false), UriEncode(value, false));
    }
    std::sort(query.begin(), query.end());
    std::string canonical_query;
    for (const auto& [name, value] : query) {
      canonical_query += fmt::format("{}{}={}", canonical_query.empty() ? "" : "&", name, value);
    }
    const std::string url =
        fmt::format("{}://{}{}{}{}", endpoint_.scheme, host, canonical_uri,
                    canonical_query.empty() ? "" : "?", canonical_query);

    const std::string payload_sha256 = request.body.empty() ? kEmptySha256
                                                            : Sha256Hex(request.body);
    const std::string amz_date = AmzDateNow();
    std::vector<std::string> headers = request.headers;
    headers.push_back(fmt::format("Host: {}", host));
    headers.push_back(fmt::format("x-amz-date: {}", amz_date));
    headers.push_back(fmt::format("x-amz-content-sha256: {}", payload_sha256));
    headers.emplace_back("Expect:");  // no 100-continue round trip
    if (std::string_view(request.method) == "PUT" || std::string_view(request.method) == "POST") {
      const bool has_content_type =
          std::any_of(request.headers.begin(), request.headers.end(),
                      [](const std::string& header) { return header.starts_with("Content-Type:"); });
      if (!has_content_type) {
        headers.emplace_back("Content-Type: application/octet-stream");
      }
    }
    if (!credentials_.access_key_id.empty()) {
      const internal::SigV4Request to_sign{request.method, host,           canonical_uri,
                                           canonical_query, payload_sha256, amz_date};
      headers.push_back(fmt::format(
          "Authorization: {}",
          internal::SigV4Authorization(to_sign, credentials_.access_key_id,
                                       credentials_.secret_access_key, credentials_.region)));
    }

    std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
    if (handle == nullptr) {
      return absl::ResourceExhaustedError("failed to create a curl handle");
    }
    std::unique_ptr<curl_slist, CurlListDeleter> header_list;
    for (const std::string& header : headers) {
      curl_slist* appended = curl_slist_append(header_list.get(), header.c_str());
      if (appended == nullptr) {
        return absl::ResourceExhaustedError("failed to build curl headers");
      }
      (void)header_list.release();
      header_list.reset(appended);
    }
    HttpResponse response;
    BodySink sink{handle.get(), &response.body, request.sink, false};
    CURL* curl = handle.get();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    const std::string_view method = request.method;
    if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT" || method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
    } else if (method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
    }
    const CURLcode code = curl_easy_perform(curl);
    if (sink.file_failed) {
      return absl::InternalError(fmt::format("failed to write the download of `{}`: {}",
                                             ObjectUri(request.key), std::strerror(errno)));
    }
    if (code != CURLE_OK) {
      return absl::UnavailableError(fmt::format("s3 {} of `{}` failed: {} (endpoint {})", method,
                                                ObjectUri(request.key), curl_easy_strerror(code),
                                                endpoint_.host));
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

  const Uri uri_;
  const std::string bucket_;
  const std::string prefix_;  // without leading or trailing '/'; may be empty
  const Endpoint endpoint_;
  const S3Options options_;
  const Credentials credentials_;
};

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only use
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> NewS3Storage(const Uri& root, const S3Options& options) {
  if (root.protocol() != Uri::Protocol::kS3) {
    return absl::InvalidArgumentError(
        fmt::format("uri `{}` is not an s3:// uri", root.str()));
  }
  std::string_view bucket_and_prefix = root.path();
  while (bucket_and_prefix.ends_with('/')) {
    bucket_and_prefix.remove_suffix(1);
  }
  const size_t slash = bucket_and_prefix.find('/');
  const std::string bucket(bucket_and_prefix.substr(0, slash));
  const std::string prefix(slash == std::string_view::npos ? std::string_view()
                                                           : bucket_and_prefix.substr(slash + 1));
  if (bucket.empty()) {
    return absl::InvalidArgumentError(fmt::format("s3 uri `{}` has no bucket", root.str()));
  }
  if (!prefix.empty()) {
    const absl::Status prefix_status = ValidateStoragePath(prefix);
    if (!prefix_status.ok()) {
      return absl::InvalidArgumentError(fmt::format("s3 uri `{}` has an invalid prefix: {}",
                                                    root.str(),
                                                    std::string(prefix_status.message())));
    }
  }
  const std::string region = options.region.empty() ? "us-east-1" : options.region;
  const std::string endpoint_text = options.endpoint.empty()
                                        ? fmt::format("https://s3.{}.amazonaws.com", region)
                                        : options.endpoint;
  ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(endpoint_text));
  Credentials credentials{options.access_key_id, options.secret_access_key, region};
  if (credentials.access_key_id.empty()) {
    credentials.access_key_id = GetEnv("AWS_ACCESS_KEY_ID");
    credentials.secret_access_key = GetEnv("AWS_SECRET_ACCESS_KEY");
  }
  if (!credentials.access_key_id.empty() && credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("s3 storage `{}` has an access key id but no secret access key", root.str()));
  }
  static std::once_flag curl_initialized;
  std::call_once(curl_initialized, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::make_unique<S3Storage>(root, bucket, prefix, std::move(endpoint), options,
                                     std::move(credentials));
}

}  // namespace shale::storage
