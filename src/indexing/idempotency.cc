#include "indexing/idempotency.h"

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "fmt/format.h"

#include "common/json_util.h"
#include "nlohmann/json.hpp"
#include "xxhash.h"

namespace shale::indexing {
namespace {

using Json = nlohmann::json;

constexpr int kSnapshotVersion = 1;
constexpr char kSnapshotFileName[] = "idempotency-keys.json";

absl::Status FileError(std::string_view what, const std::string& path, int error_number) {
  return absl::InternalError(
      fmt::format("cannot {} `{}`: {}", what, path, std::generic_category().message(error_number)));
}

// Reads `field` of `object` as an unsigned integer.
bool ReadU64(const Json& object, const char* field, uint64_t& out) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_number_unsigned()) return false;
  out = it->get<uint64_t>();
  return true;
}

Json CountsToJson(const IngestCounts& counts) {
  return Json{{"num_docs_for_processing", counts.num_docs_for_processing},
              {"num_ingested_docs", counts.num_ingested_docs},
              {"num_rejected_docs", counts.num_rejected_docs}};
}

bool CountsFromJson(const Json& object, IngestCounts& counts) {
  return ReadU64(object, "num_docs_for_processing", counts.num_docs_for_processing) &&
         ReadU64(object, "num_ingested_docs", counts.num_ingested_docs) &&
         ReadU64(object, "num_rejected_docs", counts.num_rejected_docs);
}

// The key and acceptance time of a record or snapshot entry.
bool KeyAndTimeFromJson(const Json& object, std::string& key, int64_t& accepted_at_millis) {
  auto key_it = object.find("key");
  auto time_it = object.find("accepted_at_ms");
  if (key_it == object.end() || !key_it->is_string() || time_it == object.end() ||
      !time_it->is_number_integer()) {
    return false;
  }
  key = key_it->get<std::string>();
  accepted_at_millis = time_it->get<int64_t>();
  return true;
}

}  // namespace

uint64_t DocumentRecordHash(std::string_view payload) {
  return XXH3_64bits(payload.data(), payload.size());
}

uint64_t DocumentRecordHash(const std::vector<std::string_view>& pieces) {
  if (pieces.size() == 1) return DocumentRecordHash(pieces[0]);
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const std::string_view piece : pieces) XXH3_64bits_update(state, piece.data(), piece.size());
  const uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return hash;
}

std::string EncodeIdempotencyRecord(const IdempotencyRecord& record) {
  Json json = CountsToJson(record.counts);
  json["key"] = record.key;
  json["accepted_at_ms"] = record.accepted_at_millis;
  json["num_document_records"] = record.num_document_records;
  if (!record.document_hashes.empty()) {
    Json hashes = Json::array();
    for (const uint64_t hash : record.document_hashes)
      hashes.push_back(fmt::format("{:016x}", hash));
    json["document_xxh3"] = std::move(hashes);
  }
  return DumpJson(json);
}

absl::StatusOr<IdempotencyRecord> DecodeIdempotencyRecord(std::string_view payload) {
  const Json json = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  IdempotencyRecord record;
  if (!json.is_object() || !KeyAndTimeFromJson(json, record.key, record.accepted_at_millis) ||
      !CountsFromJson(json, record.counts) ||
      !ReadU64(json, "num_document_records", record.num_document_records)) {
    return absl::DataLossError(
        fmt::format("invalid idempotency key record `{}`", payload.substr(0, 200)));
  }
  if (auto hashes = json.find("document_xxh3"); hashes != json.end()) {
    bool valid = hashes->is_array() && hashes->size() == record.num_document_records;
    for (size_t i = 0; valid && i < hashes->size(); ++i) {
      const Json& hash = (*hashes)[i];
      const std::string* text = hash.get_ptr<const std::string*>();
      uint64_t value = 0;
      if (text == nullptr || text->size() != 16) {
        valid = false;
        break;
      }
      const char* end = text->data() + text->size();
      const auto [parsed_to, error] = std::from_chars(text->data(), end, value, 16);
      valid = error == std::errc() && parsed_to == end;
      record.document_hashes.push_back(value);
    }
    if (!valid) {
      return absl::DataLossError(fmt::format("invalid document_xxh3 in idempotency key record `{}`",
                                             payload.substr(0, 200)));
    }
  }
  return record;
}

