#include "indexing/idempotency.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/ulid.h"

namespace shale::indexing {
namespace {

using ::testing::HasSubstr;
using KeyState = IdempotencyKeys::KeyState;

constexpr int64_t kHour = 3'600'000;

TEST(IdempotencyKeysTest, NewThenInFlightThenAccepted) {
  IdempotencyKeys keys(kHour, 10);
  EXPECT_EQ(keys.Begin("a", 1000).state, KeyState::kNew);
  EXPECT_EQ(keys.Begin("a", 1001).state, KeyState::kInFlight);
  keys.Accept("a", IngestCounts{3, 2, 1}, 1002, 7);
  const IdempotencyKeys::Lookup lookup = keys.Begin("a", 1003);
  EXPECT_EQ(lookup.state, KeyState::kAccepted);
  EXPECT_EQ(lookup.counts, (IngestCounts{3, 2, 1}));
  EXPECT_EQ(lookup.wal_end, 7u);
  EXPECT_EQ(keys.num_accepted(), 1u);

  // An aborted key is new again.
  EXPECT_EQ(keys.Begin("b", 1004).state, KeyState::kNew);
  keys.Abort("b");
  EXPECT_EQ(keys.Begin("b", 1005).state, KeyState::kNew);
  // Abort never forgets an accepted key.
  keys.Abort("a");
  EXPECT_EQ(keys.Begin("a", 1006).state, KeyState::kAccepted);
}

TEST(IdempotencyKeysTest, KeysExpireAfterTheRetentionAndTheOldestGoFirst) {
  IdempotencyKeys keys(/*retention_millis=*/100, /*max_keys=*/3);
  for (int i = 0; i < 4; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(keys.Begin(key, 1000 + i).state, KeyState::kNew);
    keys.Accept(key, IngestCounts{1, 1, 0}, 1000 + i, std::nullopt);
  }
  EXPECT_EQ(keys.num_accepted(), 3u);  // k0 evicted: at most 3 keys
  EXPECT_EQ(keys.Begin("k0", 1010).state, KeyState::kNew);
  keys.Abort("k0");
  EXPECT_EQ(keys.Begin("k3", 1099).state, KeyState::kAccepted);
  // 100 ms after its acceptance a key is forgotten.
  EXPECT_EQ(keys.Begin("k1", 1101).state, KeyState::kNew);
  EXPECT_EQ(keys.Begin("k3", 1103).state, KeyState::kNew);
}

TEST(IdempotencyKeysTest, SnapshotRoundTripSkipsExpiredKeys) {
  IdempotencyKeys keys(/*retention_millis=*/1000, 100);
  keys.Begin("old", 0);
  keys.Accept("old", IngestCounts{1, 1, 0}, 0, 5);
  keys.Begin("new", 500);
  keys.Accept("new", IngestCounts{4, 3, 1}, 500, 9);
  EXPECT_TRUE(keys.dirty());
  const std::string snapshot = keys.Snapshot(600);
  EXPECT_FALSE(keys.dirty());

  IdempotencyKeys restored(1000, 100);
  ASSERT_TRUE(restored.LoadSnapshot(snapshot, 1200).ok());
  EXPECT_EQ(restored.num_accepted(), 1u);  // `old` expired at 1000
  const IdempotencyKeys::Lookup lookup = restored.Begin("new", 1200);
  EXPECT_EQ(lookup.state, KeyState::kAccepted);
  EXPECT_EQ(lookup.counts, (IngestCounts{4, 3, 1}));
  EXPECT_FALSE(lookup.wal_end.has_value());
  // A WAL record of the same key fills in its position.
  restored.Restore("new", IngestCounts{4, 3, 1}, 500, 9, 1200);
  EXPECT_EQ(restored.Begin("new", 1200).wal_end, 9u);

  EXPECT_EQ(restored.LoadSnapshot("{\"version\": 7}", 0).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(restored.LoadSnapshot("not json", 0).code(), absl::StatusCode::kDataLoss);
}

TEST(IdempotencyRecordTest, EncodesAndDecodes) {
  const IdempotencyRecord record{"client-1/batch-42", 1717171717000, IngestCounts{10, 9, 1}, 2, {}};
  auto decoded = DecodeIdempotencyRecord(EncodeIdempotencyRecord(record));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->key, record.key);
  EXPECT_EQ(decoded->accepted_at_millis, record.accepted_at_millis);
  EXPECT_EQ(decoded->counts, record.counts);
  EXPECT_EQ(decoded->num_document_records, 2u);
  EXPECT_TRUE(decoded->document_hashes.empty());  // as written before the hashes existed
  EXPECT_EQ(DecodeIdempotencyRecord("{\"key\": 3}").status().code(), absl::StatusCode::kDataLoss);

  IdempotencyRecord hashed = record;
  hashed.document_hashes = {DocumentRecordHash("a\n"), 0xfedcba9876543210};
  const std::string encoded = EncodeIdempotencyRecord(hashed);
  EXPECT_THAT(encoded, HasSubstr("\"fedcba9876543210\""));
  auto with_hashes = DecodeIdempotencyRecord(encoded);
  ASSERT_TRUE(with_hashes.ok()) << with_hashes.status();
  EXPECT_EQ(with_hashes->document_hashes, hashed.document_hashes);
  // The hash of a record cut in pieces is the hash of its payload.
  EXPECT_EQ(DocumentRecordHash(std::vector<std::string_view>{"{\"a\"", ":1}\n", ""}),
            DocumentRecordHash("{\"a\":1}\n"));
  EXPECT_NE(DocumentRecordHash("a\n"), DocumentRecordHash("b\n"));
  // One hash per record, each 16 hex digits.
  for (const char* bad : {R"(["00000000000000aa"])", R"(["aa", "bb"])",
                          R"(["00000000000000aa", "0x000000000000bb"])", R"([1, 2])", R"("x")"}) {
    std::string text = encoded;
    const size_t at = text.find("\"document_xxh3\":") + 16;
    text.replace(at, text.find(']', at) + 1 - at, bad);
    EXPECT_EQ(DecodeIdempotencyRecord(text).status().code(), absl::StatusCode::kDataLoss) << text;
  }
}

TEST(IdempotencyKeyTest, Validation) {
  EXPECT_TRUE(ValidateIdempotencyKey("a").ok());
  EXPECT_TRUE(ValidateIdempotencyKey("550e8400-e29b-41d4-a716-446655440000").ok());
  EXPECT_TRUE(ValidateIdempotencyKey(std::string(256, 'k')).ok());
  EXPECT_THAT(ValidateIdempotencyKey("").message(), HasSubstr("1 to 256"));
  EXPECT_THAT(ValidateIdempotencyKey(std::string(257, 'k')).message(), HasSubstr("1 to 256"));
  EXPECT_THAT(ValidateIdempotencyKey("with space").message(), HasSubstr("visible ASCII"));
  EXPECT_THAT(ValidateIdempotencyKey("caf\xc3\xa9").message(), HasSubstr("visible ASCII"));
}

TEST(WriteFileAtomicallyTest, ReplacesTheFile) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / ("atomic-" + NewUlid())).string();
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  std::ifstream file(path);
  std::ostringstream content;
  content << file.rdbuf();
  EXPECT_EQ(content.str(), "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(WriteFileAtomically("/nonexistent-dir/x", "y").code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace shale::indexing
