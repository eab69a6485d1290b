#!/usr/bin/env python3
"""Distributed search benchmark: latency and throughput of a many-split index searched by 1, 2
and 3 searcher nodes on loopback, and how the leaf work spreads over them.

Setup (all real `shale run` processes): one indexer node (services indexer and metastore, so a
root only: it searches nothing itself) writes NUM_SPLITS splits of HDFS-like documents from
`shale_gen_logs` (one ingest with commit=force per split, merges off) to s3rver (tests/s3, on a
free loopback port); searcher nodes read the same metastore as polling readers and the same
split files. The
searchers join one by one; after each join the benchmark measures, with every query sent to the
indexer's REST API (the root):
  - latency: each query RUNS times in a row (p50 / p99 / mean, ms);
  - throughput: CLIENTS threads sending the queries in turn for SECONDS (queries/s);
  - spread: the growth of each searcher's `shale_leaf_splits_searched_total` during the
    throughput run.
Prints a markdown report (also written to bench/out/distributed_search.md).

Usage: bench/distributed_search_bench.py --bin-dir build/release/bin [--num-splits 48]
       [--docs-per-split 20000] [--runs 30] [--clients 4] [--seconds 10]
Standard library only; reuses the integration tests' node launcher (ShaleNode).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from shale_testlib import S3rver, ShaleNode, check  # noqa: E402

INDEX_ID = "hdfs-logs"
START_TIMESTAMP = 1_700_000_000



def index_config():
    """bench/index-config.yaml (the index of shale_gen_logs documents), merges off and no commit
    before the forced one that closes each split."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "index-config.yaml")) as f:
        config = yaml.safe_load(f)
    check(config["index_id"] == INDEX_ID, f"bench/index-config.yaml indexes {config['index_id']}")
    config["indexing_settings"] = {"commit_timeout_secs": 3600,
                                   "merge_policy": {"type": "no_merge"}}
    return config


def queries(total_docs):
    quarter = total_docs // 100 // 4  # gen_logs writes 100 docs per second
    return [
        ("term `severity_text:ERROR`", {"query": "severity_text:ERROR", "max_hits": 10}),
        ("full text `body:terminating`", {"query": "body:terminating", "max_hits": 10}),
        ("boolean", {"query": "severity_text:ERROR AND resource.service:datanode",
                     "max_hits": 10}),
        ("`*` time range (25 %)", {"query": "*", "max_hits": 10,
                                   "start_timestamp": START_TIMESTAMP + quarter,
                                   "end_timestamp": START_TIMESTAMP + 2 * quarter}),
        ("terms + date_histogram aggs", {"query": "*", "max_hits": 0, "aggs": {
            "sev": {"terms": {"field": "severity_text"}},
            "t": {"date_histogram": {"field": "timestamp", "fixed_interval": "600s"}}}}),
    ]


def search(node, params):
    return node.client.json("POST", f"/api/v1/{INDEX_ID}/search", json.dumps(params),
                            headers={"Content-Type": "application/json"})


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_latency(root, query_list, runs, expected_hits):
    rows = []
    for name, params in query_list:
        search(root, params)  # warm caches of every searcher for this query
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            response = search(root, params)
            times.append((time.perf_counter() - start) * 1000)
            check(response["errors"] == [], f"{name}: errors {response['errors']}")
            check(response["num_hits"] == expected_hits[name],
                  f"{name}: {response['num_hits']} hits, expected {expected_hits[name]}")
        rows.append((name, statistics.median(times), percentile(times, 0.99),
                     statistics.mean(times)))
    return rows


