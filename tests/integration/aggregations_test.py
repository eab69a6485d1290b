#!/usr/bin/env python3
"""Integration test: aggregations through the real `shale` binary, over several splits.

Ingests generated documents in four batches (one split each) and checks, against numbers
computed here from the same documents: exact terms counts, the error bounds of terms cut off per
split (`split_size`), cardinality, percentiles within the sketch's 1 % accuracy, composite paging,
filters, a calendar date_histogram in a time zone, top_hits, `_doc_length`, and the 400 answers for an
aggregation over `searcher.aggregation_memory_limit` and for a bad request.

Only the Python standard library is used.
"""
import json
import random
import sys
from collections import Counter

from shale_testlib import ShaleNode, check, run_test_main

INDEX = "agg-logs"
NUM_DOCS = 4000
NUM_BATCHES = 4
BASE_TS = 1_700_000_000  # 2023-11-14T22:13:20Z
MEMORY_LIMIT = 300_000
HOSTS = [f"host-{i}" for i in range(12)]
LEVELS = ["INFO"] * 8 + ["WARN"] * 3 + ["ERROR"]

INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX,
    "doc_mapping": {
        "mode": "dynamic",
        "field_mappings": [
            {"name": "ts", "type": "datetime", "fast": True, "input_formats": ["unix_timestamp"]},
            {"name": "host", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "level", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "uid", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "latency", "type": "i64", "fast": True},
        ],
        "timestamp_field": "ts",
        "store_document_size": True,
    },
}


def generate_docs():
    rng = random.Random(7)
    docs = []
    for i in range(NUM_DOCS):
        # Skewed hosts, so that per-split cut-offs drop different hosts in different splits.
        host = HOSTS[min(int(rng.expovariate(0.35)), len(HOSTS) - 1)]
        docs.append({
            "ts": BASE_TS + rng.randrange(4 * 86_400),
            "host": host,
            "level": rng.choice(LEVELS),
            "uid": f"u{i:06d}",
            "latency": int(rng.lognormvariate(4, 1)),
        })
    return docs


def search(client, aggs, expect=200):
    body = json.dumps({"size": 0, "aggs": aggs})
    return client.json("POST", f"/api/v1/_elastic/{INDEX}/_search", body,
                       headers={"Content-Type": "application/json"}, expect=expect)


def check_terms(client, docs):
    counts = Counter(doc["host"] for doc in docs)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
    exact = search(client, {"h": {"terms": {"field": "host", "size": 3}}})["aggregations"]["h"]
    check([(b["key"], b["doc_count"]) for b in exact["buckets"]] == top,
          f"terms: {exact['buckets']} != {top}")
    check(exact["sum_other_doc_count"] == NUM_DOCS - sum(count for _, count in top),
          f"sum_other_doc_count {exact['sum_other_doc_count']}")
    check(exact["doc_count_error_upper_bound"] == 0, "no cut-off, no error")
    print("ok  terms exact")

    cut = search(client, {"h": {"terms": {"field": "host", "size": 2, "split_size": 2,
                                          "show_term_doc_count_error": True}}})
    cut = cut["aggregations"]["h"]
    returned = 0
    for bucket in cut["buckets"]:
        truth = counts[bucket["key"]]
        returned += bucket["doc_count"]
        check(bucket["doc_count"] <= truth <= bucket["doc_count"] + bucket[
            "doc_count_error_upper_bound"], f"bucket bound: {bucket} truth {truth}")
        check(bucket["doc_count_error_upper_bound"] <= cut["doc_count_error_upper_bound"],
              f"bucket bound above the total: {cut}")
    check(returned + cut["sum_other_doc_count"] == NUM_DOCS, f"counts: {cut}")
    check(cut["doc_count_error_upper_bound"] > 0, f"cut-offs must report an error: {cut}")
    print(f"ok  terms split_size: error bound {cut['doc_count_error_upper_bound']}")


def check_metrics(client, docs):
    aggs = search(client, {
        "hosts": {"cardinality": {"field": "host"}},
        "uids": {"cardinality": {"field": "uid"}},
        "p": {"percentiles": {"field": "latency", "percents": [50, 99]}},
        "e": {"extended_stats": {"field": "latency"}},
        "len": {"sum": {"field": "_doc_length"}},
    })["aggregations"]
    check(aggs["hosts"]["value"] == float(len({doc["host"] for doc in docs})),
          f"cardinality {aggs['hosts']}")
    # 4000 distinct values: the sketch is dense, within 3 %.
    check(abs(aggs["uids"]["value"] - NUM_DOCS) <= 0.03 * NUM_DOCS, f"uids {aggs['uids']}")
    latencies = sorted(doc["latency"] for doc in docs)
    for percent in (50, 99):
        exact = latencies[int(percent / 100 * (len(latencies) - 1))]
        value = aggs["p"]["values"][f"{percent}.0"]
        check(abs(value - exact) <= 0.01 * exact + 1e-9, f"p{percent}: {value} vs {exact}")
    squares = float(sum(value * value for value in latencies))
    check(aggs["e"]["sum_of_squares"] == squares, f"sum_of_squares {aggs['e']}")
    lengths = sum(len(json.dumps(doc)) for doc in docs)
    check(aggs["len"]["value"] == float(lengths), f"_doc_length {aggs['len']} vs {lengths}")
    print("ok  cardinality, percentiles, extended_stats, _doc_length")


