#!/usr/bin/env python3
"""Integration test: a file source indexes a gzipped NDJSON file exactly once across `kill -9`.

Starts the real `shale` binary on a free loopback port with a temporary data dir, writes
1,000,000 documents with unique ids (plus a few malformed lines) to a local `.ndjson.gz`,
creates an index (split_num_docs_target 10,000, the default merge policy, so merges run too) and
a file source with `shale source create`, and:
  1. kills the node with SIGKILL at 5 random moments while the pipeline runs (each moment is a
     random fraction of the file reached by the published checkpoint, plus a random delay of up
     to 0.4 s, so kills land while a split is built, uploaded, published or merged) and restarts
     it each time: the pipeline resumes from the published checkpoint;
  2. kills it once more right after a restart became ready (while the gzip stream is
     decompressed up to the checkpoint) and restarts it;
  3. waits until the source is idle, then checks that the index holds exactly the 1,000,000 valid
     documents, each id exactly once (per range of `n`, a terms aggregation's largest bucket holds
     1 document and the buckets sum to the range's size), and that the stored checkpoint is the
     decompressed size of the file.
No client ingests anything: the file source alone must be exactly-once.

SHALE_FILE_SOURCE_DOCS overrides the number of documents (a multiple of 50,000) and
SHALE_FILE_SOURCE_SEED the seed of the kill moments (printed, to replay a failure).
Only the Python standard library is used.
"""
import gzip
import json
import os
import random
import subprocess
import sys
import time

from shale_testlib import (ShaleNode, check, check_each_n_once, numbered_docs_index_config,
                           run_test_main)

INDEX_ID = "file-logs"
SOURCE_ID = "local-file"
NUM_DOCS = int(os.environ.get("SHALE_FILE_SOURCE_DOCS", "1000000"))
BAD_LINE_EVERY = 25_000
NUM_RANDOM_KILLS = 5
SPLIT_DOCS = 10_000
INDEX_CONFIG = numbered_docs_index_config(INDEX_ID, split_num_docs_target=SPLIT_DOCS)


def write_input(path):
    """Writes the documents (and malformed lines) and returns (decompressed size, bad lines)."""
    size = 0
    bad_lines = 0
    with gzip.open(path, "wt", compresslevel=1) as out:
        for n in range(NUM_DOCS):
            if n > 0 and n % BAD_LINE_EVERY == 0:
                line = "{this is not json\n"
                bad_lines += 1
            else:
                line = ""
            line += json.dumps({"id": f"doc-{n:07d}", "n": n, "body": f"event number {n}"}) + "\n"
            out.write(line)
            size += len(line.encode())
    return size, bad_lines


def source_pipeline(client):
    indexing = client.json("GET", "/api/v1/indexing")
    for pipeline in indexing["sources"]:
        if pipeline["index_id"] == INDEX_ID and pipeline["source_id"] == SOURCE_ID:
            return pipeline
    return None


def wait_for(client, predicate, what, timeout_secs=600):
    deadline = time.time() + timeout_secs
    pipeline = None
    while time.time() < deadline:
        pipeline = source_pipeline(client)
        if pipeline is not None and predicate(pipeline):
            return pipeline
        time.sleep(0.1)
    check(False, f"timed out waiting for {what}: {pipeline}")


def checkpoint_offset(client, input_uri):
    """The byte offset of the published checkpoint of the file (0 before the first publish)."""
    checkpoint = client.json("GET", f"/api/v1/indexes/{INDEX_ID}")["checkpoint"].get(SOURCE_ID, {})
    return int(checkpoint.get(input_uri, "0"))


def wait_for_offset(client, input_uri, target, what, timeout_secs=600):
    deadline = time.time() + timeout_secs
    while time.time() < deadline:
        if checkpoint_offset(client, input_uri) >= target:
            return
        time.sleep(0.05)
    check(False, f"timed out waiting for {what}")


def published_docs(client):
    """The documents of the published splits (merges keep the sum)."""
    splits = client.json("GET", f"/api/v1/indexes/{INDEX_ID}/splits",
                         params={"split_states": "Published"})["splits"]
    return sum(split["num_docs"] for split in splits)


