#!/usr/bin/env python3
"""Integration test: ingest and search through storage failures, on S3 (s3rver).

The real `shale` binary runs with its metastore and indexes on s3rver and the TEST-ONLY fault
injection of docs/storage.md: SHALE_TEST_STORAGE_FAILURE_RATE_FILE names a file holding the share
of storage calls that fail (half before the call, half after it took effect), re-read while the
node runs.

  1. 20 % of storage calls fail: index creation, ingestion with commit=force and
     commit=wait_for, and searches all succeed through retries, with exact counts and no search
     errors; /metrics shows the injected failures.
  2. 100 % fail: commit=force answers a 5xx naming the storage and the injected failure;
     commit=auto requests are still acknowledged (local WAL); searches report the failure.
  3. The node is stopped (its final commit fails too) and restarted without failures: every
     acknowledged document, and the failed commit=force batch (it was in the WAL: in doubt, all
     or nothing), becomes searchable exactly once.

Only the Python standard library is used.
"""
import json
import os
import sys
import time

from shale_testlib import S3rver, ShaleNode, check, run_test_main

INDEX_ID = "faults"
INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "mode": "strict",
        "field_mappings": [
            {"name": "seq", "type": "u64", "fast": True},
            {"name": "kind", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "body", "type": "text"},
        ],
    },
    "indexing_settings": {"commit_timeout_secs": 2},
    "search_settings": {"default_search_fields": ["body"]},
}
KINDS = ["alpha", "beta", "gamma", "delta"]
BATCH_DOCS = 2500


def batch(first, count):
    return "".join(json.dumps({"seq": n, "kind": KINDS[n % 7 % 4], "body": f"event {n} of run"})
                   + "\n" for n in range(first, first + count))


def num_hits(client, query):
    response = client.json("GET", f"/api/v1/{INDEX_ID}/search",
                           params={"query": query, "max_hits": 0})
    check(response["errors"] == [], f"search {query!r} reported errors: {response['errors']}")
    return response["num_hits"]


def labelled_counter_sum(client, name):
    _, text = client.request("GET", "/metrics")
    return sum(int(float(line.split()[-1])) for line in text.splitlines()
               if line.startswith(name + "{"))


def set_failure_rate(path, rate):
    with open(path + ".tmp", "w") as rate_file:
        rate_file.write(f"{rate}\n")
    os.replace(path + ".tmp", path)
    time.sleep(0.3)  # the node re-reads the file every 100 ms


