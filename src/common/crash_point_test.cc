#include "common/crash_point.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale {
namespace {

using ::testing::HasSubstr;

TEST(CrashPointTest, ParsesPointAndCount) {
  absl::StatusOr<CrashPointSpec> spec = ParseCrashPointSpec("ingest_after_stage");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->point, "ingest_after_stage");
  EXPECT_EQ(spec->nth, 1u);
  spec = ParseCrashPointSpec("merge_after_publish:3");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->point, "merge_after_publish");
  EXPECT_EQ(spec->nth, 3u);
}

TEST(CrashPointTest, EveryNamedPointParses) {
  EXPECT_EQ(CrashPointNames().size(), 12u);
  for (std::string_view name : CrashPointNames()) {
    EXPECT_TRUE(ParseCrashPointSpec(name).ok()) << name;
  }
}

TEST(CrashPointTest, RejectsUnknownPointsAndBadCounts) {
  const absl::Status unknown = ParseCrashPointSpec("after_lunch").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("unknown crash point `after_lunch`"));
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("ingest_after_wal_append"));
  for (const char* bad : {"ingest_after_stage:", "ingest_after_stage:0", "ingest_after_stage:x",
                          "ingest_after_stage:2x", "ingest_after_stage:-1"}) {
    EXPECT_EQ(ParseCrashPointSpec(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(CrashPointTest, UnarmedOrOtherPointsReturn) {
  ArmCrashPoint(std::nullopt);
  CrashPoint(kCrashIngestAfterStage);
  ArmCrashPoint(CrashPointSpec{std::string(kCrashIngestAfterUpload), 1});
  CrashPoint(kCrashIngestAfterStage);
  ArmCrashPoint(std::nullopt);
  CrashPoint(kCrashIngestAfterUpload);
}

TEST(CrashPointDeathTest, ExitsAtTheNthHit) {
  EXPECT_EXIT(
      {
        ArmCrashPoint(CrashPointSpec{std::string(kCrashSourceAfterUpload), 3});
        CrashPoint(kCrashSourceAfterUpload);
        CrashPoint(kCrashSourceAfterStage);
        CrashPoint(kCrashSourceAfterUpload);
        std::fprintf(stderr, "two hits survived\n");
        CrashPoint(kCrashSourceAfterUpload);
        std::fprintf(stderr, "unreachable\n");
      },
      ::testing::ExitedWithCode(kCrashPointExitCode),
      "two hits survived\n.*crash point reached point=source_after_upload nth=3");
}

}  // namespace
}  // namespace shale
