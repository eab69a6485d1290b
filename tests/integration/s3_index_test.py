#!/usr/bin/env python3
"""Integration test: indexes and the metastore on S3 answer exactly like local storage.

Starts s3rver (tests/s3) on a free loopback port and two real `shale` nodes side by side:
  - `s3-node`: metastore_uri and default_index_root_uri on s3rver;
  - `local-node`: everything under its data_dir.
Both ingest the same 200,000 generated documents (8 batches with commit=force, so 8 splits) and
must answer a query set (term, boolean, phrase, range, time range, sort, aggregations, `*`)
identically, with counts also checked against the test's own data. Then, on S3:
  - describe and the splits listing match the split objects in the bucket;
  - a reader node with `#polling_interval=1s` on the same metastore sees the writer's data and
    later writes, and its own write attempts are refused with 409 naming both nodes;
  - an index with its own `index_uri: s3://...` keeps its splits there; deleting it removes them;
  - clear removes the split objects, delete removes the index's metastore file.

Only the Python standard library is used.
"""
import json
import random
import sys
import threading
import time

from shale_testlib import (SERVICES, SEVERITIES, Failure, S3rver, ShaleNode, check, run_test_main,
                           tokens)

INDEX_ID = "hdfs-logs"
NUM_DOCS = 200_000
NUM_BATCHES = 8
BASE_TS = 1_700_000_000
MESSAGES = [
    "PacketResponder {n} for block blk_{b} terminating",
    "Receiving block blk_{b} src: /10.250.{n}.102:54106 dest: /10.250.{n}.102:50010",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.{n}.220:50010 is added to blk_{b}",
    "Verification succeeded for blk_{b}",
    "Deleting block blk_{b} file /mnt/hadoop/dfs/data/current/subdir{n}/blk_{b}",
]

INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "mode": "dynamic",
        "field_mappings": [
            {"name": "seq", "type": "u64", "fast": True},
            {"name": "timestamp", "type": "datetime", "fast": True,
             "input_formats": ["unix_timestamp"]},
            {"name": "tenant_id", "type": "u64", "fast": True},
            {"name": "latency", "type": "u64", "fast": True},
            {"name": "severity_text", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "body", "type": "text", "tokenizer": "default", "record": "position"},
            {"name": "resource", "type": "object", "field_mappings": [
                {"name": "service", "type": "text", "tokenizer": "raw", "fast": True}]},
        ],
        "timestamp_field": "timestamp",
        "tag_fields": ["tenant_id"],
    },
    "indexing_settings": {"commit_timeout_secs": 3600},
    "search_settings": {"default_search_fields": ["body"]},
}


def generate_docs(seed):
    rng = random.Random(seed)
    docs = []
    for i in range(NUM_DOCS):
        n = rng.randint(0, 255)
        docs.append({
            "seq": i,
            "timestamp": BASE_TS + i // 20,  # 20 docs per second, increasing
            "tenant_id": rng.randint(1, 20),
            "latency": rng.randint(0, 4999),
            "severity_text": rng.choice(SEVERITIES),
            "body": rng.choice(MESSAGES).format(n=n, b=rng.randint(0, 2 ** 62)),
            "resource": {"service": rng.choice(SERVICES)},
        })
    return docs


def has_phrase(text, phrase):
    words, wanted = tokens(text), tokens(phrase)
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def ingest_all(client, batches, errors):
    try:
        for body in batches:
            result = client.json("POST", f"/api/v1/{INDEX_ID}/ingest", body,
                                 params={"commit": "force"})
            check(result["num_rejected_docs"] == 0, f"rejected docs: {result}")
    except Failure as failure:
        errors.append(failure)


def search(client, query, **params):
    body = dict(params, query=query)
    return client.json("POST", f"/api/v1/{INDEX_ID}/search", json.dumps(body),
                       headers={"Content-Type": "application/json"})


def comparable(response, compare_hits):
    """What both nodes must agree on: hits exactly (when the sort is total), else the ordered
    timestamps of the hits (ties in the newest-first order may pick different documents of one
    second, never different seconds)."""
    hits = response["hits"]
    return {
        "num_hits": response["num_hits"],
        "hits": hits if compare_hits else [h["timestamp"] for h in hits],
        "aggregations": response.get("aggregations"),
        "errors": response.get("errors", []),
    }


