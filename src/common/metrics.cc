#include "common/metrics.h"

#include "fmt/format.h"

namespace shale {

MetricsRegistry& MetricsRegistry::Global() {
  static MetricsRegistry* registry = new MetricsRegistry();
  return *registry;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     std::string_view labels) {
  absl::MutexLock lock(&mu_);
  Family& family = families_[std::string(name)];
  family.help = std::string(help);
  family.is_counter = true;
  std::unique_ptr<Counter>& counter = family.counters[std::string(labels)];
  if (!counter) counter = std::make_unique<Counter>();
  return *counter;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 std::string_view labels) {
  absl::MutexLock lock(&mu_);
  Family& family = families_[std::string(name)];
  family.help = std::string(help);
  family.is_counter = false;
  std::unique_ptr<Gauge>& gauge = family.gauges[std::string(labels)];
  if (!gauge) gauge = std::make_unique<Gauge>();
  return *gauge;
}

std::string MetricsRegistry::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, family.help, name,
                   family.is_counter ? "counter" : "gauge");
    // Not the structured binding itself: clang 14 (the fuzz build) cannot capture one.
    const std::string& metric = name;
    auto render = [&](const std::string& labels, int64_t value) {
      if (labels.empty()) {
        fmt::format_to(std::back_inserter(out), "{} {}\n", metric, value);
      } else {
        fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", metric, labels, value);
      }
    };
    for (const auto& [labels, counter] : family.counters) render(labels, counter->value());
    for (const auto& [labels, gauge] : family.gauges) render(labels, gauge->value());
  }
  return out;
}

}  // namespace shale
