// Structural merge of splits: builds one split holding the documents of several splits without
// re-processing or re-tokenizing them. The documents of input i get the doc ids that follow
// those of inputs 0..i-1; the term dictionaries are merged in term order with their posting
// lists concatenated (doc ids shifted, term frequencies and positions kept); field norms,
// presence lists and fast field columns are concatenated and re-encoded (new min / gcd / bit
// widths, text dictionaries merged with their ordinals remapped, multi-valued and optional
// columns kept); the doc store is re-blocked: blocks of at least the target block size are
// copied as they are (compressed), smaller ones re-blocked. Tags are the union of the inputs'
// tags (a tag field stays exhaustive only while every input's list is and the union holds at
// most 1000 values), the time range is the union of theirs and the doc count their sum. For
// inputs built by SplitWriter with the same doc mapping and options, every section but the doc
// store is byte for byte the one SplitWriter builds from all their documents in that order, and
// so is the doc store when each input's docs fit in one block.
//
// Cost: linear in the inputs' bytes, read front to back through 4 read-ahead windows of 1 MiB
// per input (about one source read per MiB). Memory: the output split (held in memory, like
// SplitWriter's), the windows, one term dictionary block per input, the merged posting list of
// one term, and the values of one fast field column at a time; doc store blocks are decompressed
// only when smaller than the block size.
//
// Thread safety: MergeSplits is thread-safe; the sources must be.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "index/doc_mapping.h"
#include "index/split_format.h"

namespace shale::index {

// One split to merge, with what the metastore records about it and the split file does not hold.
struct MergeInput {
  std::shared_ptr<ByteRangeSource> source;
  // The footer bytes [footer_start, footer_end) when known (saves the read of the file's tail).
  std::optional<std::string> hotcache;
  uint64_t uncompressed_docs_size_in_bytes = 0;
  std::optional<int64_t> time_range_start_nanos;  // inclusive
  std::optional<int64_t> time_range_end_nanos;    // inclusive
  std::set<std::string> tags;                      // as in SerializedSplit::tags
};

// Merges `inputs`, in order, into one split written with `options`. `mapping` is the doc
// mapping every input was built with: its tag fields drive the tag union and its timestamp
// field must be the inputs'.
// InvalidArgument when `inputs` is empty, when an input's timestamp field differs from the
// mapping's, when two inputs index a field with different options (tokenizer, frequencies,
// positions, field norms, column kind: they do not share a doc mapping), or when the result
// would exceed the split doc limit (2^31). DataLoss naming the split and offset when an input is
// corrupt; the sources' errors as they are.
absl::StatusOr<SerializedSplit> MergeSplits(const DocMapping& mapping,
                                            const std::vector<MergeInput>& inputs,
                                            const SplitWriterOptions& options);

}  // namespace shale::index