def query_set(docs):
    """(name, query, params, compare_hits, expected num_hits or None)."""
    def count(predicate):
        return sum(1 for d in docs if predicate(d))

    aggs = {
        "severities": {"terms": {"field": "severity_text", "size": 10}},
        "per_1000s": {"date_histogram": {"field": "timestamp", "fixed_interval": "1000s"},
                      "aggs": {"avg_latency": {"avg": {"field": "latency"}}}},
        "latency_ranges": {"range": {"field": "latency",
                                     "ranges": [{"to": 100}, {"from": 100, "to": 2500},
                                                {"from": 2500}]}},
        "latency_stats": {"stats": {"field": "latency"}},
        "services": {"terms": {"field": "resource.service"},
                     "aggs": {"max_latency": {"max": {"field": "latency"}}}},
    }
    t0, t1 = BASE_TS + 1234, BASE_TS + 4321
    return [
        ("all", "*", {"max_hits": 20}, False, len(docs)),
        ("term", "severity_text:ERROR", {"max_hits": 20}, False,
         count(lambda d: d["severity_text"] == "ERROR")),
        ("default field", "terminating", {"max_hits": 5}, False,
         count(lambda d: "terminating" in tokens(d["body"]))),
        ("boolean", "(severity_text:ERROR OR severity_text:WARN) AND NOT tenant_id:7",
         {"max_hits": 10}, False,
         count(lambda d: d["severity_text"] in ("ERROR", "WARN") and d["tenant_id"] != 7)),
        ("boolean nested", "resource.service:datanode AND (body:verification OR latency:<50)",
         {"max_hits": 10}, False,
         count(lambda d: d["resource"]["service"] == "datanode" and (
             "verification" in tokens(d["body"]) or d["latency"] < 50))),
        ("phrase", 'body:"for block"', {"max_hits": 10}, False,
         count(lambda d: has_phrase(d["body"], "for block"))),
        ("phrase 2", 'body:"succeeded for blk"', {"max_hits": 10}, False,
         count(lambda d: has_phrase(d["body"], "succeeded for blk"))),
        ("range", "latency:[100 TO 1999]", {"max_hits": 10}, False,
         count(lambda d: 100 <= d["latency"] <= 1999)),
        ("range on seq", "seq:{1000 TO 150000]", {"max_hits": 10}, False,
         count(lambda d: 1000 < d["seq"] <= 150000)),
        ("time range", "*", {"start_timestamp": t0, "end_timestamp": t1, "max_hits": 10}, False,
         count(lambda d: t0 <= d["timestamp"] < t1)),
        ("time range + term", "severity_text:WARN", {"start_timestamp": t1, "max_hits": 10},
         False, count(lambda d: d["severity_text"] == "WARN" and d["timestamp"] >= t1)),
        ("sort by seq", "severity_text:WARN AND tenant_id:3",
         {"sort_by": "seq", "max_hits": 50}, True,
         count(lambda d: d["severity_text"] == "WARN" and d["tenant_id"] == 3)),
        ("sort by -seq", "body:terminating", {"sort_by": "-seq", "max_hits": 50}, True,
         count(lambda d: "terminating" in tokens(d["body"]))),
        ("sort with offset", "*", {"sort_by": "seq", "max_hits": 20, "start_offset": 777},
         True, len(docs)),
        ("aggregations", "*", {"max_hits": 0, "aggs": aggs}, False, len(docs)),
        ("aggregations filtered", "severity_text:ERROR",
         {"max_hits": 0, "aggs": aggs, "start_timestamp": t0}, False,
         count(lambda d: d["severity_text"] == "ERROR" and d["timestamp"] >= t0)),
    ]


