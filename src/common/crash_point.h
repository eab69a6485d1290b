// TEST ONLY crash points: named places of the indexing pipelines where an integration test can
// make the process die, to prove what each stage boundary guarantees (docs/durability.md).
//
// A node arms at most one point, from the SHALE_TEST_CRASH_AT environment variable
// (`<point>` or `<point>:<nth>`, read by config/node_config.cc, never by the YAML file): the nth
// time (1 by default) the code reaches that point, the process writes one line to stderr and
// calls _exit(kCrashPointExitCode) at once, with no destructor, flush or fsync, like a crash.
// Unarmed, CrashPoint() costs one atomic load.
//
// Thread safety: ArmCrashPoint is called once at start-up, before the pipelines run; CrashPoint
// is thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shale {

// The exit code of a process that died at a crash point.
inline constexpr int kCrashPointExitCode = 86;

// Ingest API commits (indexing/ingest_service.cc, indexing/pipeline_steps.cc).
inline constexpr std::string_view kCrashIngestAfterWalAppend = "ingest_after_wal_append";
inline constexpr std::string_view kCrashIngestAfterSplitBuild = "ingest_after_split_build";
inline constexpr std::string_view kCrashIngestAfterStage = "ingest_after_stage";
inline constexpr std::string_view kCrashIngestAfterUpload = "ingest_after_upload";
inline constexpr std::string_view kCrashIngestAfterPublish = "ingest_after_publish";
// In the WAL's append (indexing/wal.cc): the request's records are written but for the second
// half of the last one, then the process dies, like a kill during the write.
inline constexpr std::string_view kCrashIngestTornWalWrite = "ingest_torn_wal_write";
// Source pipelines (file, vec; indexing/source_pipeline.cc).
inline constexpr std::string_view kCrashSourceAfterSplitBuild = "source_after_split_build";
inline constexpr std::string_view kCrashSourceAfterStage = "source_after_stage";
inline constexpr std::string_view kCrashSourceAfterUpload = "source_after_upload";
inline constexpr std::string_view kCrashSourceAfterPublish = "source_after_publish";
// Merges (indexing/merge_service.cc).
inline constexpr std::string_view kCrashMergeAfterUpload = "merge_after_upload";
inline constexpr std::string_view kCrashMergeAfterPublish = "merge_after_publish";

// Every crash point above.
std::span<const std::string_view> CrashPointNames();

struct CrashPointSpec {
  std::string point;
  uint64_t nth = 1;
};

// Parses `<point>` or `<point>:<nth>` (nth >= 1). InvalidArgument naming the problem (an unknown
// point lists the known ones).
absl::StatusOr<CrashPointSpec> ParseCrashPointSpec(std::string_view text);

// Arms `spec` (nullopt disarms). Call before any pipeline runs.
void ArmCrashPoint(const std::optional<CrashPointSpec>& spec);

// Exits the process with kCrashPointExitCode when `point` is the armed point, reached for the
// nth time. Returns otherwise.
void CrashPoint(std::string_view point);

// For points that do something before dying: true when `point` is the armed point, reached for
// the nth time; the caller then calls CrashNow(point).
bool CrashPointReached(std::string_view point);
[[noreturn]] void CrashNow(std::string_view point);

}  // namespace shale
