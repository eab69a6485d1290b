// Local-disk Storage. Every path is resolved under the root folder; Put() writes a temp file next
// to the target, fsyncs it, renames it over the target and fsyncs the folder, so a crash leaves
// either the old or the new file. Temp files carry kTempMarker in their name and List() hides
// them. The class keeps no mutable state besides the root, so it is thread-safe without locks.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "storage/internal/path.h"
#include "storage/storage.h"

namespace shale::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTempMarker = ".shale-tmp-";
constexpr size_t kCopyBufferSize = 1 << 20;

// strerror() is not thread-safe; the GNU strerror_r returns a pointer to the message.
std::string ErrnoMessage(int error_number) {
  char buffer[256];
  return std::string(strerror_r(error_number, buffer, sizeof(buffer)));
}

absl::Status ErrnoToStatus(int error_number, std::string_view action, const fs::path& path) {
  const std::string message =
      fmt::format("failed to {} `{}`: {}", action, path.string(), ErrnoMessage(error_number));
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// Closes a file descriptor when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  // Closes now and reports the error (close can report a deferred write error).
  int Close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

int OpenRetrying(const fs::path& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Writes `data` at `offset` of the file.
absl::Status WriteAll(int fd, std::string_view data, size_t offset, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t written = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoToStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(written));
    offset += static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Writes the first bytes of a large `data`, a whole number of pages, through a second, O_DIRECT
// descriptor on `path`, each piece copied first into a page-aligned buffer of the calling
// thread's (kept hot in the CPU caches and reused), and returns how many it wrote: the caller
// writes the rest through the page cache. The bytes reach the device without being copied into
// fresh page cache pages, which costs more CPU than the device write itself, and fill no page
// cache with a file that is written once and then read by byte ranges. None are written when
// `data` is small or when the file system refuses direct I/O (tmpfs).
// REQUIRES: the file at `path` is empty.
absl::StatusOr<size_t> WriteDirectPrefix(std::string_view data, const fs::path& path) {
  constexpr size_t kAlignment = 4096;
  constexpr size_t kMinBytes = size_t{4} << 20;
  constexpr size_t kBufferBytes = size_t{2} << 20;
  if (data.size() < kMinBytes) return 0;
  const int fd = OpenRetrying(path, O_WRONLY | O_DIRECT);
  if (fd < 0) return 0;  // EINVAL: no direct I/O on this file system
  ScopedFd file(fd);
  struct AlignedFree {
    void operator()(char* buffer) const {
      ::operator delete[](buffer, std::align_val_t{kAlignment});
    }
  };
  thread_local std::unique_ptr<char[], AlignedFree> buffer(
      static_cast<char*>(::operator new[](kBufferBytes, std::align_val_t{kAlignment})));
  const size_t direct_bytes = data.size() / kAlignment * kAlignment;
  size_t done = 0;
  while (done < direct_bytes) {
    const size_t piece = std::min(kBufferBytes, direct_bytes - done);
    std::memcpy(buffer.get(), data.data() + done, piece);
    size_t piece_done = 0;
    while (piece_done < piece) {
      const ssize_t written = ::pwrite(fd, buffer.get() + piece_done, piece - piece_done,
                                       static_cast<off_t>(done + piece_done));
      if (written < 0) {
        if (errno == EINTR) continue;
        // Refused before anything was written: the buffered write takes all of it.
        if (errno == EINVAL && done == 0 && piece_done == 0) return 0;
        return ErrnoToStatus(errno, "write", path);
      }
      piece_done += static_cast<size_t>(written);
      // A short write may end off the alignment: the buffered write takes the rest.
      if (piece_done % kAlignment != 0) break;
    }
    done += piece_done;
    if (piece_done != piece) break;
  }
  if (file.Close() != 0) return ErrnoToStatus(errno, "close", path);
  return done;
}

absl::Status FsyncFolder(const fs::path& folder) {
  const int fd = OpenRetrying(folder, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    return ErrnoToStatus(errno, "open folder", folder);
  }
  ScopedFd closer(fd);
  if (::fsync(fd) != 0) {
    return ErrnoToStatus(errno, "fsync folder", folder);
  }
  return absl::OkStatus();
}

absl::Status CreateFolders(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  // Another thread may have created it concurrently; only a missing folder is a failure.
  if (error && !fs::is_directory(folder)) {
    return ErrnoToStatus(error.value(), "create folder", folder);
  }
  return absl::OkStatus();
}

class LocalStorage final : public Storage {
 public:
  LocalStorage(Uri uri, fs::path root) : uri_(std::move(uri)), root_(std::move(root)) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    const fs::path folder = full_path.parent_path();
    RETURN_IF_ERROR(CreateFolders(folder));
    const fs::path temp_path =
        folder / fmt::format("{}{}{}", full_path.filename().string(), kTempMarker, NewUlid());
    const int fd = OpenRetrying(temp_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
      return ErrnoToStatus(errno, "create", temp_path);
    }
    ScopedFd file(fd);
    const absl::StatusOr<size_t> direct_bytes = WriteDirectPrefix(data, temp_path);
    absl::Status status = direct_bytes.status();
    if (status.ok()) status = WriteAll(fd, data.substr(*direct_bytes), *direct_bytes, temp_path);
    if (status.ok() && ::fsync(fd) != 0) {
      status = ErrnoToStatus(errno, "fsync", temp_path);
    }
    if (status.ok() && file.Close() != 0) {
      status = ErrnoToStatus(errno, "close", temp_path);
    }
    if (status.ok() && ::rename(temp_path.c_str(), full_path.c_str()) != 0) {
      status = ErrnoToStatus(errno, "rename temp file onto", full_path);
    }
    if (!status.ok()) {
      ::unlink(temp_path.c_str());
      return status;
    }
    return FsyncFolder(folder);
  }

  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    const int fd = OpenRetrying(full_path, O_RDONLY);
    if (fd < 0) {
      return ErrnoToStatus(errno, "open", full_path);
    }
    ScopedFd file(fd);
    ASSIGN_OR_RETURN(const uint64_t file_size, SizeOfOpenFile(fd, full_path));
    if (offset > file_size || length > file_size - offset) {
      return absl::OutOfRangeError(
          fmt::format("range [{}, {}) of `{}` ends past the end of the file ({} bytes)", offset,
                      offset + length, full_path.string(), file_size));
    }
    return ReadAt(fd, offset, length, full_path);
  }

  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    const int fd = OpenRetrying(full_path, O_RDONLY);
    if (fd < 0) {
      return ErrnoToStatus(errno, "open", full_path);
    }
    ScopedFd file(fd);
    ASSIGN_OR_RETURN(const uint64_t file_size, SizeOfOpenFile(fd, full_path));
    return ReadAt(fd, 0, file_size, full_path);
  }

  absl::Status CopyToFile(std::string_view path, const fs::path& local_path) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    const int source_fd = OpenRetrying(full_path, O_RDONLY);
    if (source_fd < 0) {
      return ErrnoToStatus(errno, "open", full_path);
    }
    ScopedFd source(source_fd);
    ASSIGN_OR_RETURN(const uint64_t file_size, SizeOfOpenFile(source_fd, full_path));
    const int target_fd = OpenRetrying(local_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (target_fd < 0) {
      // The target's parent folder is missing: that is a caller error, not a missing source.
      if (errno == ENOENT) {
        return absl::FailedPreconditionError(
            fmt::format("failed to create `{}`: {}", local_path.string(), ErrnoMessage(ENOENT)));
      }
      return ErrnoToStatus(errno, "create", local_path);
    }
    ScopedFd target(target_fd);
    uint64_t offset = 0;
    while (offset < file_size) {
      const uint64_t chunk = std::min<uint64_t>(kCopyBufferSize, file_size - offset);
      ASSIGN_OR_RETURN(const std::string bytes, ReadAt(source_fd, offset, chunk, full_path));
      RETURN_IF_ERROR(WriteAll(target_fd, bytes, offset, local_path));
      offset += chunk;
    }
    if (target.Close() != 0) {
      return ErrnoToStatus(errno, "close", local_path);
    }
    return absl::OkStatus();
  }

  absl::Status Delete(std::string_view path) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    if (::unlink(full_path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
      return ErrnoToStatus(errno, "delete", full_path);
    }
    return absl::OkStatus();
  }

  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    // Validate everything first so an invalid path deletes nothing.
    for (const std::string& path : paths) {
      RETURN_IF_ERROR(ValidateStoragePath(path));
    }
    for (const std::string& path : paths) {
      RETURN_IF_ERROR(Delete(path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    RETURN_IF_ERROR(internal::ValidateListPrefix(prefix));
    // Walk only the deepest folder the prefix names, e.g. "a/b/" for "a/b/c".
    const size_t last_slash = prefix.rfind('/');
    const std::string start_folder =
        last_slash == std::string_view::npos ? "" : std::string(prefix.substr(0, last_slash));
    std::vector<std::string> paths;
    RETURN_IF_ERROR(ListFolder(start_folder, prefix, paths));
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  absl::StatusOr<bool> Exists(std::string_view path) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    struct stat info;
    if (::stat(full_path.c_str(), &info) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return false;
      }
      return ErrnoToStatus(errno, "stat", full_path);
    }
    return S_ISREG(info.st_mode);
  }

  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    ASSIGN_OR_RETURN(const fs::path full_path, Resolve(path));
    struct stat info;
    if (::stat(full_path.c_str(), &info) != 0) {
      return ErrnoToStatus(errno, "stat", full_path);
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::NotFoundError(fmt::format("`{}` is not a file", full_path.string()));
    }
    return static_cast<uint64_t>(info.st_size);
  }

  const Uri& uri() const override { return uri_; }

 private:
  absl::StatusOr<fs::path> Resolve(std::string_view path) const {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    return root_ / fs::path(std::string(path));
  }

  static absl::StatusOr<uint64_t> SizeOfOpenFile(int fd, const fs::path& path) {
    struct stat info;
    if (::fstat(fd, &info) != 0) {
      return ErrnoToStatus(errno, "stat", path);
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::NotFoundError(fmt::format("`{}` is not a file", path.string()));
    }
    return static_cast<uint64_t>(info.st_size);
  }

  static absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, uint64_t length,
                                            const fs::path& path) {
    std::string bytes(length, '\0');
    uint64_t done = 0;
    while (done < length) {
      const ssize_t read =
          ::pread(fd, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (read < 0) {
        if (errno == EINTR) {
          continue;
        }
        return ErrnoToStatus(errno, "read", path);
      }
      if (read == 0) {
        return absl::OutOfRangeError(fmt::format("`{}` ended at offset {} while reading [{}, {})",
                                                 path.string(), offset + done, offset,
                                                 offset + length));
      }
      done += static_cast<uint64_t>(read);
    }
    return bytes;
  }

  // Appends to `paths` the files under `relative_folder` (recursively) whose relative path
  // starts with `prefix`. Folders that vanish during the walk (concurrent deletes) are skipped.
  absl::Status ListFolder(const std::string& relative_folder, std::string_view prefix,
                          std::vector<std::string>& paths) const {
    const fs::path folder = relative_folder.empty() ? root_ : root_ / relative_folder;
    std::error_code error;
    fs::directory_iterator it(folder, error);
    if (error) {
      if (error.value() == ENOENT || error.value() == ENOTDIR) {
        return absl::OkStatus();
      }
      return ErrnoToStatus(error.value(), "list", folder);
    }
    for (; it != fs::directory_iterator(); it.increment(error)) {
      if (error) {
        break;
      }
      const std::string name = it->path().filename().string();
      const std::string relative =
          relative_folder.empty() ? name : fmt::format("{}/{}", relative_folder, name);
      std::error_code status_error;
      const bool is_folder = it->is_directory(status_error);
      if (status_error) {
        continue;  // vanished meanwhile
      }
      if (is_folder) {
        // Descend only if the folder can hold a path with this prefix.
        const std::string folder_prefix = relative + "/";
        const bool may_match = folder_prefix.size() >= prefix.size()
                                   ? std::string_view(folder_prefix).starts_with(prefix)
                                   : prefix.starts_with(folder_prefix);
        if (may_match) {
          RETURN_IF_ERROR(ListFolder(relative, prefix, paths));
        }
        continue;
      }
      if (name.find(kTempMarker) != std::string::npos) {
        continue;
      }
      if (std::string_view(relative).starts_with(prefix)) {
        paths.push_back(relative);
      }
    }
    if (error && error.value() != ENOENT) {
      return ErrnoToStatus(error.value(), "list", folder);
    }
    return absl::OkStatus();
  }

  const Uri uri_;
  const fs::path root_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> NewLocalStorage(const Uri& root) {
  if (root.protocol() != Uri::Protocol::kFile) {
    return absl::InvalidArgumentError(
        fmt::format("local storage needs a file:// uri, got `{}`", root.str()));
  }
  const fs::path root_path(root.path());
  RETURN_IF_ERROR(CreateFolders(root_path));
  return std::unique_ptr<Storage>(std::make_unique<LocalStorage>(root, root_path));
}

}  // namespace shale::storage
