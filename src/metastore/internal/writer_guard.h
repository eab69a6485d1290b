// The single-writer guard of the file-backed metastore (docs/format/metastore.md, "Writers";
// docs/adr/005-metastore-single-writer-guard.md). A file-backed metastore allows ONE writer
// process per root; this guard makes a second writer fail loudly instead of silently
// overwriting what the first one wrote. Two mechanisms, since Storage has no conditional Put:
//
//  1. A writer lease, `_writer_lease.json` at the metastore root, naming the writer (a random
//     id per metastore instance, its node id and pid). Before every write the writer reads it:
//     its own lease is renewed when a third of its ttl has passed; a lease of another node that
//     was renewed less than its ttl ago refuses the write; an absent or expired lease, or one of
//     an earlier process of the same node id (a restart), is taken over, then read back.
//  2. Version checks: before replacing a file, the writer reads it back and compares it, byte
//     for byte, with the content it last read or wrote. Any difference means another writer
//     changed it: the write is refused.
//
// Residual race (both mechanisms are read-then-write, not atomic): two writers that take the
// lease within one round trip of each other, or a writer stalled for longer than the lease ttl
// between its checks and its Put, can still overwrite each other once; the loser's next write
// then fails its version check. See the ADR.
//
// Thread safety: WriterLease is thread-safe. The file helpers are not: callers serialize the
// calls for one file (the metastore holds that file's mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "nlohmann/json.hpp"
#include "storage/storage.h"

namespace shale::metastore::internal {

inline constexpr std::string_view kWriterLeasePath = "_writer_lease.json";

// Identifies one metastore instance that writes.
struct WriterInfo {
  std::string writer_id;  // a ULID drawn when the metastore instance is created
  std::string node_id;
  int64_t pid = 0;
};

// "writer 01H... (node indexer-1, pid 4242)".
std::string DescribeWriter(const WriterInfo& writer);
nlohmann::json WriterInfoToJson(const WriterInfo& writer);
// nullopt unless `json` is an object with a string `writer_id`.
std::optional<WriterInfo> WriterInfoFromJson(const nlohmann::json& json);

// FailedPrecondition carrying the payload that IsWriterConflict() recognizes.
absl::Status WriterConflictError(const std::string& message);

// The content of a stored file; nullopt when the file does not exist.
using FileContent = std::optional<std::string>;

// What one metastore instance knows of one stored file.
struct FileVersion {
  bool known = false;   // false until the file was read or written once
  FileContent content;  // as last read or written by this instance
  // A write whose call failed: it may or may not have taken effect.
  std::optional<FileContent> pending;
  absl::Time checked_at = absl::InfinitePast();  // when `content` last matched the storage
};

// Reads the whole file; nullopt when it does not exist.
absl::StatusOr<FileContent> ReadStoredFile(storage::Storage& storage, std::string_view path);

// Writes `content` (Put, or Delete when nullopt) and records it in `version`: as its content
// when the call succeeds, as pending when it fails.
absl::Status WriteStoredFile(storage::Storage& storage, std::string_view path,
                             const FileContent& content, FileVersion& version, absl::Time now);

// The lease of `storage`'s single writer, held by `self`.
class WriterLease {
 public:
  // `ttl`: how long a lease stays valid after its last renewal. `clock` gives wall-clock time
  // (leases compare times of different nodes: their clocks must agree to well within the ttl).
  WriterLease(std::shared_ptr<storage::Storage> storage, WriterInfo self, absl::Duration ttl,
              std::function<absl::Time()> clock);
  WriterLease(const WriterLease&) = delete;
  WriterLease& operator=(const WriterLease&) = delete;

  // Makes sure `self` holds the lease before it writes `what` (e.g. "index `logs`"): Ok when it
  // does (renewing or taking it over as described above); a writer conflict (see
  // WriterConflictError) naming both writers when another node's lease is valid or another
  // writer won the takeover; the storage's error when the lease cannot be read or written.
  absl::Status Acquire(std::string_view what) ABSL_LOCKS_EXCLUDED(mu_);

  // The holder of the lease as last read, for error messages ("unknown" before any read).
  std::string LastSeenHolder() ABSL_LOCKS_EXCLUDED(mu_);

  const WriterInfo& self() const { return self_; }

 private:
  struct Lease {
    WriterInfo writer;
    int64_t acquired_at = 0;  // unix seconds
    int64_t renewed_at = 0;   // unix seconds
    int64_t ttl_secs = 0;
  };

  absl::StatusOr<std::optional<Lease>> ReadLease() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLease(const Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Conflict(const Lease& holder, std::string_view what, absl::Time now,
                        std::string_view problem) const;

  const std::shared_ptr<storage::Storage> storage_;
  const WriterInfo self_;
  const absl::Duration ttl_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  std::optional<Lease> last_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shale::metastore::internal
