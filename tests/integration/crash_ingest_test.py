#!/usr/bin/env python3
"""Integration test: 10 clients, 1,000,000 docs, 5 x `kill -9`: nothing lost, nothing twice.

The real `shale` binary runs on a loopback port kept across restarts. Ten client threads ingest
1,000,000 documents with unique ids `n` in batches of 1,000 with `commit=auto`; every batch
carries an idempotency key, and a client that gets no answer (node killed, connection reset)
resends the same batch with the same key until it is acknowledged. A killer thread sends
SIGKILL to the node at 5 random moments of the ingestion and restarts it at once. The index
commits every 2 seconds, so splits are published (and the WAL truncated) between the kills.

At the end: the count of documents equals 1,000,000, and every id in [0, 1,000,000) is held by
exactly one document (checked with histogram aggregations of interval 1 over the whole range).

SHALE_CRASH_TEST_DOCS overrides the number of documents (a multiple of 10,000).

NOT YET REGISTERED in tests/CMakeLists.txt: it needs idempotency keys on the ingest API (issue 6,
item 7; the `Idempotency-Key` header, built on branch `sources` but not merged yet). Without them
it fails as it should: run by hand on 2026-11-21 with SHALE_CRASH_TEST_DOCS=100000 it found
118,000 docs for 100,000 acknowledged (resends after lost responses indexed twice).
Only the Python standard library is used.
"""
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.error

from shale_testlib import Node, check, run_test_main

INDEX_ID = "crash"
NUM_DOCS = int(os.environ.get("SHALE_CRASH_TEST_DOCS", "1000000"))
BATCH_DOCS = 1_000
NUM_CLIENTS = 10
NUM_KILLS = 5
IDEMPOTENCY_HEADER = "Idempotency-Key"
INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "mode": "strict",
        "field_mappings": [
            {"name": "n", "type": "u64", "fast": True},
            {"name": "client", "type": "u64", "fast": True},
            {"name": "body", "type": "text"},
        ],
    },
    "indexing_settings": {"commit_timeout_secs": 2},
    "search_settings": {"default_search_fields": ["body"]},
}
# Errors that mean "no answer": the node died or is restarting.
NO_ANSWER = (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException)


def batch_body(batch, client_id):
    first = batch * BATCH_DOCS
    return "".join(
        json.dumps({"n": n, "client": client_id, "body": f"crash test event {n} of batch {batch}"})
        + "\n" for n in range(first, first + BATCH_DOCS))


class Ingestion:
    """Shared state of the client threads and the killer."""

    def __init__(self, num_batches):
        self.lock = threading.Lock()
        self.next_batch = 0
        self.num_batches = num_batches
        self.acked_batches = 0
        self.resends = 0
        self.replays = 0
        self.error = None

    def take_batch(self):
        with self.lock:
            if self.error is not None or self.next_batch >= self.num_batches:
                return None
            batch = self.next_batch
            self.next_batch += 1
            return batch


def client_loop(node, state, client_id):
    while True:
        batch = state.take_batch()
        if batch is None:
            return
        body = batch_body(batch, client_id)
        headers = {IDEMPOTENCY_HEADER: f"{INDEX_ID}-batch-{batch}"}
        attempts = 0
        while True:
            attempts += 1
            try:
                status, text = node.client.request("POST", f"/api/v1/{INDEX_ID}/ingest", body,
                                                   params={"commit": "auto"}, headers=headers)
            except NO_ANSWER:
                time.sleep(0.1)  # killed or restarting: resend the same batch, same key
                continue
            if status in (429, 503):
                time.sleep(0.2)
                continue
            if status != 200:
                with state.lock:
                    state.error = f"batch {batch}: HTTP {status}: {text[:500]}"
                return
            result = json.loads(text)
            if result.get("num_ingested_docs") != BATCH_DOCS:
                with state.lock:
                    state.error = f"batch {batch}: acknowledged {result}"
                return
            with state.lock:
                state.acked_batches += 1
                state.resends += attempts - 1
                if result.get("idempotent_replay"):
                    state.replays += 1
            break


def killer_loop(node, state, kill_points, kills):
    for point in kill_points:
        while True:
            with state.lock:
                if state.error is not None:
                    return
                if state.acked_batches >= point:
                    break
            time.sleep(0.01)
        node.kill9()
        kills.append(point)
        try:
            node.start()
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            with state.lock:
                state.error = f"restart after kill {len(kills)} failed: {error}"
            return


def wait_for_count(client, expected, timeout):
    deadline = time.time() + timeout
    count = -1
    while time.time() < deadline:
        count = client.num_hits("*")
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


def check_each_id_once(client):
    """Histograms of interval 1 over slices of 10,000 ids: every bucket must hold one doc."""
    slice_size = 10_000
    for start in range(0, NUM_DOCS, slice_size):
        end = start + slice_size - 1
        body = {
            "query": f"n:[{start} TO {end}]",
            "max_hits": 0,
            "aggs": {"ids": {"histogram": {"field": "n", "interval": 1, "min_doc_count": 0,
                                           "extended_bounds": {"min": start, "max": end}}}},
        }
        result = client.json("POST", f"/api/v1/{INDEX_ID}/search", json.dumps(body))
        buckets = result["aggregations"]["ids"]["buckets"]
        check(len(buckets) == slice_size, f"ids {start}..{end}: {len(buckets)} buckets")
        wrong = [(int(b["key"]), b["doc_count"]) for b in buckets if b["doc_count"] != 1]
        check(not wrong, f"ids held by other than exactly one doc (id, count): {wrong[:20]}")


def run(args, workdir):
    check(NUM_DOCS % 10_000 == 0, "SHALE_CRASH_TEST_DOCS must be a multiple of 10,000")
    node = Node(args.shale_bin, workdir, node_id="crash-node", index_id=INDEX_ID)
    try:
        client = node.start()
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG))
        num_batches = NUM_DOCS // BATCH_DOCS
        rng = random.Random(int(os.environ.get("SHALE_CRASH_TEST_SEED", "20261121")))
        kill_points = sorted(rng.sample(range(num_batches // 20, num_batches * 19 // 20),
                                        NUM_KILLS))
        state = Ingestion(num_batches)
        kills = []
        started = time.time()
        threads = [threading.Thread(target=client_loop, args=(node, state, c))
                   for c in range(NUM_CLIENTS)]
        killer = threading.Thread(target=killer_loop, args=(node, state, kill_points, kills))
        for thread in threads + [killer]:
            thread.start()
        for thread in threads + [killer]:
            thread.join()
        check(state.error is None, state.error or "")
        check(len(kills) == NUM_KILLS, f"killed {len(kills)} times, wanted {NUM_KILLS}")
        check(state.acked_batches == num_batches,
              f"{state.acked_batches} of {num_batches} batches acknowledged")
        elapsed = time.time() - started
        print(f"ok  {NUM_DOCS} docs acknowledged by {NUM_CLIENTS} clients in {elapsed:.0f} s, "
              f"killed at batches {kills}, {state.resends} resends, "
              f"{state.replays} answered as idempotent replays")

        count = wait_for_count(client, NUM_DOCS, timeout=300)
        check(count == NUM_DOCS, f"searchable docs {count} != {NUM_DOCS} acknowledged")
        time.sleep(3)  # a late duplicate commit would show up now
        count = client.num_hits("*")
        check(count == NUM_DOCS, f"searchable docs {count} != {NUM_DOCS} after settling")
        check_each_id_once(client)
        print(f"ok  count == {NUM_DOCS} and each id in [0, {NUM_DOCS}) is held by exactly one doc")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_crash_ingest", run, ["--shale-bin"]))
