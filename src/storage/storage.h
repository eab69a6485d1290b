// Storage: the one interface through which Shale reads and writes files: splits, metastore
// files, the WAL's remote copies. Implementations: local files, RAM (tests), S3 (later);
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

// Resolves uris into storages. RAM storages are shared per uri so tests can reopen them.
// Thread safety: thread-safe.
class StorageResolver {
 public:
  virtual ~StorageResolver() = default;
  // InvalidArgument for protocols that no implementation serves (s3 until the storage issue).
  virtual absl::StatusOr<std::shared_ptr<Storage>> Resolve(const Uri& uri) = 0;
};

std::unique_ptr<StorageResolver> NewStorageResolver();

}  // namespace shale::storage
