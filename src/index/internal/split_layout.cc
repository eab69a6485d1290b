#include "index/internal/split_layout.h"

#include "fmt/format.h"

#include "common/status_macros.h"
#include "index/internal/binary_values.h"
#include "index/internal/encoding.h"

namespace shale::index::internal {
namespace {

// The FieldType values a split's field table may hold (docs/format/split.md).
bool IsSplitFieldType(uint8_t type) {
  return type <= static_cast<uint8_t>(FieldType::kDatetime) ||
         type == static_cast<uint8_t>(FieldType::kIp) ||
         type == static_cast<uint8_t>(FieldType::kBytes);
}

}  // namespace


namespace {

void PutChunk(std::string& out, const ChunkRef& chunk) {
  PutVarint(out, chunk.offset);
  PutVarint(out, chunk.length);
  PutFixed32(out, chunk.checksum);
}

ChunkRef ReadChunk(ByteReader& reader) {
  ChunkRef chunk;
  chunk.offset = reader.Varint();
  chunk.length = reader.Varint();
  chunk.checksum = reader.Fixed32();
  return chunk;
}

void PutColumn(std::string& out, const ColumnHeader& column) {
  out.push_back(static_cast<char>(column.kind));
  if (column.kind == ColumnKind::kNone) return;
  out.push_back(column.single_valued ? 1 : 0);
  PutVarint(out, column.num_values);
  PutVarint(out, column.min_value);
  PutVarint(out, column.gcd);
  PutVarint(out, column.value_bit_width);
  PutVarint(out, column.offset_bit_width);
  PutVarint(out, column.dict_num_terms);
  PutChunk(out, column.dict);
  PutChunk(out, column.offsets);
  PutChunk(out, column.values);
}

std::string SerializeHotcache(const Hotcache& hotcache) {
  std::string out;
  PutVarint(out, kHotcacheVersion);
  PutVarint(out, hotcache.num_docs);
  out.push_back(hotcache.timestamp_field.has_value() ? 1 : 0);
  if (hotcache.timestamp_field.has_value()) PutBytes(out, *hotcache.timestamp_field);
  PutVarint(out, hotcache.presence_section);
  PutVarint(out, hotcache.docstore_section);
  PutVarint(out, hotcache.fields.size());
  for (const FieldEntry& field : hotcache.fields) {
    PutBytes(out, field.path);
    out.push_back(static_cast<char>(field.type));
    const uint8_t flags = (field.indexed ? 1 : 0) | (field.fast ? 2 : 0) |
                          (field.record_freq ? 4 : 0) | (field.record_positions ? 8 : 0) |
                          (field.has_fieldnorms ? 16 : 0);
    out.push_back(static_cast<char>(flags));
    out.push_back(static_cast<char>(field.tokenizer));
    PutVarint(out, field.terms_section);
    PutVarint(out, field.postings_section);
    PutVarint(out, field.fast_section);
    PutVarint(out, field.positions_section);
    PutVarint(out, field.fieldnorms_section);
    PutVarint(out, field.field_doc_count);
    PutVarint(out, field.total_tokens);
    PutVarint(out, field.num_terms);
    PutVarint(out, field.term_blocks.size());
    for (const TermBlockRef& block : field.term_blocks) {
      PutBytes(out, block.first_term);
      PutChunk(out, block.chunk);
    }
    PutChunk(out, field.presence);
    PutColumn(out, field.column);
  }
  PutVarint(out, hotcache.docstore_blocks.size());
  for (const DocStoreBlockRef& block : hotcache.docstore_blocks) {
    PutVarint(out, block.first_doc);
    PutVarint(out, block.uncompressed_length);
    PutChunk(out, block.chunk);
  }
  return out;
}

// Highest layout version of the section called `name` that this reader understands.
uint32_t MaxSectionVersion(std::string_view name) {
  if (name.starts_with("terms.")) return kTermsSectionVersion;
  if (name.starts_with("postings.")) return kPostingsSectionVersion;
  return kSectionVersion;
}

class FooterParser {
 public:
  FooterParser(const std::string& split_name, uint64_t footer_start)
      : split_name_(split_name), footer_start_(footer_start) {}

  absl::Status Error(const std::string& what, uint64_t offset) const {
    return absl::DataLossError(fmt::format("split {}: {} at offset {}", split_name_, what, offset));
  }

