#!/usr/bin/env python3
"""Integration test: distributed search over real `shale run` processes on loopback, with the
indexes and the metastore on s3rver.

Cluster: one indexer node (services indexer + metastore: a root only, it searches nothing
itself) and three searcher nodes (service searcher), gossiping every 200 ms. The searchers read
the metastore on S3 as polling readers (`#polling_interval=1s`); the indexer is its only writer.
A fifth node, `solo`, of another cluster, reads the same metastore and searches every split
itself: the single-node reference.

Checks:
  1. the indexer ingests NUM_SPLITS batches with commit=force (merges off), so NUM_SPLITS splits;
  2. a query set (term, phrase, range, time range, sort, pagination, aggregations) gets the same
     answer from the indexer root, every searcher root and the solo node, with counts checked
     against the test's own data;
  3. `debug=true` shows each split searched on exactly one searcher, the same one on repeated
     queries and from every root (all roots hash alike), and the searchers'
     `shale_leaf_splits_searched_total` grow by exactly the splits placed on them;
  4. a searcher killed with SIGKILL: queries right away still return full counts (its splits
     are retried on the next node), and after failure detection nobody sends it anything;
  5. a new searcher joins: about 1/3 of the splits move, all of them to the new node.

Only the Python standard library is used.
"""
import json
import random
import sys
import uuid

from shale_testlib import S3rver, ShaleNode, check, run_test_main, tokens, wait_until

INDEX_ID = "dist-logs"
NUM_SPLITS = 24
DOCS_PER_SPLIT = 250
BASE_TS = 1_700_000_000
GOSSIP_INTERVAL = "200ms"
LEVELS = ["INFO"] * 7 + ["WARN", "WARN", "ERROR"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]

INDEX_CONFIG = {
    "version": "0.8",
    "index_id": INDEX_ID,
    "doc_mapping": {
        "mode": "strict",
        "field_mappings": [
            {"name": "seq", "type": "u64", "fast": True},
            {"name": "ts", "type": "datetime", "fast": True, "input_formats": ["unix_timestamp"]},
            {"name": "level", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "latency", "type": "u64", "fast": True},
            {"name": "message", "type": "text", "tokenizer": "default", "record": "position"},
        ],
        "timestamp_field": "ts",
    },
    "indexing_settings": {"commit_timeout_secs": 3600, "merge_policy": {"type": "no_merge"}},
    "search_settings": {"default_search_fields": ["message"]},
}


def generate_batches():
    rng = random.Random(7)
    batches = []
    for split in range(NUM_SPLITS):
        docs = []
        for i in range(DOCS_PER_SPLIT):
            seq = split * DOCS_PER_SPLIT + i
            docs.append({
                "seq": seq,
                "ts": BASE_TS + seq // 10,
                "level": rng.choice(LEVELS),
                "latency": rng.randint(0, 999),
                "message": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))),
            })
        batches.append(docs)
    return batches


def query_set(docs):
    """(name, params, expected num_hits)."""
    def count(predicate):
        return sum(1 for d in docs if predicate(d))

    def has_phrase(text, phrase):
        words, wanted = tokens(text), tokens(phrase)
        return any(words[i:i + len(wanted)] == wanted
                   for i in range(len(words) - len(wanted) + 1))

    t0, t1 = BASE_TS + 100, BASE_TS + 420
    aggs = {
        "levels": {"terms": {"field": "level"},
                   "aggs": {"latency": {"stats": {"field": "latency"}}}},
        "latency_histogram": {"histogram": {"field": "latency", "interval": 100}},
        "over_time": {"date_histogram": {"field": "ts", "fixed_interval": "60s"}},
        "p": {"percentiles": {"field": "latency", "percents": [50, 99]}},
        "distinct_latencies": {"cardinality": {"field": "latency"}},
    }
    return [
        ("all", {"query": "*"}, len(docs)),
        ("term", {"query": "level:ERROR", "max_hits": 15},
         count(lambda d: d["level"] == "ERROR")),
        ("default field", {"query": "foxtrot"},
         count(lambda d: "foxtrot" in tokens(d["message"]))),
        ("phrase", {"query": 'message:"alpha bravo"', "max_hits": 30},
         count(lambda d: has_phrase(d["message"], "alpha bravo"))),
        ("range + bool", {"query": "latency:[100 TO 300} AND NOT level:INFO"},
         count(lambda d: 100 <= d["latency"] < 300 and d["level"] != "INFO")),
        ("time range", {"query": "*", "start_timestamp": t0, "end_timestamp": t1},
         count(lambda d: t0 <= d["ts"] < t1)),
        ("sort by latency", {"query": "golf", "sort_by": "latency,seq", "max_hits": 40},
         count(lambda d: "golf" in tokens(d["message"]))),
        ("sort ascending", {"query": "level:WARN", "sort_by": "-seq", "max_hits": 25},
         count(lambda d: d["level"] == "WARN")),
        ("pagination", {"query": "*", "sort_by": "seq", "max_hits": 20, "start_offset": 2345},
         len(docs)),
        ("aggregations", {"query": "*", "max_hits": 0, "aggs": aggs}, len(docs)),
        ("aggregations filtered", {"query": "hotel", "max_hits": 3, "aggs": aggs,
                                   "start_timestamp": t0},
         count(lambda d: "hotel" in tokens(d["message"]) and d["ts"] >= t0)),
    ]


