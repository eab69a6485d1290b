#!/usr/bin/env python3
"""Integration test: the searcher's on-disk split cache (`searcher.split_cache`) with the real
`shale` binary.

Starts a node whose config enables the split cache with room for 3 splits, creates an index,
ingests 4 batches of generated documents (one split each) and runs a query set, recording exact
answers. The first searches queue background downloads into `{data_dir}/searcher-split-cache`:
3 splits fit, and the fourth, searched about as often as the cached ones, does not churn the
cache (once it is warm, searches start no download). The same queries then give the same answers, now reading the local copies
(the cache's hit counter grows); the folder holds the 3 complete split files and no partial
download. After a restart, the cache adopts the files already on disk and answers the same.

Only the Python standard library is used.
"""
import json
import os
import sys
import time

from shale_testlib import ShaleNode, check, run_test_main

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
    {"query": "body:odd", "sort_by": "ts", "max_hits": 3},
]  # every query searches every split (no time range): they are all used alike


def doc(n):
    return {"ts": 1_700_000_000 + n, "level": LEVELS[n % 4], "n": n,
            "body": f"event {n} {'even' if n % 2 == 0 else 'odd'} done"}


def answers(client):
    result = []
    for params in QUERIES:
        response = client.json("GET", f"/api/v1/{INDEX_ID}/search", params=params)
        check(response["errors"] == [], f"search errors: {response}")
        result.append((response["num_hits"], response["hits"]))
    return result


def wait_for_downloads(client, timeout=120):
    """Waits until no download is queued or running; returns the number of downloads."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if client.counter("shale_searcher_split_cache_pending_downloads") == 0:
            return client.counter("shale_searcher_split_cache_downloads_total")
        time.sleep(0.2)
    check(False, f"split cache downloads still pending after {timeout}s")


def run(args, workdir):
    cache_dir = os.path.join(workdir, "data", "searcher-split-cache")
    node = ShaleNode(args.shale_bin, workdir, "cache-node",
                     (f"data_dir: {workdir}/data\n"
                      f"searcher:\n  split_cache:\n    max_num_bytes: 1G\n"
                      f"    max_num_splits: {MAX_NUM_SPLITS}\n"
                      f"    num_concurrent_downloads: 2\n"))
    client = node.start(index_id=INDEX_ID)
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
        for _ in range(2):
            check(answers(client) == expected, "same answers while the splits download")
        downloads = wait_for_downloads(client)
        check(downloads >= MAX_NUM_SPLITS, f"{downloads} downloads")

        hits_label = 'shale_cache_hits_total{cache="searcher_split"}'
        hits_before = client.counter(hits_label)
        # A new query (not in the partial request cache) on every split.
        check(client.num_hits("body:done") == total, "body:done")
        hits = client.counter(hits_label) - hits_before
        check(hits >= MAX_NUM_SPLITS, f"searches read the local copies: {hits} cache hits")
        for _ in range(2):
            check(answers(client) == expected, "same answers from the local copies")
        # The fourth split is searched as often as the cached ones: it does not churn the cache.
        check(wait_for_downloads(client) == downloads, "no download once the cache is warm")

        files = sorted(os.listdir(cache_dir))
        check(len(files) == MAX_NUM_SPLITS and all(f.endswith(".split") for f in files),
              f"split cache folder: {files}")
        check(client.counter('shale_cache_items{cache="searcher_split"}') == MAX_NUM_SPLITS,
              "split cache items gauge")
        print(f"ok  {len(files)} splits cached on disk, answers unchanged")
    finally:
        node.stop()

    client = node.start(index_id=INDEX_ID)
    try:
        check(client.counter('shale_cache_items{cache="searcher_split"}') == MAX_NUM_SPLITS,
              "the restarted node adopts the cached splits")
        check(answers(client) == expected, "same answers after a restart")
        print("ok  restarted node adopts the cached splits")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_searcher_split_cache", run, ["--shale-bin"]))