  absl::Status ParseFileTable(std::string_view bytes, std::vector<FileTableEntry>& sections) {
    ByteReader reader(bytes);
    const uint64_t version = reader.Varint();
    if (reader.ok() && version != kFileTableVersion) {
      return Error(fmt::format("unsupported file table version {}", version), footer_start_);
    }
    const uint64_t count = reader.Varint();
    if (!reader.ok() || count > bytes.size()) {
      return Error("bad file table header", footer_start_);
    }
    sections.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      FileTableEntry entry;
      entry.name = std::string(reader.LengthPrefixed());
      entry.version = reader.Varint32();
      entry.offset = reader.Varint();
      entry.length = reader.Varint();
      entry.checksum = reader.Fixed64();
      if (!reader.ok()) return Error("truncated file table", footer_start_ + reader.position());
      if (entry.offset > footer_start_ || entry.length > footer_start_ - entry.offset) {
        return Error(fmt::format("section `{}` out of bounds", entry.name), entry.offset);
      }
      if (entry.version == 0 || entry.version > MaxSectionVersion(entry.name)) {
        return Error(
            fmt::format("unsupported version {} of section `{}`", entry.version, entry.name),
            entry.offset);
      }
      sections.push_back(std::move(entry));
    }
    if (!reader.AtEnd()) return Error("trailing bytes in file table", footer_start_);
    return absl::OkStatus();
  }

  absl::Status CheckSectionIndex(uint32_t index, const std::vector<FileTableEntry>& sections,
                                 uint64_t offset) const {
    if (index != kNoSection && index >= sections.size()) {
      return Error(fmt::format("bad section index {}", index), offset);
    }
    return absl::OkStatus();
  }

  absl::Status CheckChunk(const ChunkRef& chunk, uint32_t section,
                          const std::vector<FileTableEntry>& sections, uint64_t offset) const {
    if (chunk.length == 0 && chunk.offset == 0) return absl::OkStatus();
    if (section == kNoSection) return Error("chunk without section", offset);
    const uint64_t length = sections[section].length;
    if (chunk.offset > length || chunk.length > length - chunk.offset) {
      return Error(fmt::format("chunk out of bounds of section `{}`", sections[section].name),
                   offset);
    }
    return absl::OkStatus();
  }

  absl::Status ParseColumn(ByteReader& reader, const FieldEntry& field, uint64_t num_docs,
                           const std::vector<FileTableEntry>& sections, uint64_t base,
                           ColumnHeader& column) {
    const uint8_t kind = reader.Byte();
    if (kind > static_cast<uint8_t>(ColumnKind::kTextDict)) {
      return Error("bad fast column kind", base + reader.position());
    }
    column.kind = static_cast<ColumnKind>(kind);
    if (column.kind == ColumnKind::kNone) return absl::OkStatus();
    // Byte-string types (text, ip, bytes) have dictionary columns, the others numeric ones.
    if ((column.kind == ColumnKind::kTextDict) != IsByteStringType(field.type)) {
      return Error("fast column kind does not match the field type", base + reader.position());
    }
    column.single_valued = reader.Byte() != 0;
    column.num_values = reader.Varint();
    column.min_value = reader.Varint();
    column.gcd = reader.Varint();
    column.value_bit_width = reader.Varint32();
    column.offset_bit_width = reader.Varint32();
    column.dict_num_terms = reader.Varint();
    column.dict = ReadChunk(reader);
    column.offsets = ReadChunk(reader);
    column.values = ReadChunk(reader);
    const uint64_t at = base + reader.position();
    if (!reader.ok()) return Error("truncated fast column header", at);
    if (field.fast_section == kNoSection) return Error("fast column without section", at);
    if (column.value_bit_width > 64 || column.offset_bit_width > 64 || column.gcd == 0) {
      return Error("bad fast column header", at);
    }
    if (column.num_values >= (uint64_t{1} << 40) ||
        (column.single_valued && column.num_values != num_docs)) {
      return Error("bad fast column value count", at);
    }
    if (column.values.length < BitPacker::NumBytes(column.num_values, column.value_bit_width) ||
        (!column.single_valued &&
         column.offsets.length < BitPacker::NumBytes(num_docs + 1, column.offset_bit_width)) ||
        column.dict_num_terms > column.dict.length) {
      return Error("fast column regions too short", at);
    }
    RETURN_IF_ERROR(CheckChunk(column.dict, field.fast_section, sections, at));
    RETURN_IF_ERROR(CheckChunk(column.offsets, field.fast_section, sections, at));
    return CheckChunk(column.values, field.fast_section, sections, at);
  }

