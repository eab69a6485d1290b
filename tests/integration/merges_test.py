#!/usr/bin/env python3
"""Integration test: merges in the real `shale` binary, and `shale tool merge`.

1. An index with `stable_log` (merge_factor 3) receives 9 forced commits of 200 documents: the
   merge pipeline merges them level by level (9 splits -> 3 -> 1) while ingestion goes on. The
   test waits for one published split, then checks that it holds every document once (counts of
   term, phrase, range and time-filtered queries computed here from the data), that its tags and
   time range are exact, that num_merge_ops is 2, that the replaced splits are marked for
   deletion, and that /metrics and GET /api/v1/indexing count the 4 merges.
2. An index with `no_merge` receives 5 commits: they stay 5 splits.
3. `shale tool merge`: an index with merge_factor 100 gets 4 commits the node never merges; with
   the node stopped, its merge_factor is lowered to 2 in its metastore.json (what an index config
   update would do), and `shale tool merge --index` merges them offline (4 -> 2 -> 1). After a
   restart the counts are unchanged.

Only the Python standard library is used.
"""
import json
import os
import random
import re
import subprocess
import sys
import time

from shale_testlib import Failure, ShaleNode, check, run_test_main

BASE_TS = 1_700_000_000
DOCS_PER_COMMIT = 200
SEVERITIES = ["INFO", "WARN", "ERROR"]
WORDS = ["disk", "full", "block", "replica", "lost", "slow", "query", "timeout"]


def index_config(index_id, merge_policy):
    return {
        "version": "0.8",
        "index_id": index_id,
        "doc_mapping": {
            "mode": "strict",
            "field_mappings": [
                {"name": "ts", "type": "datetime", "fast": True,
                 "input_formats": ["unix_timestamp"]},
                {"name": "n", "type": "u64", "fast": True},
                {"name": "tenant", "type": "u64", "fast": True},
                {"name": "severity", "type": "text", "tokenizer": "raw", "fast": True},
                {"name": "body", "type": "text", "record": "position"},
            ],
            "timestamp_field": "ts",
            "tag_fields": ["tenant", "severity"],
        },
        "indexing_settings": {"commit_timeout_secs": 3600, "merge_policy": merge_policy},
        "search_settings": {"default_search_fields": ["body"]},
    }


