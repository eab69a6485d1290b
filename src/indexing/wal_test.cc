#include "indexing/wal.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/metrics.h"
#include "common/ulid.h"
#include "xxhash.h"

namespace shale::indexing {
namespace {

namespace fs = std::filesystem;

std::string FreshDirectory() {
  return (fs::path(::testing::TempDir()) / ("wal-test-" + NewUlid())).string();
}

std::vector<WalRecord> ReadAll(Wal& wal, uint64_t from = 0) {
  std::vector<WalRecord> records;
  auto reader = wal.ReadFrom(from);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return records;
  while (true) {
    auto record = (*reader)->Next();
    EXPECT_TRUE(record.ok()) << record.status();
    if (!record.ok() || !record->has_value()) break;
    records.push_back(std::move(**record));
  }
  return records;
}

std::vector<fs::path> Segments(const std::string& directory) {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(directory)) paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

int64_t CorruptCount() {
  return MetricsRegistry::Global().GetCounter("shale_wal_corrupt_records_total", "").value();
}

std::string Payload(int i) { return "{\"n\": " + std::to_string(i) + "}\n{\"m\": 1}"; }

TEST(WalTest, AppendReadBackAndReopen) {
  const std::string directory = FreshDirectory();
  {
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok()) << wal.status();
    for (int i = 0; i < 10; ++i) {
      auto position = (*wal)->Append(Payload(i));
      ASSERT_TRUE(position.ok()) << position.status();
      EXPECT_EQ(*position, static_cast<uint64_t>(i));
    }
    EXPECT_EQ((*wal)->next_position(), 10u);
    auto records = ReadAll(**wal, 4);
    ASSERT_EQ(records.size(), 6u);
    EXPECT_EQ(records[0].position, 4u);
    EXPECT_EQ(records[0].payload, Payload(4));
  }
  auto reopened = Wal::Open(directory, {});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->next_position(), 10u);
  auto records = ReadAll(**reopened);
  ASSERT_EQ(records.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(records[i].payload, Payload(i));
  auto position = (*reopened)->Append("more");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, 10u);
  EXPECT_EQ(Segments(directory).front().filename(), "00000000000000000000");
}

// Pages of `path` in the page cache, by mincore() over a mapping of the file.
size_t ResidentPages(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SIZE_MAX;
  struct stat info {};
  ::fstat(fd, &info);
  const auto size = static_cast<size_t>(info.st_size);
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED) return SIZE_MAX;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  size_t count = SIZE_MAX;
  if (::mincore(mapping, size, resident.data()) == 0) {
    count = static_cast<size_t>(std::count_if(resident.begin(), resident.end(),
                                              [](unsigned char flags) { return flags & 1; }));
  }
  ::munmap(mapping, size);
  return count;
}

// Synced records are dropped from the page cache (the WAL is read back only to recover), and
// still read back whole.
TEST(WalTest, SyncedRecordsLeaveThePageCache) {
  const std::string directory = FreshDirectory();
  struct statfs file_system {};
  ASSERT_EQ(::statfs(::testing::TempDir().c_str(), &file_system), 0);
  if (file_system.f_type == TMPFS_MAGIC) GTEST_SKIP() << "tmpfs pages are the files themselves";
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok()) << wal.status();
  std::vector<std::string> payloads;
  for (int i = 0; i < 4; ++i) {
    payloads.push_back(std::string((size_t{1} << 20) + 17 * i, static_cast<char>('a' + i)));
    auto position = (*wal)->Append(payloads.back());
    ASSERT_TRUE(position.ok()) << position.status();
  }
  const std::vector<fs::path> segments = Segments(directory);
  ASSERT_EQ(segments.size(), 1u);
  // The last page, partly written, may stay.
  EXPECT_LE(ResidentPages(segments[0]), 1u);
  auto records = ReadAll(**wal);
  ASSERT_EQ(records.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) EXPECT_EQ(records[i].payload, payloads[i]);
}

