// Wal: the ingest API's write-ahead log for ONE index (one index uid), stored as a directory of
// segment files. Each record has a kind (the accepted NDJSON lines of (a chunk of) one ingest
// request, or the idempotency key of a request) and a position: a u64 sequence number that
// increases by one per record and never goes back, not even after truncation. Layout:
// docs/format/wal.md (segments of format version 1, documents only, are still read).
//
// Durability: a record is durable once Sync(position + 1) returned ok (fdatasync of the active
// segment). With WalDurability::kAsync, Sync returns at once and the owner calls SyncNow() on a
// timer: a crash loses the records written since the last timer tick.
//
// Group commit: concurrent Sync calls share fsyncs; one caller (the leader) fsyncs everything
// written so far while the others wait for it and return without a syscall of their own.
//
// Recovery: Open validates every record of every segment. A torn or corrupt record ends its
// segment: the records before it are kept, the file is truncated back to the last good record,
// `shale_wal_corrupt_records_total` is incremented, and later segments are kept (so positions
// may have a gap; they never repeat). Garbage is never returned by a reader.
//
// Thread safety: all methods are thread-safe. One process may open a directory at a time.
//
// Invariants:
//  1. Segments are named by the position of their first record; they do not overlap.
//  2. Every record below next_position() that was not truncated away is in exactly one segment.
//  3. Only the last (active) segment is appended to; earlier segments are fsynced and immutable.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/metrics.h"

namespace shale::indexing {

enum class WalDurability {
  kRequest,  // fsync before acknowledging each request (group commit)
  kAsync,    // fsync on a timer; a crash loses up to one timer interval of acknowledged records
};

// A byte budget shared by every WAL of a node (`ingest_api.max_queue_disk_usage`).
// Thread-safe.
class WalDiskBudget {
 public:
  explicit WalDiskBudget(uint64_t limit_bytes) : limit_bytes_(limit_bytes) {}
  WalDiskBudget(const WalDiskBudget&) = delete;
  WalDiskBudget& operator=(const WalDiskBudget&) = delete;

  // Takes `bytes` from the budget if they fit. False (and nothing taken) otherwise.
  bool TryReserve(uint64_t bytes);
  // Takes `bytes` even past the limit (existing files found at start-up).
  void ForceReserve(uint64_t bytes) { used_bytes_.fetch_add(bytes); }
  void Release(uint64_t bytes) { used_bytes_.fetch_sub(bytes); }
  uint64_t used_bytes() const { return used_bytes_.load(); }
  uint64_t limit_bytes() const { return limit_bytes_; }

 private:
  const uint64_t limit_bytes_;
  std::atomic<uint64_t> used_bytes_{0};
};

struct WalOptions {
  WalDurability durability = WalDurability::kRequest;
  // A new segment starts once the active one holds at least this many bytes.
  uint64_t max_segment_bytes = 64ULL << 20;
  // The first position when the directory holds no record; also a floor for next_position()
  // (used with the published checkpoint, so positions never go back).
  uint64_t min_next_position = 0;
  // Not owned; may be null (no limit). Must outlive the Wal.
  WalDiskBudget* disk_budget = nullptr;
};

// Status payload marking a write that failed because the disk is full (ENOSPC / EDQUOT).
inline constexpr char kInsufficientStoragePayload[] = "type.shale.dev/insufficient_storage";
// True for a status carrying kInsufficientStoragePayload (the REST API maps it to 507).
bool IsInsufficientStorage(const absl::Status& status);

// PERSISTED (first payload byte of a version 2 record): never renumber.
enum class WalRecordKind : uint8_t {
  kDocuments = 1,       // NDJSON lines, each followed by '\n'
  kIdempotencyKey = 2,  // the idempotency key of the request whose records follow (JSON)
};

// One record to write. Its payload is `payload`, or, when `pieces` is not empty, the
// concatenation of `pieces`: views the caller keeps alive until WriteEntries returns, so a
// request body's lines reach the file without being copied into a record first.
struct WalEntry {
  WalRecordKind kind = WalRecordKind::kDocuments;
  std::string payload;
  std::vector<std::string_view> pieces;

