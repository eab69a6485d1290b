#include "common/lru_cache.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/metrics.h"

namespace shale {
namespace {

using StringCache = LruCache<std::string>;

std::shared_ptr<const std::string> Value(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

uint64_t Cost(const std::string& key, const std::string& value) {
  return key.size() + value.size() + kCacheEntryOverheadBytes;
}

bool Put(StringCache& cache, const std::string& key, const std::string& value) {
  return cache.Put(key, Value(value), value.size());
}

TEST(LruCacheTest, MissThenHit) {
  StringCache cache("test_miss_then_hit", 10'000);
  EXPECT_EQ(cache.Get("a"), nullptr);
  EXPECT_TRUE(Put(cache, "a", "alpha"));
  std::shared_ptr<const std::string> value = cache.Get("a");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, "alpha");
  const CacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.items, 1u);
  EXPECT_EQ(stats.bytes, Cost("a", "alpha"));
}

TEST(LruCacheTest, EvictsTheLeastRecentlyUsedEntry) {
  // Room for exactly three entries of this size.
  const std::string payload(100, 'x');
  StringCache cache("test_lru_order", 3 * Cost("k0", payload));
  ASSERT_TRUE(Put(cache, "k0", payload));
  ASSERT_TRUE(Put(cache, "k1", payload));
  ASSERT_TRUE(Put(cache, "k2", payload));
  ASSERT_NE(cache.Get("k0"), nullptr);  // k1 is now the least recently used
  ASSERT_TRUE(Put(cache, "k3", payload));
  EXPECT_NE(cache.Get("k0"), nullptr);
  EXPECT_EQ(cache.Get("k1"), nullptr);
  EXPECT_NE(cache.Get("k2"), nullptr);
  EXPECT_NE(cache.Get("k3"), nullptr);
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_EQ(cache.stats().items, 3u);
}

TEST(LruCacheTest, OneLargeEntryEvictsSeveralSmallOnes) {
  StringCache cache("test_large_entry", 1000);
  ASSERT_TRUE(Put(cache, "a", std::string(100, 'a')));
  ASSERT_TRUE(Put(cache, "b", std::string(100, 'b')));
  ASSERT_TRUE(Put(cache, "c", std::string(100, 'c')));
  ASSERT_TRUE(Put(cache, "big", std::string(1000 - 3 - kCacheEntryOverheadBytes, 'z')));
  EXPECT_EQ(cache.stats().items, 1u);
  EXPECT_EQ(cache.stats().evictions, 3);
  EXPECT_EQ(cache.stats().bytes, 1000u);
  EXPECT_NE(cache.Get("big"), nullptr);
}

TEST(LruCacheTest, OversizedValueIsNotAdmittedAndDropsThePreviousValue) {
  StringCache cache("test_oversized", 500);
  ASSERT_TRUE(Put(cache, "a", "small"));
  ASSERT_TRUE(Put(cache, "keep", "kept"));
  EXPECT_FALSE(Put(cache, "a", std::string(500, 'x')));
  EXPECT_EQ(cache.Get("a"), nullptr);  // never a stale value for the key
  EXPECT_NE(cache.Get("keep"), nullptr);
  EXPECT_EQ(cache.stats().items, 1u);
  EXPECT_EQ(cache.stats().evictions, 0);
}

TEST(LruCacheTest, ZeroCapacityDisablesTheCache) {
  StringCache cache("test_zero_capacity", 0);
  EXPECT_FALSE(Put(cache, "a", ""));
  EXPECT_EQ(cache.Get("a"), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.stats().misses, 1);
}

TEST(LruCacheTest, ReplacingAKeyUpdatesItsCost) {
  StringCache cache("test_replace", 10'000);
  ASSERT_TRUE(Put(cache, "a", std::string(10, 'x')));
  ASSERT_TRUE(Put(cache, "a", std::string(300, 'y')));
  EXPECT_EQ(cache.stats().items, 1u);
  EXPECT_EQ(cache.stats().bytes, Cost("a", std::string(300, 'y')));
  EXPECT_EQ(*cache.Get("a"), std::string(300, 'y'));
}

TEST(LruCacheTest, ValueOutlivesItsEviction) {
  StringCache cache("test_outlives", Cost("a", "first"));
  ASSERT_TRUE(Put(cache, "a", "first"));
  std::shared_ptr<const std::string> held = cache.Get("a");
  ASSERT_TRUE(Put(cache, "b", "other"));
  EXPECT_EQ(cache.Get("a"), nullptr);
  EXPECT_EQ(*held, "first");
}

// Random operations checked against a plain list model of LRU order and byte accounting.
TEST(LruCacheTest, MatchesAReferenceModelUnderRandomOperations) {
  const uint64_t capacity = 5'000;
  StringCache cache("test_model", capacity);
  std::list<std::pair<std::string, std::string>> model;  // most recent first
  uint64_t model_bytes = 0;
  std::mt19937 rng(7);
  for (int step = 0; step < 5'000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 40);
    auto in_model = std::find_if(model.begin(), model.end(),
                                 [&](const auto& entry) { return entry.first == key; });
    if (rng() % 2 == 0) {
      std::shared_ptr<const std::string> got = cache.Get(key);
      ASSERT_EQ(got != nullptr, in_model != model.end()) << "step " << step << " key " << key;
      if (got != nullptr) {
        EXPECT_EQ(*got, in_model->second);
        model.splice(model.begin(), model, in_model);
      }
    } else {
      const std::string value(rng() % 1'200, static_cast<char>('a' + rng() % 26));
      const bool admitted = Put(cache, key, value);
      if (in_model != model.end()) {
        model_bytes -= Cost(in_model->first, in_model->second);
        model.erase(in_model);
      }
      ASSERT_EQ(admitted, Cost(key, value) <= capacity);
      if (admitted) {
        model.emplace_front(key, value);
        model_bytes += Cost(key, value);
        while (model_bytes > capacity) {
          model_bytes -= Cost(model.back().first, model.back().second);
          model.pop_back();
        }
      }
    }
    const CacheStats stats = cache.stats();
    ASSERT_LE(stats.bytes, capacity);
    ASSERT_EQ(stats.bytes, model_bytes) << "step " << step;
    ASSERT_EQ(stats.items, model.size()) << "step " << step;
  }
}

TEST(LruCacheTest, ExportsLabelledMetrics) {
  {
    StringCache cache("test_metrics_export", 1'000);
    ASSERT_TRUE(Put(cache, "a", "value"));
    ASSERT_NE(cache.Get("a"), nullptr);
    ASSERT_EQ(cache.Get("b"), nullptr);
    const std::string text = MetricsRegistry::Global().RenderPrometheus();
    EXPECT_NE(text.find("shale_cache_hits_total{cache=\"test_metrics_export\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("shale_cache_misses_total{cache=\"test_metrics_export\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("shale_cache_items{cache=\"test_metrics_export\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find(fmt::format("shale_cache_bytes{{cache=\"test_metrics_export\"}} {}\n",
                                    Cost("a", "value"))),
              std::string::npos);
    EXPECT_NE(text.find("shale_cache_capacity_bytes{cache=\"test_metrics_export\"} 1000\n"),
              std::string::npos);
  }
  // A destroyed cache gives its bytes, items and capacity back.
  const std::string text = MetricsRegistry::Global().RenderPrometheus();
  EXPECT_NE(text.find("shale_cache_bytes{cache=\"test_metrics_export\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("shale_cache_items{cache=\"test_metrics_export\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("shale_cache_capacity_bytes{cache=\"test_metrics_export\"} 0\n"),
            std::string::npos);
}

TEST(LruCacheTest, ConcurrentUseKeepsTheByteBound) {
  const uint64_t capacity = 20'000;
  StringCache cache("test_concurrent", capacity);
  std::atomic<int64_t> num_gets{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, &num_gets, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 20'000; ++i) {
        const std::string key = "k" + std::to_string(rng() % 200);
        if (rng() % 3 == 0) {
          cache.Put(key, Value(std::string(rng() % 500, 'v')), rng() % 500);
        } else {
          ++num_gets;
          if (std::shared_ptr<const std::string> value = cache.Get(key)) {
            ASSERT_LE(value->size(), 500u);
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const CacheStats stats = cache.stats();
  EXPECT_LE(stats.bytes, capacity);
  EXPECT_EQ(stats.hits + stats.misses, num_gets.load());
  EXPECT_GT(stats.evictions, 0);
}

}  // namespace
}  // namespace shale
