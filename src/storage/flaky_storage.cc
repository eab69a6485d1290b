// FlakyStorage: fault injection for tests (see storage_decorators.h).
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/uri.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"

namespace shale::storage {
namespace {

class FlakyStorage final : public Storage {
 public:
  FlakyStorage(std::unique_ptr<Storage> inner, std::function<double()> failure_rate, uint64_t seed)
      : inner_(std::move(inner)), failure_rate_(std::move(failure_rate)), random_(seed) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    return Call("put", path, [&] { return inner_->Put(path, data); });
  }
  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    return Call("get_slice", path, [&] { return inner_->GetSlice(path, offset, length); });
  }
  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    return Call("get_all", path, [&] { return inner_->GetAll(path); });
  }
  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    return Call("copy_to_file", path, [&] { return inner_->CopyToFile(path, local_path); });
  }
  absl::Status Delete(std::string_view path) override {
    return Call("delete", path, [&] { return inner_->Delete(path); });
  }
  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    return Call("bulk_delete", paths.empty() ? std::string_view() : paths.front(),
                [&] { return inner_->BulkDelete(paths); });
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return Call("list", prefix, [&] { return inner_->List(prefix); });
  }
  absl::StatusOr<bool> Exists(std::string_view path) override {
    return Call("exists", path, [&] { return inner_->Exists(path); });
  }
  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    return Call("file_num_bytes", path, [&] { return inner_->FileNumBytes(path); });
  }
  const Uri& uri() const override { return inner_->uri(); }

 private:
  enum class Fault { kNone, kBefore, kAfter };

  Fault Draw() {
    const double failure_rate = failure_rate_();
    if (failure_rate <= 0) {
      return Fault::kNone;
    }
    absl::MutexLock lock(&mu_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const double draw = uniform(random_);
    if (draw >= failure_rate) {
      return Fault::kNone;
    }
    return draw < failure_rate / 2 ? Fault::kBefore : Fault::kAfter;
  }

  // A fault "after" runs the call, so a Put or Delete took effect although the caller sees an
  // error: what a lost response looks like. Retrying it must be harmless (every Storage
  // operation is idempotent).
  template <typename Inner>
  auto Call(std::string_view op, std::string_view path, const Inner& inner) -> decltype(inner()) {
    const Fault fault = Draw();
    if (fault == Fault::kBefore) {
      return absl::UnavailableError(
          fmt::format("injected storage failure: {} `{}` in `{}`", op, path, inner_->uri().str()));
    }
    auto result = inner();
    if (fault == Fault::kAfter) {
      return absl::UnavailableError(
          fmt::format("injected storage failure: {} `{}` in `{}` (after it ran)", op, path,
                      inner_->uri().str()));
    }
    return result;
  }

  const std::unique_ptr<Storage> inner_;
  const std::function<double()> failure_rate_;
  absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Storage> NewFlakyStorage(std::unique_ptr<Storage> inner,
                                         std::function<double()> failure_rate, uint64_t seed) {
  return std::make_unique<FlakyStorage>(std::move(inner), std::move(failure_rate), seed);
}

std::unique_ptr<Storage> NewFlakyStorage(std::unique_ptr<Storage> inner, double failure_rate,
                                         uint64_t seed) {
  return NewFlakyStorage(
      std::move(inner), [failure_rate] { return failure_rate; }, seed);
}

}  // namespace shale::storage