  uint64_t payload_size() const;
};

// One record read back from the WAL.
struct WalRecord {
  uint64_t position = 0;
  WalRecordKind kind = WalRecordKind::kDocuments;
  std::string payload;
};

// Iterates the records of a Wal from a position, in position order.
class WalReader {
 public:
  virtual ~WalReader() = default;
  // The next record, std::nullopt at the end, DataLoss naming the file and offset if a record
  // that Open validated no longer checks out or has an unknown kind.
  virtual absl::StatusOr<std::optional<WalRecord>> Next() = 0;
};

class Wal {
 public:
  // Opens (creating it if needed) the WAL in `directory`, validating and repairing segments as
  // described above. Internal / Unavailable naming the path on I/O errors; FailedPrecondition
  // naming the segment when its format version is newer than this binary reads.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(std::string directory, WalOptions options);

  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  virtual ~Wal() = default;

  // Writes one record per entry, in order, gathered into as few write calls as the kernel
  // takes (pwritev, no copy of the payloads), and returns the position of
  // the first. Not durable until Sync. REQUIRES: every payload is non-empty.
  // ResourceExhausted naming `ingest_api.max_queue_disk_usage` when the disk budget would be
  // exceeded; ResourceExhausted with kInsufficientStoragePayload on ENOSPC / EDQUOT; Internal on
  // other write errors. On any error nothing was written (a partial write is truncated away).
  virtual absl::StatusOr<uint64_t> WriteEntries(const std::vector<WalEntry>& entries) = 0;
  // WriteEntries of kDocuments records.
  absl::StatusOr<uint64_t> Write(const std::vector<std::string>& payloads);

  // Returns once every record below `end_position` is durable (immediately with kAsync).
  // Internal after an fsync failure; the WAL then refuses further writes (the page cache state
  // is unknown after a failed fsync).
  virtual absl::Status Sync(uint64_t end_position) = 0;

  // Write + Sync of one payload. Returns its position.
  absl::StatusOr<uint64_t> Append(std::string_view payload);

  // Fsyncs the active segment now (the async timer).
  virtual absl::Status SyncNow() = 0;

  // A reader of the records with position >= `position` (and below next_position() at call
  // time).
  virtual absl::StatusOr<std::unique_ptr<WalReader>> ReadFrom(uint64_t position) = 0;

  // Deletes every segment whose records are all below `position`. When that includes the
  // active segment, a new empty active segment named next_position() replaces it.
  virtual absl::Status TruncateBefore(uint64_t position) = 0;

  // Deletes the directory. The Wal refuses every later call with FailedPrecondition.
  virtual absl::Status Remove() = 0;

  virtual uint64_t DiskUsageBytes() const = 0;
  // The position the next record will get.
  virtual uint64_t next_position() const = 0;
  virtual const std::string& directory() const = 0;

 protected:
  Wal() = default;
};

// "{wal_root}/{index_uid with ':' replaced by '_'}" for shard 0 (the ingest pipeline every index
// has), that followed by ".shard-{shard}" for the others.
std::string WalDirectoryForIndex(const std::string& wal_root, const std::string& index_uid,
                                 int shard = 0);
// The directory of shard 0 and the shard of a WAL directory: "{d}.shard-{n}" gives (d, n), any
// other name (d, 0). (A shard 0 name ends with "_{ulid}", so it never looks like a shard's.)
std::pair<std::string, int> ParseWalShardDirectory(const std::string& directory);

// The position as a checkpoint string: 20 digits, zero-padded.
std::string WalPositionToCheckpoint(uint64_t position);
// Inverse of WalPositionToCheckpoint; "" is 0. InvalidArgument on anything else.
absl::StatusOr<uint64_t> WalPositionFromCheckpoint(const std::string& checkpoint);

}  // namespace shale::indexing