def check_composite(client, docs):
    expected = Counter((doc["host"], doc["latency"] // 100 * 100.0) for doc in docs)
    seen = {}
    after = None
    for _ in range(1000):
        composite = {"size": 7, "sources": [
            {"host": {"terms": {"field": "host"}}},
            {"lat": {"histogram": {"field": "latency", "interval": 100}}}]}
        if after is not None:
            composite["after"] = after
        result = search(client, {"c": {"composite": composite}})["aggregations"]["c"]
        if not result["buckets"]:
            break
        check(len(result["buckets"]) <= 7, "page size")
        for bucket in result["buckets"]:
            key = (bucket["key"]["host"], bucket["key"]["lat"])
            check(key not in seen, f"bucket {key} returned twice")
            seen[key] = bucket["doc_count"]
        after = result["after_key"]
    check(seen == dict(expected), "composite pages must cover every bucket once")
    print(f"ok  composite: {len(seen)} buckets paged")


def check_filters_and_dates(client, docs):
    aggs = search(client, {
        "f": {"filters": {"filters": {"errors": {"term": {"level": "ERROR"}}},
                          "other_bucket": True},
              "aggs": {"hosts": {"cardinality": {"field": "host"}}}},
        "days": {"date_histogram": {"field": "ts", "calendar_interval": "day",
                                    "time_zone": "Asia/Kolkata"}},
    })["aggregations"]
    errors = sum(1 for doc in docs if doc["level"] == "ERROR")
    buckets = aggs["f"]["buckets"]
    check(buckets["errors"]["doc_count"] == errors, f"filters: {buckets}")
    check(buckets["_other_"]["doc_count"] == NUM_DOCS - errors, f"other: {buckets}")
    days = aggs["days"]["buckets"]
    check(sum(b["doc_count"] for b in days) == NUM_DOCS, "every doc in one day")
    for bucket in days:
        check(bucket["key_as_string"].endswith("T00:00:00+05:30"), f"local midnight: {bucket}")
    print(f"ok  filters, date_histogram in Asia/Kolkata ({len(days)} days)")


def check_top_hits(client, docs):
    result = search(client, {"h": {"terms": {"field": "host", "size": 20},
                                   "aggs": {"top": {"top_hits": {
                                       "size": 2, "sort": [{"latency": "desc"}],
                                       "_source": ["uid", "latency"]}}}}})
    by_host = {}
    for doc in docs:
        by_host.setdefault(doc["host"], []).append(doc["latency"])
    for bucket in result["aggregations"]["h"]["buckets"]:
        hits = bucket["top"]["hits"]
        expected = sorted(by_host[bucket["key"]], reverse=True)[:2]
        check(hits["total"]["value"] == len(by_host[bucket["key"]]), f"top_hits total: {hits}")
        check([hit["sort"][0] for hit in hits["hits"]] == expected, f"top_hits order: {hits}")
        for hit in hits["hits"]:
            check(set(hit["_source"]) == {"uid", "latency"}, f"_source includes: {hit}")
            check(hit["_source"]["latency"] == hit["sort"][0], f"hit source: {hit}")
    print("ok  top_hits per host")


def check_limits(client):
    over = search(client, {"u": {"terms": {"field": "uid", "size": 10},
                                 "aggs": {"h": {"cardinality": {"field": "host"}}}}},
                  expect=400)
    check(f"aggregation memory limit of {MEMORY_LIMIT} bytes exceeded" in json.dumps(over),
          f"memory limit message: {over}")
    bad = search(client, {"d": {"date_histogram": {"field": "ts", "calendar_interval": "day",
                                                   "time_zone": "Mars/Olympus"}}}, expect=400)
    check("Mars/Olympus" in json.dumps(bad), f"bad time zone message: {bad}")
    print("ok  memory limit and bad requests are 400s naming the problem")


def run(args, workdir):
    node = ShaleNode(args.shale_bin, workdir, "agg-node",
                     f"data_dir: {workdir}/data\n"
                     f"searcher:\n  aggregation_memory_limit: {MEMORY_LIMIT}\n")
    try:
        client = node.start(index_id=INDEX)
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                    headers={"Content-Type": "application/json"})
        docs = generate_docs()
        per_batch = NUM_DOCS // NUM_BATCHES
        for batch in range(NUM_BATCHES):
            lines = docs[batch * per_batch:(batch + 1) * per_batch]
            body = "".join(json.dumps(doc) + "\n" for doc in lines)
            client.json("POST", f"/api/v1/{INDEX}/ingest", body, params={"commit": "force"})
        splits = client.json("GET", f"/api/v1/indexes/{INDEX}/splits")
        num_splits = len(splits["splits"]) if isinstance(splits, dict) else len(splits)
        check(num_splits == NUM_BATCHES, f"expected {NUM_BATCHES} splits, got {num_splits}")
        check(client.num_hits("*") == NUM_DOCS, "all docs searchable")
        check_terms(client, docs)
        check_metrics(client, docs)
        check_composite(client, docs)
        check_filters_and_dates(client, docs)
        check_top_hits(client, docs)
        check_limits(client)
        check(node.stop() == 0, "node should stop cleanly on SIGTERM")
    finally:
        node.stop()

if __name__ == "__main__":
    sys.exit(run_test_main("aggregations", run, ["--shale-bin"]))
