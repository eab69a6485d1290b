#!/usr/bin/env python3
"""Integration test: hostile queries and the new field types through the real `shale` binary.

Ingests generated documents with ip, bytes and concatenate fields and many distinct host terms,
then checks, against counts computed here from the same documents:
  * ip terms and ranges, bytes terms, concatenate fields, terms aggregation keys of an ip field;
  * a 10,000-value `IN` set (POST body) and the ES `terms` query: exact counts, bounded time;
  * leading-wildcard and regex scans over every host term: exact counts, bounded time;
  * 400 (never a crash) for deep nesting (query language and ES DSL), a huge regex, a regex whose
    RE2 program is too big, an invalid regex, an `IN` set over the limit, a pattern matching
    more than 50,000 terms;
and that the node is still alive and answering afterwards.

Only the Python standard library is used.
"""
import ipaddress
import json
import random
import re
import time

from shale_testlib import Failure, ShaleNode, check, run_test_main

INDEX = "hostile"
NUM_DOCS = 60_000
# Bounded time: generous for a Debug + ASan build on a busy 2-core machine.
MAX_SECONDS = 60
IPS = ["10.0.0.1", "10.0.0.2", "10.0.3.4", "192.168.1.1", "::1", "2001:db8::1", "2001:db8::ff"]

INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX,
    "doc_mapping": {
        "mode": "dynamic",
        "field_mappings": [
            {"name": "host", "type": "text", "tokenizer": "raw"},
            {"name": "body", "type": "text"},
            {"name": "ip", "type": "ip", "fast": True},
            {"name": "hash", "type": "bytes", "input_format": "hex", "output_format": "hex"},
            {"name": "everything", "type": "concatenate",
             "concatenate_fields": ["host", "body"], "tokenizer": "default"},
        ],
    },
    "search_settings": {"default_search_fields": ["body"]},
}


def generate_docs():
    rng = random.Random(11)
    docs = []
    for i in range(NUM_DOCS):
        docs.append({
            "host": f"host-{i:05d}.example",  # unique: 60,000 distinct terms
            "body": f"event {rng.choice(['alpha', 'beta', 'gamma'])} {i % 97}",
            "ip": rng.choice(IPS),
            "hash": f"{rng.randrange(16):02x}ff",
        })
    return docs


def search(client, query, expect=200, **params):
    """POSTs a search (so that huge queries fit); returns (json, seconds)."""
    started = time.time()
    body = json.dumps(dict({"query": query, "max_hits": 0}, **params))
    status, text = client.request("POST", f"/api/v1/{INDEX}/search", body,
                                  headers={"Content-Type": "application/json"})
    elapsed = time.time() - started
    check(status == expect, f"{query[:120]}: expected {expect}, got {status}: {text[:300]}")
    return json.loads(text), elapsed


def check_count(client, query, expected):
    result, elapsed = search(client, query)
    check(result["num_hits"] == expected,
          f"{query[:120]}: {result['num_hits']} hits, expected {expected}")
    check(elapsed < MAX_SECONDS, f"{query[:120]}: took {elapsed:.1f}s")
    return elapsed


def check_400(client, query, message, **params):
    result, elapsed = search(client, query, expect=400, **params)
    text = json.dumps(result)
    check(message in text, f"{query[:80]}: error should say `{message}`: {text[:300]}")
    check(elapsed < MAX_SECONDS, f"{query[:80]}: the 400 took {elapsed:.1f}s")


