// Deployment rules: finding the metastore node through gossip (memberships on loopback UDP in
// this process) and the shared-storage rule for several searchers.
#include "server/deployment.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "cluster/membership.h"

namespace shale::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<cluster::ClusterMembership> StartNode(const std::string& node_id,
                                                      std::vector<std::string> services,
                                                      std::vector<std::string> seeds,
                                                      const std::string& grpc_addr) {
  cluster::ClusterMembershipOptions options;
  options.cluster_id = "deployment-test";
  options.node_id = node_id;
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  options.peer_seeds = std::move(seeds);
  options.enabled_services = std::move(services);
  options.rest_advertise_addr = "127.0.0.1:1";
  options.grpc_advertise_addr = grpc_addr;
  options.gossip_interval = std::chrono::milliseconds(50);
  std::unique_ptr<cluster::ClusterMembership> membership =
      cluster::NewGossipMembership(std::move(options));
  const absl::Status started = membership->Start();
  EXPECT_TRUE(started.ok()) << started;
  return membership;
}

TEST(DeploymentTest, FindsTheReadyMetastoreNodeThroughGossip) {
  auto metastore_node = StartNode("node-a", {"metastore", "indexer"}, {}, "127.0.0.1:9101");
  auto searcher = StartNode("node-b", {"searcher"}, {metastore_node->gossip_advertise_addr()},
                            "127.0.0.1:9102");

  // Not ready yet: not a metastore to use.
  absl::StatusOr<std::string> address = WaitForMetastoreNode(*searcher, absl::Seconds(1));
  EXPECT_EQ(address.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(address.status().message(), HasSubstr("deployment-test"));
  EXPECT_THAT(address.status().message(), HasSubstr("peer_seeds"));

  metastore_node->SetReady(true);
  address = WaitForMetastoreNode(*searcher, absl::Seconds(20));
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, "127.0.0.1:9101");
  // A node never picks itself, even when it runs the metastore service.
  EXPECT_FALSE(FindMetastoreNode(*metastore_node).ok());

  EXPECT_THAT(LiveSearchers(*searcher), ElementsAre("node-b"));
  searcher->Stop();
  metastore_node->Stop();
}

TEST(DeploymentTest, LocalIndexesNeedASingleSearcher) {
  EXPECT_TRUE(CheckSharedIndexStorage("logs", "file:///data/indexes/logs", {"node-b"}).ok());
  EXPECT_TRUE(
      CheckSharedIndexStorage("logs", "s3://bucket/indexes/logs", {"node-b", "node-c"}).ok());
  const absl::Status refused =
      CheckSharedIndexStorage("logs", "/data/indexes/logs", {"node-b", "node-c"});
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("index `logs`"));
  EXPECT_THAT(refused.message(), HasSubstr("file:///data/indexes/logs"));
  EXPECT_THAT(refused.message(), HasSubstr("2 searchers (node-b, node-c)"));
  EXPECT_THAT(refused.message(), HasSubstr("shared storage"));
}

}  // namespace
}  // namespace shale::server
