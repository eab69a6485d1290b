#include "metastore/testing/writer_guard_tests.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "metastore/metastore.h"
#include "metastore/testing/metastore_conformance.h"

namespace shale::metastore::testing {

void PrintTo(const GuardedStorageFactory& factory, std::ostream* os) { *os << factory.name; }

std::string GuardedStorageFactoryName(const ::testing::TestParamInfo<GuardedStorageFactory>& info) {
  return info.param.name;
}

void FileBackedWriterGuardTest::SetUp() {
  absl::StatusOr<std::shared_ptr<storage::Storage>> storage = GetParam().make_storage();
  if (absl::IsUnimplemented(storage.status())) {
    GTEST_SKIP() << storage.status().message();
  }
  ASSERT_TRUE(storage.ok()) << storage.status();
  storage_ = *std::move(storage);
}

std::unique_ptr<Metastore> FileBackedWriterGuardTest::Open(
    const std::string& node_id, std::optional<absl::Duration> polling_interval) {
  FileBackedMetastoreOptions options;
  options.node_id = node_id;
  options.polling_interval = polling_interval;
  options.writer_lease_ttl = kLeaseTtl;
  options.clock = [this] { return absl::FromUnixSeconds(now_secs_.load()); };
  absl::StatusOr<std::unique_ptr<Metastore>> metastore =
      NewFileBackedMetastore(storage_, std::move(options));
  EXPECT_TRUE(metastore.ok()) << metastore.status();
  return metastore.ok() ? *std::move(metastore) : nullptr;
}

void FileBackedWriterGuardTest::Advance(absl::Duration duration) {
  now_secs_ += absl::ToInt64Seconds(duration);
}

namespace {

using ::testing::HasSubstr;

constexpr char kIndexFile[] = "logs/metastore.json";
constexpr char kManifestFile[] = "indexes_states.json";

std::string Stored(storage::Storage& storage, const std::string& path) {
  return storage.GetAll(path).value_or("<missing>");
}

std::vector<std::string> SplitIds(Metastore& metastore, const std::string& index_uid) {
  ListSplitsQuery query;
  query.index_uids = {index_uid};
  std::vector<std::string> ids;
  for (const Split& split : metastore.ListSplits(query).value_or(std::vector<Split>{})) {
    ids.push_back(split.metadata.split_id);
  }
  return ids;
}

// Expects a refused write naming `index` and both nodes.
void ExpectWriterConflict(const absl::Status& status, const std::string& what,
                          const std::string& holder_node, const std::string& refused_node) {
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(IsWriterConflict(status)) << status;
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr(what));
  EXPECT_THAT(message, HasSubstr(fmt::format("node `{}`", holder_node)));
  EXPECT_THAT(message, HasSubstr(fmt::format("node `{}`", refused_node)));
}

TEST_P(FileBackedWriterGuardTest, SecondWriterOnAnotherNodeFailsLoudlyAndChangesNothing) {
  std::unique_ptr<Metastore> first = Open("node-a");
  const std::string uid = first->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(first->StageSplits(uid, {TestSplit("split-1")}).ok());
  const std::string index_file = Stored(*storage_, kIndexFile);
  const std::string manifest = Stored(*storage_, kManifestFile);

  std::unique_ptr<Metastore> second = Open("node-b");
  // Reading is fine.
  EXPECT_EQ(second->GetIndexMetadata("logs").value().index_uid, uid);
  EXPECT_EQ(SplitIds(*second, uid), std::vector<std::string>{"split-1"});
  // Writing is refused, naming the index and both writers, and applies nothing.
  ExpectWriterConflict(second->StageSplits(uid, {TestSplit("split-2")}), "index `logs`", "node-a",
                       "node-b");
  ExpectWriterConflict(second->CreateIndex(TestIndexConfig("other")).status(), "index `other`",
                       "node-a", "node-b");
  ExpectWriterConflict(second->DeleteIndex(uid), "index `logs`", "node-a", "node-b");
  EXPECT_EQ(Stored(*storage_, kIndexFile), index_file);
  EXPECT_EQ(Stored(*storage_, kManifestFile), manifest);
  EXPECT_EQ(second->GetIndexMetadata("other").status().code(), absl::StatusCode::kNotFound);
  // The first writer goes on undisturbed, well within its lease.
  Advance(kLeaseTtl / 2);
  ASSERT_TRUE(first->StageSplits(uid, {TestSplit("split-3")}).ok());
  ExpectWriterConflict(second->MarkSplitsForDeletion(uid, {"split-1"}), "index `logs`", "node-a",
                       "node-b");
  EXPECT_EQ(SplitIds(*first, uid), (std::vector<std::string>{"split-1", "split-3"}));
}

TEST_P(FileBackedWriterGuardTest, ExpiredLeaseIsTakenOverAndTheFormerWriterIsStopped) {
  std::unique_ptr<Metastore> first = Open("node-a");
  const std::string uid = first->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(first->StageSplits(uid, {TestSplit("split-1")}).ok());

  // node-a stays silent for longer than its lease: node-b may write.
  Advance(kLeaseTtl + absl::Seconds(1));
  std::unique_ptr<Metastore> second = Open("node-b");
  ASSERT_TRUE(second->StageSplits(uid, {TestSplit("split-2")}).ok());
  // node-a comes back: node-b's lease is valid, so node-a is refused.
  const std::string index_file = Stored(*storage_, kIndexFile);
  ExpectWriterConflict(first->StageSplits(uid, {TestSplit("split-3")}), "index `logs`", "node-b",
                       "node-a");
  EXPECT_EQ(Stored(*storage_, kIndexFile), index_file);

  // Once node-b's lease expired too, node-a takes it back, but its cached file is stale: the
  // version check refuses that write, naming the revision node-b wrote.
  Advance(kLeaseTtl + absl::Seconds(1));
  const absl::Status stale = first->StageSplits(uid, {TestSplit("split-3")});
  ExpectWriterConflict(stale, "index `logs`", "node-b", "node-a");
  EXPECT_THAT(std::string(stale.message()), HasSubstr("revision 3"));
  EXPECT_EQ(Stored(*storage_, kIndexFile), index_file);
  // It re-read the file, so its next write builds on node-b's.
  ASSERT_TRUE(first->StageSplits(uid, {TestSplit("split-3")}).ok());
  EXPECT_EQ(SplitIds(*first, uid), (std::vector<std::string>{"split-1", "split-2", "split-3"}));
}

// Two processes of one node (a restart while the old process still runs): the lease lets the
// newer one in at once, but the version check stops whichever writes over a file it did not
// read last.
TEST_P(FileBackedWriterGuardTest, FileChangedBehindAWriterIsDetected) {
  std::unique_ptr<Metastore> old_process = Open("node-a");
  const std::string uid = old_process->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(old_process->StageSplits(uid, {TestSplit("split-1")}).ok());
  std::unique_ptr<Metastore> new_process = Open("node-a");
  ASSERT_EQ(SplitIds(*new_process, uid), std::vector<std::string>{"split-1"});
  ASSERT_TRUE(old_process->StageSplits(uid, {TestSplit("split-2")}).ok());

  const std::string index_file = Stored(*storage_, kIndexFile);
  const absl::Status status = new_process->StageSplits(uid, {TestSplit("split-3")});
  EXPECT_TRUE(IsWriterConflict(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("index `logs`"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("revision 3 written by writer"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("expected revision 2"));
  EXPECT_EQ(Stored(*storage_, kIndexFile), index_file);
  ASSERT_TRUE(new_process->StageSplits(uid, {TestSplit("split-3")}).ok());
  EXPECT_EQ(SplitIds(*new_process, uid),
            (std::vector<std::string>{"split-1", "split-2", "split-3"}));
  // The old process's cache is stale now: refused too, never a silent overwrite.
  EXPECT_TRUE(IsWriterConflict(old_process->StageSplits(uid, {TestSplit("split-4")})));
  EXPECT_EQ(SplitIds(*new_process, uid),
            (std::vector<std::string>{"split-1", "split-2", "split-3"}));
}

TEST_P(FileBackedWriterGuardTest, ReadersSeeWritesWithinThePollingInterval) {
  constexpr absl::Duration kPolling = absl::Seconds(30);
  std::unique_ptr<Metastore> writer = Open("indexer");
  std::unique_ptr<Metastore> reader = Open("searcher", kPolling);
  const std::string uid = writer->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(writer->StageSplits(uid, {TestSplit("split-1")}).ok());
  EXPECT_EQ(SplitIds(*reader, uid), std::vector<std::string>{"split-1"});

  // A write shows up once the reader's copy is `kPolling` old, not before.
  ASSERT_TRUE(writer->StageSplits(uid, {TestSplit("split-2")}).ok());
  EXPECT_EQ(SplitIds(*reader, uid), std::vector<std::string>{"split-1"});
  Advance(kPolling - absl::Seconds(1));
  EXPECT_EQ(SplitIds(*reader, uid), std::vector<std::string>{"split-1"});
  Advance(absl::Seconds(1));
  EXPECT_EQ(SplitIds(*reader, uid), (std::vector<std::string>{"split-1", "split-2"}));

  // New and deleted indexes too.
  const std::string other = writer->CreateIndex(TestIndexConfig("other")).value().index_uid;
  EXPECT_EQ(reader->ListIndexes().value().size(), 1u);
  Advance(kPolling);
  EXPECT_EQ(reader->ListIndexes().value().size(), 2u);
  ASSERT_TRUE(writer->DeleteIndex(uid).ok());
  EXPECT_TRUE(reader->GetIndexMetadata("logs").ok());
  Advance(kPolling);
  EXPECT_EQ(reader->GetIndexMetadata("logs").status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(reader->ListIndexes().value().size(), 1u);
  EXPECT_EQ(reader->ListIndexes().value()[0].index_uid, other);
  // A recreated index gets its new uid on the reader.
  const std::string recreated = writer->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  Advance(kPolling);
  EXPECT_EQ(reader->GetIndexMetadata("logs").value().index_uid, recreated);
  EXPECT_TRUE(SplitIds(*reader, recreated).empty());

  // The writer, without polling, trusts its own cache: a reader's write attempt changes nothing
  // it would miss, since it is refused.
  ExpectWriterConflict(reader->StageSplits(recreated, {TestSplit("split-9")}), "index `logs`",
                       "indexer", "searcher");
}

}  // namespace
}  // namespace shale::metastore::testing
