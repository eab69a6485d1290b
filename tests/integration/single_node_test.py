#!/usr/bin/env python3
"""Integration test: the real `shale` binary on a free loopback port.

Creates an index, ingests 100,000 generated log documents over HTTP in several batches (one
split per batch), and checks exact `num_hits` of term, boolean, default-field and time-range
queries against counts computed here from the generated data. Also checks bad input (a malformed
NDJSON line is rejected and counted while the rest is ingested; unknown index 404; invalid
index config 400 naming the problem), time pruning through the opened-splits counter in
/metrics, the CLI (ingest, describe, search, list, delete) and a graceful SIGTERM shutdown.

Only the Python standard library is used.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

from shale_testlib import (SERVICES, SEVERITIES, Client, Failure, check, free_port, run_test_main,
                           tokens, wait_ready)

NUM_DOCS = 100_000
NUM_BATCHES = 8
BASE_TS = 1_700_000_000
MESSAGES = [
    "PacketResponder {n} for block blk_{b} terminating",
    "Receiving block blk_{b} src: /10.250.{n}.102:54106 dest: /10.250.{n}.102:50010",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.{n}.220:50010 is added to blk_{b} size 67108864",
    "Verification succeeded for blk_{b}",
    "Deleting block blk_{b} file /mnt/hadoop/dfs/data/current/subdir{n}/blk_{b}",
]

INDEX_CONFIG = {
    "version": "0.8",
    "index_id": "hdfs-logs",
    "doc_mapping": {
        "mode": "dynamic",
        "field_mappings": [
            {"name": "timestamp", "type": "datetime", "fast": True,
             "input_formats": ["unix_timestamp"]},
            {"name": "tenant_id", "type": "u64", "fast": True},
            {"name": "severity_text", "type": "text", "tokenizer": "raw", "fast": True},
            {"name": "body", "type": "text", "tokenizer": "default"},
            {"name": "resource", "type": "object", "field_mappings": [
                {"name": "service", "type": "text", "tokenizer": "raw", "fast": True}]},
        ],
        "timestamp_field": "timestamp",
        "tag_fields": ["tenant_id"],
    },
    "indexing_settings": {"commit_timeout_secs": 30},
    "search_settings": {"default_search_fields": ["body"]},
}


def generate_docs(seed):
    rng = random.Random(seed)
    docs = []
    for i in range(NUM_DOCS):
        n = rng.randint(0, 255)
        block = rng.randint(-(2 ** 62), 2 ** 62)
        docs.append({
            "timestamp": BASE_TS + i // 10,  # 10 docs per second, increasing
            "tenant_id": rng.randint(1, 20),
            "severity_text": rng.choice(SEVERITIES),
            "body": rng.choice(MESSAGES).format(n=n, b=block),
            "resource": {"service": rng.choice(SERVICES)},
            "attributes": {"class": rng.choice(["dfs.DataNode", "dfs.FSNamesystem"])},
        })
    return docs


def check_bad_configs_stop_startup(args, workdir):
    """An unknown key or a bad value stops start-up with a message naming the key."""
    cases = [
        ("searcher:\n  fast_field_cache_capacty: 1G\n", "searcher.fast_field_cache_capacty"),
        ("rest:\n  listen_port: not-a-port\n", "rest.listen_port"),
        ("searcher:\n  fast_field_cache_capacity: 12QB\n", "searcher.fast_field_cache_capacity"),
    ]
    for index, (body, key) in enumerate(cases):
        path = os.path.join(workdir, f"bad{index}.yaml")
        with open(path, "w") as config:
            config.write(f"version: 0.8\ndata_dir: {workdir}/bad-data\n" + body)
        result = subprocess.run([args.shale_bin, "run", "--config", path],
                                capture_output=True, text=True, timeout=60)
        check(result.returncode != 0, f"start-up with a bad config must fail: {body!r}")
        check(key in result.stderr, f"error must name `{key}`: {result.stderr!r}")
        print(f"ok  bad config rejected naming {key}")


def run(args, workdir):
    check_bad_configs_stop_startup(args, workdir)
    port = free_port()
    config_path = os.path.join(workdir, "node.yaml")
    with open(config_path, "w") as config:
        config.write(f"version: 0.8\nnode_id: it-node\nlisten_address: 127.0.0.1\n"
                     f"rest:\n  listen_port: {port}\ndata_dir: {workdir}/data\n")
    log = open(os.path.join(workdir, "node.log"), "w")
    process = subprocess.Popen([args.shale_bin, "run", "--config", config_path],
                               stdout=log, stderr=subprocess.STDOUT)
    client = Client(port, index_id="hdfs-logs")
    try:
        wait_ready(client, process)
        check(client.json("GET", "/health/livez") is True, "livez")
        check("build" in client.json("GET", "/api/v1/version"), "version")
        check(isinstance(client.json("GET", "/api/v1/config"), dict), "config is an object")

        # Bad input before the index exists.
        client.json("POST", "/api/v1/hdfs-logs/ingest", "{}\n", expect=404)
        client.json("GET", "/api/v1/hdfs-logs/search", params={"query": "*"}, expect=404)
        bad = client.json("POST", "/api/v1/indexes",
                          json.dumps({"version": "0.8", "index_id": "bad-index",
                                      "doc_mapping": {"field_mappings": [
                                          {"name": "x", "type": "nosuchtype"}]}}),
                          headers={"Content-Type": "application/json"}, expect=400)
        check("nosuchtype" in bad["message"], f"error should name the bad type: {bad}")

        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                    headers={"Content-Type": "application/json"})
        client.json("POST", "/api/v1/indexes", json.dumps(INDEX_CONFIG),
                    headers={"Content-Type": "application/json"}, expect=409)

        docs = generate_docs(seed=42)
        lines = [json.dumps(doc) for doc in docs]
        batch_size = (NUM_DOCS + NUM_BATCHES - 1) // NUM_BATCHES
        for batch in range(NUM_BATCHES):
            body_lines = lines[batch * batch_size:(batch + 1) * batch_size]
            if batch == 3:
                body_lines = body_lines[:100] + ['{"timestamp": 1, "body": "broken'] + body_lines[100:]
            result = client.json("POST", "/api/v1/hdfs-logs/ingest", "\n".join(body_lines) + "\n",
                                 params={"commit": "force", "detailed_response": "true"})
            expected_rejected = 1 if batch == 3 else 0
            check(result["num_rejected_docs"] == expected_rejected,
                  f"batch {batch}: rejected {result}")
            check(result["num_ingested_docs"] == len(body_lines) - expected_rejected,
                  f"batch {batch}: ingested {result['num_ingested_docs']}")
            check(len(result["parse_failures"]) == expected_rejected, "parse_failures")

        describe = client.json("GET", "/api/v1/indexes/hdfs-logs/describe")
        check(describe["num_published_docs"] == NUM_DOCS, f"describe: {describe}")
        check(describe["num_published_splits"] == NUM_BATCHES, f"describe: {describe}")
        splits = client.json("GET", "/api/v1/indexes/hdfs-logs/splits")
        check(len(splits["splits"]) == NUM_BATCHES, "splits listing")

        def count(predicate):
            return sum(1 for doc in docs if predicate(doc))

        expectations = [
            ("*", {}, NUM_DOCS),
            ("severity_text:ERROR", {}, count(lambda d: d["severity_text"] == "ERROR")),
            ("body:terminating", {}, count(lambda d: "terminating" in tokens(d["body"]))),
            ("terminating", {}, count(lambda d: "terminating" in tokens(d["body"]))),
            ("severity_text:ERROR AND resource.service:datanode", {},
             count(lambda d: d["severity_text"] == "ERROR" and d["resource"]["service"] == "datanode")),
            ("severity_text:WARN OR severity_text:ERROR", {},
             count(lambda d: d["severity_text"] in ("WARN", "ERROR"))),
            ("NOT severity_text:INFO", {}, count(lambda d: d["severity_text"] != "INFO")),
            ("(severity_text:ERROR OR severity_text:WARN) AND NOT tenant_id:7", {},
             count(lambda d: d["severity_text"] in ("ERROR", "WARN") and d["tenant_id"] != 7)),
            ("tenant_id:3 AND body:verification", {},
             count(lambda d: d["tenant_id"] == 3 and "verification" in tokens(d["body"]))),
            ("attributes.class:dfs.FSNamesystem", {},
             count(lambda d: d["attributes"]["class"] == "dfs.FSNamesystem")),
            ("*", {"start_timestamp": BASE_TS + 1000, "end_timestamp": BASE_TS + 1500},
             count(lambda d: BASE_TS + 1000 <= d["timestamp"] < BASE_TS + 1500)),
            ("severity_text:ERROR", {"start_timestamp": BASE_TS + 3333},
             count(lambda d: d["severity_text"] == "ERROR" and d["timestamp"] >= BASE_TS + 3333)),
            ("body:terminating", {"end_timestamp": BASE_TS + 777},
             count(lambda d: "terminating" in tokens(d["body"]) and d["timestamp"] < BASE_TS + 777)),
        ]
        for query, params, expected in expectations:
            got = client.num_hits(query, **params)
            check(got == expected, f"query {query!r} {params}: expected {expected}, got {got}")
            print(f"ok  {query!r} {params} -> {got}")

        # Hits: newest first by default, documents as ingested.
        page = client.json("GET", "/api/v1/hdfs-logs/search",
                           params={"query": "severity_text:ERROR", "max_hits": 3})
        newest_error = max(d["timestamp"] for d in docs if d["severity_text"] == "ERROR")
        check(len(page["hits"]) == 3, "three hits")
        check(page["hits"][0]["severity_text"] == "ERROR", f"hit: {page['hits'][0]}")
        check(page["errors"] == [], "no errors")
        first_ts = page["hits"][0]["timestamp"]
        check(first_ts.startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(newest_error))),
              f"newest first: {first_ts} vs {newest_error}")

        # Time pruning: a range inside one batch opens exactly that batch's split.
        opened_before = client.counter("shale_search_splits_opened_total")
        batch_seconds = batch_size // 10
        in_batch_two = BASE_TS + 2 * batch_seconds + 10
        client.num_hits("*", start_timestamp=in_batch_two, end_timestamp=in_batch_two + 5)
        opened = client.counter("shale_search_splits_opened_total") - opened_before
        check(opened == 1, f"a range inside one split must open 1 split, opened {opened}")
        opened_before = client.counter("shale_search_splits_opened_total")
        client.num_hits("*")
        opened = client.counter("shale_search_splits_opened_total") - opened_before
        check(opened == NUM_BATCHES, f"a full scan opens every split, opened {opened}")

        client.json("GET", "/api/v1/hdfs-logs/search", params={"query": "body:(oops"}, expect=400)

        # The CLI against the same node.
        endpoint = f"http://127.0.0.1:{port}"
        extra_path = os.path.join(workdir, "extra.ndjson")
        subprocess.run([args.gen_bin, "--num-docs", "1000", "--seed", "7"],
                       stdout=open(extra_path, "w"), check=True)
        ingest = subprocess.run([args.shale_bin, "index", "ingest", "--endpoint", endpoint,
                                 "--index", "hdfs-logs", "--input-path", extra_path,
                                 "--commit", "force"], capture_output=True, text=True)
        check(ingest.returncode == 0, f"cli ingest failed: {ingest.stdout} {ingest.stderr}")
        check("Ingested 1000 documents" in ingest.stdout + ingest.stderr,
              f"cli summary: {ingest.stdout} {ingest.stderr}")
        check(client.num_hits("*") == NUM_DOCS + 1000, "cli-ingested docs are searchable")
        for command in (["index", "list"], ["index", "describe", "--index", "hdfs-logs"],
                        ["index", "search", "--index", "hdfs-logs", "--query", "severity_text:ERROR"]):
            result = subprocess.run([args.shale_bin, *command, "--endpoint", endpoint],
                                    capture_output=True, text=True)
            check(result.returncode == 0, f"cli {command}: {result.stderr}")
            check("hdfs-logs" in result.stdout or "num_hits" in result.stdout,
                  f"cli {command} output: {result.stdout}")
        missing = subprocess.run([args.shale_bin, "index", "describe", "--index", "nope",
                                  "--endpoint", endpoint], capture_output=True, text=True)
        check(missing.returncode != 0 and "not found" in missing.stderr, f"cli 404: {missing.stderr}")

        deleted = subprocess.run([args.shale_bin, "index", "delete", "--index", "hdfs-logs",
                                  "--yes", "--endpoint", endpoint], capture_output=True, text=True)
        check(deleted.returncode == 0, f"cli delete: {deleted.stderr}")
        client.json("GET", "/api/v1/indexes/hdfs-logs", expect=404)
        leftover = [f for f in os.listdir(os.path.join(workdir, "data", "indexes", "hdfs-logs"))
                    if f.endswith(".split")] if os.path.isdir(
                        os.path.join(workdir, "data", "indexes", "hdfs-logs")) else []
        check(leftover == [], f"split files left after delete: {leftover}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise Failure("node did not stop within 60s of SIGTERM")
        log.close()
    check(code == 0, f"node exited with {code} after SIGTERM")


if __name__ == "__main__":
    sys.exit(run_test_main("integration_single_node", run, ["--shale-bin", "--gen-bin"]))