TEST(WalTest, BatchWriteGetsConsecutivePositions) {
  auto wal = Wal::Open(FreshDirectory(), {});
  ASSERT_TRUE(wal.ok());
  auto first = (*wal)->Write({"a", "b", "c"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 0u);
  ASSERT_TRUE((*wal)->Sync(3).ok());
  auto records = ReadAll(**wal);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].position, 2u);
  EXPECT_EQ(records[2].payload, "c");
  EXPECT_FALSE((*wal)->Write({""}).ok());
}

TEST(WalTest, TornTailAtEveryByteOffsetKeepsTheCompleteRecords) {
  // Build a reference WAL of three records, then cut the file at every offset inside the last.
  const std::string reference = FreshDirectory();
  uint64_t last_record_start = 0;
  {
    auto wal = Wal::Open(reference, {});
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append(Payload(0)).ok());
    ASSERT_TRUE((*wal)->Append(Payload(1)).ok());
    last_record_start = (*wal)->DiskUsageBytes();
    ASSERT_TRUE((*wal)->Append(Payload(2)).ok());
  }
  const fs::path reference_segment = Segments(reference).front();
  const uint64_t full_size = fs::file_size(reference_segment);
  for (uint64_t cut = last_record_start; cut < full_size; ++cut) {
    const std::string directory = FreshDirectory();
    fs::create_directories(directory);
    const fs::path segment = fs::path(directory) / reference_segment.filename();
    fs::copy_file(reference_segment, segment);
    fs::resize_file(segment, cut);
    const int64_t corrupt_before = CorruptCount();
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ(CorruptCount(), corrupt_before + (cut > last_record_start ? 1 : 0)) << cut;
    EXPECT_EQ((*wal)->next_position(), 2u) << "cut at " << cut;
    EXPECT_EQ(fs::file_size(segment), last_record_start) << "cut at " << cut;
    // New appends are clean and readable after a reopen.
    auto position = (*wal)->Append("after");
    ASSERT_TRUE(position.ok());
    EXPECT_EQ(*position, 2u);
    wal->reset();
    auto reopened = Wal::Open(directory, {});
    ASSERT_TRUE(reopened.ok());
    auto records = ReadAll(**reopened);
    ASSERT_EQ(records.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(records[1].payload, Payload(1));
    EXPECT_EQ(records[2].payload, "after");
  }
}

TEST(WalTest, CorruptChecksumInTheMiddleKeepsRecordsBeforeAndDropsTheRest) {
  const std::string directory = FreshDirectory();
  uint64_t third_record_start = 0;
  {
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 5; ++i) {
      if (i == 2) third_record_start = (*wal)->DiskUsageBytes();
      ASSERT_TRUE((*wal)->Append(Payload(i)).ok());
    }
  }
  const fs::path segment = Segments(directory).front();
  {
    // Flip one payload byte of the third record.
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(third_record_start + 10));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x20);
    file.seekp(static_cast<std::streamoff>(third_record_start + 10));
    file.write(&byte, 1);
  }
  const int64_t corrupt_before = CorruptCount();
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ(CorruptCount(), corrupt_before + 1);
  auto records = ReadAll(**wal);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].payload, Payload(1));
  EXPECT_EQ((*wal)->next_position(), 2u);
  EXPECT_EQ(fs::file_size(segment), third_record_start);
}

TEST(WalTest, GarbageHeaderIsRewrittenAndNeverReplayed) {
  const std::string directory = FreshDirectory();
  fs::create_directories(directory);
  {
    std::ofstream file(fs::path(directory) / "00000000000000000007", std::ios::binary);
    file << "not a wal segment at all";
  }
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_TRUE(ReadAll(**wal).empty());
  EXPECT_EQ((*wal)->next_position(), 7u);
}

