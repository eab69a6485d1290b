// Idempotent ingest (ingest API). A client tags a request with an idempotency key; a request
// whose key the index accepted within the retention window is acknowledged again, with the
// counts of the first answer, without indexing anything. So a client that lost a response may
// resend the same batch with the same key safely.
//
// Durability: the key travels in the WAL with its batch (a kIdempotencyKey record written in
// the same pwrite and fsync as the documents, see docs/format/wal.md). A crash during that write
// can keep a prefix of the request's records: recovery counts a key only when all its documents
// records follow (positions, kinds and hashes), so it survives exactly when they do. Before the WAL
// segments holding keys are deleted (after a publish), the keys still within their retention are
// written to a snapshot file
// `{wal directory}/idempotency-keys.json` (atomic replace); recovery loads the snapshot, then
// the key records still in the WAL.
//
// IdempotencyKeys is the in-memory table of one index. Memory is bounded: accepted keys expire
// `retention` after their acceptance and at most `max_keys` are kept (the oldest go first).
//
// Thread safety: IdempotencyKeys is not thread-safe; its owner locks it. The free functions are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shale::indexing {

inline constexpr size_t kMaxIdempotencyKeyBytes = 256;

// The counts a request was answered with, replayed for its resends.
struct IngestCounts {
  uint64_t num_docs_for_processing = 0;
  uint64_t num_ingested_docs = 0;
  uint64_t num_rejected_docs = 0;

  bool operator==(const IngestCounts&) const = default;
};

// The body of a kIdempotencyKey WAL record.
struct IdempotencyRecord {
  std::string key;
  int64_t accepted_at_millis = 0;  // unix time
  IngestCounts counts;
  uint64_t num_document_records = 0;  // documents records of the request, right after this one
  // XXH3-64 of each of those records' payload, in order: recovery tells the request's own
  // records from later ones given the positions after a torn write. Empty in records written
  // before Shale 0.7 (then only positions and kinds are checked).
  std::vector<uint64_t> document_hashes;
};

// The hash of a documents record's payload for IdempotencyRecord::document_hashes: `pieces`
// concatenated.
uint64_t DocumentRecordHash(const std::vector<std::string_view>& pieces);
uint64_t DocumentRecordHash(std::string_view payload);

std::string EncodeIdempotencyRecord(const IdempotencyRecord& record);
// DataLoss naming what is wrong when `payload` is not an encoded record.
absl::StatusOr<IdempotencyRecord> DecodeIdempotencyRecord(std::string_view payload);

// A key is 1 to 256 visible ASCII characters (0x21-0x7e). InvalidArgument naming the rule.
absl::Status ValidateIdempotencyKey(std::string_view key);

class IdempotencyKeys {
 public:
  // REQUIRES: retention_millis > 0, max_keys > 0.
  IdempotencyKeys(int64_t retention_millis, uint64_t max_keys);

  enum class KeyState {
    kNew,       // unknown: now registered as in flight, the caller must Accept or Abort it
    kInFlight,  // a request with this key is being processed
    kAccepted,  // accepted within the retention: `counts` holds the answer
  };
  struct Lookup {
    KeyState state = KeyState::kNew;
    IngestCounts counts;
    // One past the key's last WAL record, when known (for waiting until it is published).
    std::optional<uint64_t> wal_end;
  };

  Lookup Begin(const std::string& key, int64_t now_millis);
  // REQUIRES: Begin returned kNew for `key` and neither Accept nor Abort was called since.
  void Accept(const std::string& key, const IngestCounts& counts, int64_t accepted_at_millis,
              std::optional<uint64_t> wal_end);
  // Forgets an in-flight key (its request failed: nothing was accepted).
  void Abort(const std::string& key);
  // Registers a key found in the WAL or the snapshot, unless it expired or is known already
  // (then only a missing wal_end is filled in).
  void Restore(const std::string& key, const IngestCounts& counts, int64_t accepted_at_millis,
               std::optional<uint64_t> wal_end, int64_t now_millis);
  void Clear();

  size_t num_accepted() const { return by_time_.size(); }
  // True when accepted keys changed since the last Snapshot.
  bool dirty() const { return dirty_; }

  // The accepted, unexpired keys as JSON (the snapshot file's content). Clears dirty().
  std::string Snapshot(int64_t now_millis);
  // Restores the keys of a Snapshot. DataLoss when `text` is not one.
  absl::Status LoadSnapshot(std::string_view text, int64_t now_millis);

 private:
  struct Entry {
    bool accepted = false;
    IngestCounts counts;
    int64_t accepted_at_millis = 0;
    std::optional<uint64_t> wal_end;
  };

  // Drops expired keys, then the oldest ones above max_keys_.
  void Evict(int64_t now_millis);
  bool Expired(int64_t accepted_at_millis, int64_t now_millis) const {
    return accepted_at_millis + retention_millis_ <= now_millis;
  }

  const int64_t retention_millis_;
  const uint64_t max_keys_;
  std::map<std::string, Entry> entries_;
  std::set<std::pair<int64_t, std::string>> by_time_;  // accepted keys by acceptance time
  bool dirty_ = false;
};

// "{wal_directory}/idempotency-keys.json".
std::string IdempotencySnapshotPath(const std::string& wal_directory);

// Replaces `path` with `data` atomically and durably: a temporary file in the same folder,
// fsync, rename, fsync of the folder. Internal naming the path on I/O errors.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace shale::indexing
