#include "common/thread_pool.h"

#include <atomic>

#include "gtest/gtest.h"

namespace shale {
namespace {

TEST(ThreadPoolTest, RunsEveryQueuedTaskBeforeStopReturns) {
  std::atomic<int> done{0};
  ThreadPool pool("test", 3);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(pool.Submit([&] { done.fetch_add(1); }));
  pool.Stop();
  EXPECT_EQ(done.load(), 1000);
  EXPECT_FALSE(pool.Submit([] {}));
}

}  // namespace
}  // namespace shale
