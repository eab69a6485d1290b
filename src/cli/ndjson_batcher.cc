#include "cli/ndjson_batcher.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "fmt/format.h"

namespace shale::cli {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;

bool IsBlank(const char* begin, const char* end) {
  return std::all_of(begin, end, [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

absl::StatusOr<std::unique_ptr<NdjsonBatcher>> NdjsonBatcher::Open(const std::string& path,
                                                                   uint64_t batch_size_limit) {
  if (batch_size_limit == 0) {
    return absl::InvalidArgumentError("batch size limit must be greater than zero");
  }
  const bool use_stdin = path.empty() || path == "-";
  const std::string name = use_stdin ? std::string("<stdin>") : path;
  const int fd = use_stdin ? dup(STDIN_FILENO) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = fmt::format("cannot open input {}: {}", name, strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  gzFile gz_file = gzdopen(fd, "rb");
  if (gz_file == nullptr) {
    close(fd);
    return absl::InternalError(fmt::format("cannot open input {}: out of memory", name));
  }
  gzbuffer(gz_file, 1 << 20);
  return std::unique_ptr<NdjsonBatcher>(new NdjsonBatcher(gz_file, name, batch_size_limit));
}

NdjsonBatcher::NdjsonBatcher(void* gz_file, std::string name, uint64_t batch_size_limit)
    : gz_file_(gz_file), name_(std::move(name)), batch_size_limit_(batch_size_limit) {}

NdjsonBatcher::~NdjsonBatcher() { gzclose(static_cast<gzFile>(gz_file_)); }

absl::Status NdjsonBatcher::Fill() {
  const size_t old_size = pending_.size();
  pending_.resize(old_size + kReadChunkBytes);
  const int num_read = gzread(static_cast<gzFile>(gz_file_), pending_.data() + old_size,
                              static_cast<unsigned>(kReadChunkBytes));
  if (num_read < 0) {
    pending_.resize(old_size);
    int error_number = 0;
    const char* message = gzerror(static_cast<gzFile>(gz_file_), &error_number);
    if (error_number == Z_ERRNO) message = strerror(errno);
    return absl::DataLossError(fmt::format("cannot read input {} at uncompressed offset {}: {}",
                                           name_, bytes_read_, message));
  }
  pending_.resize(old_size + static_cast<size_t>(num_read));
  bytes_read_ += static_cast<uint64_t>(num_read);
  if (num_read == 0) eof_ = true;
  return absl::OkStatus();
}

void NdjsonBatcher::SkipLeadingBlankLines() {
  size_t start = 0;
  while (start < pending_.size()) {
    const size_t newline = pending_.find('\n', start);
    const size_t line_end = newline == std::string::npos ? pending_.size() : newline;
    if (!IsBlank(pending_.data() + start, pending_.data() + line_end)) break;
    // An unterminated blank tail may still grow into a real line: keep it until eof.
    if (newline == std::string::npos && !eof_) break;
    start = newline == std::string::npos ? pending_.size() : newline + 1;
  }
  pending_.erase(0, start);
}

absl::StatusOr<std::optional<NdjsonBatch>> NdjsonBatcher::Next() {
  const size_t limit = static_cast<size_t>(batch_size_limit_);
  // Read until the buffer holds more than one full batch, or the input ends.
  while (!eof_ && pending_.size() <= limit) {
    if (absl::Status status = Fill(); !status.ok()) return status;
  }
  SkipLeadingBlankLines();
  if (pending_.empty()) return std::nullopt;

  size_t cut = 0;  // bytes of pending_ that form the batch, ending after a '\n'
  const bool ends_with_newline = pending_.back() == '\n';
  // At the end of the input the rest fits, counting the newline added to an unterminated line.
  if (eof_ && (pending_.size() < limit || (pending_.size() == limit && ends_with_newline))) {
    cut = pending_.size();
  } else {
    // The last newline that keeps the batch within the limit.
    const size_t last_newline = pending_.rfind('\n', limit - 1);
    if (last_newline != std::string::npos) {
      cut = last_newline + 1;
    } else {
      // The first line alone is over the limit: send it alone.
      size_t newline = pending_.find('\n', limit);
      while (newline == std::string::npos && !eof_) {
        const size_t searched = pending_.size();
        if (absl::Status status = Fill(); !status.ok()) return status;
        newline = pending_.find('\n', searched);
      }
      cut = newline == std::string::npos ? pending_.size() : newline + 1;
    }
  }

  NdjsonBatch batch;
  batch.body = std::move(spare_body_);
  spare_body_ = std::string();
  batch.body.clear();
  batch.body.reserve(cut + 1);
  const char* const begin = pending_.data();
  size_t line_start = 0;
  while (line_start < cut) {
    const char* newline =
        static_cast<const char*>(memchr(begin + line_start, '\n', cut - line_start));
    const size_t line_end = newline == nullptr ? cut : static_cast<size_t>(newline - begin);
    if (!IsBlank(begin + line_start, begin + line_end)) {
      batch.body.append(begin + line_start, line_end - line_start);
      batch.body.push_back('\n');
      ++batch.num_lines;
    }
    line_start = line_end + 1;
  }
  pending_.erase(0, cut);
  if (batch.num_lines == 0) return Next();
  return batch;
}

void NdjsonBatcher::Recycle(std::string body) {
  if (body.capacity() > spare_body_.capacity()) spare_body_ = std::move(body);
}

}  // namespace shale::cli
