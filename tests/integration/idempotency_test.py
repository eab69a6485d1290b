#!/usr/bin/env python3
"""Integration test: resending a batch with the same Idempotency-Key indexes it once, across
`kill -9`.

Starts the real `shale` binary on a free loopback port with a temporary data dir and an index
whose commit timeout never fires during the test, then:
  1. sends 20 batches of 500 documents with unique ids, each with its own key, kills the node
     with SIGKILL before anything is published, restarts it and resends every batch with its
     key: each answer is a replay (`idempotent_replay: true`, the first counts);
  2. publishes with `commit=force`, kills the node again (the keys now live in the snapshot
     written before the WAL truncation), restarts it and resends: replays again;
  3. kills the node while a client sends keyed batches; the batch whose answer was lost is
     resent with its key after the restart, like a retrying client: its documents are indexed
     once whether or not the first attempt reached the WAL;
  4. switches the node to `ingest_api.durability: async`, sends keyed batches, kills it
     (a process crash loses nothing: the WAL is in the page cache) and resends: replays.
At the end every document is searchable exactly once (total count, per-range id counts, a
terms aggregation whose largest id bucket holds one document).

Only the Python standard library is used.
"""
import json
import sys
import threading
import time
import urllib.error

from shale_testlib import (ShaleNode, check, check_each_n_once, numbered_docs_index_config,
                           run_test_main)

INDEX_ID = "idempotent"
BATCH_DOCS = 500
INDEX_CONFIG = numbered_docs_index_config(INDEX_ID)


def batch_body(batch):
    first = batch * BATCH_DOCS
    return "".join(json.dumps({"id": f"doc-{n:07d}", "n": n, "body": "x"}) + "\n"
                   for n in range(first, first + BATCH_DOCS))


def send(client, batch, commit="auto"):
    """Sends batch `batch` with key `batch-{batch}`; returns the parsed answer."""
    return client.json("POST", f"/api/v1/{INDEX_ID}/ingest", batch_body(batch),
                       params={"commit": commit},
                       headers={"Idempotency-Key": f"batch-{batch}"})


def expect_replays(client, batches):
    for batch in batches:
        answer = send(client, batch)
        check(answer["idempotent_replay"] is True, f"batch {batch} should be a replay: {answer}")
        check(answer["num_ingested_docs"] == BATCH_DOCS, f"batch {batch} counts: {answer}")


def run(args, workdir):
    node = ShaleNode(args.shale_bin, workdir, "idempotency-node", f"data_dir: {workdir}/data\n")
    try:
        client = node.start(index_id=INDEX_ID)
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG))

        # 1. Acknowledged, unpublished, then a crash: the keys come back from the WAL.
        for batch in range(20):
            answer = send(client, batch)
            check(answer["idempotent_replay"] is False, f"first send of {batch}: {answer}")
        check(client.num_hits("*") == 0, "nothing should be published yet")
        node.kill9()
        client = node.start(index_id=INDEX_ID)
        expect_replays(client, range(20))
        print("ok  20 batches resent after kill -9 before publish: all replays")

        # 2. Published (the WAL is truncated), then a crash: the keys come from the snapshot.
        send(client, 20, commit="force")
        check(client.num_hits("*") == 21 * BATCH_DOCS, "21 batches published")
        node.kill9()
        client = node.start(index_id=INDEX_ID)
        expect_replays(client, range(21))
        print("ok  21 batches resent after kill -9 after publish: all replays")

        # 3. A crash while a client sends keyed batches: the unanswered batch is resent.
        state = {"next": 21, "lost": None}

        def keep_sending():
            while True:
                batch = state["next"]
                try:
                    status, _ = client.request(
                        "POST", f"/api/v1/{INDEX_ID}/ingest", batch_body(batch),
                        params={"commit": "auto"}, headers={"Idempotency-Key": f"batch-{batch}"})
                except (urllib.error.URLError, ConnectionError, OSError):
                    state["lost"] = batch
                    return
                if status != 200:
                    state["lost"] = batch
                    return
                state["next"] = batch + 1

        sender = threading.Thread(target=keep_sending)
        sender.start()
        time.sleep(0.5)
        node.kill9()
        sender.join(timeout=60)
        check(state["lost"] is not None, "a request should have lost its answer")
        client = node.start(index_id=INDEX_ID)
        lost = state["lost"]
        answer = send(client, lost)
        print(f"ok  killed during ingestion; batch {lost} resent, replay="
              f"{answer['idempotent_replay']} (the first attempt "
              f"{'had' if answer['idempotent_replay'] else 'had not'} reached the WAL)")
        expect_replays(client, range(21, lost))
        num_batches = lost + 1

        # 4. durability: async. A process crash loses nothing.
        node.stop()
        node.config += "ingest_api:\n  durability: async\n"
        client = node.start(index_id=INDEX_ID)
        config = client.json("GET", "/api/v1/config")
        check(config["ingest_api"]["durability"] == "async", f"config: {config['ingest_api']}")
        for batch in range(num_batches, num_batches + 5):
            check(send(client, batch)["idempotent_replay"] is False, f"batch {batch}")
        node.kill9()
        client = node.start(index_id=INDEX_ID)
        expect_replays(client, range(num_batches, num_batches + 5))
        num_batches += 5
        print("ok  durability async: 5 batches resent after kill -9: all replays")

        client.json("POST", f"/api/v1/{INDEX_ID}/ingest", "", params={"commit": "force"})
        check_each_n_once(client, INDEX_ID, num_batches * BATCH_DOCS)
        indexing = client.json("GET", "/api/v1/indexing")
        pipeline = [p for p in indexing["indexes"] if p["index_id"] == INDEX_ID][0]
        check(pipeline["num_idempotency_keys"] >= num_batches, f"keys remembered: {pipeline}")
        print(f"ok  {num_batches * BATCH_DOCS} docs searchable exactly once; "
              f"{pipeline['num_idempotency_keys']} keys remembered")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_idempotency", run, ["--shale-bin"]))