def run(args, workdir):
    input_path = os.path.join(workdir, "input", "docs.ndjson.gz")
    os.makedirs(os.path.dirname(input_path))
    decompressed_size, bad_lines = write_input(input_path)
    node = ShaleNode(args.shale_bin, workdir, "file-source-node", f"data_dir: {workdir}/data\n")
    try:
        client = node.start(index_id=INDEX_ID)
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG))
        source_config = os.path.join(workdir, "source.yaml")
        with open(source_config, "w") as config:
            config.write(f"version: 0.8\nsource_id: {SOURCE_ID}\nsource_type: file\n"
                         f"params:\n  filepath: {input_path}\n")
        endpoint = f"http://127.0.0.1:{node.port}"
        created = subprocess.run([args.shale_bin, "source", "create", "--endpoint", endpoint,
                                  "--index", INDEX_ID, "--source-config", source_config],
                                 capture_output=True, text=True, timeout=60)
        check(created.returncode == 0, f"shale source create failed: {created.stderr}")
        print(f"ok  {created.stdout.strip()}")

        # Kills 1-5: at random moments while the pipeline runs.
        seed = int(os.environ.get("SHALE_FILE_SOURCE_SEED", str(random.randrange(1 << 30))))
        rng = random.Random(seed)
        moments = sorted((rng.uniform(0.03, 0.85), rng.uniform(0.0, 0.4))
                         for _ in range(NUM_RANDOM_KILLS))
        print(f"ok  kill moments (seed {seed}): "
              + ", ".join(f"{fraction:.0%} of the file + {delay:.2f} s"
                          for fraction, delay in moments))
        input_uri = f"file://{input_path}"
        published = 0
        for kill, (fraction, delay) in enumerate(moments, start=1):
            target = int(fraction * decompressed_size)
            wait_for_offset(client, input_uri, target, f"kill {kill}: offset {target}")
            time.sleep(delay)
            pipeline = source_pipeline(client)
            check(pipeline is not None and pipeline["state"] == "running",
                  f"kill {kill}: the pipeline should still be running: {pipeline}")
            published = published_docs(client)
            offset = checkpoint_offset(client, input_uri)
            node.kill9()
            print(f"ok  kill {kill} while running, checkpoint {offset} of {decompressed_size} "
                  f"bytes, {published}+ docs published")
            client = node.start(index_id=INDEX_ID)
            check(checkpoint_offset(client, input_uri) >= offset,
                  f"kill {kill}: the checkpoint went back from {offset}")

        # Kill 6: right after the restart became ready.
        node.kill9()
        print("ok  killed right after a restart")

        client = node.start(index_id=INDEX_ID)
        endpoint = f"http://127.0.0.1:{node.port}"
        pipeline = wait_for(client, lambda p: p["state"] == "idle", "the source to be idle")
        check(pipeline["last_error"] is None, f"no failure expected: {pipeline}")
        check(pipeline["num_published_docs"] <= NUM_DOCS - published,
              f"the last run should only index what was not published before: {pipeline}")
        valid_docs = NUM_DOCS
        total = client.num_hits("*")

        check_each_n_once(client, INDEX_ID, valid_docs)
        histogram = {"by_n": {"histogram": {"field": "n", "interval": SPLIT_DOCS}}}
        result = client.json("POST", f"/api/v1/{INDEX_ID}/search",
                             json.dumps({"query": "*", "max_hits": 0, "aggs": histogram}))
        buckets = result["aggregations"]["by_n"]["buckets"]
        check(len(buckets) == NUM_DOCS // SPLIT_DOCS, f"histogram buckets: {buckets}")
        for bucket in buckets:
            check(bucket["doc_count"] == SPLIT_DOCS, f"bucket {bucket} should hold {SPLIT_DOCS}")
        for n in (0, 1, 24_999, 25_000, 50_001, NUM_DOCS // 2, NUM_DOCS - 1):
            hits = client.num_hits(f"id:doc-{n:07d}")
            check(hits == 1, f"id doc-{n:07d} matches {hits} docs (expected exactly 1)")
        splits = client.json("GET", f"/api/v1/indexes/{INDEX_ID}/splits",
                             params={"split_states": "Published"})["splits"]
        oversized = [s["num_docs"] for s in splits
                     if s["num_merge_ops"] == 0 and s["num_docs"] > SPLIT_DOCS]
        check(not oversized, f"unmerged splits over split_num_docs_target: {oversized}")
        merged = sum(1 for s in splits if s["num_merge_ops"] > 0)
        print(f"ok  {total} docs indexed exactly once ({bad_lines} malformed lines skipped) "
              f"in {len(splits)} splits ({merged} of them merged)")

        metadata = client.json("GET", f"/api/v1/indexes/{INDEX_ID}")
        checkpoint = metadata["checkpoint"][SOURCE_ID]
        check(checkpoint == {f"file://{input_path}": f"{decompressed_size:020d}"},
              f"checkpoint {checkpoint} should be the decompressed size {decompressed_size}")
        described = subprocess.run([args.shale_bin, "source", "describe", "--endpoint", endpoint,
                                    "--index", INDEX_ID, "--source", SOURCE_ID],
                                   capture_output=True, text=True, timeout=60)
        check(described.returncode == 0 and 'state: "idle"' in described.stdout,
              f"shale source describe: {described.stdout} {described.stderr}")
        print(f"ok  checkpoint {checkpoint}, pipeline idle")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_file_source", run, ["--shale-bin"]))
