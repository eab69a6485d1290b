// Source: the first stage of a source pipeline (source_pipeline.h). A source reads raw NDJSON
// documents from somewhere re-readable (a file, a test vector) in batches; each batch carries the
// checkpoint delta that moves the source's partitions past its documents. Publishing a split
// together with the merged deltas of its batches is what makes a pipeline exactly-once: after a
// crash, a new Source created at the published checkpoint resumes right after the last
// published document.
//
// Implemented types (`source_type`):
//  - file: `params.filepath`, a local path, `file://` or `s3://bucket/key` uri read through
//    Storage. NDJSON, optionally gzip-compressed (detected by the magic bytes; a `.gz` name
//    without them is an error). One partition named by the file uri; its position is the byte
//    offset of the next unread line in the DECOMPRESSED stream, as 20 zero-padded digits. A gzip
//    file is therefore decompressed from its start when resuming. The source ends at the end of
//    the file (like Quickwit, a file is indexed once, to its end); a last line without '\n' counts.
//  - vec (tests): `params.docs` (a list of JSON objects or strings), `params.batch_num_docs`
//    (default 1000), `params.partition` (default "0"); position = index of the next document.
//  - void: no documents; ends at once.
//
// Thread safety: a Source is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "config/index_config.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

// Lines longer than this are skipped (counted in SourceBatch::num_oversized_lines).
inline constexpr uint64_t kMaxSourceLineBytes = 10ULL << 20;

struct SourceBatch {
  // Complete lines, each followed by '\n' (blank lines included: the doc processor skips them).
  std::string ndjson;
  // Lines over kMaxSourceLineBytes, skipped.
  uint64_t num_oversized_lines = 0;
  // partition -> {from: the position before this batch, to: the position after it}. `from` of
  // the first batch equals the checkpoint the source was created at ("" for the beginning).
  std::map<std::string, metastore::PartitionDelta> checkpoint_delta;
};

class Source {
 public:
  virtual ~Source() = default;
  // The next batch, std::nullopt once the source is exhausted (a file read to its end).
  // DataLoss naming the file and offset for corrupt input, NotFound for a missing file, and the
  // storage's errors otherwise. After an error the source must not be used again.
  virtual absl::StatusOr<std::optional<SourceBatch>> NextBatch() = 0;
};

struct SourceOptions {
  // A batch holds complete lines totalling about this many bytes (more for one long line).
  uint64_t batch_bytes = 1ULL << 20;
  // Bytes read from storage at once.
  uint64_t read_chunk_bytes = 1ULL << 20;
};

// True for the source types that run in a source pipeline (file, vec, void).
bool IsPipelineSourceType(const std::string& source_type);

// Checks the `params` of a pipeline source type: InvalidArgument naming the key
// (`params.filepath`, `num_pipelines`, ...). Other types: Ok.
absl::Status ValidateSourceParams(const config::SourceConfig& config);

// The partition id the file source uses for `filepath` (its normalised uri).
absl::StatusOr<std::string> FileSourcePartitionId(const std::string& filepath);

// A source of `config` resuming after `checkpoint` (the source's stored checkpoint, empty for
// the beginning). InvalidArgument for a non-pipeline type, bad params or a checkpoint position
// that is not a 20-digit offset. Does no I/O: errors reading the file come from NextBatch.
absl::StatusOr<std::unique_ptr<Source>> NewSource(const config::SourceConfig& config,
                                                  const metastore::SourceCheckpoint& checkpoint,
                                                  storage::StorageResolver& resolver,
                                                  const SourceOptions& options = {});

}  // namespace shale::indexing
