#include "indexing/source.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <zlib.h>

#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "indexing/wal.h"

namespace shale::indexing {
namespace {

constexpr uint64_t kDefaultVecBatchNumDocs = 1000;
constexpr char kDefaultVecPartition[] = "0";

absl::Status ParamError(const std::string& key, std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("`params.{}`: {}", key, message));
}

// The stored position of `partition` ("" when none).
std::string StoredPosition(const metastore::SourceCheckpoint& checkpoint,
                           const std::string& partition) {
  auto it = checkpoint.find(partition);
  return it == checkpoint.end() ? std::string() : it->second;
}

absl::StatusOr<uint64_t> OffsetFromPosition(const std::string& partition,
                                            const std::string& position) {
  auto offset = WalPositionFromCheckpoint(position);
  if (!offset.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("checkpoint of partition `{}` holds `{}`, which is not a byte offset",
                    partition, position));
  }
  return *offset;
}

// A normalised file uri split into its parent uri and file name; nullopt when it names no file
// (a bucket or root alone).
std::optional<std::pair<std::string, std::string>> SplitFileUri(const std::string& uri) {
  const size_t scheme_end = uri.find("://");
  const size_t slash = uri.rfind('/');
  if (scheme_end == std::string::npos || slash == std::string::npos || slash <= scheme_end + 3 ||
      slash + 1 == uri.size()) {
    return std::nullopt;
  }
  return std::make_pair(uri.substr(0, slash), uri.substr(slash + 1));
}

// The storage holding a file, and the file's path in it.
struct FileLocation {
  std::shared_ptr<storage::Storage> storage;
  std::string path;
};

absl::StatusOr<FileLocation> LocateFile(const std::string& uri,
                                        storage::StorageResolver& resolver) {
  auto parts = SplitFileUri(uri);
  if (!parts.has_value()) return ParamError("filepath", fmt::format("`{}` names no file", uri));
  ASSIGN_OR_RETURN(Uri parent_uri, Uri::Parse(parts->first));
  FileLocation location;
  ASSIGN_OR_RETURN(location.storage, resolver.Resolve(parent_uri));
  location.path = parts->second;
  return location;
}

// The decompressed bytes of a file, read through Storage in chunks.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Appends up to about `max_bytes` decoded bytes to `out`; appends nothing only at the end.
  virtual absl::Status Read(uint64_t max_bytes, std::string& out) = 0;
};

class PlainStream final : public ByteStream {
 public:
  PlainStream(FileLocation location, std::string uri, uint64_t offset, uint64_t size)
      : location_(std::move(location)), uri_(std::move(uri)), offset_(offset), size_(size) {}

  absl::Status Read(uint64_t max_bytes, std::string& out) override {
    if (offset_ >= size_) return absl::OkStatus();
    const uint64_t length = std::min(max_bytes, size_ - offset_);
    ASSIGN_OR_RETURN(std::string bytes,
                     location_.storage->GetSlice(location_.path, offset_, length));
    if (bytes.size() != length) {
      return absl::DataLossError(
          fmt::format("file `{}` shrank while being read at offset {}", uri_, offset_));
    }
    offset_ += length;
    out += bytes;
    return absl::OkStatus();
  }

 private:
  FileLocation location_;
  const std::string uri_;
  uint64_t offset_;
  const uint64_t size_;
};

// Streams the decompression of a gzip file (several concatenated members are one stream).
class GzipStream final : public ByteStream {
 public:
  GzipStream(FileLocation location, std::string uri, uint64_t size, uint64_t chunk_bytes)
      : location_(std::move(location)),
        uri_(std::move(uri)),
        size_(size),
        chunk_bytes_(chunk_bytes) {}
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  ~GzipStream() override {
    if (initialized_) inflateEnd(&stream_);
  }