def check_same_answers(s3, local, docs):
    for name, query, params, compare_hits, expected in query_set(docs):
        s3_answer = comparable(search(s3, query, **params), compare_hits)
        local_answer = comparable(search(local, query, **params), compare_hits)
        check(s3_answer == local_answer,
              f"{name} {query!r}: s3 and local answers differ:\n  s3:    "
              f"{json.dumps(s3_answer)[:1500]}\n  local: {json.dumps(local_answer)[:1500]}")
        check(s3_answer["errors"] == [], f"{name}: errors {s3_answer['errors']}")
        check(s3_answer["num_hits"] == expected,
              f"{name} {query!r}: {s3_answer['num_hits']} hits, expected {expected}")
        if "sort_by" in params:
            seqs = [h["seq"] for h in s3_answer["hits"]]
            # Quickwit's convention: descending, `-field` ascending.
            ordered = sorted(seqs, reverse=not params["sort_by"].startswith("-"))
            check(seqs == ordered and len(seqs) == min(params["max_hits"], expected),
                  f"{name}: hits not sorted by {params['sort_by']}: {seqs[:10]}")
        print(f"ok  {name} {query!r}: {s3_answer['num_hits']} hits, identical on s3 and local")
    # The terms aggregation against the test's own counts.
    buckets = search(s3, "*", max_hits=0,
                     aggs={"sev": {"terms": {"field": "severity_text"}}})["aggregations"]["sev"]
    counts = {b["key"]: b["doc_count"] for b in buckets["buckets"]}
    expected = {}
    for d in docs:
        expected[d["severity_text"]] = expected.get(d["severity_text"], 0) + 1
    check(counts == expected, f"severity buckets {counts} != {expected}")


def split_keys(s3rver, prefix):
    return sorted(k for k in s3rver.list_keys(prefix) if k.endswith(".split"))


def check_layout_on_s3(s3rver, s3):
    describe = s3.json("GET", f"/api/v1/indexes/{INDEX_ID}/describe")
    check(describe["num_published_docs"] == NUM_DOCS, f"describe: {describe}")
    check(describe["num_published_splits"] == NUM_BATCHES, f"describe: {describe}")
    check(describe["index_uri"] == f"s3://test-bucket/indexes/{INDEX_ID}", f"describe: {describe}")
    splits = s3.json("GET", f"/api/v1/indexes/{INDEX_ID}/splits")["splits"]
    keys = split_keys(s3rver, f"indexes/{INDEX_ID}/")
    check(keys == sorted(f"indexes/{INDEX_ID}/{s['split_id']}.split" for s in splits),
          f"split objects {keys} != split records {[s['split_id'] for s in splits]}")
    meta_keys = s3rver.list_keys("metastore/")
    for key in ("metastore/indexes_states.json", "metastore/_writer_lease.json",
                f"metastore/{INDEX_ID}/metastore.json"):
        check(key in meta_keys, f"{key} missing from {meta_keys}")
    print(f"ok  {len(keys)} split objects on s3 match the splits listing; metastore files on s3")


def check_reader_node(args, workdir, s3rver, s3, docs):
    reader = ShaleNode(
        args.shale_bin, workdir, "reader-node",
        f"data_dir: {workdir}/reader-data\nenabled_services: [searcher]\n"
        f"metastore_uri: s3://test-bucket/metastore#polling_interval=1s\n"
        f"default_index_root_uri: s3://test-bucket/indexes\n" + s3rver.node_config())
    client = reader.start()
    try:
        check(search(client, "*", max_hits=0)["num_hits"] == NUM_DOCS, "reader sees every doc")
        extra = [dict(d, seq=NUM_DOCS + i) for i, d in enumerate(docs[:1000])]
        s3.json("POST", f"/api/v1/{INDEX_ID}/ingest",
                "".join(json.dumps(d) + "\n" for d in extra), params={"commit": "force"})
        deadline = time.time() + 30
        seen = 0
        while time.time() < deadline:
            seen = search(client, "*", max_hits=0)["num_hits"]
            if seen == NUM_DOCS + len(extra):
                break
            time.sleep(0.2)
        check(seen == NUM_DOCS + len(extra), f"reader sees {seen} docs after the writer's ingest")
        print("ok  the polling reader sees the writer's new split")
        refused = client.json("POST", "/api/v1/indexes",
                              json.dumps(dict(INDEX_CONFIG, index_id="reader-made")),
                              headers={"Content-Type": "application/json"}, expect=409)
        for fragment in ("node `s3-node`", "node `reader-node`", "index `reader-made`"):
            check(fragment in refused["message"], f"409 should name {fragment}: {refused}")
        client.json("POST", f"/api/v1/{INDEX_ID}/ingest", "{}\n", expect=404)
        print(f"ok  the reader's write is refused: {refused['message'][:160]}...")
        # Delete the extra docs again through the writer's clear+reingest would be slow: the
        # caller accounts for them.
    finally:
        reader.stop()
    return NUM_DOCS + 1000


