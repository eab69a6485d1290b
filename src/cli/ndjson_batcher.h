// NdjsonBatcher: cuts an NDJSON input (a file, or stdin) into request bodies for the ingest API.
// gzip input is decoded transparently (zlib detects the gzip magic; plain input passes through).
//
// Invariants of every batch returned:
//   - it holds whole lines only and ends with '\n' (a missing final newline is added);
//   - its size is at most `batch_size_limit`, except when a single line alone is bigger: that
//     line is returned alone (the server rejects it, the CLI reports it);
//   - blank lines are dropped.
// Thread safety: not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shale::cli {

struct NdjsonBatch {
  std::string body;
  uint64_t num_lines = 0;
};

class NdjsonBatcher {
 public:
  // Opens `path`, or stdin when `path` is empty or "-". NotFound / PermissionDenied naming the
  // path on failure.
  static absl::StatusOr<std::unique_ptr<NdjsonBatcher>> Open(const std::string& path,
                                                             uint64_t batch_size_limit);
  ~NdjsonBatcher();
  NdjsonBatcher(const NdjsonBatcher&) = delete;
  NdjsonBatcher& operator=(const NdjsonBatcher&) = delete;

  // The next batch, or nullopt at the end of the input. DataLoss naming the input on a read or
  // gzip decoding error.
  absl::StatusOr<std::optional<NdjsonBatch>> Next();

  // Hands back the body of a batch that is no longer needed: the next batch is built in its
  // buffer (an 8 MiB batch in a fresh allocation costs a page fault per 4 KiB written).
  void Recycle(std::string body);

  // Uncompressed bytes read from the input so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  NdjsonBatcher(void* gz_file, std::string name, uint64_t batch_size_limit);
  // Appends up to one read chunk to `pending_`; sets `eof_` at the end of the input.
  absl::Status Fill();
  // Removes blank lines at the front of `pending_`.
  void SkipLeadingBlankLines();

  void* gz_file_;  // gzFile, kept opaque so that zlib.h stays out of the header
  std::string name_;
  uint64_t batch_size_limit_;
  std::string pending_;  // starts at a line boundary
  std::string spare_body_;  // see Recycle
  bool eof_ = false;
  uint64_t bytes_read_ = 0;
};

}  // namespace shale::cli
