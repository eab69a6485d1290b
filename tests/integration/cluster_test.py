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
import os
import signal
import subprocess
import sys
import time
import uuid

from shale_testlib import Client, Failure, check, free_port, run_test_main, wait_until

GOSSIP_INTERVAL = "200ms"
CONVERGE_SECS = 60
DEAD_BOUND_SECS = 10


class Node:
    def __init__(self, args, workdir, node_id, cluster_id, services=None):
        self.args = args
        self.workdir = workdir
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.services = services
        self.port = free_port()
        self.client = Client(self.port)
        self.process = None
        self.log_path = os.path.join(workdir, f"{node_id}.log")

    @property
    def gossip_addr(self):
        return f"127.0.0.1:{self.port}"

    def start(self, seeds):
        config_path = os.path.join(self.workdir, f"{self.node_id}.yaml")
        lines = [
            "version: 0.8",
            f"node_id: {self.node_id}",
            f"cluster_id: {self.cluster_id}",
            "listen_address: 127.0.0.1",
            f"rest:\n  listen_port: {self.port}",
            f"peer_seeds: [{', '.join(seeds)}]",
            f"gossip_interval: {GOSSIP_INTERVAL}",
            f"data_dir: {self.workdir}/{self.node_id}-data",
        ]
        if self.services:
            lines.append(f"enabled_services: [{', '.join(self.services)}]")
        with open(config_path, "w") as config:
            config.write("\n".join(lines) + "\n")
        with open(self.log_path, "a") as log:
            log.write(f"==== start {self.node_id} ====\n")
            log.flush()
            self.process = subprocess.Popen([self.args.shale_bin, "run", "--config", config_path],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            check(self.process.poll() is None,
                  f"{self.node_id} exited with {self.process.returncode} during start-up")
            try:
                status, _ = self.client.request("GET", "/health/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure(f"{self.node_id} not ready within 60s")

    def kill9(self):
        self.process.kill()
        self.process.wait(timeout=60)
        self.process = None

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise Failure(f"{self.node_id} did not stop within 60s of SIGTERM")
        self.process = None
        return code

    def cluster(self):
        return self.client.json("GET", "/api/v1/cluster")

    def ids(self, field):
        return sorted(node["node_id"] for node in self.cluster()[field])

    def dropped_wrong_cluster(self):
        _, text = self.client.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith('shale_gossip_datagrams_dropped_total{reason="wrong_cluster_id"}'):
                return int(line.split()[1])
        return 0


def known_nodes(view):
    """Every node of a /api/v1/cluster answer, whatever its state."""
    return view["ready_nodes"] + view["live_nodes"] + view["dead_nodes"]


def generation_of(observer, node_id):
    for entry in known_nodes(observer.cluster()):
        if entry["node_id"] == node_id:
            return entry["generation_id"]
    raise Failure(f"{observer.node_id} does not know {node_id}")


def run(args, workdir):
    cluster_id = f"itest-{uuid.uuid4().hex[:8]}"
    nodes = [Node(args, workdir, "node-1", cluster_id, ["searcher", "indexer", "metastore"]),
             Node(args, workdir, "node-2", cluster_id, ["searcher"]),
             Node(args, workdir, "node-3", cluster_id, ["searcher"])]
    stranger = Node(args, workdir, "stranger", f"other-{cluster_id}")
    seeds = [nodes[0].gossip_addr]
    all_ids = ["node-1", "node-2", "node-3"]
    try:
        for node in nodes:
            node.start(seeds)
        stranger.start(seeds)

        # 1. Convergence: every node sees the three ready, nothing dead, no stranger.
        took = wait_until("all nodes see node-1..3 ready and nothing else",
                          lambda: all(node.ids("ready_nodes") == all_ids and
                                      node.ids("live_nodes") == [] and
                                      node.ids("dead_nodes") == [] for node in nodes),
                          CONVERGE_SECS)
        print(f"ok  3 nodes converged in {took:.2f}s")
        for node in nodes:
            view = node.cluster()
            check(view["cluster_id"] == cluster_id, f"{node.node_id}: cluster_id {view}")
            check(view["self_node_id"] == node.node_id, f"{node.node_id}: self_node_id {view}")
            # Addresses and services do not depend on liveness, which a loaded machine may flap.
            by_id = {entry["node_id"]: entry for entry in known_nodes(view)}
            check(sorted(by_id) == all_ids, f"{node.node_id} knows {sorted(by_id)}")
            for peer in nodes:
                entry = by_id[peer.node_id]
                check(entry["rest_advertise_addr"] == f"127.0.0.1:{peer.port}",
                      f"{node.node_id} sees {peer.node_id} at {entry}")
                check(entry["grpc_advertise_addr"] == f"127.0.0.1:{peer.port + 1}",
                      f"{node.node_id} sees {peer.node_id} at {entry}")
                check(entry["gossip_advertise_addr"] == peer.gossip_addr,
                      f"{node.node_id} sees {peer.node_id} at {entry}")
                check(entry["enabled_services"] == peer.services,
                      f"{node.node_id} sees {peer.node_id} services {entry}")
        check(sorted(entry["node_id"] for entry in known_nodes(stranger.cluster())) == ["stranger"],
              f"stranger sees {stranger.cluster()}")
        wait_until("node-1 counts the stranger's datagrams as dropped",
                   lambda: nodes[0].dropped_wrong_cluster() > 0, CONVERGE_SECS)
        print("ok  the node of another cluster is kept out")

        # 2. A killed node is seen dead.
        generation_before = generation_of(nodes[0], "node-3")
        nodes[2].kill9()
        took = wait_until("node-1 and node-2 see node-3 dead",
                          lambda: all(node.ids("dead_nodes") == ["node-3"] and
                                      node.ids("ready_nodes") == ["node-1", "node-2"]
                                      for node in nodes[:2]),
                          DEAD_BOUND_SECS)
        print(f"ok  killed node seen dead by both peers after {took:.2f}s "
              f"(gossip_interval {GOSSIP_INTERVAL}, bound {DEAD_BOUND_SECS}s)")

        # 3. Restarted, it rejoins with a newer generation.
        nodes[2].start(seeds)
        took = wait_until("node-3 ready again everywhere",
                          lambda: all(node.ids("ready_nodes") == all_ids and
                                      node.ids("dead_nodes") == [] for node in nodes),
                          CONVERGE_SECS)
        generation_after = generation_of(nodes[0], "node-3")
        check(generation_after > generation_before,
              f"generation {generation_after} after restart, {generation_before} before")
        print(f"ok  restarted node rejoined after {took:.2f}s with a newer generation")

        # 4. A node stopped by SIGTERM leaves the ready nodes and exits cleanly.
        code = nodes[1].terminate()
        check(code == 0, f"node-2 exited with {code} after SIGTERM")
        took = wait_until("node-1 no longer sees node-2 ready",
                          lambda: "node-2" not in nodes[0].ids("ready_nodes"), DEAD_BOUND_SECS)
        print(f"ok  node-2 stopped with SIGTERM left the ready nodes after {took:.2f}s")
    except Failure:
        for node in nodes + [stranger]:
            if os.path.exists(node.log_path):
                with open(node.log_path) as log:
                    print(f"---- {node.node_id} log (tail) ----")
                    print("".join(log.readlines()[-25:]))
        raise
    finally:
        for node in nodes + [stranger]:
            if node.process is not None:
                node.process.kill()
                node.process.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(run_test_main("integration_cluster", run, ["--shale-bin"]))