  absl::Status ParseHotcache(std::string_view bytes, uint64_t base,
                             const std::vector<FileTableEntry>& sections, Hotcache& hotcache) {
    ByteReader reader(bytes);
    const uint64_t version = reader.Varint();
    if (reader.ok() && (version == 0 || version > kHotcacheVersion)) {
      return Error(fmt::format("unsupported hotcache version {}", version), base);
    }
    hotcache.num_docs = reader.Varint();
    if (!reader.ok() || hotcache.num_docs > kMaxDocs) {
      return Error("bad hotcache header", base + reader.position());
    }
    if (reader.Byte() != 0) hotcache.timestamp_field = std::string(reader.LengthPrefixed());
    hotcache.presence_section = reader.Varint32();
    hotcache.docstore_section = reader.Varint32();
    RETURN_IF_ERROR(CheckSectionIndex(hotcache.presence_section, sections, base));
    RETURN_IF_ERROR(CheckSectionIndex(hotcache.docstore_section, sections, base));
    const uint64_t num_fields = reader.Varint();
    if (!reader.ok() || num_fields > bytes.size()) {
      return Error("bad hotcache field count", base + reader.position());
    }
    hotcache.fields.resize(num_fields);
    for (FieldEntry& field : hotcache.fields) {
      field.path = std::string(reader.LengthPrefixed());
      const uint8_t type = reader.Byte();
      const uint8_t flags = reader.Byte();
      const uint8_t tokenizer = reader.Byte();
      field.terms_section = reader.Varint32();
      field.postings_section = reader.Varint32();
      field.fast_section = reader.Varint32();
      if (version >= 2) {
        field.positions_section = reader.Varint32();
        field.fieldnorms_section = reader.Varint32();
        field.field_doc_count = reader.Varint();
        field.total_tokens = reader.Varint();
      }
      field.num_terms = reader.Varint();
      const uint64_t num_blocks = reader.Varint();
      uint64_t at = base + reader.position();
      if (!reader.ok() || !IsSplitFieldType(type) ||
          tokenizer > static_cast<uint8_t>(kLastTokenizerKind) ||
          num_blocks > bytes.size() || field.field_doc_count > hotcache.num_docs ||
          (version < 2 && (flags & ~7) != 0)) {
        return Error("bad field entry", at);
      }
      field.type = static_cast<FieldType>(type);
      field.indexed = (flags & 1) != 0;
      field.fast = (flags & 2) != 0;
      field.record_freq = (flags & 4) != 0;
      field.record_positions = (flags & 8) != 0;
      field.has_fieldnorms = (flags & 16) != 0;
      field.tokenizer = static_cast<TokenizerKind>(tokenizer);
      field.datetime_micros =
          field.type == FieldType::kDatetime && version < kNanosecondDatetimesVersion;
      RETURN_IF_ERROR(CheckSectionIndex(field.positions_section, sections, at));
      RETURN_IF_ERROR(CheckSectionIndex(field.fieldnorms_section, sections, at));
      RETURN_IF_ERROR(CheckSectionIndex(field.terms_section, sections, at));
      RETURN_IF_ERROR(CheckSectionIndex(field.postings_section, sections, at));
      RETURN_IF_ERROR(CheckSectionIndex(field.fast_section, sections, at));
      if ((field.record_positions &&
           (field.positions_section == kNoSection || !field.record_freq ||
            field.terms_section == kNoSection || sections[field.terms_section].version < 2)) ||
          (field.has_fieldnorms &&
           (field.fieldnorms_section == kNoSection ||
            sections[field.fieldnorms_section].length != hotcache.num_docs))) {
        return Error("bad positions or field norms of field entry", at);
      }
      if (num_blocks > 0 &&
          (field.terms_section == kNoSection || field.postings_section == kNoSection)) {
        return Error("term blocks without sections", at);
      }
      field.term_blocks.resize(num_blocks);
      for (TermBlockRef& block : field.term_blocks) {
        block.first_term = std::string(reader.LengthPrefixed());
        block.chunk = ReadChunk(reader);
        at = base + reader.position();
        if (!reader.ok()) return Error("truncated term block index", at);
        RETURN_IF_ERROR(CheckChunk(block.chunk, field.terms_section, sections, at));
      }
      field.presence = ReadChunk(reader);
      at = base + reader.position();
      if (!reader.ok()) return Error("truncated field entry", at);
      RETURN_IF_ERROR(CheckChunk(field.presence, hotcache.presence_section, sections, at));
      RETURN_IF_ERROR(ParseColumn(reader, field, hotcache.num_docs, sections, base, field.column));
    }
    const uint64_t num_blocks = reader.Varint();
    if (!reader.ok() || num_blocks > bytes.size()) {
      return Error("bad doc store index", base + reader.position());
    }
    hotcache.docstore_blocks.resize(num_blocks);
    uint64_t previous_first = 0;
    for (DocStoreBlockRef& block : hotcache.docstore_blocks) {
      block.first_doc = reader.Varint32();
      block.uncompressed_length = reader.Varint32();
      block.chunk = ReadChunk(reader);
      const uint64_t at = base + reader.position();
      if (!reader.ok() || block.first_doc < previous_first ||
          block.first_doc >= hotcache.num_docs) {
        return Error("bad doc store block index", at);
      }
      if (hotcache.docstore_section == kNoSection) return Error("doc store without section", at);
      RETURN_IF_ERROR(CheckChunk(block.chunk, hotcache.docstore_section, sections, at));
      previous_first = block.first_doc;
    }
    if (!reader.AtEnd()) return Error("trailing bytes in hotcache", base + reader.position());
    return absl::OkStatus();
  }