def check_counts(client, num_docs):
    kinds = {kind: sum(1 for n in range(num_docs) if KINDS[n % 7 % 4] == kind) for kind in KINDS}
    check(num_hits(client, "*") == num_docs, f"expected {num_docs} docs")
    for kind, expected in kinds.items():
        got = num_hits(client, f"kind:{kind}")
        check(got == expected, f"kind:{kind}: {got} hits, expected {expected}")
    got = num_hits(client, f"seq:[0 TO {num_docs // 2 - 1}]")
    check(got == num_docs // 2, f"range: {got} hits, expected {num_docs // 2}")
    got = num_hits(client, "body:event AND NOT kind:alpha")
    check(got == num_docs - kinds["alpha"], f"boolean: {got}")


def run(args, workdir):
    rate_path = os.path.join(workdir, "failure_rate")
    set_failure_rate(rate_path, 0.2)
    with S3rver(workdir) as s3rver:
        node = ShaleNode(args.shale_bin, workdir, "faults-node",
                         f"data_dir: {workdir}/data\n"
                         f"metastore_uri: s3://test-bucket/metastore\n"
                         f"default_index_root_uri: s3://test-bucket/indexes\n"
                         + s3rver.node_config(),
                         env={"SHALE_TEST_STORAGE_FAILURE_RATE_FILE": rate_path})
        try:
            client = node.start()
            # 1. 20 % of storage calls fail.
            client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                        headers={"Content-Type": "application/json"})
            acked = 0
            for i in range(8):
                commit = "force" if i % 2 == 0 else "wait_for"
                result = client.json("POST", f"/api/v1/{INDEX_ID}/ingest",
                                     batch(acked, BATCH_DOCS), params={"commit": commit})
                check(result["num_ingested_docs"] == BATCH_DOCS, f"batch {i}: {result}")
                acked += BATCH_DOCS
                check(num_hits(client, "*") == acked, f"after batch {i} ({commit})")
            for _ in range(3):
                check_counts(client, acked)
            injected = labelled_counter_sum(client, "shale_storage_request_errors_total")
            requests = labelled_counter_sum(client, "shale_storage_requests_total")
            check(injected > 0, "no storage failure was injected")
            print(f"ok  20% failures: {acked} docs ingested (force and wait_for) and searched "
                  f"exactly; {injected} of {requests} storage requests failed and were retried")

            # 2. Every storage call fails.
            set_failure_rate(rate_path, 1.0)
            started = time.time()
            status, text = client.request("POST", f"/api/v1/{INDEX_ID}/ingest",
                                          batch(acked, BATCH_DOCS), params={"commit": "force"})
            check(status >= 500, f"commit=force must fail with a 5xx, got {status}: {text}")
            message = json.loads(text)["message"]
            for fragment in ("injected storage failure", "s3://test-bucket/", "gave up after"):
                check(fragment in message, f"error should say {fragment!r}: {message}")
            in_doubt = (acked, BATCH_DOCS)
            print(f"ok  100% failures: commit=force answers {status} after "
                  f"{time.time() - started:.1f}s: {message[:200]}")
            next_seq = acked + BATCH_DOCS
            for _ in range(3):
                result = client.json("POST", f"/api/v1/{INDEX_ID}/ingest",
                                     batch(next_seq, BATCH_DOCS), params={"commit": "auto"})
                check(result["num_ingested_docs"] == BATCH_DOCS, f"auto batch: {result}")
                next_seq += BATCH_DOCS
                acked += BATCH_DOCS
            status, text = client.request("GET", f"/api/v1/{INDEX_ID}/search",
                                          params={"query": "*", "max_hits": 0})
            response = json.loads(text)
            reported = response.get("message", "") + " ".join(response.get("errors", []))
            check(status >= 500 or response.get("errors"),
                  f"a search must report the failure: {status} {text[:500]}")
            check("injected storage failure" in reported, f"search error: {text[:500]}")
            print(f"ok  commit=auto still acknowledged ({3 * BATCH_DOCS} docs, in the WAL); "
                  f"search reports: {reported[:160]}")

            # 3. Stop while storage fails, restart without failures.
            code = node.stop()
            check(code == 0, f"exit code {code} after SIGTERM")
            set_failure_rate(rate_path, 0.0)
            client = node.start()
            deadline = time.time() + 180
            expected = acked + in_doubt[1]
            total = 0
            while time.time() < deadline:
                total = num_hits(client, "*")
                if total >= expected:
                    break
                time.sleep(0.5)
            doubt_hits = num_hits(client, f"seq:[{in_doubt[0]} TO {in_doubt[0] + in_doubt[1] - 1}]")
            check(doubt_hits in (0, in_doubt[1]),
                  f"the failed commit=force batch has {doubt_hits} of {in_doubt[1]} docs")
            check(total == acked + doubt_hits,
                  f"after recovery {total} docs != {acked} acknowledged + {doubt_hits} in doubt")
            for first in range(0, next_seq, BATCH_DOCS):
                if first == in_doubt[0]:
                    continue
                got = num_hits(client, f"seq:[{first} TO {first + BATCH_DOCS - 1}]")
                check(got == BATCH_DOCS, f"batch at {first}: {got} docs, expected {BATCH_DOCS}")
            for n in (0, BATCH_DOCS * 3 + 17, next_seq - 1, next_seq - BATCH_DOCS * 2 + 5):
                check(num_hits(client, f"seq:{n}") == 1, f"seq {n} must match exactly once")
            print(f"ok  after a restart without failures: {total} docs = {acked} acknowledged "
                  f"+ {doubt_hits} of the failed force batch, each exactly once")
            client.json("DELETE", f"/api/v1/indexes/{INDEX_ID}")
            left = [k for k in s3rver.list_keys("indexes/") if k.endswith(".split")]
            check(left == [], f"split objects left after delete: {left}")
        finally:
            node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("integration_storage_faults", run, ["--shale-bin"]))
