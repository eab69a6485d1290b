#include "cluster/gossip_message.h"

#include <random>

#include "gtest/gtest.h"

namespace shale::cluster {
namespace {

GossipMessage SampleMessage(GossipMessageType type) {
  GossipMessage message;
  message.type = type;
  message.cluster_id = "prod-cluster";
  message.sender_node_id = "searcher-1";
  message.sender_generation = 1'700'000'000'123'456;
  if (type != GossipMessageType::kAck) {
    message.digest.range_begin = "a";
    message.digest.range_end = "z";
    message.digest.entries = {{"indexer-1", 17, 300, 5},
                              {"searcher-1", 1'700'000'000'123'456, 0, 0}};
  }
  if (type != GossipMessageType::kSyn) {
    message.delta.nodes = {
        {"indexer-1",
         17,
         301,
         3,
         {{"grpc_advertise_addr", "10.0.0.1:7281", 4, false}, {"indexing_task:logs", "", 5, true}}},
        {"searcher-2", 9, 1, 0, {}}};
  }
  return message;
}

TEST(GossipMessageTest, RoundTripsEveryMessageType) {
  for (GossipMessageType type :
       {GossipMessageType::kSyn, GossipMessageType::kSynAck, GossipMessageType::kAck}) {
    const GossipMessage message = SampleMessage(type);
    const std::string bytes = EncodeGossipMessage(message);
    absl::StatusOr<GossipMessage> decoded = DecodeGossipMessage(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, message);
  }
}

TEST(GossipMessageTest, EncodedSizesBoundTheEncoding) {
  const GossipMessage message = SampleMessage(GossipMessageType::kSynAck);
  size_t estimate =
      EncodedHeaderSize(message.cluster_id, message.sender_node_id, message.sender_generation) +
      EncodedSize(message.digest) + kCountSizeBudget;
  for (const NodeDelta& node : message.delta.nodes) {
    estimate += EncodedNodeDeltaHeaderSize(node);
    for (const KeyValueUpdate& update : node.updates) estimate += EncodedSize(update);
  }
  const size_t actual = EncodeGossipMessage(message).size();
  EXPECT_LE(actual, estimate);
  // Only the count budgets (3 bytes for 1-byte counts) separate the two.
  EXPECT_EQ(estimate - actual, 2u * (1 + message.delta.nodes.size() + 1));
}

TEST(GossipMessageTest, VarintSizes) {
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(127), 1u);
  EXPECT_EQ(VarintSize(128), 2u);
  EXPECT_EQ(VarintSize(UINT64_MAX), 10u);
}

TEST(GossipMessageTest, RejectsMalformedDatagramsWithAnOffset) {
  const std::string valid = EncodeGossipMessage(SampleMessage(GossipMessageType::kSynAck));
  auto expect_invalid = [](std::string_view bytes, std::string_view why) {
    absl::StatusOr<GossipMessage> decoded = DecodeGossipMessage(bytes);
    ASSERT_FALSE(decoded.ok()) << why;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << why;
    EXPECT_NE(decoded.status().message().find("at byte"), std::string_view::npos) << why;
  };
  expect_invalid("", "empty");
  expect_invalid("XG\x01\x01", "bad magic");
  std::string wrong_version = valid;
  wrong_version[2] = 2;
  expect_invalid(wrong_version, "unknown version");
  std::string wrong_type = valid;
  wrong_type[3] = 9;
  expect_invalid(wrong_type, "unknown type");
  expect_invalid(valid + "x", "trailing byte");
  expect_invalid(valid.substr(0, valid.size() - 1), "truncated");
  // A Syn whose digest claims 2^40 entries must fail before allocating anything.
  GossipMessage syn = SampleMessage(GossipMessageType::kSyn);
  syn.digest.entries.clear();
  std::string huge_count = EncodeGossipMessage(syn);
  huge_count.pop_back();  // the count 0
  huge_count += std::string("\x80\x80\x80\x80\x80\x20", 6);
  expect_invalid(huge_count, "huge count");
  // Flags other than "deleted" are unknown.
  GossipMessage ack = SampleMessage(GossipMessageType::kAck);
  std::string flags = EncodeGossipMessage(ack);
  const size_t flags_offset = flags.find("10.0.0.1:7281") + std::string("10.0.0.1:7281").size() + 1;
  flags[flags_offset] = 0x04;
  expect_invalid(flags, "unknown flags");
  // An empty sender node id.
  GossipMessage anonymous = SampleMessage(GossipMessageType::kSyn);
  anonymous.sender_node_id.clear();
  expect_invalid(EncodeGossipMessage(anonymous), "empty sender");
}

// Random bytes, and random corruptions of valid datagrams, never crash the decoder (run under
// ASan and UBSan in the debug build); a decoded message re-encodes to the same bytes.
TEST(GossipMessageTest, RandomAndCorruptedDatagramsNeverCrash) {
  std::mt19937_64 rng(20240611);
  std::vector<std::string> valid;
  for (GossipMessageType type :
       {GossipMessageType::kSyn, GossipMessageType::kSynAck, GossipMessageType::kAck}) {
    valid.push_back(EncodeGossipMessage(SampleMessage(type)));
  }
  size_t num_decoded = 0;
  for (int iteration = 0; iteration < 200'000; ++iteration) {
    std::string bytes;
    if (iteration % 2 == 0) {
      bytes.resize(rng() % 64);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (iteration % 4 == 0 && bytes.size() >= 4) bytes.replace(0, 4, valid[0].substr(0, 4));
    } else {
      bytes = valid[rng() % valid.size()];
      const int num_edits = 1 + static_cast<int>(rng() % 4);
      for (int edit = 0; edit < num_edits && !bytes.empty(); ++edit) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
            break;
          case 1:
            bytes.resize(at);
            break;
          default:
            bytes.insert(at, 1, static_cast<char>(rng()));
        }
      }
    }
    absl::StatusOr<GossipMessage> decoded = DecodeGossipMessage(bytes);
    if (decoded.ok()) {
      ++num_decoded;
      EXPECT_EQ(EncodeGossipMessage(*decoded), bytes);
    }
  }
  // Some single-bit flips land in values and still decode: the check above is exercised.
  EXPECT_GT(num_decoded, 0u);
}

TEST(GossipMessageTest, DigestRangesCoverHalfOpenIntervals) {
  Digest all;
  EXPECT_TRUE(all.Covers("anything"));
  Digest slice;
  slice.range_begin = "b";
  slice.range_end = "d";
  EXPECT_FALSE(slice.Covers("a"));
  EXPECT_TRUE(slice.Covers("b"));
  EXPECT_TRUE(slice.Covers("c-node"));
  EXPECT_FALSE(slice.Covers("d"));
  Digest tail;
  tail.range_begin = "m";
  EXPECT_TRUE(tail.Covers("zeta"));
  EXPECT_FALSE(tail.Covers("alpha"));
}

}  // namespace
}  // namespace shale::cluster
