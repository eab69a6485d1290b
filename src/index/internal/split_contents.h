// SplitContents: validated access to the raw parts of one split (term dictionary blocks, posting
// and position lists, field norms, presence lists, fast field columns, doc store blocks), for
// code that rewrites splits, such as the split merger. It is implemented by the split reader,
// so every read is checked exactly as the query paths check it (chunk and section checksums,
// bounds, doc ids): corrupt input is DataLoss naming the split and the offset. Nothing read
// through this interface is cached. Private to index/.
//
// Thread safety: const methods, safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "index/internal/split_layout.h"
#include "index/split_format.h"

namespace shale::index::internal {

// One entry of a term dictionary block.
struct TermInfo {
  std::string term;
  uint64_t doc_freq = 0;
  ChunkRef postings;
  ChunkRef positions;  // terms v2 of a field recording positions
};

// A posting list decoded in memory (one allocation per vector per term, none per posting).
struct DecodedPostings {
  std::vector<uint32_t> docs;
  std::vector<uint32_t> freqs;            // 1 per doc when frequencies are not recorded
  std::vector<uint32_t> positions;        // when requested: freqs[i] positions per doc
  std::vector<uint32_t> position_starts;  // index into `positions` of doc i's first position
};

// A fast field column decoded in memory.
struct DecodedColumn {
  // Value index range of doc d: [offsets[d], offsets[d + 1]); empty when single-valued (then
  // doc d has exactly the value d).
  std::vector<uint32_t> offsets;
  std::vector<uint64_t> values;   // order-preserving u64 encoding, or dictionary ordinals
  std::vector<std::string> dict;  // text columns: the sorted dictionary
};

class SplitContents {
 public:
  virtual ~SplitContents() = default;

  virtual const Footer& footer() const = 0;
  virtual const std::string& name() const = 0;

  // The terms of block `block_index` of `field`'s dictionary, in order.
  // REQUIRES: block_index < field.term_blocks.size().
  virtual absl::StatusOr<std::vector<TermInfo>> ReadTermBlock(const FieldEntry& field,
                                                              size_t block_index) const = 0;
  // Decodes the doc ids and term frequencies of `info`'s posting list into `out` (positions
  // are not decoded).
  virtual absl::Status ReadPostings(const FieldEntry& field, const TermInfo& info,
                                    DecodedPostings& out) const = 0;
  // The encoded position list of `info` (docs/format/split.md, positions.<f>): doc-relative,
  // so it stays valid when the docs are renumbered. FailedPrecondition when the field records
  // no positions.
  virtual absl::StatusOr<std::string> ReadPositionList(const FieldEntry& field,
                                                       const TermInfo& info) const = 0;
  // One norm byte per doc, or nullopt when the field stores none.
  virtual absl::StatusOr<std::optional<std::string>> ReadFieldNorms(
      const FieldEntry& field) const = 0;
  // The docs holding a value of `field`, increasing.
  virtual absl::StatusOr<std::vector<uint32_t>> ReadPresence(const FieldEntry& field) const = 0;
  // The column of `field`. REQUIRES: field.column.kind != kNone.
  virtual absl::StatusOr<DecodedColumn> ReadColumn(const FieldEntry& field) const = 0;
  // Doc store block `block_index`: its compressed bytes (checksum verified) and, when
  // `decompress`, its documents.
  struct DocStoreBlock {
    std::string compressed;
    std::vector<std::string> docs;  // filled when decompressed
  };
  virtual absl::StatusOr<DocStoreBlock> ReadDocStoreBlock(size_t block_index,
                                                          bool decompress) const = 0;
};

// Opens the split like SplitReader::Open (same reads, same errors).
absl::StatusOr<std::unique_ptr<SplitContents>> OpenSplitContents(
    std::shared_ptr<ByteRangeSource> source, std::optional<std::string> hotcache = std::nullopt);

}  // namespace shale::index::internal
