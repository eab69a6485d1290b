#!/usr/bin/env python3
"""Integration test: a file source reads a gzipped NDJSON object from S3 (s3rver) exactly once.

Starts s3rver (npm, tests/s3, through shale_testlib.S3rver) on a free loopback port with the bucket `test-bucket`, uploads
20,000 documents with unique ids as `s3://test-bucket/inputs/docs.ndjson.gz`, starts the real
`shale` binary with `storage.s3` pointing at s3rver, creates an index (split_num_docs_target
4,000) and a file source on the object, kills the node with SIGKILL once splits are published
and restarts it, then checks every document is indexed once and the checkpoint is the
decompressed size of the object. Skipped (with a message) when s3rver is not installed.

Only the Python standard library is used.
"""
import gzip
import json
import os
import sys
import time
import urllib.request

from shale_testlib import (S3RVER_BUCKET, ShaleNode, S3rver, check, check_each_n_once,
                           numbered_docs_index_config, run_test_main)

INDEX_ID = "s3-logs"
SOURCE_ID = "s3-file"
NUM_DOCS = 20_000
SPLIT_DOCS = 4_000
BUCKET = S3RVER_BUCKET
KEY = "inputs/docs.ndjson.gz"


def run(args, workdir):
    s3rver = S3rver(workdir)
    if not os.path.exists(s3rver.bin):
        print(f"SKIPPED: s3rver is not installed at {s3rver.bin} (tools/install_deps.sh)")
        return
    with s3rver:
        run_with_s3rver(args, workdir, s3rver.port)


def run_with_s3rver(args, workdir, s3_port):
    node = ShaleNode(args.shale_bin, workdir, "s3-source-node",
                     (f"data_dir: {workdir}/data\n"
                      f"storage:\n  s3:\n    endpoint: http://127.0.0.1:{s3_port}\n"
                      f"    region: us-east-1\n    force_path_style_access: true\n"
                      f"    access_key_id: S3RVER\n    secret_access_key: S3RVER\n"))
    try:
        text = "".join(json.dumps({"id": f"doc-{n:07d}", "n": n, "body": f"event {n}"}) + "\n"
                       for n in range(NUM_DOCS))
        upload = urllib.request.Request(f"http://127.0.0.1:{s3_port}/{BUCKET}/{KEY}",
                                        data=gzip.compress(text.encode(), compresslevel=1),
                                        method="PUT")
        with urllib.request.urlopen(upload, timeout=60) as response:
            check(response.status == 200, f"upload to s3rver: HTTP {response.status}")

        client = node.start(index_id=INDEX_ID)
        client.json("POST", "/api/v1/indexes",
                    json.dumps(numbered_docs_index_config(INDEX_ID,
                                                          split_num_docs_target=SPLIT_DOCS)))
        uri = f"s3://{BUCKET}/{KEY}"
        client.json("POST", f"/api/v1/indexes/{INDEX_ID}/sources",
                    json.dumps({"version": "0.8", "source_id": SOURCE_ID, "source_type": "file",
                                "params": {"filepath": uri}}))

        def pipeline():
            for entry in client.json("GET", "/api/v1/indexing")["sources"]:
                if entry["source_id"] == SOURCE_ID:
                    return entry
            return None

        deadline = time.time() + 300
        state = pipeline()
        while time.time() < deadline and (state is None or state["num_published_splits"] < 2):
            time.sleep(0.05)
            state = pipeline()
        check(state is not None and state["num_published_splits"] >= 2,
              f"two splits should be published: {state}")
        node.kill9()
        print(f"ok  killed after {state['num_published_docs']}+ docs published from {uri}")

        client = node.start(index_id=INDEX_ID)
        deadline = time.time() + 300
        state = pipeline()
        while time.time() < deadline and (state is None or state["state"] != "idle"):
            time.sleep(0.1)
            state = pipeline()
        check(state is not None and state["state"] == "idle", f"source should be idle: {state}")
        check_each_n_once(client, INDEX_ID, NUM_DOCS)
        checkpoint = client.json("GET", f"/api/v1/indexes/{INDEX_ID}")["checkpoint"][SOURCE_ID]
        check(checkpoint == {uri: f"{len(text.encode()):020d}"}, f"checkpoint {checkpoint}")
        print(f"ok  {NUM_DOCS} docs indexed exactly once from s3, checkpoint {checkpoint}")
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_file_source_s3", run, ["--shale-bin"]))
