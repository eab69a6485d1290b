// Writer lease and stored-file helpers of the file-backed metastore (see writer_guard.h).
#include "metastore/internal/writer_guard.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fmt/format.h"

#include "common/json_util.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "metastore/metastore.h"
#include "nlohmann/json.hpp"
#include "storage/storage.h"

namespace shale::metastore {

namespace {
constexpr char kWriterConflictPayloadUrl[] = "shale.metastore/writer-conflict";
}  // namespace

bool IsWriterConflict(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kWriterConflictPayloadUrl).has_value();
}

namespace internal {

using Json = nlohmann::json;

std::string DescribeWriter(const WriterInfo& writer) {
  return fmt::format("writer {} (node `{}`, pid {})", writer.writer_id, writer.node_id, writer.pid);
}

Json WriterInfoToJson(const WriterInfo& writer) {
  return Json{{"writer_id", writer.writer_id}, {"node_id", writer.node_id}, {"pid", writer.pid}};
}

std::optional<WriterInfo> WriterInfoFromJson(const Json& json) {
  if (!json.is_object()) {
    return std::nullopt;
  }
  const auto writer_id = json.find("writer_id");
  if (writer_id == json.end() || !writer_id->is_string()) {
    return std::nullopt;
  }
  WriterInfo writer;
  writer.writer_id = writer_id->get<std::string>();
  if (const auto node_id = json.find("node_id"); node_id != json.end() && node_id->is_string()) {
    writer.node_id = node_id->get<std::string>();
  }
  if (const auto pid = json.find("pid"); pid != json.end() && pid->is_number_integer()) {
    writer.pid = pid->get<int64_t>();
  }
  return writer;
}

absl::Status WriterConflictError(const std::string& message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kWriterConflictPayloadUrl, absl::Cord("1"));
  return status;
}

absl::StatusOr<FileContent> ReadStoredFile(storage::Storage& storage, std::string_view path) {
  absl::StatusOr<std::string> text = storage.GetAll(path);
  if (absl::IsNotFound(text.status())) {
    return FileContent();
  }
  if (!text.ok()) {
    return text.status();
  }
  return FileContent(*std::move(text));
}

absl::Status WriteStoredFile(storage::Storage& storage, std::string_view path,
                             const FileContent& content, FileVersion& version, absl::Time now) {
  absl::Status status = content.has_value() ? storage.Put(path, *content) : storage.Delete(path);
  if (!status.ok()) {
    // A failed call may still have taken effect (a lost response): the next access reads the
    // file to learn which of the two contents it holds.
    version.pending = content;
    return status;
  }
  version.known = true;
  version.content = content;
  version.pending.reset();
  version.checked_at = now;
  return absl::OkStatus();
}

WriterLease::WriterLease(std::shared_ptr<storage::Storage> storage, WriterInfo self,
                         absl::Duration ttl, std::function<absl::Time()> clock)
    : storage_(std::move(storage)), self_(std::move(self)), ttl_(ttl), clock_(std::move(clock)) {}

absl::StatusOr<std::optional<WriterLease::Lease>> WriterLease::ReadLease() {
  ASSIGN_OR_RETURN(const FileContent content, ReadStoredFile(*storage_, kWriterLeasePath));
  if (!content.has_value()) {
    return std::optional<Lease>();
  }
  const Json json = Json::parse(*content, nullptr, /*allow_exceptions=*/false);
  std::optional<WriterInfo> writer =
      json.is_object() ? WriterInfoFromJson(json.value("writer", Json())) : std::nullopt;
  auto number = [&json](const char* key) -> std::optional<int64_t> {
    const auto it = json.find(key);
    return it != json.end() && it->is_number_integer() ? std::optional(it->get<int64_t>())
                                                       : std::nullopt;
  };
  if (!writer.has_value() || !number("renewed_at") || !number("ttl_secs")) {
    return absl::DataLossError(fmt::format(
        "metastore writer lease `{}` in `{}` is corrupt (delete it once no writer runs)",
        kWriterLeasePath, storage_->uri().str()));
  }
  Lease lease;
  lease.writer = *std::move(writer);
  lease.acquired_at = number("acquired_at").value_or(0);
  lease.renewed_at = *number("renewed_at");
  lease.ttl_secs = *number("ttl_secs");
  return std::optional<Lease>(std::move(lease));
}