def measure_throughput(root, query_list, clients, seconds):
    done = [0] * clients
    failures = []
    stop_at = time.time() + seconds

    def client(index):
        i = index
        try:
            while time.time() < stop_at:
                search(root, query_list[i % len(query_list)][1])
                done[index] += 1
                i += 1
        except Exception as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(not failures, f"throughput clients failed: {failures[:1]}")
    return sum(done) / (time.time() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default="build/release/bin")
    parser.add_argument("--num-splits", type=int, default=48)
    parser.add_argument("--docs-per-split", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    shale_bin = os.path.abspath(os.path.join(args.bin_dir, "shale"))
    gen_logs = os.path.abspath(os.path.join(args.bin_dir, "shale_gen_logs"))
    workdir = tempfile.mkdtemp(prefix="shale-dist-bench-")
    total_docs = args.num_splits * args.docs_per_split
    with S3rver(workdir) as s3:
        run(args, workdir, s3, shale_bin, gen_logs, total_docs)


def run(args, workdir, s3, shale_bin, gen_logs, total_docs):
    metastore_uri = "s3://test-bucket/bench/metastore"
    common = (f"cluster_id: bench\ngossip_interval: 200ms\n"
              f"default_index_root_uri: s3://test-bucket/bench/indexes\n" + s3.node_config())
    indexer = ShaleNode(shale_bin, workdir, "indexer",
                        common + f"data_dir: {workdir}/indexer-data\n"
                        f"metastore_uri: {metastore_uri}\n"
                        "enabled_services: [indexer, metastore]\n")
    searchers = []
    for i in (1, 2, 3):
        searchers.append(ShaleNode(
            shale_bin, workdir, f"searcher-{i}",
            common + f"data_dir: {workdir}/searcher-{i}-data\n"
            f"metastore_uri: {metastore_uri}#polling_interval=1s\n"
            f"enabled_services: [searcher]\npeer_seeds: [{indexer.gossip_addr}]\n"))
    report = []
    try:
        indexer.start(INDEX_ID)
        indexer.client.json("POST", "/api/v1/indexes", json.dumps(index_config()))
        lines = subprocess.run([gen_logs, "--num-docs", str(total_docs), "--seed", "42",
                                "--start-timestamp", str(START_TIMESTAMP)],
                               check=True, capture_output=True, text=True).stdout.splitlines()
        started = time.time()
        for split in range(args.num_splits):
            chunk = lines[split * args.docs_per_split:(split + 1) * args.docs_per_split]
            result = indexer.client.json("POST", f"/api/v1/{INDEX_ID}/ingest", "\n".join(chunk),
                                         params={"commit": "force"})
            check(result["num_rejected_docs"] == 0, f"rejected docs: {result}")
        print(f"ingested {total_docs} docs into {args.num_splits} splits in "
              f"{time.time() - started:.1f}s", file=sys.stderr)
        query_list = queries(total_docs)
        report.append(f"{args.num_splits} splits x {args.docs_per_split} docs "
                      f"({total_docs} docs); root: the indexer node (no searcher service); "
                      f"{args.runs} runs per query, throughput with {args.clients} clients for "
                      f"{args.seconds:.0f} s.\n")
        expected_hits = None
        for count in (1, 2, 3):
            searchers[count - 1].start(INDEX_ID)
            deadline = time.time() + 60
            while time.time() < deadline:
                ready = [n["node_id"] for n in indexer.client.json(
                    "GET", "/api/v1/cluster")["ready_nodes"]]
                if all(s.name in ready for s in searchers[:count]) and \
                        searchers[count - 1].client.num_hits("*") == total_docs:
                    break
                time.sleep(0.2)
            if expected_hits is None:
                expected_hits = {name: search(indexer, params)["num_hits"]
                                 for name, params in query_list}
            latency = measure_latency(indexer, query_list, args.runs, expected_hits)
            before = {s.name: s.client.counter("shale_leaf_splits_searched_total")
                      for s in searchers[:count]}
            qps = measure_throughput(indexer, query_list, args.clients, args.seconds)
            spread = {s.name: s.client.counter("shale_leaf_splits_searched_total") -
                      before[s.name] for s in searchers[:count]}
            report.append(f"\n### {count} searcher{'s' if count > 1 else ''}\n")
            report.append("| query | hits | p50 ms | p99 ms | mean ms |")
            report.append("|---|---|---|---|---|")
            for name, p50, p99, mean in latency:
                report.append(f"| {name} | {expected_hits[name]:,} | {p50:.1f} | {p99:.1f} | "
                              f"{mean:.1f} |")
            total = sum(spread.values())
            shares = ", ".join(f"{name} {value} ({100 * value / max(1, total):.0f} %)"
                               for name, value in spread.items())
            report.append(f"\nthroughput: **{qps:.1f} queries/s**; split searches during the "
                          f"throughput run: {shares}")
    finally:
        for node in [indexer] + searchers:
            node.stop(timeout=60)
    text = "\n".join(report) + "\n"
    print(text)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "distributed_search.md"), "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
