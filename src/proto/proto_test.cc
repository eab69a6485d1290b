// The generated messages round-trip and the service stubs exist.
#include <memory>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "proto/cluster.grpc.pb.h"
#include "proto/indexing.grpc.pb.h"
#include "proto/metastore.grpc.pb.h"
#include "proto/search.grpc.pb.h"

namespace shale {
namespace {

TEST(ProtoTest, MessagesRoundTrip) {
  search::proto::LeafSearchRequest request;
  search::proto::LeafIndexRequest* index = request.add_indexes();
  index->set_index_id("logs");
  request.set_top_k(20);
  request.set_start_timestamp_micros(1'700'000'000'000'000);
  search::proto::SplitLocation* split = index->add_splits();
  split->set_split_id("01HZYB6Q1M1T8W0V9J3K2N4P5S");
  split->set_footer_start(1000);
  split->set_footer_end(2000);
  const std::string bytes = request.SerializeAsString();
  search::proto::LeafSearchRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.indexes(0).index_id(), "logs");
  EXPECT_EQ(parsed.top_k(), 20u);
  EXPECT_TRUE(parsed.has_start_timestamp_micros());
  EXPECT_FALSE(parsed.has_end_timestamp_micros());
  ASSERT_EQ(parsed.indexes(0).splits_size(), 1);
  EXPECT_EQ(parsed.indexes(0).splits(0).footer_end(), 2000u);

  cluster::proto::FetchClusterStateResponse state;
  cluster::proto::NodeState* node = state.add_node_states();
  node->set_node_id("searcher-1");
  (*node->mutable_key_values())["readiness"].set_value("READY");
  cluster::proto::FetchClusterStateResponse state_parsed;
  ASSERT_TRUE(state_parsed.ParseFromString(state.SerializeAsString()));
  EXPECT_EQ(state_parsed.node_states(0).key_values().at("readiness").value(), "READY");

  // Garbage is rejected, not a crash.
  search::proto::LeafSearchRequest garbage;
  EXPECT_FALSE(garbage.ParseFromString(std::string("\xff\xff\xff\xff\x0f", 5)));
}

TEST(ProtoTest, StubsAreGenerated) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  EXPECT_NE(search::proto::SearchService::NewStub(channel), nullptr);
  EXPECT_NE(metastore::proto::MetastoreService::NewStub(channel), nullptr);
  EXPECT_NE(cluster::proto::ClusterService::NewStub(channel), nullptr);
  EXPECT_NE(indexing::proto::IndexingService::NewStub(channel), nullptr);
}

}  // namespace
}  // namespace shale
