#!/usr/bin/env python3
"""Integration test: a cluster of single-purpose nodes sharing one metastore over gRPC.

Real `shale run` processes on loopback, storage on s3rver, one cluster seeded by node A:
  - A: metastore + indexer + control_plane + janitor (owns the metastore on s3rver);
  - B: searcher only; C: indexer only. B and C have no metastore of their own and reach A's
    metastore service over gRPC, found through gossip.
Checks:
  1. an index created through C's REST and documents ingested through C are listed (indexes,
     splits) and searchable through B, and seen by A: one metastore for all;
  2. errors cross gRPC unchanged: an unknown index is 404 on B, a second creation 409 on C;
  3. ingest to B (no indexer) is 404 naming the indexer service, but B's GET /api/v1/indexing
     lists the pipelines of both indexers (A and C, over the gRPC indexing service), C's ingest
     pipeline counting the documents ingested through C;
  4. a fourth node D (searcher, local default_index_root_uri) joins: an index on local files is
     then refused (two searchers need shared storage);
  5. A killed (SIGKILL): B and C answer 503 naming the metastore and keep running; B's
     GET /api/v1/indexing still lists C's pipelines and names A in `errors`;
  6. A restarted: B and C recover by themselves; new documents ingested through C are counted
     through B, none lost and none twice.
Only the Python standard library is used.
"""
import json
import sys
import uuid

from shale_testlib import (S3rver, ShaleNode, check, numbered_docs_index_config, run_test_main,
                           wait_until)

INDEX_ID = "deploy-logs"
A_INDEX_ID = "deploy-a-logs"  # ingested through A only
GOSSIP = "gossip_interval: 200ms\n"
RECOVER_SECS = 60


def docs(first, count):
    return "".join(json.dumps({"id": f"doc-{n}", "n": n, "body": f"event number {n}"}) + "\n"
                   for n in range(first, first + count))


def ingest(node, first, count):
    return node.client.request("POST", f"/api/v1/{INDEX_ID}/ingest", docs(first, count),
                               params={"commit": "force"})


def split_docs(node):
    """Number of published docs of INDEX_ID as `node` lists its splits."""
    splits = node.client.json("GET", f"/api/v1/indexes/{INDEX_ID}/splits",
                              params={"split_states": "Published"})["splits"]
    return sum(split["num_docs"] for split in splits if split["split_state"] == "Published")


def num_hits(node):
    return node.client.json("GET", f"/api/v1/{INDEX_ID}/search",
                            params={"query": "*", "max_hits": 0})["num_hits"]


def indexing_of(node):
    """GET /api/v1/indexing of `node`: (ingest pipelines by (node id, index id), errors, all)."""
    indexing = node.client.json("GET", "/api/v1/indexing")
    pipelines = {(entry["node_id"], entry["index_id"]): entry for entry in indexing["indexes"]}
    return pipelines, indexing["errors"], indexing


