#include "common/metrics.h"

#include "gtest/gtest.h"

namespace shale {
namespace {

TEST(MetricsTest, CountersAreSharedByNameAndLabels) {
  MetricsRegistry registry;
  Counter& a = registry.GetCounter("shale_test_total", "help", "index_id=\"a\"");
  Counter& a_again = registry.GetCounter("shale_test_total", "help", "index_id=\"a\"");
  Counter& b = registry.GetCounter("shale_test_total", "help", "index_id=\"b\"");
  a.Increment(3);
  a_again.Increment();
  b.Increment();
  EXPECT_EQ(&a, &a_again);
  EXPECT_EQ(a.value(), 4);
  const std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE shale_test_total counter"), std::string::npos);
  EXPECT_NE(text.find("shale_test_total{index_id=\"a\"} 4"), std::string::npos);
  EXPECT_NE(text.find("shale_test_total{index_id=\"b\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace shale
