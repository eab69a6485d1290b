#include "common/host_port.h"

#include "gtest/gtest.h"

namespace shale {
namespace {

HostPort Parsed(std::string_view text) {
  absl::StatusOr<HostPort> parsed = ParseHostPort(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status();
  return parsed.ok() ? *parsed : HostPort{};
}

TEST(HostPortTest, ParsesNamesAndAddressesWithAndWithoutPort) {
  EXPECT_EQ(Parsed("searcher-1.example.com"), (HostPort{"searcher-1.example.com", std::nullopt}));
  EXPECT_EQ(Parsed("searcher-1:7280"), (HostPort{"searcher-1", 7280}));
  EXPECT_EQ(Parsed("10.0.0.2"), (HostPort{"10.0.0.2", std::nullopt}));
  EXPECT_EQ(Parsed(" 127.0.0.1:65535 "), (HostPort{"127.0.0.1", 65535}));
  EXPECT_EQ(Parsed("[::1]:7280"), (HostPort{"::1", 7280}));
  EXPECT_EQ(Parsed("[fe80::1%eth0]"), (HostPort{"fe80::1%eth0", std::nullopt}));
  EXPECT_EQ(Parsed("::1"), (HostPort{"::1", std::nullopt}));
}

TEST(HostPortTest, RejectsMalformedText) {
  for (const char* text :
       {"", "  ", ":7280", "host:", "host:0", "host:65536", "host:80x", "host:-1", "[::1",
        "[::1]7280", "[10.0.0.1]:80", "ho st", "host/x", "[]:80", "a:b:c:g"}) {
    absl::StatusOr<HostPort> parsed = ParseHostPort(text);
    EXPECT_FALSE(parsed.ok()) << "accepted `" << text << "`";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(HostPortTest, FormatsIpv6WithBrackets) {
  EXPECT_EQ(FormatHostPort("127.0.0.1", 7280), "127.0.0.1:7280");
  EXPECT_EQ(FormatHostPort("::1", 7280), "[::1]:7280");
  EXPECT_EQ(Parsed(FormatHostPort("::1", 7281)), (HostPort{"::1", 7281}));
}

}  // namespace
}  // namespace shale