def run(args, workdir):
    node = ShaleNode(args.shale_bin, workdir, "node", f"data_dir: {workdir}/data\n")
    node.start(index_id=INDEX)
    try:
        client = node.client
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                    headers={"Content-Type": "application/json"})
        docs = generate_docs()
        # One split (~6 MB of NDJSON, under the 10 MiB body limit), so that its host dictionary
        # holds more terms than a pattern may expand to.
        client.json("POST", f"/api/v1/{INDEX}/ingest", "\n".join(json.dumps(d) for d in docs),
                    params={"commit": "force"})

        # ip, bytes, concatenate.
        address = ipaddress.ip_address
        for ip in IPS:
            check_count(client, f'ip:"{ip}"', sum(d["ip"] == ip for d in docs))
        in_ten = sum(address("10.0.0.0").version == address(d["ip"]).version and
                     address("10.0.0.0") <= address(d["ip"]) <= address("10.0.255.255")
                     for d in docs)
        check_count(client, "ip:[10.0.0.0 TO 10.0.255.255]", in_ten)
        check_count(client, 'ip:"::ffff:10.0.0.1"', sum(d["ip"] == "10.0.0.1" for d in docs))
        check_count(client, "hash:Df8=", sum(d["hash"] == "0dff" for d in docs))
        check_count(client, "everything:alpha", sum(" alpha " in d["body"] for d in docs))
        check_count(client, "everything:example", NUM_DOCS)  # from host, default tokenizer
        result, _ = search(client, "*", aggs={"ips": {"terms": {"field": "ip", "size": 20}}})
        buckets = {b["key"]: b["doc_count"] for b in result["aggregations"]["ips"]["buckets"]}
        check(buckets == {ip: sum(d["ip"] == ip for d in docs) for ip in IPS},
              f"ip terms buckets: {buckets}")
        hit, _ = search(client, "host:host-00007.example", max_hits=1)
        stored = hit["hits"][0]
        check(stored["hash"] == docs[7]["hash"] and stored["ip"] == docs[7]["ip"],
              f"stored ip and hash: {stored}")

        # A 10,000-value IN set, in the query language and as an ES terms query.
        wanted = [f"host-{i:05d}.example" for i in range(0, 20_000, 2)]
        wanted += [f"absent-{i}" for i in range(5000)]  # values matching nothing cost little too
        elapsed = check_count(client, "host:IN [" + " ".join(wanted) + "]", 10_000)
        print(f"10,000-value IN set + 5,000 absent values: {elapsed:.2f}s")
        status, text = client.request(
            "POST", f"/api/v1/_elastic/{INDEX}/_search",
            json.dumps({"query": {"terms": {"host": wanted[:10_000]}}, "size": 0}),
            headers={"Content-Type": "application/json"})
        check(status == 200, f"ES terms query: {status} {text[:300]}")
        total = json.loads(text)["hits"]["total"]
        check((total["value"] if isinstance(total, dict) else total) == 10_000,
              f"ES terms query: {total}")

        # Scans of the whole host dictionary (60,000 terms).
        leading = sum(d["host"].endswith("7.example") for d in docs)
        elapsed = check_count(client, "host:*7.example", leading)
        print(f"leading wildcard over {NUM_DOCS} terms: {elapsed:.2f}s")
        regex = re.compile(r"host-0[0-4]\d{2}3\.example")
        elapsed = check_count(client, r"host:/host-0[0-4]\d{2}3\.example/",
                              sum(bool(regex.fullmatch(d["host"])) for d in docs))
        print(f"regex with a literal prefix: {elapsed:.2f}s")
        check_count(client, "host:/.*9\\.example/", sum(d["host"].endswith("9.example")
                                                       for d in docs))
        check_count(client, "host:host-0?00?.example",
                    sum(bool(re.fullmatch(r"host-0.00.\.example", d["host"])) for d in docs))

        # 400s, never a crash.
        check_400(client, "(" * 5000 + "a" + ")" * 5000, "nested deeper than 100 levels")
        check_400(client, "NOT " * 5000 + "a", "nested deeper than 100 levels")
        check_400(client, "host:/" + "a" * 100_000 + "/", "exceeds the limit of 4096 bytes")
        check_400(client, "host:/((a{100}){100}){100}/", "invalid regex")
        check_400(client, "host:/a(b/", "invalid regex")
        check_400(client, "host:IN [" + " ".join(f"v{i}" for i in range(70_000)) + "]",
                  "has more than 65536 values")
        check_400(client, "host:host*example", "matches more than 50000 terms")
        # Written as text: Python's own encoder would exceed its recursion limit.
        deep = '{"bool":{"must":[' * 2000 + '{"match_all":{}}' + "]}}" * 2000
        status, text = client.request("POST", f"/api/v1/_elastic/{INDEX}/_search",
                                      '{"query":' + deep + "}",
                                      headers={"Content-Type": "application/json"})
        check(status == 400, f"deeply nested ES query: {status} {text[:300]}")

        # Still alive and answering.
        check_count(client, "*", NUM_DOCS)
    finally:
        code = node.stop()
    check(code == 0, f"node exited with {code} after the hostile queries")


if __name__ == "__main__":
    raise SystemExit(run_test_main("hostile_queries", run, ["--shale-bin"]))
