#include "indexing/wal.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "absl/strings/cord.h"
#include "fmt/format.h"

#include "common/crash_point.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "xxhash.h"

namespace shale::indexing {
namespace {

// Segment header: 8 bytes of magic, u32 format version, u32 reserved (zero). Little-endian.
constexpr char kSegmentMagic[8] = {'S', 'H', 'A', 'L', 'E', 'W', 'A', 'L'};
// Version 2 adds a kind byte in front of every record payload (WalRecordKind); version 3 checks
// records with XXH3 instead of XXH32 (several times faster on a request body). Version 1
// (documents only) and 2 segments are still read; new segments are always version 3.
constexpr uint32_t kSegmentFormatVersion = 3;
constexpr uint32_t kXxh32FormatVersion = 2;
constexpr uint32_t kDocumentsOnlyFormatVersion = 1;
constexpr size_t kSegmentHeaderBytes = 16;
// Record header: u32 payload length, u32 checksum of the payload: the low 32 bits of its
// XXH3-64 (seed 0), or its XXH32 (seed 0) in segments of versions 1 and 2.
constexpr size_t kRecordHeaderBytes = 8;
constexpr uint32_t kMaxRecordPayloadBytes = 1U << 30;
constexpr size_t kSegmentNameDigits = 20;

Counter& CorruptRecords() {
  static Counter& counter = MetricsRegistry::Global().GetCounter(
      "shale_wal_corrupt_records_total",
      "Torn or corrupt WAL records found (and cut off) when opening a WAL");
  return counter;
}

Counter& Fsyncs() {
  static Counter& counter = MetricsRegistry::Global().GetCounter(
      "shale_wal_fsyncs_total",
      "Fsyncs of WAL segments made for durability (shared by group commit)");
  return counter;
}

std::string ErrnoText(int error_number) {
  // strerror is not thread-safe; std::error_code's message is.
  return std::generic_category().message(error_number);
}

absl::Status IoError(std::string_view what, const std::string& path, int error_number) {
  return absl::InternalError(fmt::format("wal {} `{}`: {}", what, path, ErrnoText(error_number)));
}

void PutU32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

uint32_t GetU32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

uint32_t Checksum(uint32_t format_version, std::string_view payload) {
  if (format_version <= kXxh32FormatVersion) return XXH32(payload.data(), payload.size(), 0);
  return static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size()));
}

std::string SegmentHeader() {
  std::string header(kSegmentHeaderBytes, '\0');
  std::memcpy(header.data(), kSegmentMagic, sizeof(kSegmentMagic));
  PutU32(header.data() + 8, kSegmentFormatVersion);
  return header;
}

std::string SegmentName(uint64_t first_position) { return fmt::format("{:020d}", first_position); }