def search(node, params, debug=False):
    body = dict(params)
    if debug:
        body["debug"] = True
    return node.client.json("POST", f"/api/v1/{INDEX_ID}/search", json.dumps(body),
                            headers={"Content-Type": "application/json"})


def comparable(response):
    return {key: response.get(key) for key in ("num_hits", "hits", "aggregations", "errors")}


def placements(node, params=None):
    """split id -> (node id, attempts) of one debug search."""
    response = search(node, params or {"query": "*", "max_hits": 0}, debug=True)
    check(response["errors"] == [], f"errors: {response['errors']}")
    check(response["num_hits"] == NUM_SPLITS * DOCS_PER_SPLIT,
          f"{response['num_hits']} hits, expected {NUM_SPLITS * DOCS_PER_SPLIT}")
    return {entry["split_id"]: (entry["node_id"], entry["attempts"])
            for entry in response["debug"]["splits"]}


def searched_counters(nodes):
    return {node.name: node.client.counter("shale_leaf_splits_searched_total") for node in nodes}


def run(args, workdir):
    batches = generate_batches()
    docs = [doc for batch in batches for doc in batch]
    cluster_id = f"dist-{uuid.uuid4().hex[:8]}"
    with S3rver(workdir) as s3:
        metastore_uri = "s3://test-bucket/shale/metastore"
        common = (f"gossip_interval: {GOSSIP_INTERVAL}\n"
                  f"default_index_root_uri: s3://test-bucket/shale/indexes\n" + s3.node_config())

        def node(name, services, polling=True, cluster=cluster_id, seeds=""):
            shale_node = ShaleNode(args.shale_bin, workdir, name, "")
            uri = metastore_uri + ("#polling_interval=1s" if polling else "")
            shale_node.config = (
                f"cluster_id: {cluster}\ndata_dir: {workdir}/{name}-data\n"
                f"metastore_uri: {uri}\nenabled_services: [{', '.join(services)}]\n" + common)
            if seeds:
                shale_node.config += seeds
            return shale_node

        indexer = node("indexer", ["indexer", "metastore"], polling=False)
        seeds = f"peer_seeds: [{indexer.gossip_addr}]\n"
        searchers = [node(f"searcher-{i}", ["searcher"], seeds=seeds) for i in (1, 2, 3)]
        solo = node("solo", ["searcher"], cluster=f"solo-{cluster_id}")
        newcomer = node("searcher-4", ["searcher"], seeds=seeds)
        everyone = [indexer] + searchers + [solo, newcomer]
        try:
            # 1. Ingest NUM_SPLITS splits through the indexer alone.
            indexer.start(INDEX_ID)
            indexer.client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG))
            for batch in batches:
                body = "\n".join(json.dumps(doc) for doc in batch)
                result = indexer.client.json("POST", f"/api/v1/{INDEX_ID}/ingest", body,
                                             params={"commit": "force"})
                check(result["num_rejected_docs"] == 0, f"rejected: {result}")
            splits = indexer.client.json("GET", f"/api/v1/indexes/{INDEX_ID}/splits",
                                         params={"split_states": "Published"})["splits"]
            check(len(splits) == NUM_SPLITS, f"{len(splits)} published splits")
            split_ids = sorted(split["split_id"] for split in splits)
            status, text = indexer.client.request("GET", f"/api/v1/{INDEX_ID}/search",
                                                  params={"query": "*"})
            check(status == 503, f"a root without searchers answers {status}: {text}")
            print(f"ok  {len(docs)} docs in {NUM_SPLITS} splits; no searcher yet: 503")

            for searcher in searchers + [solo]:
                searcher.start(INDEX_ID)
            roots = [indexer] + searchers
            wait_until("every root sees the indexer and the three searchers ready",
                       lambda: all(n.cluster_ids("ready_nodes") ==
                                   ["indexer", "searcher-1", "searcher-2", "searcher-3"]
                                   for n in roots), 60)
            wait_until("every root and the solo node see every split",
                       lambda: all(n.client.num_hits("*") == len(docs) for n in roots + [solo]),
                       60)

            # 2. Same answers from every root as from the single node.
            for name, params, expected in query_set(docs):
                reference = comparable(search(solo, params))
                check(reference["num_hits"] == expected,
                      f"{name}: solo has {reference['num_hits']} hits, expected {expected}")
                check(reference["errors"] == [], f"{name}: solo errors {reference['errors']}")
                for root in roots:
                    answer = comparable(search(root, params))
                    check(answer == reference,
                          f"{name}: {root.name} differs from the single node:\n  "
                          f"{json.dumps(answer)[:1500]}\n  {json.dumps(reference)[:1500]}")
                print(f"ok  {name}: {expected} hits, identical on 4 roots and the single node")

            # 3. Placement: one searcher per split, stable, the same from every root.
            before = searched_counters(searchers)
            first = placements(indexer)
            check(sorted(first) == split_ids, "debug lists every split once")
            owners = {}
            for split_id, (node_id, attempts) in first.items():
                check(node_id in {"searcher-1", "searcher-2", "searcher-3"} and attempts == 1,
                      f"split {split_id} searched on {node_id} in {attempts} attempts")
                owners[node_id] = owners.get(node_id, 0) + 1
            repeat_roots = [indexer, indexer] + searchers
            for root in repeat_roots:
                check(placements(root) == first, f"{root.name} places splits differently")
            after = searched_counters(searchers)
            queries = 1 + len(repeat_roots)
            for searcher in searchers:
                delta = after[searcher.name] - before[searcher.name]
                check(delta == queries * owners.get(searcher.name, 0),
                      f"{searcher.name} searched {delta} splits in {queries} queries, "
                      f"expected {queries} x {owners.get(searcher.name, 0)}")
            print(f"ok  each split on one searcher, stable over {queries} queries from 4 roots: "
                  f"{dict(sorted(owners.items()))}")

            # 4. kill -9 a searcher: full answers at once (retries), then after detection.
            victim = searchers[1]
            victim.kill9()
            response = search(indexer, {"query": "*", "max_hits": 0}, debug=True)
            check(response["num_hits"] == len(docs) and response["errors"] == [],
                  f"right after the kill: {response['num_hits']} hits, {response['errors']}")
            retried = [e for e in response["debug"]["splits"] if e["attempts"] == 2]
            check(all(e["node_id"] != victim.name for e in response["debug"]["splits"]),
                  "a split is reported searched on the killed node")
            print(f"ok  right after kill -9 of {victim.name}: full counts, "
                  f"{len(retried)} splits retried on their next node")
            survivors = [s for s in searchers if s is not victim]
            took = wait_until(f"the other roots see {victim.name} dead",
                              lambda: all(victim.name in n.cluster_ids("dead_nodes")
                                          for n in [indexer] + survivors), 30)
            for root in [indexer] + survivors:
                for name, params, expected in query_set(docs):
                    answer = comparable(search(root, params))
                    check(answer["num_hits"] == expected and answer["errors"] == [],
                          f"{name} on {root.name} after the kill: {answer['num_hits']} hits, "
                          f"expected {expected}, errors {answer['errors']}")
            after_kill = placements(indexer)
            for split_id, (node_id, attempts) in after_kill.items():
                check(node_id != victim.name and attempts == 1,
                      f"split {split_id} on {node_id} in {attempts} attempts after detection")
                if first[split_id][0] != victim.name:
                    check(node_id == first[split_id][0],
                          f"split {split_id} moved from {first[split_id][0]} to {node_id}")
            print(f"ok  {victim.name} seen dead after {took:.1f}s; every query complete on 3 "
                  f"roots, only its {owners.get(victim.name, 0)} splits moved")

            # 5. A new searcher takes about 1/3 of the splits, from the others only.
            newcomer.start(INDEX_ID)
            wait_until("the indexer sees searcher-4 ready",
                       lambda: "searcher-4" in indexer.cluster_ids("ready_nodes"), 60)
            wait_until("searcher-4 sees every split", lambda: newcomer.client.num_hits("*") ==
                       len(docs), 60)
            with_newcomer = placements(indexer)
            moved = [s for s in split_ids if with_newcomer[s][0] != after_kill[s][0]]
            check(all(with_newcomer[s][0] == "searcher-4" for s in moved),
                  f"splits moved elsewhere than to the new node: "
                  f"{[(s, with_newcomer[s]) for s in moved]}")
            check(2 <= len(moved) <= NUM_SPLITS * 2 // 3,
                  f"{len(moved)} of {NUM_SPLITS} splits moved to the new node (expected ~1/3)")
            print(f"ok  searcher-4 joined: {len(moved)} of {NUM_SPLITS} splits moved to it "
                  f"(1/3 expected: {NUM_SPLITS / 3:.0f})")
        finally:
            for shale_node in everyone:
                shale_node.stop(timeout=60)


if __name__ == "__main__":
    sys.exit(run_test_main("integration_distributed_search", run, ["--shale-bin"]))
