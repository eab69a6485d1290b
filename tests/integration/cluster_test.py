#!/usr/bin/env python3
"""Integration test: gossip membership between real `shale run` processes on loopback.

Starts three nodes of one cluster (gossip every 200 ms, each seeded with node-1's address, the
gossip port being the REST port over UDP) and a fourth node of another cluster seeded the same
way, then checks through `GET /api/v1/cluster` on every node that:
  1. the three nodes see each other ready, with their services and addresses, and never the node
     of the other cluster (whose datagrams node-1 counts as dropped);
  2. node-3 killed with SIGKILL is in `dead_nodes` of node-1 and node-2 within DEAD_BOUND_SECS;
  3. node-3 restarted (same id and ports) is ready again everywhere, with a newer generation, and
     no longer dead;
  4. node-2 stopped with SIGTERM leaves `ready_nodes` of node-1 and exits cleanly.

Only the Python standard library is used.
"""
import sys
import uuid

from shale_testlib import Failure, ShaleNode, check, run_test_main, wait_until

GOSSIP_INTERVAL = "200ms"
CONVERGE_SECS = 60
DEAD_BOUND_SECS = 10


def cluster_config(cluster_id, seeds, node_id, workdir, services=None):
    """The node config (after the lines ShaleNode writes) of a node of this test."""
    lines = [
        f"cluster_id: {cluster_id}",
        f"peer_seeds: [{', '.join(seeds)}]",
        f"gossip_interval: {GOSSIP_INTERVAL}",
        f"data_dir: {workdir}/{node_id}-data",
    ]
    if services:
        lines.append(f"enabled_services: [{', '.join(services)}]")
    return "\n".join(lines) + "\n"


def dropped_wrong_cluster(node):
    return node.client.counter('shale_gossip_datagrams_dropped_total{reason="wrong_cluster_id"}')


def known_nodes(view):
    """Every node of a /api/v1/cluster answer, whatever its state."""
    return view["ready_nodes"] + view["live_nodes"] + view["dead_nodes"]


def generation_of(observer, node_id):
    for entry in known_nodes(observer.cluster()):
        if entry["node_id"] == node_id:
            return entry["generation_id"]
    raise Failure(f"{observer.name} does not know {node_id}")


def run(args, workdir):
    cluster_id = f"itest-{uuid.uuid4().hex[:8]}"
    services = {"node-1": ["searcher", "indexer", "metastore"], "node-2": ["searcher"],
                "node-3": ["searcher"], "stranger": None}
    nodes = [ShaleNode(args.shale_bin, workdir, node_id, "") for node_id in
             ["node-1", "node-2", "node-3"]]
    stranger = ShaleNode(args.shale_bin, workdir, "stranger", "")
    seeds = [nodes[0].gossip_addr]
    for node in nodes:
        node.config = cluster_config(cluster_id, seeds, node.name, workdir, services[node.name])
    stranger.config = cluster_config(f"other-{cluster_id}", seeds, "stranger", workdir)
    all_ids = ["node-1", "node-2", "node-3"]
    try:
        for node in nodes:
            node.start(timeout=60)
        stranger.start(timeout=60)

        # 1. Convergence: every node sees the three ready, nothing dead, no stranger.
        took = wait_until("all nodes see node-1..3 ready and nothing else",
                          lambda: all(node.cluster_ids("ready_nodes") == all_ids and
                                      node.cluster_ids("live_nodes") == [] and
                                      node.cluster_ids("dead_nodes") == [] for node in nodes),
                          CONVERGE_SECS)
        print(f"ok  3 nodes converged in {took:.2f}s")
        for node in nodes:
            view = node.cluster()
            check(view["cluster_id"] == cluster_id, f"{node.name}: cluster_id {view}")
            check(view["self_node_id"] == node.name, f"{node.name}: self_node_id {view}")
            # Addresses and services do not depend on liveness, which a loaded machine may flap.
            by_id = {entry["node_id"]: entry for entry in known_nodes(view)}
            check(sorted(by_id) == all_ids, f"{node.name} knows {sorted(by_id)}")
            for peer in nodes:
                entry = by_id[peer.name]
                check(entry["rest_advertise_addr"] == f"127.0.0.1:{peer.port}",
                      f"{node.name} sees {peer.name} at {entry}")
                check(entry["grpc_advertise_addr"] == f"127.0.0.1:{peer.grpc_port}",
                      f"{node.name} sees {peer.name} at {entry}")
                check(entry["gossip_advertise_addr"] == peer.gossip_addr,
                      f"{node.name} sees {peer.name} at {entry}")
                check(entry["enabled_services"] == services[peer.name],
                      f"{node.name} sees {peer.name} services {entry}")
        check(sorted(entry["node_id"] for entry in known_nodes(stranger.cluster())) == ["stranger"],
              f"stranger sees {stranger.cluster()}")
        wait_until("node-1 counts the stranger's datagrams as dropped",
                   lambda: dropped_wrong_cluster(nodes[0]) > 0, CONVERGE_SECS)
        print("ok  the node of another cluster is kept out")

        # 2. A killed node is seen dead.
        generation_before = generation_of(nodes[0], "node-3")
        nodes[2].kill9()
        took = wait_until("node-1 and node-2 see node-3 dead",
                          lambda: all(node.cluster_ids("dead_nodes") == ["node-3"] and
                                      node.cluster_ids("ready_nodes") == ["node-1", "node-2"]
                                      for node in nodes[:2]),
                          DEAD_BOUND_SECS)
        print(f"ok  killed node seen dead by both peers after {took:.2f}s "
              f"(gossip_interval {GOSSIP_INTERVAL}, bound {DEAD_BOUND_SECS}s)")

        # 3. Restarted, it rejoins with a newer generation.
        nodes[2].start(timeout=60)
        took = wait_until("node-3 ready again everywhere",
                          lambda: all(node.cluster_ids("ready_nodes") == all_ids and
                                      node.cluster_ids("dead_nodes") == [] for node in nodes),
                          CONVERGE_SECS)
        generation_after = generation_of(nodes[0], "node-3")
        check(generation_after > generation_before,
              f"generation {generation_after} after restart, {generation_before} before")
        print(f"ok  restarted node rejoined after {took:.2f}s with a newer generation")

        # 4. A node stopped by SIGTERM leaves the ready nodes and exits cleanly.
        code = nodes[1].stop(timeout=60)
        check(code == 0, f"node-2 exited with {code} after SIGTERM")
        took = wait_until("node-1 no longer sees node-2 ready",
                          lambda: "node-2" not in nodes[0].cluster_ids("ready_nodes"),
                          DEAD_BOUND_SECS)
        print(f"ok  node-2 stopped with SIGTERM left the ready nodes after {took:.2f}s")
    finally:
        for node in nodes + [stranger]:
            node.stop(timeout=60)


if __name__ == "__main__":
    sys.exit(run_test_main("integration_cluster", run, ["--shale-bin"]))