TEST(WalTest, TruncateBeforeDeletesWholeSegmentsBelowAndKeepsPositions) {
  const std::string directory = FreshDirectory();
  WalOptions options;
  options.max_segment_bytes = 64;  // about two records per segment
  auto wal = Wal::Open(directory, options);
  ASSERT_TRUE(wal.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*wal)->Append(Payload(i)).ok());
  const size_t segments_before = Segments(directory).size();
  EXPECT_GE(segments_before, 4u);
  const uint64_t usage_before = (*wal)->DiskUsageBytes();
  ASSERT_TRUE((*wal)->TruncateBefore(5).ok());
  EXPECT_LT(Segments(directory).size(), segments_before);
  EXPECT_LT((*wal)->DiskUsageBytes(), usage_before);
  auto records = ReadAll(**wal);
  ASSERT_FALSE(records.empty());
  EXPECT_LE(records.front().position, 5u);
  EXPECT_EQ(records.back().position, 9u);
  // Everything below the end: one empty active segment remains, named by the next position.
  ASSERT_TRUE((*wal)->TruncateBefore(10).ok());
  EXPECT_TRUE(ReadAll(**wal).empty());
  ASSERT_EQ(Segments(directory).size(), 1u);
  EXPECT_EQ(Segments(directory).front().filename(), "00000000000000000010");
  wal->reset();
  auto reopened = Wal::Open(directory, options);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->next_position(), 10u);
}

TEST(WalTest, MinNextPositionIsAFloor) {
  WalOptions options;
  options.min_next_position = 42;
  auto wal = Wal::Open(FreshDirectory(), options);
  ASSERT_TRUE(wal.ok());
  auto position = (*wal)->Append("x");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, 42u);
}

TEST(WalTest, DiskBudgetRefusesWholeBatchesAndIsReleasedByTruncation) {
  WalDiskBudget budget(200);
  WalOptions options;
  options.disk_budget = &budget;
  auto wal = Wal::Open(FreshDirectory(), options);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(budget.used_bytes(), (*wal)->DiskUsageBytes());
  ASSERT_TRUE((*wal)->Append(std::string(100, 'a')).ok());
  auto refused = (*wal)->Write({std::string(50, 'b'), std::string(50, 'c')});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("ingest_api.max_queue_disk_usage"),
            absl::string_view::npos);
  EXPECT_FALSE(IsInsufficientStorage(refused.status()));
  EXPECT_EQ((*wal)->next_position(), 1u);
  ASSERT_TRUE((*wal)->TruncateBefore(1).ok());
  EXPECT_TRUE((*wal)->Write({std::string(50, 'b'), std::string(50, 'c')}).ok());
  EXPECT_EQ(budget.used_bytes(), (*wal)->DiskUsageBytes());
}

TEST(WalTest, RemoveDeletesTheDirectory) {
  const std::string directory = FreshDirectory();
  WalDiskBudget budget(1 << 20);
  WalOptions options;
  options.disk_budget = &budget;
  auto wal = Wal::Open(directory, options);
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Append("x").ok());
  ASSERT_TRUE((*wal)->Remove().ok());
  EXPECT_FALSE(fs::exists(directory));
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ((*wal)->Append("y").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WalTest, ConcurrentAppendsShareFsyncsAndLoseNothing) {
  auto wal = Wal::Open(FreshDirectory(), {});
  ASSERT_TRUE(wal.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) ASSERT_TRUE((*wal)->Append(Payload(i)).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ReadAll(**wal).size(), 200u);
}

TEST(WalTest, AsyncDurabilitySyncsOnDemand) {
  const std::string directory = FreshDirectory();
  WalOptions options;
  options.durability = WalDurability::kAsync;
  {
    auto wal = Wal::Open(directory, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*wal)->Append(Payload(i)).ok());
    ASSERT_TRUE((*wal)->SyncNow().ok());
  }
  auto reopened = Wal::Open(directory, options);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(ReadAll(**reopened).size(), 5u);
}

TEST(WalTest, FailedWriteIsRolledBackAndTheWalStaysUsable) {
  const std::string directory = FreshDirectory();
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Append("first").ok());
  const fs::path segment = Segments(directory).front();
  const uint64_t size = fs::file_size(segment);
  // A file size limit makes the write stop part-way (short write, then EFBIG).
  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small_limit = old_limit;
  small_limit.rlim_cur = size + 10;
  signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small_limit), 0);
  auto failed = (*wal)->Write({std::string(100, 'x')});
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, SIG_DFL);
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(IsInsufficientStorage(failed.status()));
  EXPECT_EQ(fs::file_size(segment), size);
  EXPECT_EQ((*wal)->next_position(), 1u);
  auto position = (*wal)->Append("second");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, 1u);
  wal->reset();
  const int64_t corrupt_before = CorruptCount();
  auto reopened = Wal::Open(directory, {});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(CorruptCount(), corrupt_before);
  auto records = ReadAll(**reopened);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].payload, "second");
}

