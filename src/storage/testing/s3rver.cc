// S3rver test environment (see s3rver.h).
#include "storage/testing/s3rver.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "common/uri.h"
#include "storage/storage.h"

extern char** environ;

namespace shale::storage::testing {
namespace {

constexpr const char* kBucket = kS3rverBucket;
S3rver* g_instance = nullptr;

// Returns a TCP port of 127.0.0.1 that was free a moment ago, or 0.
int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

S3rver* S3rver::instance() { return g_instance; }

S3rver* RegisterS3rverEnvironment() {
  g_instance = new S3rver();
  ::testing::AddGlobalTestEnvironment(g_instance);
  return g_instance;
}

void S3rver::SetUp() {
  const char* override_bin = std::getenv("SHALE_S3RVER_BIN");  // NOLINT(concurrency-mt-unsafe)
  const std::string bin = override_bin != nullptr ? override_bin : SHALE_S3RVER_BIN;
  if (!std::filesystem::exists(bin)) {
    skip_reason_ = fmt::format(
        "s3rver is not installed at {}: run tools/install_deps.sh (npm install --prefix "
        "tests/s3)",
        bin);
    return;
  }
  directory_ = std::filesystem::path(::testing::TempDir()) / fmt::format("s3rver_{}", NewUlid());
  std::filesystem::create_directories(directory_);
  port_ = PickFreePort();
  if (port_ == 0) {
    skip_reason_ = "no free loopback port for s3rver";
    return;
  }
  const std::string port = std::to_string(port_);
  const std::string directory = directory_.string();
  const std::string log = (directory_ / "s3rver.log").string();
  std::vector<std::string> args = {
      bin,      "--directory", directory,  "--address",          "127.0.0.1",
      "--port", port,          "--silent", "--configure-bucket", kBucket};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> env_strings;
  std::string node_options = "NODE_OPTIONS=--openssl-legacy-provider";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("NODE_OPTIONS=")) {
      node_options += fmt::format(" {}", text.substr(13));
    } else {
      env_strings.emplace_back(text);
    }
  }
  env_strings.push_back(node_options);
  std::vector<char*> env;
  env.reserve(env_strings.size() + 1);
  for (std::string& entry : env_strings) {
    env.push_back(entry.data());
  }
  env.push_back(nullptr);
  const int spawn_error =
      posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    pid_ = 0;
    FAIL() << "failed to start " << bin << ": " << std::generic_category().message(spawn_error);
  }
  // Ready when the bucket answers a listing.
  std::unique_ptr<Storage> probe =
      NewS3Storage(Uri::Parse(fmt::format("s3://{}", kBucket)).value(), Options()).value();
  absl::Status status;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    status = probe->List("").status();
    if (status.ok()) {
      return;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  FAIL() << "s3rver did not answer on port " << port_ << ": " << status << " (log " << log << ")";
}

void S3rver::TearDown() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int wait_status = 0;
    waitpid(pid_, &wait_status, 0);
    pid_ = 0;
  }
  std::error_code error;
  if (!directory_.empty()) {
    std::filesystem::remove_all(directory_, error);
  }
}

S3Options S3rver::Options() const {
  S3Options options;
  options.endpoint = fmt::format("http://127.0.0.1:{}", port_);
  options.force_path_style_access = true;
  options.access_key_id = "S3RVER";
  options.secret_access_key = "S3RVER";
  options.request_timeout_ms = 30'000;
  return options;
}

Uri S3rver::NewRootUri() const {
  return Uri::Parse(fmt::format("s3://{}/{}", kBucket, NewUlid())).value();
}

absl::StatusOr<std::unique_ptr<Storage>> S3rver::NewStorage(const S3Options& options) const {
  if (!skip_reason_.empty()) {
    return absl::UnimplementedError(skip_reason_);
  }
  return NewS3Storage(NewRootUri(), options);
}

}  // namespace shale::storage::testing