  absl::Status Read(uint64_t max_bytes, std::string& out) override {
    if (!initialized_) {
      // 16 + MAX_WBITS: a gzip header is expected.
      if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
        return absl::InternalError("cannot initialise the gzip decoder");
      }
      initialized_ = true;
    }
    const size_t out_start = out.size();
    while (!finished_ && out.size() - out_start < max_bytes) {
      if (stream_.avail_in == 0) {
        if (raw_offset_ >= size_) {
          return absl::DataLossError(fmt::format(
              "gzip file `{}` is truncated: its last member ends before its trailer ({} bytes "
              "read)",
              uri_, raw_offset_));
        }
        const uint64_t length = std::min(chunk_bytes_, size_ - raw_offset_);
        ASSIGN_OR_RETURN(input_, location_.storage->GetSlice(location_.path, raw_offset_, length));
        if (input_.size() != length) {
          return absl::DataLossError(
              fmt::format("file `{}` shrank while being read at offset {}", uri_, raw_offset_));
        }
        raw_offset_ += length;
        stream_.next_in = reinterpret_cast<Bytef*>(input_.data());
        stream_.avail_in = static_cast<uInt>(input_.size());
      }
      const size_t before = out.size();
      const size_t room = std::max<size_t>(4096, max_bytes - (before - out_start));
      out.resize(before + room);
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      stream_.avail_out = static_cast<uInt>(room);
      const int result = inflate(&stream_, Z_NO_FLUSH);
      out.resize(before + room - stream_.avail_out);
      if (result == Z_STREAM_END) {
        if (stream_.avail_in == 0 && raw_offset_ >= size_) {
          finished_ = true;
        } else if (inflateReset(&stream_) != Z_OK) {
          return absl::InternalError("cannot reset the gzip decoder");
        }
      } else if (result != Z_OK && result != Z_BUF_ERROR) {
        const uint64_t consumed = raw_offset_ - stream_.avail_in;
        return absl::DataLossError(
            fmt::format("gzip file `{}` is corrupt near compressed offset {}: {}", uri_, consumed,
                        stream_.msg != nullptr ? stream_.msg : "invalid data"));
      }
    }
    return absl::OkStatus();
  }

 private:
  FileLocation location_;
  const std::string uri_;
  const uint64_t size_;
  const uint64_t chunk_bytes_;
  z_stream stream_{};
  bool initialized_ = false;
  bool finished_ = false;
  std::string input_;
  uint64_t raw_offset_ = 0;
};

// NDJSON lines of one file; position = decoded offset of the next unread line.
class FileSource final : public Source {
 public:
  FileSource(FileLocation location, std::string partition, std::string stored_position,
             uint64_t start_offset, SourceOptions options)
      : location_(std::move(location)),
        partition_(std::move(partition)),
        last_position_(std::move(stored_position)),
        offset_(start_offset),
        options_(options) {}

  absl::StatusOr<std::optional<SourceBatch>> NextBatch() override {
    if (stream_ == nullptr) RETURN_IF_ERROR(Open());
    SourceBatch batch;
    const uint64_t batch_start = offset_;
    while (batch.ndjson.size() < options_.batch_bytes) {
      const size_t newline = buffer_.find('\n', scan_from_);
      if (newline == std::string::npos) {
        scan_from_ = buffer_.size();
        if (at_end_) {
          // A last line without '\n' (or the end of an oversized one).
          if (buffer_.size() > consumed_ || skipping_oversized_) TakeLine(buffer_.size(), batch);
          break;
        }
        if (buffer_.size() - consumed_ > kMaxSourceLineBytes) {
          // Drop what we have of the oversized line; TakeLine counts it once its end shows up.
          skipping_oversized_ = true;
          offset_pending_drop_ += buffer_.size() - consumed_;
          buffer_.clear();
          consumed_ = 0;
          scan_from_ = 0;
        }
        RETURN_IF_ERROR(Refill());
        continue;
      }
      TakeLine(newline + 1, batch);
    }
    if (offset_ == batch_start) return std::optional<SourceBatch>();
    std::string to = WalPositionToCheckpoint(offset_);
    batch.checkpoint_delta[partition_] = metastore::PartitionDelta{last_position_, to};
    last_position_ = std::move(to);
    return std::optional<SourceBatch>(std::move(batch));
  }

 private:
  absl::Status Open() {
    ASSIGN_OR_RETURN(const uint64_t size, location_.storage->FileNumBytes(location_.path));
    std::string magic;
    if (size >= 2) {
      ASSIGN_OR_RETURN(magic, location_.storage->GetSlice(location_.path, 0, 2));
    }
    const bool gzip = magic.size() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
                      static_cast<unsigned char>(magic[1]) == 0x8b;
    const bool gz_name = location_.path.size() > 3 &&
                         location_.path.compare(location_.path.size() - 3, 3, ".gz") == 0;
    if (gz_name && !gzip) {
      return absl::DataLossError(fmt::format(
          "file `{}` ends in .gz but is not gzip data (no gzip magic bytes)", partition_));
    }
    if (gzip) {
      stream_ =
          std::make_unique<GzipStream>(location_, partition_, size, options_.read_chunk_bytes);
      // Positions are offsets in the decompressed stream: decompress up to the checkpoint.
      uint64_t skipped = 0;
      while (skipped < offset_) {
        std::string discard;
        RETURN_IF_ERROR(
            stream_->Read(std::min(offset_ - skipped, options_.read_chunk_bytes), discard));
        if (discard.empty()) break;
        if (skipped + discard.size() > offset_) {
          buffer_ = discard.substr(offset_ - skipped);
          skipped = offset_;
          break;
        }
        skipped += discard.size();
      }
      if (skipped < offset_) return PastEndError(skipped);
    } else {
      if (offset_ > size) return PastEndError(size);
      stream_ = std::make_unique<PlainStream>(location_, partition_, offset_, size);
    }
    return absl::OkStatus();
  }

