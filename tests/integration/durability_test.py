#!/usr/bin/env python3
"""Integration test: acknowledged documents survive `kill -9` and are never indexed twice.

Starts the real `shale` binary on a free loopback port with a temporary data dir, creates an
index whose commit timeout (3600 s) never fires during the test, and ingests 20,000 documents
with unique ids over many `commit=auto` requests. The node is killed with SIGKILL at three
moments and restarted each time:
  1. right after acknowledged auto batches, before any commit (everything lives in the WAL);
  2. right after a `commit=force` published part of the data and more auto batches followed
     (published records must not be replayed; the rest must);
  3. right after a restart became ready, while the replayed documents may still be committing
     (a replay interrupted by a crash is replayed again, once);
  4. while requests are in flight (the unanswered request is in doubt: all of it or nothing).
At the end, a small forced batch makes everything searchable and the test checks that the total
count equals the number of acknowledged documents (plus the in-doubt request if it made it) and that sampled ids each match exactly once.

Only the Python standard library is used.
"""
import json
import random
import sys
import threading
import time
import urllib.error

from shale_testlib import ShaleNode, check, run_test_main

INDEX_ID = "durability"
NUM_DOCS = 20_000
BATCH_DOCS = 500
INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "mode": "strict",
        "field_mappings": [
            {"name": "id", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "n", "type": "u64", "fast": True},
            {"name": "body", "type": "text"},
        ],
    },
    "indexing_settings": {"commit_timeout_secs": 3600},
    "search_settings": {"default_search_fields": ["body"]},
}


def doc_id(n):
    return f"doc-{n:06d}"


def batch_body(first, count):
    return "".join(json.dumps({"id": doc_id(n), "n": n, "body": f"event number {n}"}) + "\n"
                   for n in range(first, first + count))


def ingest_auto(client, first, count):
    """Returns the number of acknowledged documents (all or nothing for one request)."""
    result = client.json("POST", f"/api/v1/{INDEX_ID}/ingest", batch_body(first, count),
                         params={"commit": "auto"})
    check(result["num_ingested_docs"] == count, f"batch at {first}: {result}")
    return count


def run(args, workdir):
    node = ShaleNode(args.shale_bin, workdir, "node", f"data_dir: {workdir}/data\n")
    try:
        client = node.start(index_id=INDEX_ID)
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG))
        acked = 0
        next_doc = 0

        # Moment 1: acknowledged auto batches, no commit yet.
        for _ in range(10):
            acked += ingest_auto(client, next_doc, BATCH_DOCS)
            next_doc += BATCH_DOCS
        check(client.num_hits("*") == 0, "nothing should be searchable before a commit")
        node.kill9()
        print(f"ok  killed after {acked} acknowledged docs, none committed")

        client = node.start(index_id=INDEX_ID)
        # Moment 2: part published by commit=force, then more auto batches.
        for _ in range(6):
            acked += ingest_auto(client, next_doc, BATCH_DOCS)
            next_doc += BATCH_DOCS
        client.json("POST", f"/api/v1/{INDEX_ID}/ingest", batch_body(next_doc, BATCH_DOCS),
                    params={"commit": "force"})
        acked += BATCH_DOCS
        next_doc += BATCH_DOCS
        published = client.num_hits("*")
        check(published == acked, f"after commit=force, {published} searchable != {acked} acked")
        for _ in range(8):
            acked += ingest_auto(client, next_doc, BATCH_DOCS)
            next_doc += BATCH_DOCS
        node.kill9()
        print(f"ok  killed after a forced commit and more auto batches, {acked} acknowledged")

        client = node.start(index_id=INDEX_ID)
        # More data, then moment 3: kill right after the next start became ready, while the
        # replayed documents may still be committing.
        while next_doc < NUM_DOCS:
            acked += ingest_auto(client, next_doc, min(BATCH_DOCS, NUM_DOCS - next_doc))
            next_doc += BATCH_DOCS
        node.kill9()
        node.start()
        node.kill9()
        print(f"ok  killed right after a recovery start, {acked} acknowledged")

        # Moment 4 (extra): kill while requests are in flight. A request without a response is
        # in doubt: all of its documents or none may be there, never a part.
        client = node.start(index_id=INDEX_ID)
        in_flight = {"acked": 0, "next": next_doc, "in_doubt": None}

        def keep_ingesting():
            while True:
                first = in_flight["next"]
                try:
                    status, _ = client.request("POST", f"/api/v1/{INDEX_ID}/ingest",
                                               batch_body(first, 200), params={"commit": "auto"})
                except (urllib.error.URLError, ConnectionError, OSError):
                    in_flight["in_doubt"] = (first, 200)
                    return
                if status != 200:
                    in_flight["in_doubt"] = (first, 200)
                    return
                in_flight["acked"] += 200
                in_flight["next"] = first + 200

        ingester = threading.Thread(target=keep_ingesting)
        ingester.start()
        time.sleep(0.5)
        node.kill9()
        ingester.join(timeout=60)
        check(not ingester.is_alive(), "the ingesting thread should stop when the node dies")
        acked += in_flight["acked"]
        next_doc = in_flight["next"]
        in_doubt = in_flight["in_doubt"]
        check(in_doubt is not None, "the in-flight request should have failed")
        next_doc = in_doubt[0] + in_doubt[1]
        print(f"ok  killed during ingestion, {acked} acknowledged, batch at {in_doubt[0]} in doubt")

        client = node.start(index_id=INDEX_ID)
        # A small forced batch publishes whatever is still in memory.
        extra = 100
        client.json("POST", f"/api/v1/{INDEX_ID}/ingest", batch_body(next_doc, extra),
                    params={"commit": "force"})
        acked += extra
        last_doc = next_doc + extra - 1
        doubt_hits = client.num_hits(f"n:[{in_doubt[0]} TO {in_doubt[0] + in_doubt[1] - 1}]")
        check(doubt_hits in (0, in_doubt[1]),
              f"the in-doubt request has {doubt_hits} of its {in_doubt[1]} docs (all or none)")
        total = client.num_hits("*")
        check(total == acked + doubt_hits,
              f"searchable docs {total} != acknowledged docs {acked} (+{doubt_hits} in doubt)")
        rng = random.Random(7)
        acked_ids = [n for n in range(last_doc + 1)
                     if not in_doubt[0] <= n < in_doubt[0] + in_doubt[1]]
        sample = rng.sample(acked_ids, 200) + [0, NUM_DOCS - 1, last_doc]
        for n in sample:
            hits = client.num_hits(f"id:{doc_id(n)}")
            check(hits == 1, f"id {doc_id(n)} matches {hits} docs (expected exactly 1)")
        n_range = client.num_hits(f"n:[0 TO {last_doc}]")
        check(n_range == total, f"range over n counts {n_range} != {total}")
        print(f"ok  {total} docs searchable == {acked} acknowledged + {doubt_hits} in doubt, "
              f"sampled ids unique")

        indexing = client.json("GET", "/api/v1/indexing")
        pipelines = [p for p in indexing["indexes"] if p["index_id"] == INDEX_ID]
        check(len(pipelines) == 1, f"/api/v1/indexing lists the index: {indexing}")
        check(pipelines[0]["num_pending_docs"] == 0, f"nothing left pending: {pipelines[0]}")
        print(f"ok  /api/v1/indexing: {json.dumps(pipelines[0])[:300]}")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_durability", run, ["--shale-bin"]))