std::optional<uint64_t> ParseSegmentName(const std::string& name) {
  if (name.size() != kSegmentNameDigits) return std::nullopt;
  uint64_t value = 0;
  auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (error != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return value;
}

// Closes the descriptor when the last user lets go (a sync leader may hold it while the active
// segment rolls over).
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open segment", path, errno);
  FileHandle file(fd);
  std::string data;
  char buffer[1 << 16];
  while (data.size() < max_bytes) {
    const size_t want = std::min<uint64_t>(sizeof(buffer), max_bytes - data.size());
    const ssize_t n = ::read(fd, buffer, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read segment", path, errno);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

absl::Status SyncDirectory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", directory, errno);
  FileHandle dir(fd);
  if (::fsync(fd) != 0) return IoError("cannot fsync directory", directory, errno);
  return absl::OkStatus();
}

// Writes the concatenation of `chunks` at `offset`, gathered by pwritev (at most IOV_MAX a
// call), resuming after short writes. On error, `error_number` gets errno.
absl::Status WriteAllGathered(int fd, const std::vector<std::string_view>& chunks, uint64_t offset,
                              const std::string& path, int* error_number) {
  std::vector<iovec> vectors;
  vectors.reserve(std::min<size_t>(chunks.size(), IOV_MAX));
  size_t next = 0;        // first chunk not handed to the kernel yet
  size_t skip_bytes = 0;  // bytes of chunks[next] already written
  while (next < chunks.size()) {
    vectors.clear();
    for (size_t i = next; i < chunks.size() && vectors.size() < IOV_MAX; ++i) {
      const size_t skip = i == next ? skip_bytes : 0;
      vectors.push_back(iovec{const_cast<char*>(chunks[i].data() + skip), chunks[i].size() - skip});
    }
    const ssize_t n =
        ::pwritev(fd, vectors.data(), static_cast<int>(vectors.size()), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error_number = errno;
      return IoError("cannot write segment", path, errno);
    }
    offset += static_cast<uint64_t>(n);
    size_t written = static_cast<size_t>(n);
    while (next < chunks.size() && written >= chunks[next].size() - skip_bytes) {
      written -= chunks[next].size() - skip_bytes;
      skip_bytes = 0;
      ++next;
    }
    skip_bytes += written;
  }
  return absl::OkStatus();
}

// Drops the page cache pages of a segment's first `bytes`, synced to disk: the WAL is read
// back only to recover, so its pages serve nothing once durable. Freed at once, they are the
// pages the next appends are copied into; kept, every append would take fresh pages, which
// cost several times the copy itself on a virtual machine (pages the host must first back)
// and crowd out the splits that searches read. Advice only: a failure changes nothing.
void DropCachedPages(int fd, uint64_t bytes) {
  ::posix_fadvise(fd, 0, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
}

absl::Status WriteAll(int fd, std::string_view data, uint64_t offset, const std::string& path,
                      int* error_number) {
  return WriteAllGathered(fd, {data}, offset, path, error_number);
}

struct Segment {
  uint32_t format_version = kSegmentFormatVersion;
  uint64_t first_position = 0;
  uint64_t end_position = 0;  // one past the last record
  uint64_t size_bytes = 0;    // valid bytes (header + records)
  std::string path;
};

// Parses the records of one segment's bytes. Returns the number of valid bytes; `end_position`
// gets one past the last valid record. `damaged` tells whether bytes past the valid ones exist.
uint64_t ScanRecords(uint32_t format_version, std::string_view data, uint64_t first_position,
                     uint64_t* end_position, bool* damaged) {
  uint64_t offset = kSegmentHeaderBytes;
  uint64_t position = first_position;
  while (offset < data.size()) {
    if (data.size() - offset < kRecordHeaderBytes) break;
    const uint32_t length = GetU32(data.data() + offset);
    const uint32_t checksum = GetU32(data.data() + offset + 4);
    if (length == 0 || length > kMaxRecordPayloadBytes ||
        data.size() - offset - kRecordHeaderBytes < length) {
      break;
    }
    if (Checksum(format_version, data.substr(offset + kRecordHeaderBytes, length)) != checksum) {
      break;
    }
    offset += kRecordHeaderBytes + length;
    ++position;
  }
  *end_position = position;
  *damaged = offset < data.size();
  return offset;
}

class SegmentReader final : public WalReader {
 public:
  SegmentReader(std::vector<Segment> segments, uint64_t from_position)
      : segments_(std::move(segments)), from_position_(from_position) {}

  absl::StatusOr<std::optional<WalRecord>> Next() override {
    while (segment_index_ < segments_.size()) {
      const Segment& segment = segments_[segment_index_];
      if (!loaded_) {
        auto data = ReadWholeFile(segment.path, segment.size_bytes);
        if (!data.ok()) return data.status();
        data_ = std::move(data).value();
        if (data_.size() < segment.size_bytes) {
          return absl::DataLossError(
              fmt::format("wal segment `{}` shrank to {} bytes (expected {})", segment.path,
                          data_.size(), segment.size_bytes));
        }
        loaded_ = true;
        offset_ = kSegmentHeaderBytes;
        position_ = segment.first_position;
      }
      while (offset_ < segment.size_bytes && position_ < segment.end_position) {
        const uint32_t length = GetU32(data_.data() + offset_);
        const uint32_t checksum = GetU32(data_.data() + offset_ + 4);
        if (length == 0 || segment.size_bytes - offset_ - kRecordHeaderBytes < length) {
          return absl::DataLossError(fmt::format("wal segment `{}`: bad record length at offset {}",
                                                 segment.path, offset_));
        }
        std::string_view payload(data_.data() + offset_ + kRecordHeaderBytes, length);
        if (Checksum(segment.format_version, payload) != checksum) {
          return absl::DataLossError(fmt::format("wal segment `{}`: checksum mismatch at offset {}",
                                                 segment.path, offset_));
        }
        const uint64_t position = position_++;
        const uint64_t record_offset = offset_;
        offset_ += kRecordHeaderBytes + length;
        if (position < from_position_) continue;
        WalRecord record{position, WalRecordKind::kDocuments, std::string()};
        if (segment.format_version == kDocumentsOnlyFormatVersion) {
          record.payload = std::string(payload);
          return std::optional<WalRecord>(std::move(record));
        }
        const auto kind = static_cast<uint8_t>(payload[0]);
        if (kind != static_cast<uint8_t>(WalRecordKind::kDocuments) &&
            kind != static_cast<uint8_t>(WalRecordKind::kIdempotencyKey)) {
          return absl::DataLossError(
              fmt::format("wal segment `{}`: unknown record kind {} at offset {}", segment.path,
                          kind, record_offset));
        }
        record.kind = static_cast<WalRecordKind>(kind);
        record.payload = std::string(payload.substr(1));
        return std::optional<WalRecord>(std::move(record));
      }
      ++segment_index_;
      loaded_ = false;
      data_.clear();
    }
    return std::optional<WalRecord>();
  }

 private:
  std::vector<Segment> segments_;
  const uint64_t from_position_;
  size_t segment_index_ = 0;
  bool loaded_ = false;
  std::string data_;
  uint64_t offset_ = 0;
  uint64_t position_ = 0;
};

class FileWal final : public Wal {
 public:
  FileWal(std::string directory, WalOptions options)
      : directory_(std::move(directory)), options_(options) {}

  ~FileWal() override {
    absl::MutexLock lock(&mu_);
    if (!removed_ && options_.disk_budget != nullptr) options_.disk_budget->Release(disk_usage_);
  }

  absl::Status Init() {
    absl::MutexLock lock(&mu_);
    std::error_code error;
    std::filesystem::create_directories(directory_, error);
    if (error) {
      return absl::InternalError(
          fmt::format("wal cannot create directory `{}`: {}", directory_, error.message()));
    }
    std::vector<std::pair<uint64_t, std::string>> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
      const std::string name = entry.path().filename().string();
      std::optional<uint64_t> first = ParseSegmentName(name);
      if (!first.has_value()) continue;
      files.emplace_back(*first, entry.path().string());
    }
    if (error) {
      return absl::InternalError(
          fmt::format("wal cannot list directory `{}`: {}", directory_, error.message()));
    }
    std::sort(files.begin(), files.end());
    uint64_t previous_end = 0;
    for (const auto& [first_position, path] : files) {
      if (first_position < previous_end) {
        return absl::DataLossError(fmt::format(
            "wal segment `{}` overlaps the previous segment (which ends at position {})", path,
            previous_end));
      }
      auto segment = OpenSegment(first_position, path);
      if (!segment.ok()) return segment.status();
      previous_end = segment->end_position;
      disk_usage_ += segment->size_bytes;
      segments_.emplace(first_position, std::move(segment).value());
    }
    // Existing files count against the budget even past its limit (they are acknowledged data);
    // a segment created below reserves its own header.
    if (options_.disk_budget != nullptr) options_.disk_budget->ForceReserve(disk_usage_);
    next_position_ = std::max(previous_end, options_.min_next_position);
    if (!segments_.empty() && segments_.rbegin()->second.format_version != kSegmentFormatVersion &&
        segments_.rbegin()->second.end_position == segments_.rbegin()->second.first_position) {
      // An empty segment of an older version: CreateActiveSegmentLocked below replaces it.
      disk_usage_ -= segments_.rbegin()->second.size_bytes;
      if (options_.disk_budget != nullptr) {
        options_.disk_budget->Release(segments_.rbegin()->second.size_bytes);
      }
      const bool same_name = segments_.rbegin()->first == next_position_;
      if (!same_name && ::unlink(segments_.rbegin()->second.path.c_str()) != 0 && errno != ENOENT) {
        return IoError("cannot delete segment", segments_.rbegin()->second.path, errno);
      }
      segments_.erase(std::prev(segments_.end()));
    }
    // Appends go to a segment of the current version: an older active segment is sealed.
    if (segments_.empty() || segments_.rbegin()->second.end_position < next_position_ ||
        segments_.rbegin()->second.format_version != kSegmentFormatVersion) {
      if (auto status = CreateActiveSegmentLocked(); !status.ok()) return status;
    } else {
      const Segment& active = segments_.rbegin()->second;
      const int fd = ::open(active.path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return IoError("cannot open segment", active.path, errno);
      active_file_ = std::make_shared<FileHandle>(fd);
    }
    synced_end_ = next_position_;
    return SyncDirectory(directory_);
  }

  absl::StatusOr<uint64_t> WriteEntries(const std::vector<WalEntry>& entries) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(UsableLocked());
    uint64_t total_bytes = 0;
    for (const WalEntry& entry : entries) {
      // +1: the kind byte.
      const uint64_t size = entry.payload_size();
      if (size == 0 || size + 1 > kMaxRecordPayloadBytes) {
        return absl::InvalidArgumentError(fmt::format(
            "wal `{}`: record payload of {} bytes is empty or too large", directory_, size));
      }
      total_bytes += kRecordHeaderBytes + 1 + size;
    }
    if (entries.empty()) return next_position_;
    Segment* active = &segments_.rbegin()->second;
    if (active->size_bytes >= options_.max_segment_bytes &&
        active->end_position > active->first_position) {
      if (auto status = RollLocked(/*sync_old=*/true); !status.ok()) return status;
      active = &segments_.rbegin()->second;
    }
    if (options_.disk_budget != nullptr && !options_.disk_budget->TryReserve(total_bytes)) {
      return absl::ResourceExhaustedError(
          fmt::format("ingest queue is full: appending {} bytes to wal `{}` would exceed "
                      "ingest_api.max_queue_disk_usage ({} bytes, {} used)",
                      total_bytes, directory_, options_.disk_budget->limit_bytes(),
                      options_.disk_budget->used_bytes()));
    }
    // Each record: its header and kind byte (9 bytes of `heads`), then its payload's pieces.
    std::vector<char> heads(entries.size() * (kRecordHeaderBytes + 1));
    std::vector<std::string_view> chunks;
    XXH3_state_t* checksum = XXH3_createState();
    for (size_t i = 0; i < entries.size(); ++i) {
      const WalEntry& entry = entries[i];
      char* head = heads.data() + i * (kRecordHeaderBytes + 1);
      head[kRecordHeaderBytes] = static_cast<char>(entry.kind);
      XXH3_64bits_reset(checksum);
      XXH3_64bits_update(checksum, head + kRecordHeaderBytes, 1);
      chunks.emplace_back(head, kRecordHeaderBytes + 1);
      auto add_piece = [&](std::string_view piece) {
        if (piece.empty()) return;
        XXH3_64bits_update(checksum, piece.data(), piece.size());
        chunks.push_back(piece);
      };
      if (entry.pieces.empty()) {
        add_piece(entry.payload);
      } else {
        for (std::string_view piece : entry.pieces) add_piece(piece);
      }
      PutU32(head, static_cast<uint32_t>(entry.payload_size() + 1));
      PutU32(head + 4, static_cast<uint32_t>(XXH3_64bits_digest(checksum)));
    }
    XXH3_freeState(checksum);
    int error_number = 0;
    if (CrashPointReached(kCrashIngestTornWalWrite)) {
      // TEST ONLY: every record but the second half of the last one reaches the file.
      uint64_t keep = total_bytes - (kRecordHeaderBytes + 1 + entries.back().payload_size()) / 2;
      std::vector<std::string_view> torn;
      for (const std::string_view chunk : chunks) {
        torn.push_back(chunk.substr(0, std::min<uint64_t>(chunk.size(), keep)));
        keep -= torn.back().size();
      }
      (void)WriteAllGathered(active_file_->fd(), torn, active->size_bytes, active->path,
                             &error_number);
      CrashNow(kCrashIngestTornWalWrite);
    }
    absl::Status status = WriteAllGathered(active_file_->fd(), chunks, active->size_bytes,
                                           active->path, &error_number);
    if (!status.ok()) {
      if (options_.disk_budget != nullptr) options_.disk_budget->Release(total_bytes);
      // Roll back whatever part of the records reached the file.
      if (::ftruncate(active_file_->fd(), static_cast<off_t>(active->size_bytes)) != 0) {
        failed_ = IoError("cannot roll back a partial write of segment", active->path, errno);
        SHALE_LOG_ERROR("wal failed directory={} error={}", directory_, failed_.ToString());
      }
      if (error_number == ENOSPC || error_number == EDQUOT) {
        absl::Status full = absl::ResourceExhaustedError(
            fmt::format("insufficient storage: cannot append to wal `{}`: {}", directory_,
                        ErrnoText(error_number)));
        full.SetPayload(kInsufficientStoragePayload, absl::Cord("507"));
        return full;
      }
      return status;
    }
    const uint64_t first_position = next_position_;
    active->size_bytes += total_bytes;
    active->end_position += entries.size();
    next_position_ += entries.size();
    disk_usage_ += total_bytes;
    return first_position;
  }

  absl::Status Sync(uint64_t end_position) override {
    if (options_.durability == WalDurability::kAsync) return absl::OkStatus();
    return SyncThrough(end_position);
  }

  absl::Status SyncNow() override {
    uint64_t end_position = 0;
    {
      absl::MutexLock lock(&mu_);
      end_position = next_position_;
    }
    return SyncThrough(end_position);
  }

  absl::StatusOr<std::unique_ptr<WalReader>> ReadFrom(uint64_t position) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(UsableLocked());
    std::vector<Segment> segments;
    for (const auto& [first_position, segment] : segments_) {
      if (segment.end_position > position && segment.end_position > segment.first_position) {
        segments.push_back(segment);
      }
    }
    return std::unique_ptr<WalReader>(
        std::make_unique<SegmentReader>(std::move(segments), position));
  }

  absl::Status TruncateBefore(uint64_t position) override {
    absl::MutexLock lock(&mu_);
    if (removed_) return RemovedError();
    const Segment& active = segments_.rbegin()->second;
    if (active.end_position <= position && active.end_position > active.first_position) {
      // Every record is below `position`: start an empty active segment, the loop deletes the old.
      if (auto status = RollLocked(/*sync_old=*/false); !status.ok()) return status;
    }
    bool deleted = false;
    for (auto it = segments_.begin(); it != segments_.end();) {
      if (std::next(it) == segments_.end() || it->second.end_position > position) break;
      if (::unlink(it->second.path.c_str()) != 0 && errno != ENOENT) {
        return IoError("cannot delete segment", it->second.path, errno);
      }
      disk_usage_ -= it->second.size_bytes;
      if (options_.disk_budget != nullptr) options_.disk_budget->Release(it->second.size_bytes);
      it = segments_.erase(it);
      deleted = true;
    }
    return deleted ? SyncDirectory(directory_) : absl::OkStatus();
  }

  absl::Status Remove() override {
    absl::MutexLock lock(&mu_);
    if (removed_) return absl::OkStatus();
    removed_ = true;
    active_file_.reset();
    segments_.clear();
    if (options_.disk_budget != nullptr) options_.disk_budget->Release(disk_usage_);
    disk_usage_ = 0;
    sync_cv_.SignalAll();
    std::error_code error;
    std::filesystem::remove_all(directory_, error);
    if (error) {
      return absl::InternalError(
          fmt::format("wal cannot remove directory `{}`: {}", directory_, error.message()));
    }
    return absl::OkStatus();
  }

  uint64_t DiskUsageBytes() const override {
    absl::MutexLock lock(&mu_);
    return disk_usage_;
  }

  uint64_t next_position() const override {
    absl::MutexLock lock(&mu_);
    return next_position_;
  }

  const std::string& directory() const override { return directory_; }

 private:
  absl::Status UsableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (removed_) return RemovedError();
    return failed_;
  }

  absl::Status RemovedError() const {
    return absl::FailedPreconditionError(fmt::format("wal `{}` was removed", directory_));
  }

  // Validates one segment file, cutting off a torn or corrupt tail.
  absl::StatusOr<Segment> OpenSegment(uint64_t first_position, const std::string& path) {
    ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path, UINT64_MAX));
    Segment segment;
    segment.first_position = first_position;
    segment.path = path;
    const bool magic_ok = data.size() >= kSegmentHeaderBytes &&
                          std::memcmp(data.data(), kSegmentMagic, sizeof(kSegmentMagic)) == 0;
    if (magic_ok) {
      segment.format_version = GetU32(data.data() + 8);
      if (segment.format_version < kDocumentsOnlyFormatVersion ||
          segment.format_version > kSegmentFormatVersion) {
        // Never rewrite what a newer binary wrote: it holds acknowledged records.
        return absl::FailedPreconditionError(fmt::format(
            "wal segment `{}` has format version {}; this binary reads versions {} to {} "
            "(was it written by a newer shale?)",
            path, segment.format_version, kDocumentsOnlyFormatVersion, kSegmentFormatVersion));
      }
    }
    if (!magic_ok) {
      // A segment is created with its header and fsynced before any record goes in, so a bad
      // header is a torn creation (or foreign bytes): it holds no record we acknowledged.
      if (!data.empty()) {
        CorruptRecords().Increment();
        SHALE_LOG_WARN("wal segment header damaged, rewriting path={} size_bytes={}", path,
                       data.size());
      }
      const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd < 0) return IoError("cannot open segment", path, errno);
      FileHandle file(fd);
      int error_number = 0;
      RETURN_IF_ERROR(WriteAll(fd, SegmentHeader(), 0, path, &error_number));
      if (::fdatasync(fd) != 0) return IoError("cannot fsync segment", path, errno);
      segment.format_version = kSegmentFormatVersion;
      segment.end_position = first_position;
      segment.size_bytes = kSegmentHeaderBytes;
      return segment;
    }
    bool damaged = false;
    segment.size_bytes =
        ScanRecords(segment.format_version, data, first_position, &segment.end_position, &damaged);
    if (damaged) {
      CorruptRecords().Increment();
      SHALE_LOG_WARN(
          "wal segment has a torn or corrupt record, truncating path={} offset={} "
          "dropped_bytes={} kept_records={}",
          path, segment.size_bytes, data.size() - segment.size_bytes,
          segment.end_position - first_position);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return IoError("cannot open segment", path, errno);
      FileHandle file(fd);
      if (::ftruncate(fd, static_cast<off_t>(segment.size_bytes)) != 0) {
        return IoError("cannot truncate segment", path, errno);
      }
      if (::fdatasync(fd) != 0) return IoError("cannot fsync segment", path, errno);
    }
    return segment;
  }

  // Creates and fsyncs an empty segment named next_position_ and makes it the active one.
  absl::Status CreateActiveSegmentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Segment segment;
    segment.first_position = next_position_;
    segment.end_position = next_position_;
    segment.size_bytes = kSegmentHeaderBytes;
    segment.path = (std::filesystem::path(directory_) / SegmentName(next_position_)).string();
    const int fd = ::open(segment.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("cannot create segment", segment.path, errno);
    auto file = std::make_shared<FileHandle>(fd);
    int error_number = 0;
    absl::Status status = WriteAll(fd, SegmentHeader(), 0, segment.path, &error_number);
    if (status.ok() && ::fdatasync(fd) != 0) {
      status = IoError("cannot fsync segment", segment.path, errno);
    }
    if (status.ok()) status = SyncDirectory(directory_);
    if (!status.ok()) {
      ::unlink(segment.path.c_str());
      if (error_number == ENOSPC || error_number == EDQUOT) {
        absl::Status full = absl::ResourceExhaustedError(
            fmt::format("insufficient storage: {}", std::string(status.message())));
        full.SetPayload(kInsufficientStoragePayload, absl::Cord("507"));
        return full;
      }
      return status;
    }
    if (options_.disk_budget != nullptr) options_.disk_budget->ForceReserve(kSegmentHeaderBytes);
    disk_usage_ += kSegmentHeaderBytes;
    active_file_ = std::move(file);
    segments_[segment.first_position] = std::move(segment);
    return absl::OkStatus();
  }

  absl::Status RollLocked(bool sync_old) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (sync_old && ::fdatasync(active_file_->fd()) != 0) {
      failed_ = IoError("cannot fsync segment", segments_.rbegin()->second.path, errno);
      return failed_;
    }
    if (sync_old) DropCachedPages(active_file_->fd(), segments_.rbegin()->second.size_bytes);
    RETURN_IF_ERROR(CreateActiveSegmentLocked());
    synced_end_ = std::max(synced_end_, next_position_);
    return absl::OkStatus();
  }

  absl::Status SyncThrough(uint64_t end_position) {
    absl::MutexLock lock(&mu_);
    while (true) {
      RETURN_IF_ERROR(UsableLocked());
      if (synced_end_ >= end_position) return absl::OkStatus();
      if (sync_in_progress_) {
        sync_cv_.Wait(&mu_);
        continue;
      }
      // Leader: one fdatasync covers every record written so far.
      sync_in_progress_ = true;
      const uint64_t target = next_position_;
      const uint64_t synced_bytes = segments_.rbegin()->second.size_bytes;
      std::shared_ptr<FileHandle> file = active_file_;
      const std::string path = segments_.rbegin()->second.path;
      mu_.Unlock();
      const int rc = ::fdatasync(file->fd());
      Fsyncs().Increment();
      const int error_number = errno;
      if (rc == 0) DropCachedPages(file->fd(), synced_bytes);
      mu_.Lock();
      sync_in_progress_ = false;
      if (rc != 0) {
        failed_ = IoError("cannot fsync segment", path, error_number);
        SHALE_LOG_ERROR("wal failed directory={} error={}", directory_, failed_.ToString());
      } else {
        synced_end_ = std::max(synced_end_, target);
      }
      sync_cv_.SignalAll();
    }
  }

  const std::string directory_;
  const WalOptions options_;
  mutable absl::Mutex mu_;
  absl::CondVar sync_cv_;
  std::map<uint64_t, Segment> segments_ ABSL_GUARDED_BY(mu_);  // by first position
  std::shared_ptr<FileHandle> active_file_ ABSL_GUARDED_BY(mu_);
  uint64_t next_position_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_end_ ABSL_GUARDED_BY(mu_) = 0;
  bool sync_in_progress_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t disk_usage_ ABSL_GUARDED_BY(mu_) = 0;
  bool removed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool WalDiskBudget::TryReserve(uint64_t bytes) {
  uint64_t used = used_bytes_.load();
  while (true) {
    if (used + bytes > limit_bytes_) return false;
    if (used_bytes_.compare_exchange_weak(used, used + bytes)) return true;
  }
}