def check_custom_index_uri(s3rver, s3, docs):
    config = dict(INDEX_CONFIG, index_id="custom-place",
                  index_uri="s3://test-bucket/elsewhere/custom-place")
    created = s3.json("POST", "/api/v1/indexes", json.dumps(config),
                      headers={"Content-Type": "application/json"})
    check(created["index_config"]["index_uri"] == "s3://test-bucket/elsewhere/custom-place",
          f"index_uri kept: {created['index_config']}")
    s3.json("POST", "/api/v1/custom-place/ingest",
            "".join(json.dumps(d) + "\n" for d in docs[:2000]), params={"commit": "force"})
    hits = s3.json("GET", "/api/v1/custom-place/search",
                   params={"query": "severity_text:ERROR", "max_hits": 0})["num_hits"]
    check(hits == sum(1 for d in docs[:2000] if d["severity_text"] == "ERROR"), f"{hits} hits")
    check(len(split_keys(s3rver, "elsewhere/custom-place/")) == 1, "one split at the index_uri")
    check(split_keys(s3rver, "indexes/custom-place/") == [], "nothing under the default root")
    s3.json("DELETE", "/api/v1/indexes/custom-place")
    check(s3rver.list_keys("elsewhere/") == [], f"left over: {s3rver.list_keys('elsewhere/')}")
    check("metastore/custom-place/metastore.json" not in s3rver.list_keys("metastore/"),
          "metastore file of the deleted index")
    print("ok  an index with its own s3 index_uri stores its splits there; delete removes them")


def check_clear_and_delete(s3rver, s3, expected_docs):
    check(search(s3, "*", max_hits=0)["num_hits"] == expected_docs, "count before clear")
    s3.json("PUT", f"/api/v1/indexes/{INDEX_ID}/clear")
    check(split_keys(s3rver, f"indexes/{INDEX_ID}/") == [], "split objects left after clear")
    check(s3.json("GET", f"/api/v1/indexes/{INDEX_ID}/describe")["num_published_docs"] == 0,
          "describe after clear")
    check(search(s3, "*", max_hits=0)["num_hits"] == 0, "no hits after clear")
    s3.json("DELETE", f"/api/v1/indexes/{INDEX_ID}")
    s3.json("GET", f"/api/v1/indexes/{INDEX_ID}", expect=404)
    left = [k for k in s3rver.list_keys("") if f"/{INDEX_ID}/" in k]
    check(left == [], f"objects of the deleted index left on s3: {left}")
    print("ok  clear removes the split objects, delete the metastore file")


def run(args, workdir):
    with S3rver(workdir) as s3rver:
        s3_node = ShaleNode(args.shale_bin, workdir, "s3-node",
                            f"data_dir: {workdir}/s3-data\n"
                            f"metastore_uri: s3://test-bucket/metastore\n"
                            f"default_index_root_uri: s3://test-bucket/indexes\n"
                            + s3rver.node_config())
        local_node = ShaleNode(args.shale_bin, workdir, "local-node",
                               f"data_dir: {workdir}/local-data\n")
        try:
            s3 = s3_node.start()
            local = local_node.start()
            for client in (s3, local):
                client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                            headers={"Content-Type": "application/json"})
            started = time.time()
            docs = generate_docs(seed=5)
            lines = [json.dumps(d) + "\n" for d in docs]
            size = (NUM_DOCS + NUM_BATCHES - 1) // NUM_BATCHES
            batches = ["".join(lines[i:i + size]) for i in range(0, NUM_DOCS, size)]
            errors = []
            threads = [threading.Thread(target=ingest_all, args=(c, batches, errors))
                       for c in (s3, local)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            print(f"ok  {NUM_DOCS} docs in {len(batches)} batches ingested into both nodes "
                  f"in {time.time() - started:.1f}s")

            check_same_answers(s3, local, docs)
            check_layout_on_s3(s3rver, s3)
            expected_docs = check_reader_node(args, workdir, s3rver, s3, docs)
            check_custom_index_uri(s3rver, s3, docs)
            check_clear_and_delete(s3rver, s3, expected_docs)
        finally:
            codes = {"s3-node": s3_node.stop(), "local-node": local_node.stop()}
        check(all(code == 0 for code in codes.values()), f"exit codes after SIGTERM: {codes}")


if __name__ == "__main__":
    sys.exit(run_test_main("integration_s3_index", run, ["--shale-bin"]))
