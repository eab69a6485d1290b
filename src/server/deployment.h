// Deployment rules of a node in a cluster (docs/deployment.md): where a node without the
// `metastore` service finds the metastore, and the shared-storage rule for several searchers.
//
// Thread safety: free functions over thread-safe arguments.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "cluster/membership.h"
#include "metastore/metastore.h"

namespace shale::server {

// The gRPC address ("host:port") of a live, ready peer running the `metastore` service; the
// smallest node id wins when there are several, so every node picks the same one. Unavailable
// naming the cluster when there is none.
absl::StatusOr<std::string> FindMetastoreNode(const cluster::ClusterMembership& membership);

// FindMetastoreNode, polled until it succeeds or `timeout` passes (then its Unavailable, with
// the timeout and what to check). Logs when it starts waiting and what it found.
absl::StatusOr<std::string> WaitForMetastoreNode(const cluster::ClusterMembership& membership,
                                                 absl::Duration timeout);

// The ids of the live nodes (self included) running the `searcher` service, sorted.
std::vector<std::string> LiveSearchers(const cluster::ClusterMembership& membership);

// Several searchers must read the splits of an index from shared storage (s3://): a `file://`
// index uri is readable by the searcher of one machine only. InvalidArgument naming the index,
// its uri and the searchers when `index_uri` is on local files and more than one live searcher
// is known. Checked when an index is created (REST) and when a searcher node starts.
absl::Status CheckSharedIndexStorage(const std::string& index_id, const std::string& index_uri,
                                     const std::vector<std::string>& searchers);

// At the start of a node running the searcher service: CheckSharedIndexStorage for every index
// of the metastore, as a FailedPrecondition that refuses the start. Errors of the metastore are
// returned as they are.
absl::Status CheckIndexesOnSharedStorage(metastore::Metastore& metastore,
                                         const cluster::ClusterMembership& membership);

}  // namespace shale::server
