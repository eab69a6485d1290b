#!/usr/bin/env python3
"""Integration test: the searcher's on-disk split cache (`searcher.split_cache`) with the real
`shale` binary.

Starts a node whose config enables the split cache with room for 3 splits, creates an index,
ingests 4 batches of generated documents (one split each) and runs a query set, recording exact
answers. The first searches queue background downloads of the splits into
`{data_dir}/searcher-split-cache`; once they finished, the same queries must give the same
answers (now read from local copies: the cache's hit counter grows), the folder must hold 3
complete split files (LRU eviction beyond max_num_splits) and no partial download. After a
restart, the cache adopts the files already on disk and answers the same again.

Only the Python standard library is used.
"""
import json
import os
import signal
import subprocess
import sys
import time

from shale_testlib import Client, check, free_port, run_test_main, wait_ready

INDEX_ID = "cached-logs"
NUM_BATCHES = 4
DOCS_PER_BATCH = 2_500
MAX_NUM_SPLITS = 3
INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "field_mappings": [
            {"name": "ts", "type": "datetime", "fast": True, "input_formats": ["unix_timestamp"]},
            {"name": "level", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "n", "type": "u64", "fast": True},
            {"name": "body", "type": "text"},
        ],
        "timestamp_field": "ts",
    },
    "search_settings": {"default_search_fields": ["body"]},
}
LEVELS = ["INFO", "INFO", "WARN", "ERROR"]
QUERIES = [
    {"query": "*", "max_hits": 5},
    {"query": "level:ERROR", "max_hits": 3},
    {"query": "body:even AND level:WARN", "max_hits": 4, "sort_by": "-n"},
    {"query": "n:[100 TO 7000}", "max_hits": 2},
    {"query": "*", "start_timestamp": 1_700_001_000, "end_timestamp": 1_700_004_000,
     "max_hits": 3},
]


def doc(n):
    return {"ts": 1_700_000_000 + n, "level": LEVELS[n % 4], "n": n,
            "body": f"event {n} {'even' if n % 2 == 0 else 'odd'} done"}


def start(args, workdir, port):
    config_path = os.path.join(workdir, "node.yaml")
    with open(config_path, "w") as config:
        config.write(f"version: 0.8\nnode_id: cache-node\nlisten_address: 127.0.0.1\n"
                     f"rest:\n  listen_port: {port}\ndata_dir: {workdir}/data\n"
                     f"searcher:\n  split_cache:\n    max_num_bytes: 1G\n"
                     f"    max_num_splits: {MAX_NUM_SPLITS}\n    num_concurrent_downloads: 2\n")
    log = open(os.path.join(workdir, "node.log"), "a")
    process = subprocess.Popen([args.shale_bin, "run", "--config", config_path],
                               stdout=log, stderr=subprocess.STDOUT)
    client = Client(port, index_id=INDEX_ID)
    wait_ready(client, process)
    return process, client


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    check(code == 0, f"graceful shutdown exit code {code}")


def answers(client):
    result = []
    for params in QUERIES:
        response = client.json("GET", f"/api/v1/{INDEX_ID}/search", params=params)
        check(response["errors"] == [], f"search errors: {response}")
        result.append((response["num_hits"], response["hits"]))
    return result


def wait_for_downloads(client, expected, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = client.counter("shale_searcher_split_cache_downloads_total")
        if done >= expected:
            return
        time.sleep(0.2)
    check(False, f"split cache downloads: {done} after {timeout}s, expected {expected}")


def run(args, workdir):
    port = free_port()
    cache_dir = os.path.join(workdir, "data", "searcher-split-cache")
    process, client = start(args, workdir, port)
    try:
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                    headers={"Content-Type": "application/json"})
        for batch in range(NUM_BATCHES):
            body = "".join(json.dumps(doc(n)) + "\n"
                           for n in range(batch * DOCS_PER_BATCH, (batch + 1) * DOCS_PER_BATCH))
            result = client.json("POST", f"/api/v1/{INDEX_ID}/ingest", body,
                                 params={"commit": "force"})
            check(result["num_ingested_docs"] == DOCS_PER_BATCH, f"ingest: {result}")

        total = NUM_BATCHES * DOCS_PER_BATCH
        expected = answers(client)  # the first searches queue the downloads
        check(expected[0][0] == total, f"match all: {expected[0][0]}")
        check(expected[1][0] == total // 4, f"level:ERROR: {expected[1][0]}")
        wait_for_downloads(client, NUM_BATCHES)

        hits_label = 'shale_cache_hits_total{cache="searcher_split"}'
        hits_before = client.counter(hits_label)
        # A new query (not in the partial request cache) on every split.
        check(client.num_hits("body:done") == total, "body:done")
        check(client.counter(hits_label) - hits_before >= MAX_NUM_SPLITS,
              "searches read the local copies")
        check(answers(client) == expected, "same answers from the local copies")

        files = sorted(os.listdir(cache_dir))
        check(len(files) == MAX_NUM_SPLITS and all(f.endswith(".split") for f in files),
              f"split cache folder after eviction: {files}")
        check(client.counter('shale_cache_items{cache="searcher_split"}') == MAX_NUM_SPLITS,
              "split cache items gauge")
        print(f"ok  {len(files)} splits cached on disk, answers unchanged")
    finally:
        stop(process)

    process, client = start(args, workdir, port)
    try:
        check(client.counter('shale_cache_items{cache="searcher_split"}') == MAX_NUM_SPLITS,
              "the restarted node adopts the cached splits")
        check(answers(client) == expected, "same answers after a restart")
        print("ok  restarted node adopts the cached splits")
    finally:
        stop(process)


if __name__ == "__main__":
    sys.exit(run_test_main("integration_searcher_split_cache", run, ["--shale-bin"]))