bool IsInsufficientStorage(const absl::Status& status) {
  return status.GetPayload(kInsufficientStoragePayload).has_value();
}

uint64_t WalEntry::payload_size() const {
  if (pieces.empty()) return payload.size();
  uint64_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  return size;
}

absl::StatusOr<uint64_t> Wal::Write(const std::vector<std::string>& payloads) {
  std::vector<WalEntry> entries;
  entries.reserve(payloads.size());
  for (const std::string& payload : payloads) {
    entries.push_back(WalEntry{WalRecordKind::kDocuments, payload, {}});
  }
  return WriteEntries(entries);
}

absl::StatusOr<uint64_t> Wal::Append(std::string_view payload) {
  auto position = Write({std::string(payload)});
  if (!position.ok()) return position.status();
  absl::Status synced = Sync(*position + 1);
  if (!synced.ok()) return synced;
  return *position;
}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(std::string directory, WalOptions options) {
  auto wal = std::make_unique<FileWal>(std::move(directory), options);
  absl::Status status = wal->Init();
  if (!status.ok()) return status;
  return std::unique_ptr<Wal>(std::move(wal));
}

namespace {
constexpr std::string_view kShardSuffix = ".shard-";
}  // namespace

std::string WalDirectoryForIndex(const std::string& wal_root, const std::string& index_uid,
                                 int shard) {
  std::string name = index_uid;
  std::replace(name.begin(), name.end(), ':', '_');
  if (shard != 0) name += fmt::format("{}{}", kShardSuffix, shard);
  return (std::filesystem::path(wal_root) / name).string();
}

std::pair<std::string, int> ParseWalShardDirectory(const std::string& directory) {
  const size_t suffix = directory.rfind(kShardSuffix);
  if (suffix == std::string::npos) return {directory, 0};
  const std::string_view digits = std::string_view(directory).substr(suffix + kShardSuffix.size());
  int shard = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), shard);
  if (error != std::errc() || end != digits.data() + digits.size() || shard <= 0) {
    return {directory, 0};
  }
  return {directory.substr(0, suffix), shard};
}

std::string WalPositionToCheckpoint(uint64_t position) { return fmt::format("{:020d}", position); }

absl::StatusOr<uint64_t> WalPositionFromCheckpoint(const std::string& checkpoint) {
  if (checkpoint.empty()) return 0;
  uint64_t value = 0;
  auto [end, error] =
      std::from_chars(checkpoint.data(), checkpoint.data() + checkpoint.size(), value);
  if (error != std::errc() || end != checkpoint.data() + checkpoint.size()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid wal checkpoint position `{}`", checkpoint));
  }
  return value;
}

}  // namespace shale::indexing