def run(args, workdir):
    cluster = f"cluster_id: deploy-{uuid.uuid4().hex[:8]}\n" + GOSSIP
    with S3rver(workdir) as s3rver:
        shared = (f"metastore_uri: s3://test-bucket/metastore\n"
                  f"default_index_root_uri: s3://test-bucket/indexes\n" + s3rver.node_config())
        node_a = ShaleNode(args.shale_bin, workdir, "node-a",
                           cluster + f"data_dir: {workdir}/a\n"
                           "enabled_services: [metastore, indexer, control_plane, janitor]\n"
                           + shared)
        seeds = f"peer_seeds: [{node_a.gossip_addr}]\n"
        node_b = ShaleNode(args.shale_bin, workdir, "node-b",
                           cluster + seeds + f"data_dir: {workdir}/b\n"
                           "enabled_services: [searcher]\n" + shared)
        node_c = ShaleNode(args.shale_bin, workdir, "node-c",
                           cluster + seeds + f"data_dir: {workdir}/c\n"
                           "enabled_services: [indexer]\n" + shared)
        node_d = ShaleNode(args.shale_bin, workdir, "node-d",
                           cluster + seeds + f"data_dir: {workdir}/d\n"
                           "enabled_services: [searcher]\n" + s3rver.node_config())
        nodes = [node_a, node_b, node_c, node_d]
        try:
            node_a.start()
            node_b.start()
            node_c.start()

            # 1. One metastore for all: create and ingest through C, read through B and A.
            node_c.client.json("POST", "/api/v1/indexes",
                               json.dumps(numbered_docs_index_config(INDEX_ID)))
            batches = [(0, 700), (700, 300)]
            for first, count in batches:
                status, text = ingest(node_c, first, count)
                check(status == 200, f"ingest through C: {status} {text}")
            total = sum(count for _, count in batches)
            listed = [index["index_config"]["index_id"]
                      for index in node_b.client.json("GET", "/api/v1/indexes")]
            check(listed == [INDEX_ID], f"B lists indexes {listed}")
            check(split_docs(node_b) == total, f"B lists splits of {split_docs(node_b)} docs")
            check(split_docs(node_a) == total, f"A lists splits of {split_docs(node_a)} docs")
            check(num_hits(node_b) == total, f"B finds {num_hits(node_b)} docs, expected {total}")
            print(f"ok  index created and {total} docs ingested through C, listed and searched "
                  "through B (metastore over gRPC)")

            # 2. Errors keep their meaning through gRPC.
            status, text = node_b.client.request("GET", "/api/v1/indexes/no-such-index")
            check(status == 404 and "no-such-index" in text, f"unknown index on B: {status} {text}")
            status, text = node_c.client.request(
                "POST", "/api/v1/indexes", json.dumps(numbered_docs_index_config(INDEX_ID)))
            check(status == 409 and INDEX_ID in text, f"second creation on C: {status} {text}")
            print("ok  404 and 409 cross gRPC unchanged")

            # 3. No indexer on B: ingest is 404 naming the service.
            status, text = ingest(node_b, 5000, 10)
            check(status == 404 and "indexer" in text, f"ingest on B: {status} {text}")
            print("ok  ingest to a searcher-only node is 404 naming the indexer service")
            pipelines, errors, indexing = indexing_of(node_b)
            check(errors == [], f"B's /api/v1/indexing errors: {errors}")
            check(list(pipelines) == [("node-c", INDEX_ID)], f"B lists pipelines {indexing}")
            check(pipelines[("node-c", INDEX_ID)]["num_ingested_docs"] == total,
                  f"C's pipeline as B lists it: {pipelines[('node-c', INDEX_ID)]}")
            merge_nodes = {entry["node_id"] for entry in indexing["merges"]}
            check(merge_nodes <= {"node-a", "node-c"}, f"merges of unknown nodes: {merge_nodes}")
            # A's pipelines reach B too: A ingests into an index of its own.
            node_a.client.json("POST", "/api/v1/indexes",
                               json.dumps(numbered_docs_index_config(A_INDEX_ID)))
            status, text = node_a.client.request("POST", f"/api/v1/{A_INDEX_ID}/ingest",
                                                 docs(0, 5), params={"commit": "force"})
            check(status == 200, f"ingest through A: {status} {text}")
            pipelines, errors, indexing = indexing_of(node_b)
            check(errors == [] and sorted(pipelines) == [("node-a", A_INDEX_ID),
                                                         ("node-c", INDEX_ID)],
                  f"B lists the pipelines of A and C: {indexing}")
            check(pipelines[("node-a", A_INDEX_ID)]["num_ingested_docs"] == 5,
                  f"A's pipeline as B lists it: {pipelines[('node-a', A_INDEX_ID)]}")
            print("ok  a searcher-only node's /api/v1/indexing lists the pipelines of A and C "
                  "(gRPC indexing service)")
            # Two indexers ingest into one index: each publishes its own WAL partition.
            for node, first, count in [(node_a, 3000, 40), (node_c, 3040, 60), (node_a, 3100, 7)]:
                status, text = ingest(node, first, count)
                check(status == 200, f"ingest into {INDEX_ID} through {node.name}: {status} {text}")
                total += count
            check(num_hits(node_b) == total, f"B finds {num_hits(node_b)} docs, expected {total}")
            checkpoint = node_b.client.json("GET", f"/api/v1/indexes/{INDEX_ID}")["checkpoint"]
            partitions = sorted(checkpoint.get("_ingest-api-source", {}))
            check(partitions == ["wal/node-a", "wal/node-c"],
                  f"ingest API checkpoint partitions: {checkpoint}")
            print(f"ok  A and C both ingest into {INDEX_ID} ({total} docs), each with its own "
                  f"checkpoint partition {partitions}")

            # 4. Two searchers: an index on local files is refused.
            node_d.start()
            wait_until("C sees two live searchers",
                       lambda: sum("searcher" in node["enabled_services"]
                                   for node in node_c.client.json("GET", "/api/v1/cluster")
                                   ["ready_nodes"]) == 2, RECOVER_SECS)
            # D's default_index_root_uri is its data_dir (local files).
            status, text = node_d.client.request(
                "POST", "/api/v1/indexes", json.dumps(numbered_docs_index_config("deploy-local")))
            check(status == 400 and "shared storage" in text and "deploy-local" in text,
                  f"local index with two searchers: {status} {text}")
            node_d.stop()
            print("ok  an index on local files is refused while two searchers run")

            # 5. The metastore node dies: clear 503s, no crash.
            node_a.kill9()
            status, text = node_b.client.request("GET", "/api/v1/indexes")
            check(status == 503 and "metastore" in text, f"B without metastore: {status} {text}")
            status, text = node_c.client.request("GET", f"/api/v1/indexes/{INDEX_ID}")
            check(status == 503 and "metastore" in text, f"C without metastore: {status} {text}")
            status, text = ingest(node_c, 1000, 10)
            check(status in (200, 503), f"ingest on C without metastore: {status} {text}")
            acked_during_outage = 10 if status == 200 else 0
            check(node_b.alive() and node_c.alive(), "B and C still run without the metastore")
            pipelines, errors, indexing = indexing_of(node_b)
            check([error["node_id"] for error in errors] == ["node-a"]
                  and ("node-c", INDEX_ID) in pipelines,
                  f"B's /api/v1/indexing with A down: {indexing}")
            print(f"ok  A down: B's /api/v1/indexing lists C and names A in errors "
                  f"({errors[0]['message']})")
            print(f"ok  metastore node killed: B and C answer 503 (ingest on C: {status})")

            # 6. It comes back: B and C recover by themselves.
            node_a.start()
            took = wait_until("B lists indexes again",
                              lambda: node_b.client.request("GET", "/api/v1/indexes")[0] == 200,
                              RECOVER_SECS)
            wait_until("C reads the index again",
                       lambda: node_c.client.request("GET", f"/api/v1/indexes/{INDEX_ID}")[0]
                       == 200, RECOVER_SECS)
            status, text = ingest(node_c, 2000, 250)
            check(status == 200, f"ingest through C after recovery: {status} {text}")
            # Documents acknowledged while A was down are committed once it is back.
            expected = total + 250 + acked_during_outage
            wait_until(f"B counts {expected} documents",
                       lambda: num_hits(node_b) == expected, RECOVER_SECS)
            check(split_docs(node_b) == expected,
                  f"B lists splits of {split_docs(node_b)} docs, expected {expected}")
            print(f"ok  metastore node restarted: B and C recovered after {took:.1f}s, "
                  f"{expected} docs searchable through B")
        finally:
            for node in nodes:
                node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("deployment", run, ["--shale-bin"]))