absl::Status ValidateIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("idempotency key must hold 1 to {} characters (got {})",
                    kMaxIdempotencyKeyBytes, key.size()));
  }
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7e) {
      return absl::InvalidArgumentError(
          "idempotency key must hold visible ASCII characters only (no space or control "
          "character)");
    }
  }
  return absl::OkStatus();
}

IdempotencyKeys::IdempotencyKeys(int64_t retention_millis, uint64_t max_keys)
    : retention_millis_(retention_millis), max_keys_(max_keys) {}

IdempotencyKeys::Lookup IdempotencyKeys::Begin(const std::string& key, int64_t now_millis) {
  Evict(now_millis);
  auto [it, inserted] = entries_.try_emplace(key);
  if (inserted) return Lookup{KeyState::kNew, {}, std::nullopt};
  const Entry& entry = it->second;
  if (!entry.accepted) return Lookup{KeyState::kInFlight, {}, std::nullopt};
  return Lookup{KeyState::kAccepted, entry.counts, entry.wal_end};
}

void IdempotencyKeys::Accept(const std::string& key, const IngestCounts& counts,
                             int64_t accepted_at_millis, std::optional<uint64_t> wal_end) {
  Entry& entry = entries_[key];
  entry.accepted = true;
  entry.counts = counts;
  entry.accepted_at_millis = accepted_at_millis;
  entry.wal_end = wal_end;
  by_time_.emplace(accepted_at_millis, key);
  dirty_ = true;
  Evict(accepted_at_millis);
}

void IdempotencyKeys::Abort(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.accepted) entries_.erase(it);
}

void IdempotencyKeys::Restore(const std::string& key, const IngestCounts& counts,
                              int64_t accepted_at_millis, std::optional<uint64_t> wal_end,
                              int64_t now_millis) {
  if (Expired(accepted_at_millis, now_millis)) return;
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) {
    if (it->second.accepted && !it->second.wal_end.has_value()) it->second.wal_end = wal_end;
    return;
  }
  it->second = Entry{true, counts, accepted_at_millis, wal_end};
  by_time_.emplace(accepted_at_millis, key);
  dirty_ = true;
  Evict(now_millis);
}

void IdempotencyKeys::Clear() {
  entries_.clear();
  by_time_.clear();
  dirty_ = true;
}

void IdempotencyKeys::Evict(int64_t now_millis) {
  while (!by_time_.empty() &&
         (Expired(by_time_.begin()->first, now_millis) || by_time_.size() > max_keys_)) {
    entries_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
    dirty_ = true;
  }
}

std::string IdempotencyKeys::Snapshot(int64_t now_millis) {
  Evict(now_millis);
  Json keys = Json::array();
  for (const auto& [accepted_at_millis, key] : by_time_) {
    Json entry = CountsToJson(entries_.at(key).counts);
    entry["key"] = key;
    entry["accepted_at_ms"] = accepted_at_millis;
    keys.push_back(std::move(entry));
  }
  dirty_ = false;
  return DumpJson(Json{{"version", kSnapshotVersion}, {"keys", std::move(keys)}});
}

absl::Status IdempotencyKeys::LoadSnapshot(std::string_view text, int64_t now_millis) {
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("version", 0) != kSnapshotVersion || !json.contains("keys") ||
      !json["keys"].is_array()) {
    return absl::DataLossError(
        fmt::format("idempotency key snapshot is not a version {} snapshot", kSnapshotVersion));
  }
  for (const Json& entry : json["keys"]) {
    std::string key;
    int64_t accepted_at_millis = 0;
    IngestCounts counts;
    if (!entry.is_object() || !KeyAndTimeFromJson(entry, key, accepted_at_millis) ||
        !CountsFromJson(entry, counts)) {
      return absl::DataLossError("idempotency key snapshot holds an invalid entry");
    }
    Restore(key, counts, accepted_at_millis, std::nullopt, now_millis);
  }
  return absl::OkStatus();
}

std::string IdempotencySnapshotPath(const std::string& wal_directory) {
  return (std::filesystem::path(wal_directory) / kSnapshotFileName).string();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FileError("create", temporary, errno);
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error_number = errno;
      ::close(fd);
      return FileError("write", temporary, error_number);
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    const int error_number = errno;
    ::close(fd);
    return FileError("fsync", temporary, error_number);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) return FileError("rename", temporary, errno);
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd < 0) return FileError("open", folder, errno);
  const int synced = ::fsync(folder_fd);
  const int error_number = errno;
  ::close(folder_fd);
  if (synced != 0) return FileError("fsync", folder, error_number);
  return absl::OkStatus();
}

}  // namespace shale::indexing
