// Storage: the one interface through which Shale reads and writes files: splits, metastore
// files, the WAL's remote copies. Implementations: local files, RAM (tests), S3;
// decorators add retries, timeouts, counting, caching and prefixes. Paths are relative to the
// storage's root uri and use '/' separators; they never start with '/' nor contain "..".
//
// Thread safety: every implementation is safe for concurrent use from many threads.
// Atomicity: Put() replaces the whole file atomically: a reader sees either the old or the new
// content, never a mix (local: write to a temp file, fsync, rename, fsync the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/uri.h"

namespace shale::storage {

class Storage {
 public:
  virtual ~Storage() = default;

  // Writes `data` to `path`, creating parent folders, replacing any existing file atomically.
  virtual absl::Status Put(std::string_view path, std::string_view data) = 0;
  // Returns `length` bytes at `offset`. NotFound when the file is missing; OutOfRange when the
  // range ends past the end of the file.
  virtual absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                               uint64_t length) = 0;
  // Returns the whole file. NotFound when missing.
  virtual absl::StatusOr<std::string> GetAll(std::string_view path) = 0;
  // Copies the file to a local path. NotFound when missing.
  virtual absl::Status CopyToFile(std::string_view path,
                                  const std::filesystem::path& local_path) = 0;
  // Deletes the file. Ok when it did not exist.
  virtual absl::Status Delete(std::string_view path) = 0;
  // Deletes every file; ok for missing ones. On failure, the error names the first path that
  // could not be deleted.
  virtual absl::Status BulkDelete(const std::vector<std::string>& paths) = 0;
  // Lists the files whose path starts with `prefix` (recursively), sorted, as paths relative
  // to the root. `prefix` may be empty or partial ("idx/01H"); InvalidArgument when it is
  // absolute or holds "..". Temp files of in-flight Put() calls are never listed.
  virtual absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) = 0;
  virtual absl::StatusOr<bool> Exists(std::string_view path) = 0;
  // Size of the file. NotFound when missing.
  virtual absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) = 0;
  // The root of this storage.
  virtual const Uri& uri() const = 0;
};

// Checks a file path given to a Storage: not empty, relative (no leading '/'), no empty, "." or
// ".." components. InvalidArgument naming the path otherwise.
absl::Status ValidateStoragePath(std::string_view path);

// Local-disk storage rooted at `root` (a file:// uri); creates the root folder.
absl::StatusOr<std::unique_ptr<Storage>> NewLocalStorage(const Uri& root);
// In-memory storage (tests). `root` is a ram:// uri.
std::unique_ptr<Storage> NewRamStorage(const Uri& root);

// Options of the S3 client. A storage-level copy of the node's `storage.s3` config (storage sits
// below config/ and never includes it).
struct S3Options {
  // "http://127.0.0.1:9000" or "https://s3.eu-west-1.amazonaws.com". Empty: AWS for `region`.
  std::string endpoint;
  // Signing region. Empty: us-east-1.
  std::string region;
  // true: http://endpoint/bucket/key (MinIO, s3rver); false: http://bucket.endpoint/key.
  bool force_path_style_access = false;
  // Empty: read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment; when those are
  // unset too, requests are sent unsigned (public buckets).
  std::string access_key_id;
  std::string secret_access_key;
  // Limit on one HTTP request, connection included.
  int64_t request_timeout_ms = 60'000;
  int64_t connect_timeout_ms = 5'000;
  // Put() of bodies larger than this uses a multipart upload with parts of `multipart_part_size`
  // bytes (S3 requires at least 5 MiB for every part but the last).
  uint64_t multipart_threshold = 64ULL << 20;
  uint64_t multipart_part_size = 16ULL << 20;
};

// S3 storage rooted at `root` (s3://bucket or s3://bucket/prefix): objects are named
// `prefix/path`. InvalidArgument for other uris or invalid options. Does no network I/O.
// Errors: NotFound for missing objects, OutOfRange for ranges past the end, PermissionDenied
// for 403, Unavailable for 5xx answers, timeouts and connection failures (retryable); every
// message names the object and the HTTP status.
absl::StatusOr<std::unique_ptr<Storage>> NewS3Storage(const Uri& root, const S3Options& options);

// Resolves uris into storages. RAM storages are shared per uri so tests can reopen them.
// Thread safety: thread-safe.
class StorageResolver {
 public:
  virtual ~StorageResolver() = default;
  // InvalidArgument for protocols that no implementation serves (postgres).
  virtual absl::StatusOr<std::shared_ptr<Storage>> Resolve(const Uri& uri) = 0;
};

// s3:// uris resolve to retrying(counting(S3 storage)) built with `s3_options`, one per uri.
std::unique_ptr<StorageResolver> NewStorageResolver(const S3Options& s3_options);
// Same with default S3Options (AWS endpoints, credentials from the environment).
std::unique_ptr<StorageResolver> NewStorageResolver();

}  // namespace shale::storage