def make_docs(rng, first, count):
    docs = []
    for n in range(first, first + count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
        docs.append({"ts": BASE_TS + 7 * n, "n": n, "tenant": rng.randint(1, 5),
                     "severity": rng.choice(SEVERITIES), "body": " ".join(words)})
    return docs


def ingest(client, index_id, docs):
    body = "".join(json.dumps(doc) + "\n" for doc in docs)
    result = client.json("POST", f"/api/v1/{index_id}/ingest", body, params={"commit": "force"})
    check(result["num_ingested_docs"] == len(docs), f"ingest into {index_id}: {result}")


def create_and_fill(client, rng, index_id, merge_policy, num_commits):
    """Creates the index and sends `num_commits` forced commits; returns the documents."""
    client.json("POST", "/api/v1/indexes", json.dumps(index_config(index_id, merge_policy)))
    docs = []
    for commit in range(num_commits):
        batch = make_docs(rng, commit * DOCS_PER_COMMIT, DOCS_PER_COMMIT)
        ingest(client, index_id, batch)
        docs.extend(batch)
    return docs


def splits(client, index_id, state="Published"):
    return client.json("GET", f"/api/v1/indexes/{index_id}/splits",
                       params={"split_states": state})["splits"]


def hits(client, index_id, query, **params):
    params = dict(params, query=query, max_hits=0)
    return client.json("GET", f"/api/v1/{index_id}/search", params=params)["num_hits"]


def wait_for(predicate, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise Failure(f"timed out waiting for {what}")


def phrase_matches(body, first, second):
    words = body.split()
    return any(words[i] == first and words[i + 1] == second for i in range(len(words) - 1))


def check_counts(client, index_id, docs):
    """Exact counts of several query kinds, computed from `docs`."""
    check(hits(client, index_id, "*") == len(docs), f"{index_id}: total count")
    for severity in SEVERITIES:
        expected = sum(1 for doc in docs if doc["severity"] == severity)
        check(hits(client, index_id, f"severity:{severity}") == expected, f"severity {severity}")
    expected = sum(1 for doc in docs if doc["tenant"] == 3)
    check(hits(client, index_id, "tenant:3") == expected, "tenant:3")
    expected = sum(1 for doc in docs if "replica" in doc["body"].split())
    check(hits(client, index_id, "body:replica") == expected, "body:replica")
    expected = sum(1 for doc in docs if phrase_matches(doc["body"], "disk", "full"))
    check(hits(client, index_id, 'body:"disk full"') == expected, "phrase disk full")
    expected = sum(1 for doc in docs if 100 <= doc["n"] < 700)
    check(hits(client, index_id, "n:[100 TO 700}") == expected, "range on n")
    start, end = BASE_TS + 7 * 250, BASE_TS + 7 * 1300
    expected = sum(1 for doc in docs if start <= doc["ts"] < end)
    check(hits(client, index_id, "*", start_timestamp=start, end_timestamp=end) == expected,
          "time filter")
    # The newest document comes first, fetched whole from the doc store.
    response = client.json("GET", f"/api/v1/{index_id}/search",
                           params={"query": "*", "max_hits": 1, "sort_by": "ts"})
    newest = max(docs, key=lambda doc: doc["ts"])
    check(response["hits"][0]["n"] == newest["n"] and response["hits"][0]["body"] == newest["body"],
          f"newest hit {response['hits'][0]} != {newest}")


def expected_tags(docs):
    tags = {"tenant!", "severity!"}
    tags.update(f"tenant:{doc['tenant']}" for doc in docs)
    tags.update(f"severity:{doc['severity']}" for doc in docs)
    return sorted(tags)


def check_merged_stable_log(client, rng):
    index_id = "merged-logs"
    policy = {"type": "stable_log", "merge_factor": 3, "max_merge_factor": 3,
              "min_level_num_docs": 100, "maturation_period": "1h"}
    docs = create_and_fill(client, rng, index_id, policy, 9)
    wait_for(lambda: len(splits(client, index_id)) == 1, "9 splits merged into 1")
    # Give a wrong extra merge the chance to show up.
    time.sleep(1)
    published = splits(client, index_id)
    check(len(published) == 1, f"one split expected, got {len(published)}")
    merged = published[0]
    check(merged["num_docs"] == len(docs), f"merged num_docs {merged['num_docs']}")
    check(merged["num_merge_ops"] == 2, f"num_merge_ops {merged['num_merge_ops']}")
    check(merged["time_range"] == {"start": min(d["ts"] for d in docs),
                                   "end": max(d["ts"] for d in docs)},
          f"time range {merged['time_range']}")
    check(sorted(merged["tags"]) == expected_tags(docs), f"tags {merged['tags']}")
    check_counts(client, index_id, docs)

    check(not splits(client, index_id, "Staged"), "no staged split left")
    check(client.counter("shale_merges_total") == 4, "shale_merges_total")
    check(client.counter("shale_merge_replaced_splits_total") == 12,
          "shale_merge_replaced_splits_total")
    check(client.counter("shale_merge_failures_total") == 0, "shale_merge_failures_total")
    stats = client.json("GET", "/api/v1/indexing")
    merge_stats = [entry for entry in stats["merges"] if entry["index_id"] == index_id]
    check(len(merge_stats) == 1 and merge_stats[0]["num_merges"] == 4 and
          merge_stats[0]["num_replaced_splits"] == 12 and
          merge_stats[0]["num_merged_docs"] == 3 * 600 + 1800,
          f"/api/v1/indexing merges: {stats['merges']}")
    # Replaced splits stay readable for the deletion grace period (then file and record go).
    marked = splits(client, index_id, "MarkedForDeletion")
    check(len(marked) + merge_stats[0]["num_deleted_splits"] == 12,
          f"12 replaced splits expected, got {len(marked)} marked")


def check_no_merge(client, rng):
    index_id = "unmerged-logs"
    docs = create_and_fill(client, rng, index_id, {"type": "no_merge"}, 5)
    time.sleep(2)  # several planning passes
    check(len(splits(client, index_id)) == 5, "no_merge: 5 splits stay")
    check(all(split["num_merge_ops"] == 0 for split in splits(client, index_id)),
          "no_merge: no merged split")
    check_counts(client, index_id, docs)
    stats = client.json("GET", "/api/v1/indexing")
    check(all(entry["num_merges"] == 0 for entry in stats["merges"]
              if entry["index_id"] == index_id), f"no_merge stats {stats['merges']}")
    return docs


def run_tool_merge(args, node, index_id):
    """Returns the exit code, the summary line ("" when absent) and the whole output."""
    result = subprocess.run([args.shale_bin, "tool", "merge", "--config", node.config_path,
                             "--index", index_id], capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    summary = re.search(r"^\d+ merges replaced .*$", output, re.MULTILINE)
    return result.returncode, summary.group(0) if summary else "", output


def check_tool_merge(args, node, client, rng):
    index_id = "tool-logs"
    policy = {"type": "stable_log", "merge_factor": 100, "max_merge_factor": 100,
              "min_level_num_docs": 100, "maturation_period": "1h"}
    docs = create_and_fill(client, rng, index_id, policy, 4)
    time.sleep(1)
    check(len(splits(client, index_id)) == 4, "merge_factor 100: 4 splits stay")
    check(node.stop() == 0, "node should stop cleanly")

    code, _, output = run_tool_merge(args, node, "missing-index")
    check(code == 1 and "missing-index" in output, f"tool merge of a missing index: {output}")
    code, summary, output = run_tool_merge(args, node, index_id)
    check(code == 0 and summary.startswith("0 merges"), f"nothing to merge yet: {code} {output}")

    metastore_path = os.path.join(node.workdir, "data", "indexes", index_id, "metastore.json")
    with open(metastore_path) as source:
        metastore = json.load(source)
    merge_policy = metastore["index"]["index_config"]["indexing_settings"]["merge_policy"]
    merge_policy["merge_factor"] = 2
    merge_policy["max_merge_factor"] = 2
    with open(metastore_path, "w") as target:
        json.dump(metastore, target)

    code, summary, output = run_tool_merge(args, node, index_id)
    check(code == 0, f"tool merge failed: {output}")
    check(summary == "3 merges replaced 6 splits (1600 docs); 0 failed", f"tool merge: {output}")
    client = node.start()
    published = splits(client, index_id)
    check(len(published) == 1 and published[0]["num_merge_ops"] == 2,
          f"after tool merge: {published}")
    check(sorted(published[0]["tags"]) == expected_tags(docs), "tags after tool merge")
    check_counts(client, index_id, docs)
    return client


def run(args, workdir):
    rng = random.Random(7)
    node = ShaleNode(args.shale_bin, workdir, "merge-node", f"data_dir: {workdir}/data\n")
    try:
        client = node.start()
        check_merged_stable_log(client, rng)
        check_no_merge(client, rng)
        check_tool_merge(args, node, client, rng)
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(run_test_main("merges_test", run, ["--shale-bin"]))