  absl::Status PastEndError(uint64_t size) const {
    return absl::DataLossError(fmt::format(
        "checkpoint offset {} of file `{}` is past its end ({} bytes): the file was truncated or "
        "replaced; reset the source checkpoint to read it again",
        offset_, partition_, size));
  }

  absl::Status Refill() {
    if (consumed_ > 0) {
      buffer_.erase(0, consumed_);
      scan_from_ -= consumed_;
      consumed_ = 0;
    }
    const size_t before = buffer_.size();
    RETURN_IF_ERROR(stream_->Read(options_.read_chunk_bytes, buffer_));
    if (buffer_.size() == before) at_end_ = true;
    return absl::OkStatus();
  }

  // Consumes buffer_[consumed_, end) as one line (`end` is past its '\n' if it has one).
  void TakeLine(size_t end, SourceBatch& batch) {
    const size_t length = end - consumed_;
    const bool has_newline = length > 0 && buffer_[end - 1] == '\n';
    const size_t text_length = has_newline ? length - 1 : length;
    if (skipping_oversized_ || text_length > kMaxSourceLineBytes) {
      ++batch.num_oversized_lines;
      skipping_oversized_ = false;
    } else {
      batch.ndjson.append(buffer_, consumed_, text_length);
      batch.ndjson.push_back('\n');
    }
    offset_ += length + offset_pending_drop_;
    offset_pending_drop_ = 0;
    consumed_ = end;
    scan_from_ = end;
  }

  FileLocation location_;
  const std::string partition_;
  std::string last_position_;  // the checkpoint string of offset_ as last published or returned
  uint64_t offset_;            // decoded offset of buffer_[consumed_]
  const SourceOptions options_;
  std::unique_ptr<ByteStream> stream_;
  std::string buffer_;
  size_t consumed_ = 0;   // bytes of buffer_ already turned into lines
  size_t scan_from_ = 0;  // no '\n' in buffer_[consumed_, scan_from_)
  bool at_end_ = false;
  bool skipping_oversized_ = false;
  uint64_t offset_pending_drop_ = 0;  // bytes of an oversized line dropped from buffer_
};

class VecSource final : public Source {
 public:
  VecSource(std::vector<std::string> docs, uint64_t batch_num_docs, std::string partition,
            std::string stored_position, uint64_t next)
      : docs_(std::move(docs)),
        batch_num_docs_(batch_num_docs),
        partition_(std::move(partition)),
        last_position_(std::move(stored_position)),
        next_(next) {}

  absl::StatusOr<std::optional<SourceBatch>> NextBatch() override {
    if (next_ >= docs_.size()) return std::optional<SourceBatch>();
    SourceBatch batch;
    const uint64_t end = std::min<uint64_t>(docs_.size(), next_ + batch_num_docs_);
    for (; next_ < end; ++next_) {
      batch.ndjson += docs_[next_];
      batch.ndjson.push_back('\n');
    }
    std::string to = WalPositionToCheckpoint(next_);
    batch.checkpoint_delta[partition_] = metastore::PartitionDelta{last_position_, to};
    last_position_ = std::move(to);
    return std::optional<SourceBatch>(std::move(batch));
  }

 private:
  const std::vector<std::string> docs_;
  const uint64_t batch_num_docs_;
  const std::string partition_;
  std::string last_position_;
  uint64_t next_;
};

class VoidSource final : public Source {
 public:
  absl::StatusOr<std::optional<SourceBatch>> NextBatch() override {
    return std::optional<SourceBatch>();
  }
};

// Reads the vec source's params.
struct VecParams {
  std::vector<std::string> docs;
  uint64_t batch_num_docs = kDefaultVecBatchNumDocs;
  std::string partition = kDefaultVecPartition;
};