TEST(WalTest, CheckpointStrings) {
  EXPECT_EQ(WalPositionToCheckpoint(42), "00000000000000000042");
  EXPECT_EQ(*WalPositionFromCheckpoint(""), 0u);
  EXPECT_EQ(*WalPositionFromCheckpoint("00000000000000000042"), 42u);
  EXPECT_FALSE(WalPositionFromCheckpoint("4x").ok());
  EXPECT_EQ(WalDirectoryForIndex("/d/wal", "logs:01H"), "/d/wal/logs_01H");
}

TEST(WalTest, ShardDirectories) {
  const std::string zero = WalDirectoryForIndex("/d/wal", "logs.shard-2:01H");
  EXPECT_EQ(zero, "/d/wal/logs.shard-2_01H");
  EXPECT_EQ(ParseWalShardDirectory(zero), std::make_pair(zero, 0));
  EXPECT_EQ(WalDirectoryForIndex("/d/wal", "logs.shard-2:01H", 3), zero + ".shard-3");
  EXPECT_EQ(ParseWalShardDirectory(zero + ".shard-3"), std::make_pair(zero, 3));
  EXPECT_EQ(ParseWalShardDirectory(zero + ".shard-x"), std::make_pair(zero + ".shard-x", 0));
}

TEST(WalTest, RecordKindsRoundTrip) {
  const std::string directory = FreshDirectory();
  {
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok());
    auto first = (*wal)->WriteEntries({{WalRecordKind::kIdempotencyKey, R"({"key":"k1"})", {}},
                                       {WalRecordKind::kDocuments, "{\"a\": 1}\n", {}}});
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, 0u);
    ASSERT_TRUE((*wal)->Sync(2).ok());
  }
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok());
  auto records = ReadAll(**wal);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].kind, WalRecordKind::kIdempotencyKey);
  EXPECT_EQ(records[0].payload, R"({"key":"k1"})");
  EXPECT_EQ(records[1].kind, WalRecordKind::kDocuments);
  EXPECT_EQ(records[1].payload, "{\"a\": 1}\n");
}

// A payload given as pieces is written as their concatenation, whatever their number (more
// than one pwritev takes) and with empty pieces among them, next to owned payloads.
TEST(WalTest, PiecesAreWrittenAsTheirConcatenation) {
  const std::string directory = FreshDirectory();
  std::string body;
  for (int i = 0; i < 3000; ++i) body += fmt::format("{{\"n\": {}}}\n", i);
  std::vector<std::string_view> many;
  for (size_t offset = 0; offset < body.size(); offset += 7) {
    many.push_back(std::string_view(body).substr(offset, 7));
    if (offset % 91 == 0) many.push_back({});
  }
  ASSERT_GT(many.size(), 2000u);
  const std::string tail = "{\"last\": true}";
  {
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok());
    std::vector<WalEntry> entries;
    entries.push_back(WalEntry{WalRecordKind::kDocuments, {}, many});
    entries.push_back(WalEntry{WalRecordKind::kIdempotencyKey, R"({"key":"k"})", {}});
    entries.push_back(WalEntry{WalRecordKind::kDocuments, {}, {tail, "\n"}});
    EXPECT_EQ(entries[0].payload_size(), body.size());
    auto first = (*wal)->WriteEntries(entries);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*wal)->Sync(*first + 3).ok());
  }
  auto wal = Wal::Open(directory, {});
  ASSERT_TRUE(wal.ok());
  auto records = ReadAll(**wal);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].payload, body);
  EXPECT_EQ(records[1].payload, R"({"key":"k"})");
  EXPECT_EQ(records[2].payload, tail + "\n");
}

