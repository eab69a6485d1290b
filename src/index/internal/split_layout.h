// The in-memory model of a split footer (formats v1 to v3) (file table + hotcache) and its
// (de)serialization. See docs/format/split.md for the byte layout. Private to index/.
//
// Parsing never trusts the input: every length and offset is checked against the buffer and the
// sections it points into, and a violation returns DataLoss naming the split and an offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "index/doc_mapping.h"
#include "index/tokenizer.h"

namespace shale::index::internal {

inline constexpr uint64_t kSplitMagic = 0x3176'4C50'5348'4C41;  // "ALHSPLv1" little-endian
// Versions written by this engine. The reader accepts every version from 1 up to these.
// Format and hotcache v3 (same layout as v2): datetime terms and fast column values are i64
// nanoseconds since the epoch; in v1 and v2 splits they are microseconds (FieldEntry::
// datetime_micros), which the reader converts (docs/adr/016-nanosecond-datetimes.md).
inline constexpr uint32_t kSplitFormatVersion = 3;
inline constexpr uint32_t kFileTableVersion = 1;
inline constexpr uint32_t kHotcacheVersion = 3;
// The first hotcache version whose datetimes are nanoseconds.
inline constexpr uint32_t kNanosecondDatetimesVersion = 3;
inline constexpr uint32_t kSectionVersion = 1;  // default section layout version
// terms.<f> v2: term entries may carry a positions chunk (docs/format/split.md).
inline constexpr uint32_t kTermsSectionVersion = 2;
// postings.<f> v2: bit-packed blocks of 128 with a skip list (internal/block_postings.h).
inline constexpr uint32_t kPostingsSectionVersion = 2;
inline constexpr uint64_t kTrailerSize = 32;
inline constexpr uint32_t kTermsPerBlock = 64;
inline constexpr uint64_t kTailReadSize = 64 * 1024;
inline constexpr uint64_t kMaxDocs = uint64_t{1} << 31;
inline constexpr uint32_t kNoSection = UINT32_MAX;

// PERSISTED: never renumber.
enum class ColumnKind : uint8_t { kNone = 0, kNumeric = 1, kTextDict = 2 };

struct FileTableEntry {
  std::string name;
  uint32_t version = kSectionVersion;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t checksum = 0;  // xxhash64 of the section bytes
};

// A byte range inside a section, with the low 32 bits of its xxhash64.
struct ChunkRef {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t checksum = 0;
};

struct TermBlockRef {
  std::string first_term;
  ChunkRef chunk;
};

// Header of a fast field column; the column section holds [dict][offsets][values].
struct ColumnHeader {
  ColumnKind kind = ColumnKind::kNone;
  bool single_valued = false;  // exactly one value per doc: no offsets region
  uint64_t num_values = 0;
  uint64_t min_value = 0;
  uint64_t gcd = 1;
  uint32_t value_bit_width = 0;
  uint32_t offset_bit_width = 0;
  uint64_t dict_num_terms = 0;
  ChunkRef dict;     // text dict: the sorted terms, length-prefixed
  ChunkRef offsets;  // multi-valued: num_docs + 1 bit-packed start indexes
  ChunkRef values;   // bit-packed (value - min) / gcd, or ordinals
};

struct FieldEntry {
  std::string path;
  FieldType type = FieldType::kText;
  bool indexed = false;
  bool fast = false;
  bool record_freq = false;
  bool record_positions = false;  // v2: positions.<f> holds the positions of every posting
  bool has_fieldnorms = false;    // v2: fieldnorms.<f> holds one norm byte per doc
  // Not persisted: a datetime field of a v1/v2 split, whose terms and column values are
  // microseconds (v3 and later: nanoseconds).
  bool datetime_micros = false;
  TokenizerKind tokenizer = TokenizerKind::kRaw;
  uint32_t terms_section = kNoSection;
  uint32_t postings_section = kNoSection;
  uint32_t fast_section = kNoSection;
  uint32_t positions_section = kNoSection;   // v2
  uint32_t fieldnorms_section = kNoSection;  // v2
  // v2, indexed text: docs with at least one token, and the number of tokens over all docs
  // (BM25's average field length). Zero in v1 splits.
  uint64_t field_doc_count = 0;
  uint64_t total_tokens = 0;
  uint64_t num_terms = 0;
  std::vector<TermBlockRef> term_blocks;
  ChunkRef presence;  // in the "presence" section: docs holding any value
  ColumnHeader column;
};

struct DocStoreBlockRef {
  uint32_t first_doc = 0;
  uint32_t uncompressed_length = 0;
  ChunkRef chunk;
};

struct Hotcache {
  uint64_t num_docs = 0;
  std::optional<std::string> timestamp_field;
  uint32_t presence_section = kNoSection;
  uint32_t docstore_section = kNoSection;
  std::vector<FieldEntry> fields;
  std::vector<DocStoreBlockRef> docstore_blocks;
};

struct Footer {
  uint32_t format_version = kSplitFormatVersion;  // from the trailer
  std::vector<FileTableEntry> sections;
  Hotcache hotcache;
};

// Serializes footer body (file table + hotcache) and trailer. Returns the bytes to append after
// the sections.
std::string SerializeFooter(const Footer& footer);

// Parses `tail`, the last bytes of a split of `file_size` bytes. When the footer is longer than
// `tail`, returns OutOfRange with the number of bytes needed in `*needed`.
absl::StatusOr<Footer> ParseFooter(std::string_view tail, uint64_t file_size,
                                   const std::string& split_name, uint64_t* needed);

}  // namespace shale::index::internal
