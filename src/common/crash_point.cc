#include "common/crash_point.h"

#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>

#include <unistd.h>

#include "fmt/format.h"

namespace shale {
namespace {

constexpr std::array<std::string_view, 12> kCrashPointNames = {
    kCrashIngestAfterWalAppend,  kCrashIngestAfterSplitBuild, kCrashIngestAfterStage,
    kCrashIngestAfterUpload,     kCrashIngestAfterPublish,    kCrashIngestTornWalWrite,
    kCrashSourceAfterSplitBuild, kCrashSourceAfterStage,      kCrashSourceAfterUpload,
    kCrashSourceAfterPublish,    kCrashMergeAfterUpload,      kCrashMergeAfterPublish,
};

// The armed point, written once before the pipelines start; `armed` publishes it.
struct ArmedPoint {
  std::string point;
  uint64_t nth = 0;
  std::atomic<uint64_t> hits{0};
};

ArmedPoint& Armed() {
  static ArmedPoint* armed = new ArmedPoint();  // never destroyed: read until _exit
  return *armed;
}

std::atomic<bool> armed_flag{false};

}  // namespace

std::span<const std::string_view> CrashPointNames() { return kCrashPointNames; }

absl::StatusOr<CrashPointSpec> ParseCrashPointSpec(std::string_view text) {
  CrashPointSpec spec;
  std::string_view name = text;
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    name = text.substr(0, colon);
    const std::string_view count = text.substr(colon + 1);
    const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), spec.nth);
    if (error != std::errc() || end != count.data() + count.size() || spec.nth == 0) {
      return absl::InvalidArgumentError(fmt::format(
          "crash point `{}`: `{}` is not a positive count (expected <point>[:<nth>])", text,
          count));
    }
  }
  for (std::string_view known : kCrashPointNames) {
    if (known == name) {
      spec.point = std::string(name);
      return spec;
    }
  }
  return absl::InvalidArgumentError(fmt::format("unknown crash point `{}` (expected one of {})",
                                                name, fmt::join(kCrashPointNames, ", ")));
}

void ArmCrashPoint(const std::optional<CrashPointSpec>& spec) {
  armed_flag.store(false);
  if (!spec.has_value()) return;
  ArmedPoint& armed = Armed();
  armed.point = spec->point;
  armed.nth = spec->nth;
  armed.hits.store(0);
  armed_flag.store(true);
}

bool CrashPointReached(std::string_view point) {
  if (!armed_flag.load(std::memory_order_acquire)) return false;
  ArmedPoint& armed = Armed();
  if (armed.point != point) return false;
  return armed.hits.fetch_add(1) + 1 == armed.nth;
}

void CrashNow(std::string_view point) {
  // No logger: its buffers and locks belong to the process that is dying.
  std::fprintf(stderr, "TEST ONLY: crash point reached point=%.*s nth=%llu, exiting with code %d\n",
               static_cast<int>(point.size()), point.data(),
               static_cast<unsigned long long>(Armed().nth), kCrashPointExitCode);
  std::fflush(stderr);
  _exit(kCrashPointExitCode);
}

void CrashPoint(std::string_view point) {
  if (CrashPointReached(point)) CrashNow(point);
}

}  // namespace shale