absl::Status WriterLease::WriteLease(const Lease& lease) {
  const Json json = {{"writer", WriterInfoToJson(lease.writer)},
                     {"acquired_at", lease.acquired_at},
                     {"renewed_at", lease.renewed_at},
                     {"ttl_secs", lease.ttl_secs}};
  return storage_->Put(kWriterLeasePath, DumpJson(json, 2));
}

absl::Status WriterLease::Conflict(const Lease& holder, std::string_view what, absl::Time now,
                                   std::string_view problem) const {
  return WriterConflictError(fmt::format(
      "metastore `{}` has another writer: {} {} (lease renewed {}s ago, valid {}s after each "
      "renewal); this {} did not write {}. A file-backed metastore allows a single writer: "
      "send writes to that node, or stop it and let its lease expire",
      storage_->uri().str(), DescribeWriter(holder.writer), problem,
      absl::ToUnixSeconds(now) - holder.renewed_at, holder.ttl_secs, DescribeWriter(self_), what));
}

absl::Status WriterLease::Acquire(std::string_view what) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_();
  const int64_t now_secs = absl::ToUnixSeconds(now);
  ASSIGN_OR_RETURN(const std::optional<Lease> holder, ReadLease());
  last_seen_ = holder;
  if (holder.has_value() && holder->writer.writer_id == self_.writer_id) {
    if (now_secs - holder->renewed_at < absl::ToInt64Seconds(ttl_) / 3) {
      return absl::OkStatus();
    }
    Lease renewed = *holder;
    renewed.renewed_at = now_secs;
    RETURN_IF_ERROR(WriteLease(renewed));
    last_seen_ = renewed;
    return absl::OkStatus();
  }
  if (holder.has_value() && holder->writer.node_id != self_.node_id &&
      now_secs < holder->renewed_at + holder->ttl_secs) {
    return Conflict(*holder, what, now, "holds its writer lease");
  }
  Lease mine;
  mine.writer = self_;
  mine.acquired_at = now_secs;
  mine.renewed_at = now_secs;
  mine.ttl_secs = absl::ToInt64Seconds(ttl_);
  RETURN_IF_ERROR(WriteLease(mine));
  // Read it back: of two writers taking the lease at once, the last Put wins and the other one
  // sees it here (unless their round trips interleave exactly: the residual race).
  ASSIGN_OR_RETURN(const std::optional<Lease> stored, ReadLease());
  last_seen_ = stored;
  if (!stored.has_value() || stored->writer.writer_id != self_.writer_id) {
    if (!stored.has_value()) {
      return absl::UnavailableError(
          fmt::format("metastore writer lease `{}` in `{}` vanished right after this {} wrote it",
                      kWriterLeasePath, storage_->uri().str(), DescribeWriter(self_)));
    }
    return Conflict(*stored, what, now, "took the writer lease at the same time");
  }
  if (holder.has_value()) {
    SHALE_LOG_WARN(
        "metastore writer lease taken over uri={} writer_id={} previous_writer_id={} "
        "previous_node_id={} previous_renewed_secs_ago={}",
        storage_->uri().str(), self_.writer_id, holder->writer.writer_id, holder->writer.node_id,
        now_secs - holder->renewed_at);
  } else {
    SHALE_LOG_INFO("metastore writer lease acquired uri={} writer_id={} node_id={}",
                   storage_->uri().str(), self_.writer_id, self_.node_id);
  }
  return absl::OkStatus();
}

std::string WriterLease::LastSeenHolder() {
  absl::MutexLock lock(&mu_);
  return last_seen_.has_value() ? DescribeWriter(last_seen_->writer) : std::string("unknown");
}

}  // namespace internal
}  // namespace shale::metastore
