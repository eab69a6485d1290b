// ForwardingStorage (tests and benchmarks only): a Storage that forwards every call to an inner
// storage, for test decorators to override only the calls they change.
// Thread safety: thread-safe when the inner storage is.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace shale::storage::testing {

class ForwardingStorage : public Storage {
 public:
  explicit ForwardingStorage(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    return inner_->Put(path, data);
  }
  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    return inner_->GetSlice(path, offset, length);
  }
  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    return inner_->GetAll(path);
  }
  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    return inner_->CopyToFile(path, local_path);
  }
  absl::Status Delete(std::string_view path) override { return inner_->Delete(path); }
  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    return inner_->BulkDelete(paths);
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  absl::StatusOr<bool> Exists(std::string_view path) override { return inner_->Exists(path); }
  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    return inner_->FileNumBytes(path);
  }
  const Uri& uri() const override { return inner_->uri(); }

 protected:
  Storage& inner() { return *inner_; }

 private:
  const std::shared_ptr<Storage> inner_;
};

}  // namespace shale::storage::testing