absl::StatusOr<VecParams> ParseVecParams(const nlohmann::json& params) {
  VecParams out;
  for (const auto& [key, value] : params.items()) {
    if (key == "docs") {
      if (!value.is_array()) return ParamError("docs", "expected a list of documents");
      for (const nlohmann::json& doc : value) {
        out.docs.push_back(doc.is_string() ? doc.get<std::string>() : DumpJson(doc));
      }
    } else if (key == "batch_num_docs") {
      if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
        return ParamError("batch_num_docs", "expected a positive integer");
      }
      out.batch_num_docs = value.get<uint64_t>();
    } else if (key == "partition") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return ParamError("partition", "expected a non-empty string");
      }
      out.partition = value.get<std::string>();
    } else {
      return ParamError(key, "unknown key (expected docs, batch_num_docs or partition)");
    }
  }
  return out;
}

absl::StatusOr<std::string> FileParam(const nlohmann::json& params) {
  for (const auto& [key, value] : params.items()) {
    if (key != "filepath") return ParamError(key, "unknown key (expected filepath)");
  }
  if (!params.contains("filepath")) return ParamError("filepath", "missing file path");
  const nlohmann::json& filepath = params["filepath"];
  if (!filepath.is_string() || filepath.get<std::string>().empty()) {
    return ParamError("filepath", "expected a non-empty string");
  }
  return filepath.get<std::string>();
}

}  // namespace

bool IsPipelineSourceType(const std::string& source_type) {
  return source_type == "file" || source_type == "vec" || source_type == "void";
}

absl::StatusOr<std::string> FileSourcePartitionId(const std::string& filepath) {
  auto uri = Uri::Parse(filepath);
  if (!uri.ok()) return ParamError("filepath", std::string(uri.status().message()));
  if (uri->protocol() == Uri::Protocol::kPostgres) {
    return ParamError("filepath", fmt::format("`{}` is not a file uri", filepath));
  }
  return uri->str();
}

absl::Status ValidateSourceParams(const config::SourceConfig& config) {
  if (config.source_type == "file") {
    ASSIGN_OR_RETURN(const std::string filepath, FileParam(config.params));
    ASSIGN_OR_RETURN(const std::string uri, FileSourcePartitionId(filepath));
    if (!SplitFileUri(uri).has_value()) {
      return ParamError("filepath", fmt::format("`{}` names no file", filepath));
    }
  } else if (config.source_type == "vec") {
    RETURN_IF_ERROR(ParseVecParams(config.params).status());
  } else if (config.source_type == "void") {
    if (!config.params.empty()) {
      return ParamError(config.params.begin().key(), "unknown key (a void source has no params)");
    }
  } else {
    return absl::OkStatus();
  }
  if (config.num_pipelines != 1) {
    return absl::InvalidArgumentError(
        fmt::format("`num_pipelines`: a {} source runs one pipeline (got {})", config.source_type,
                    config.num_pipelines));
  }
  if (config.input_format != "json") {
    return absl::InvalidArgumentError(
        fmt::format("`input_format`: a {} source reads json (NDJSON) only (got {})",
                    config.source_type, config.input_format));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Source>> NewSource(const config::SourceConfig& config,
                                                  const metastore::SourceCheckpoint& checkpoint,
                                                  storage::StorageResolver& resolver,
                                                  const SourceOptions& options) {
  RETURN_IF_ERROR(ValidateSourceParams(config));
  if (config.source_type == "file") {
    ASSIGN_OR_RETURN(const std::string filepath, FileParam(config.params));
    ASSIGN_OR_RETURN(std::string partition, FileSourcePartitionId(filepath));
    ASSIGN_OR_RETURN(FileLocation location, LocateFile(partition, resolver));
    std::string stored = StoredPosition(checkpoint, partition);
    ASSIGN_OR_RETURN(const uint64_t offset, OffsetFromPosition(partition, stored));
    return std::unique_ptr<Source>(std::make_unique<FileSource>(
        std::move(location), std::move(partition), std::move(stored), offset, options));
  }
  if (config.source_type == "vec") {
    ASSIGN_OR_RETURN(VecParams params, ParseVecParams(config.params));
    std::string stored = StoredPosition(checkpoint, params.partition);
    ASSIGN_OR_RETURN(const uint64_t next, OffsetFromPosition(params.partition, stored));
    return std::unique_ptr<Source>(std::make_unique<VecSource>(
        std::move(params.docs), params.batch_num_docs, params.partition, std::move(stored), next));
  }
  if (config.source_type == "void") return std::unique_ptr<Source>(std::make_unique<VoidSource>());
  return absl::InvalidArgumentError(
      fmt::format("source `{}` of type {} does not run in a source pipeline", config.source_id,
                  config.source_type));
}

}  // namespace shale::indexing