 private:
  const std::string& split_name_;
  uint64_t footer_start_;
};

}  // namespace

std::string SerializeFooter(const Footer& footer) {
  std::string body;
  PutVarint(body, kFileTableVersion);
  PutVarint(body, footer.sections.size());
  for (const FileTableEntry& entry : footer.sections) {
    PutBytes(body, entry.name);
    PutVarint(body, entry.version);
    PutVarint(body, entry.offset);
    PutVarint(body, entry.length);
    PutFixed64(body, entry.checksum);
  }
  const uint64_t file_table_length = body.size();
  body += SerializeHotcache(footer.hotcache);
  const uint64_t checksum = Hash64(body);
  const uint64_t body_length = body.size();
  PutFixed64(body, body_length);
  PutFixed32(body, static_cast<uint32_t>(file_table_length));
  PutFixed32(body, kSplitFormatVersion);
  PutFixed64(body, checksum);
  PutFixed64(body, kSplitMagic);
  return body;
}

absl::StatusOr<Footer> ParseFooter(std::string_view tail, uint64_t file_size,
                                   const std::string& split_name, uint64_t* needed) {
  auto data_loss = [&split_name](const std::string& what, uint64_t offset) {
    return absl::DataLossError(fmt::format("split {}: {} at offset {}", split_name, what, offset));
  };
  if (tail.size() < kTrailerSize || tail.size() > file_size) {
    return data_loss("file too short for a split trailer", 0);
  }
  const uint64_t trailer_offset = file_size - kTrailerSize;
  ByteReader trailer(tail.substr(tail.size() - kTrailerSize));
  const uint64_t body_length = trailer.Fixed64();
  const uint32_t file_table_length = trailer.Fixed32();
  const uint32_t version = trailer.Fixed32();
  const uint64_t checksum = trailer.Fixed64();
  const uint64_t magic = trailer.Fixed64();
  if (magic != kSplitMagic) return data_loss("bad magic number", trailer_offset);
  if (version == 0 || version > kSplitFormatVersion) {
    return data_loss(fmt::format("unsupported split format version {}", version), trailer_offset);
  }
  if (body_length > trailer_offset || file_table_length > body_length) {
    return data_loss("bad footer length", trailer_offset);
  }
  const uint64_t footer_start = trailer_offset - body_length;
  if (body_length + kTrailerSize > tail.size()) {
    if (needed != nullptr) *needed = body_length + kTrailerSize;
    return absl::OutOfRangeError(
        fmt::format("split {}: footer needs {} bytes", split_name, body_length + kTrailerSize));
  }
  std::string_view body = tail.substr(tail.size() - kTrailerSize - body_length, body_length);
  if (Hash64(body) != checksum) return data_loss("footer checksum mismatch", footer_start);
  Footer footer;
  footer.format_version = version;
  FooterParser parser(split_name, footer_start);
  absl::Status status = parser.ParseFileTable(body.substr(0, file_table_length), footer.sections);
  if (!status.ok()) return status;
  status = parser.ParseHotcache(body.substr(file_table_length), footer_start + file_table_length,
                                footer.sections, footer.hotcache);
  if (!status.ok()) return status;
  return footer;
}

}  // namespace shale::index::internal
