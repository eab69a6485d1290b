#include "server/deployment.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uri.h"

namespace shale::server {

absl::StatusOr<std::string> FindMetastoreNode(const cluster::ClusterMembership& membership) {
  const std::vector<cluster::ClusterNode> nodes = membership.LiveNodes();  // sorted by node id
  for (const cluster::ClusterNode& node : nodes) {
    if (!node.is_self && node.is_ready && node.HasService("metastore") &&
        !node.grpc_advertise_addr.empty()) {
      return node.grpc_advertise_addr;
    }
  }
  return absl::UnavailableError(
      fmt::format("no live and ready node of cluster `{}` runs the metastore service",
                  membership.cluster_id()));
}

absl::StatusOr<std::string> WaitForMetastoreNode(const cluster::ClusterMembership& membership,
                                                 absl::Duration timeout) {
  absl::StatusOr<std::string> address = FindMetastoreNode(membership);
  if (address.ok()) return address;
  SHALE_LOG_INFO(
      "waiting for a node running the metastore service (this node does not run it) "
      "cluster_id={} timeout={}",
      membership.cluster_id(), absl::FormatDuration(timeout));
  const absl::Time deadline = absl::Now() + timeout;
  while (!address.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    address = FindMetastoreNode(membership);
  }
  if (!address.ok()) {
    return absl::UnavailableError(fmt::format(
        "{} after waiting {}: start a node with the metastore service in its enabled_services "
        "and list it in peer_seeds",
        std::string(address.status().message()), absl::FormatDuration(timeout)));
  }
  SHALE_LOG_INFO("metastore service found grpc_addr={}", *address);
  return address;
}

std::vector<std::string> LiveSearchers(const cluster::ClusterMembership& membership) {
  std::vector<std::string> searchers;
  for (const cluster::ClusterNode& node : membership.LiveNodes()) {
    if (node.HasService("searcher")) searchers.push_back(node.node_id);
  }
  std::sort(searchers.begin(), searchers.end());
  return searchers;
}

absl::Status CheckSharedIndexStorage(const std::string& index_id, const std::string& index_uri,
                                     const std::vector<std::string>& searchers) {
  if (searchers.size() < 2) return absl::OkStatus();
  absl::StatusOr<Uri> uri = Uri::Parse(index_uri);
  if (!uri.ok() || uri->protocol() != Uri::Protocol::kFile) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "index `{}` is stored on local files ({}) but the cluster has {} searchers ({}): several "
      "searchers need shared storage, so use an s3:// index_uri (or default_index_root_uri) or "
      "run a single searcher",
      index_id, uri->str(), searchers.size(), fmt::join(searchers, ", ")));
}

absl::Status CheckIndexesOnSharedStorage(metastore::Metastore& metastore,
                                         const cluster::ClusterMembership& membership) {
  const std::vector<std::string> searchers = LiveSearchers(membership);
  if (searchers.size() < 2) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<metastore::IndexMetadata> indexes, metastore.ListIndexes());
  for (const metastore::IndexMetadata& index : indexes) {
    const absl::Status shared = CheckSharedIndexStorage(
        index.index_id(), index.index_config.index_uri.value_or(""), searchers);
    if (!shared.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("cannot start a searcher here: {}", std::string(shared.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace shale::server