// Writes an older segment named `first_position` holding `payloads`, with XXH32 checksums:
// version 1 (no kind byte) or version 2 (a documents kind byte in front of each payload).
void WriteOldSegment(uint32_t version, const std::string& directory, uint64_t first_position,
                     const std::vector<std::string>& payloads) {
  fs::create_directories(directory);
  std::string bytes("SHALEWAL", 8);
  auto put_u32 = [&bytes](uint32_t value) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  };
  put_u32(version);
  put_u32(0);
  for (const std::string& payload : payloads) {
    const std::string record = version == 1 ? payload : std::string(1, '\x01') + payload;
    put_u32(static_cast<uint32_t>(record.size()));
    put_u32(XXH32(record.data(), record.size(), 0));
    bytes += record;
  }
  std::ofstream file(fs::path(directory) / WalPositionToCheckpoint(first_position),
                     std::ios::binary);
  file << bytes;
}

// The bytes of a version 3 segment: header, then per record its length, the low 32 bits of the
// XXH3-64 of its payload (kind byte included), the payload (docs/format/wal.md).
TEST(WalTest, Version3RecordsCarryTheXxh3OfTheirPayload) {
  const std::string directory = FreshDirectory();
  {
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok()) << wal.status();
    auto position = (*wal)->Append("hello");
    ASSERT_TRUE(position.ok());
    ASSERT_TRUE((*wal)->Sync(*position + 1).ok());
  }
  const std::vector<fs::path> segments = Segments(directory);
  ASSERT_EQ(segments.size(), 1u);
  std::ifstream file(segments[0], std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 16u + 8u + 6u);
  const auto u32 = [&bytes](size_t offset) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
    }
    return value;
  };
  EXPECT_EQ(bytes.substr(0, 8), "SHALEWAL");
  EXPECT_EQ(u32(8), 3u);
  EXPECT_EQ(u32(16), 6u);
  const std::string payload = std::string(1, '\x01') + "hello";
  EXPECT_EQ(bytes.substr(24), payload);
  EXPECT_EQ(u32(20), static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size())));
}

// Segments of versions 1 (no kind byte) and 2 (XXH32 checksums; checked with XXH3 their
// records would be corrupt) are read whole, and appends go to a new segment of the current
// version; an empty older segment is replaced in place.
TEST(WalTest, OlderSegmentVersionsAreReadAndSealed) {
  for (const uint32_t version : {1u, 2u}) {
    SCOPED_TRACE(fmt::format("version {}", version));
    const std::string directory = FreshDirectory();
    WriteOldSegment(version, directory, 5, {Payload(5), Payload(6)});
    {
      auto wal = Wal::Open(directory, {});
      ASSERT_TRUE(wal.ok()) << wal.status();
      EXPECT_EQ((*wal)->next_position(), 7u);
      auto position = (*wal)->Append("new");
      ASSERT_TRUE(position.ok());
      EXPECT_EQ(*position, 7u);
      EXPECT_EQ(Segments(directory).size(), 2u);
    }
    auto wal = Wal::Open(directory, {});
    ASSERT_TRUE(wal.ok()) << wal.status();
    auto records = ReadAll(**wal);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].position, 5u);
    EXPECT_EQ(records[0].kind, WalRecordKind::kDocuments);
    EXPECT_EQ(records[0].payload, Payload(5));
    EXPECT_EQ(records[1].payload, Payload(6));
    EXPECT_EQ(records[2].payload, "new");

    const std::string empty = FreshDirectory();
    WriteOldSegment(version, empty, 9, {});
    auto reopened = Wal::Open(empty, {});
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    ASSERT_TRUE((*reopened)->Append("x").ok());
    EXPECT_EQ(Segments(empty).size(), 1u);
    EXPECT_EQ(ReadAll(**reopened).front().position, 9u);
  }
}

TEST(WalTest, NewerSegmentVersionIsRefusedNotRewritten) {
  const std::string directory = FreshDirectory();
  fs::create_directories(directory);
  std::string header("SHALEWAL", 8);
  header += std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8);
  const fs::path segment = fs::path(directory) / WalPositionToCheckpoint(0);
  std::ofstream(segment, std::ios::binary) << header << "future records";
  auto wal = Wal::Open(directory, {});
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wal.status().message().find("format version 7"), absl::string_view::npos);
  EXPECT_EQ(fs::file_size(segment), header.size() + 14);
}

}  // namespace
}  // namespace shale::indexing
