// The main() of every unit test binary: GoogleTest's, run inside a directory of this process's
// own that is removed, with everything the tests left in it, when the tests end.
//
// Tests write their files under ::testing::TempDir(), which reads TEST_TMPDIR on each call; this
// main points TEST_TMPDIR at a fresh directory made under the one the environment gives
// (TEST_TMPDIR, then TMPDIR, then /tmp). Thousands of test runs would otherwise leave their WALs,
// metastores and storages behind and fill the disk. SHALE_KEEP_TEST_TMP=1 keeps the directory
// (its path is printed) to look at what a test wrote.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>
#include <stdlib.h>

namespace {

std::string ParentTempDir() {
  for (const char* name : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* value = ::getenv(name);
    if (value != nullptr && value[0] != '\0') return value;
  }
  return "/tmp";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string pattern = ParentTempDir() + "/shale-unit-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror(("mkdtemp " + pattern).c_str());
    return 2;
  }
  ::setenv("TEST_TMPDIR", pattern.c_str(), /*overwrite=*/1);
  const int result = RUN_ALL_TESTS();
  const char* keep = ::getenv("SHALE_KEEP_TEST_TMP");
  if (keep != nullptr && std::string(keep) == "1") {
    std::printf("test files kept in %s\n", pattern.c_str());
  } else {
    std::error_code error;
    std::filesystem::remove_all(pattern, error);
    if (error) {
      std::fprintf(stderr, "cannot remove %s: %s\n", pattern.c_str(), error.message().c_str());
    }
  }
  return result;
}
