#!/usr/bin/env python3
"""Integration test: a file source reads a gzipped NDJSON object from S3 (s3rver) exactly once.

Starts s3rver (npm, tests/s3) on a free loopback port with the bucket `test-bucket`, uploads
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
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from shale_testlib import (Node, check, check_each_n_once, free_port,
                           numbered_docs_index_config, run_test_main)

INDEX_ID = "s3-logs"
SOURCE_ID = "s3-file"
NUM_DOCS = 20_000
SPLIT_DOCS = 4_000
BUCKET = "test-bucket"
KEY = "inputs/docs.ndjson.gz"


def start_s3rver(s3rver_bin, workdir):
    port = free_port()
    data = os.path.join(workdir, "s3rver")
    os.makedirs(data)
    env = dict(os.environ)
    # s3rver 3.7.1 makes continuation tokens with DES (Node >= 17: legacy OpenSSL provider).
    env["NODE_OPTIONS"] = ("--openssl-legacy-provider " + env.get("NODE_OPTIONS", "")).strip()
    log = open(os.path.join(workdir, "s3rver.log"), "w")
    process = subprocess.Popen([s3rver_bin, "--directory", data, "--address", "127.0.0.1",
                                "--port", str(port), "--configure-bucket", BUCKET],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{BUCKET}", timeout=2):
                return process, port
        except urllib.error.HTTPError:
            return process, port  # answering: ready
        except (urllib.error.URLError, ConnectionError, OSError):
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    check(False, "s3rver did not start")


def run(args, workdir):
    if not os.path.exists(args.s3rver_bin):
        print(f"SKIPPED: s3rver is not installed at {args.s3rver_bin} (tools/install_deps.sh)")
        return
    s3rver, s3_port = start_s3rver(args.s3rver_bin, workdir)
    node = Node(args.shale_bin, workdir, node_id="s3-source-node", index_id=INDEX_ID,
                extra_config=(f"storage:\n  s3:\n    endpoint: http://127.0.0.1:{s3_port}\n"
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

        client = node.start()
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

        client = node.start()
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
        s3rver.send_signal(signal.SIGTERM)
        try:
            s3rver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            s3rver.kill()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_file_source_s3", run, ["--shale-bin", "--s3rver-bin"]))
