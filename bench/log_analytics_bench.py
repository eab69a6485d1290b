#!/usr/bin/env python3
"""Log analytics benchmark (issue 4): Shale side by side with ClickHouse on the same documents,
in the same run.

1. Generates NUM_DOCS log documents (seeded; `--num-docs`, default 10,000,000) once per size and
   seed into `bench/out/analytics/`: a week of timestamps, `resource.service` (50 values,
   Zipf-skewed), `tenant_id` (100 values, skewed), `severity_text`, `attributes.class` and a
   `body` from the loghub HDFS sample lines. Two files hold the same documents: the NDJSON Shale
   reads, and the same rows flattened (`resource_service`, `attributes_class`) for ClickHouse's
   JSONEachRow, which does not read nested objects in 18.16. While generating, the script counts
   the expected answers of every query itself (the third opinion on both engines' numbers).
2. Shale (`--shale-bin`, a Release build): one `shale run` on loopback (tests' ShaleNode) with
   the partial request cache off (a repeated identical request would be a cache lookup),
   `bench/log-analytics-index-config.yaml`, and a `file` source over the NDJSON file: load time
   is from the source's creation to all documents published, plus the node's CPU time, peak RSS
   and the size of its split files.
3. ClickHouse (Debian's clickhouse-server, `tools/install_bench_deps.sh`): one server as user
   `nobody` in a temporary directory with its own config, HTTP on a free loopback port; a
   MergeTree table ordered by (tenant_id, timestamp); one HTTP INSERT ... FORMAT JSONEachRow of
   the whole flattened file. Load time, CPU time, size of the active parts.
4. Each query runs `--warmup` times, then `--runs` times per engine (one keep-alive HTTP
   connection each, through each engine's normal query API), alternating engines per query:
   a date_histogram (1h) and a terms aggregation (resource.service) over all docs, a count of
   `severity_text:ERROR AND tenant_id:17` over one day, the same with the 10 latest hits, and a
   full-text count of `body:exception` (ClickHouse: a case-insensitive substring search).
   Reports p50 / p99 / mean wall-clock latency, server CPU time per query (from /proc), and the
   ratios ClickHouse / Shale. Every answer of both engines is compared with the generator's
   counts: any difference fails the benchmark (exit 1) after printing both.

Prints a markdown report, also written to bench/out/analytics/results-N-SEED.md.
Standard library only; reuses the integration tests' ShaleNode launcher.
"""
import argparse
import bisect
import calendar
import collections
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))
from shale_testlib import (Failure, Fatal, ShaleNode, check, free_port, tokens,  # noqa: E402
                           wait_until)

INDEX_ID = "log-analytics"
INDEX_CONFIG = os.path.join(REPO_ROOT, "bench", "log-analytics-index-config.yaml")
HDFS_SAMPLE = os.path.join(REPO_ROOT, "..", "shared", "loghub", "HDFS", "HDFS_2k.log")
START = 1_699_833_600  # Monday 2023-11-13 00:00:00 UTC
SPAN_SECS = 7 * 86_400
HOUR = 3_600
NUM_SERVICES = 50
NUM_TENANTS = 100
SEVERITIES = [("INFO", 70), ("DEBUG", 15), ("WARN", 10), ("ERROR", 4), ("FATAL", 1)]
# The filtered query: ERROR logs of one mid-sized tenant during the third day.
FILTER_TENANT = 17
FILTER_SEVERITY = "ERROR"
FILTER_START = START + 2 * 86_400
FILTER_END = START + 3 * 86_400
TOP_HITS = 10
# The full-text query: a word of the HDFS sample whose case-insensitive substring matches are
# exactly its token matches (checked per template), so ClickHouse's substring search and Shale's
# term query must count the same docs.
FULLTEXT_WORD = "exception"
CHUNK = 100_000


# ----------------------------------------------------------------------------------------------
# Data


def service_names():
    """50 plausible, distinct service names."""
    domains = ["checkout", "payments", "search", "catalog", "auth", "users", "orders", "billing",
               "inventory", "shipping"]
    roles = ["api", "worker", "db-proxy", "cache", "gateway"]
    return [f"{domain}-{role}" for role in roles for domain in domains][:NUM_SERVICES]


def zipf_cum_weights(count, exponent):
    total, cumulative = 0.0, []
    for rank in range(1, count + 1):
        total += 1.0 / rank ** exponent
        cumulative.append(total)
    return cumulative


def hdfs_templates():
    """(class, body prefix, body suffix, holds FULLTEXT_WORD) per sample line, JSON-escaped; a
    random block id goes between prefix and suffix where the line had one, so bodies are not
    2,000 repeated strings."""
    templates = []
    with open(HDFS_SAMPLE) as sample:
        for line in sample:
            parts = line.rstrip("\n").split(" ", 5)
            if len(parts) < 6 or not parts[4].endswith(":"):
                continue
            component, message = parts[4][:-1], parts[5]
            has_word = FULLTEXT_WORD in tokens(message)
            check(has_word == (FULLTEXT_WORD in message.lower()),
                  f"`{FULLTEXT_WORD}` is a substring but not a token of: {message}")
            escape = lambda text: json.dumps(text)[1:-1]  # noqa: E731
            start = message.find("blk_")
            if start < 0:
                templates.append((escape(component), escape(message), None, has_word))
                continue
            end = start + 4
            if end < len(message) and message[end] == "-":
                end += 1
            while end < len(message) and message[end].isdigit():
                end += 1
            templates.append((escape(component), escape(message[:start + 4]),
                              escape(message[end:]), has_word))
    check(len(templates) > 1000, f"{HDFS_SAMPLE}: only {len(templates)} usable lines")
    return templates


class Truth:
    """What the queries must answer, counted while generating."""

    def __init__(self):
        self.per_hour = collections.Counter()
        self.per_service = collections.Counter()
        self.filtered = 0
        self.filtered_top = []  # the TOP_HITS largest timestamps of the filtered docs
        self.fulltext = 0

    def to_json(self):
        return {"per_hour": {str(k): v for k, v in sorted(self.per_hour.items())},
                "per_service": dict(self.per_service), "filtered": self.filtered,
                "filtered_top": sorted(self.filtered_top, reverse=True),
                "fulltext": self.fulltext}

    @staticmethod
    def from_json(data):
        truth = Truth()
        truth.per_hour = collections.Counter({int(k): v for k, v in data["per_hour"].items()})
        truth.per_service = collections.Counter(data["per_service"])
        truth.filtered = data["filtered"]
        truth.filtered_top = data["filtered_top"]
        truth.fulltext = data["fulltext"]
        return truth


def generate(num_docs, seed, shale_path, clickhouse_path, truth_path):
    rng = random.Random(seed)
    services = service_names()
    service_cw = zipf_cum_weights(NUM_SERVICES, 1.1)
    tenant_cw = zipf_cum_weights(NUM_TENANTS, 0.8)
    severity_cw, total = [], 0
    for _, weight in SEVERITIES:
        total += weight
        severity_cw.append(total)
    templates = hdfs_templates()
    truth = Truth()
    top = []  # the TOP_HITS largest timestamps so far, ascending
    with open(shale_path + ".tmp", "w") as shale_out, \
            open(clickhouse_path + ".tmp", "w") as ch_out:
        for first in range(0, num_docs, CHUNK):
            count = min(CHUNK, num_docs - first)
            chosen_services = rng.choices(range(NUM_SERVICES), cum_weights=service_cw, k=count)
            tenants = rng.choices(range(1, NUM_TENANTS + 1), cum_weights=tenant_cw, k=count)
            severities = rng.choices([s for s, _ in SEVERITIES], cum_weights=severity_cw,
                                     k=count)
            lines = rng.choices(templates, k=count)
            shale_lines, ch_lines = [], []
            for j in range(count):
                i = first + j
                # Time order with up to a minute of jitter, as log shippers deliver them.
                timestamp = START + (i * SPAN_SECS) // num_docs + rng.randrange(60)
                timestamp = min(timestamp, START + SPAN_SECS - 1)
                service = services[chosen_services[j]]
                tenant = tenants[j]
                severity = severities[j]
                component, prefix, suffix, has_word = lines[j]
                body = prefix if suffix is None else f"{prefix}{rng.getrandbits(62)}{suffix}"
                head = (f'{{"timestamp":{timestamp},"tenant_id":{tenant},'
                        f'"severity_text":"{severity}",')
                tail = f'"body":"{body}"}}\n'
                shale_lines.append(f'{head}"resource":{{"service":"{service}"}},'
                                   f'"attributes":{{"class":"{component}"}},{tail}')
                ch_lines.append(f'{head}"resource_service":"{service}",'
                                f'"attributes_class":"{component}",{tail}')
                truth.per_hour[timestamp - timestamp % HOUR] += 1
                truth.per_service[service] += 1
                truth.fulltext += has_word
                if (tenant == FILTER_TENANT and severity == FILTER_SEVERITY
                        and FILTER_START <= timestamp < FILTER_END):
                    truth.filtered += 1
                    if len(top) < TOP_HITS or timestamp > top[0]:
                        bisect.insort(top, timestamp)
                        del top[:-TOP_HITS]
            shale_out.write("".join(shale_lines))
            ch_out.write("".join(ch_lines))
    truth.filtered_top = top
    with open(truth_path, "w") as out:
        json.dump(truth.to_json(), out)
    os.rename(shale_path + ".tmp", shale_path)
    os.rename(clickhouse_path + ".tmp", clickhouse_path)
    return truth


# ----------------------------------------------------------------------------------------------
# Processes


def cpu_seconds(pid):
    """User + system CPU seconds of a process (threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


class KeepAlive:
    """One persistent HTTP/1.1 connection to 127.0.0.1:port."""

    def __init__(self, port):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def post(self, path, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        try:
            response = self._send(path, data, content_type)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle connection (its keep-alive timeout): reconnect once.
            self.connection.close()
            response = self._send(path, data, content_type)
        text = response.read().decode()
        if response.status != 200:
            raise Failure(f"POST {path} {body[:300]!r}: HTTP {response.status}: {text[:1000]}")
        return text

    def _send(self, path, data, content_type):
        self.connection.request("POST", path, body=data, headers={"Content-Type": content_type})
        return self.connection.getresponse()

    def close(self):
        self.connection.close()


CLICKHOUSE_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog>
    <size>100M</size><count>1</count></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <keep_alive_timeout>600</keep_alive_timeout>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <mark_cache_size>5368709120</mark_cache_size>
  <timezone>UTC</timezone>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
"""

CLICKHOUSE_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""

CLICKHOUSE_TABLE = """CREATE TABLE logs (
  timestamp DateTime,
  tenant_id UInt64,
  severity_text String,
  resource_service String,
  attributes_class String,
  body String
) ENGINE = MergeTree ORDER BY (tenant_id, timestamp)"""


class ClickHouse:
    """clickhouse-server as user nobody in `workdir/clickhouse`, HTTP and TCP on free loopback
    ports; a context manager that stops it (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "clickhouse")
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.process = None

    def __enter__(self):
        binary = shutil.which("clickhouse-server")
        check(binary is not None,
              "clickhouse-server not found: run tools/install_bench_deps.sh (Debian package)")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "config.xml"), "w") as config:
            config.write(CLICKHOUSE_CONFIG.format(dir=self.dir, http_port=self.http_port,
                                                  tcp_port=self.tcp_port))
        with open(os.path.join(self.dir, "users.xml"), "w") as users:
            users.write(CLICKHOUSE_USERS)
        command = [binary, f"--config-file={self.dir}/config.xml"]
        if os.geteuid() == 0:  # never run a database server as root
            subprocess.run(["chown", "-R", "nobody:nogroup", self.dir], check=True)
            os.chmod(os.path.dirname(self.dir), 0o755)
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + command
        self.log = open(os.path.join(os.path.dirname(self.dir), "clickhouse.log"), "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until("clickhouse-server answers", self.ready, timeout=60, interval=0.2)
        return self

    def ready(self):
        if self.process.poll() is not None:
            raise Fatal(f"clickhouse-server exited with {self.process.returncode}")
        connection = KeepAlive(self.http_port)
        try:
            return connection.post("/", "SELECT 1").strip() == "1"
        finally:
            connection.close()

    def server_pid(self):
        """The server's pid (setpriv execs it, so it is the child's pid)."""
        return self.process.pid

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def insert_file(port, path):
    """Streams `path` as one chunked INSERT ... FORMAT JSONEachRow."""
    query = urllib.parse.quote("INSERT INTO logs FORMAT JSONEachRow")

    def blocks():
        with open(path, "rb") as data:
            while True:
                block = data.read(1 << 20)
                if not block:
                    return
                yield block

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    connection.request("POST", f"/?query={query}", body=blocks(), encode_chunked=True,
                       headers={"Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    check(response.status == 200, f"ClickHouse insert: HTTP {response.status}: {text[:1000]}")


# ----------------------------------------------------------------------------------------------
# Queries: (name, Shale search body, ClickHouse SQL, parse Shale, parse ClickHouse, expected)


def shale_date_histogram(text):
    buckets = json.loads(text)["aggregations"]["per_hour"]["buckets"]
    return {int(b["key"]) // 1000: b["doc_count"] for b in buckets if b["doc_count"]}


def shale_terms(text):
    result = json.loads(text)["aggregations"]["services"]
    return [(b["key"], b["doc_count"]) for b in result["buckets"]]


def shale_count(text):
    return json.loads(text)["num_hits"]


def shale_top(text):
    result = json.loads(text)
    # The timestamp field renders as RFC 3339 in UTC (`2023-11-15T23:07:41Z`).
    stamps = [calendar.timegm(time.strptime(hit["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
              for hit in result["hits"]]
    return [result["num_hits"], stamps]


def tsv_rows(text):
    return [line.split("\t") for line in text.splitlines() if line]


def queries(truth):
    filter_query = f"severity_text:{FILTER_SEVERITY} AND tenant_id:{FILTER_TENANT}"
    filter_sql = (f"tenant_id = {FILTER_TENANT} AND severity_text = '{FILTER_SEVERITY}' AND "
                  f"timestamp >= {FILTER_START} AND timestamp < {FILTER_END}")
    top_services = sorted(truth.per_service.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return [
        ("date_histogram 1h over all docs",
         {"query": "*", "max_hits": 0,
          "aggs": {"per_hour": {"date_histogram": {"field": "timestamp",
                                                   "fixed_interval": "1h"}}}},
         "SELECT intDiv(toUInt32(timestamp), 3600) * 3600 AS hour, count() FROM logs "
         "GROUP BY hour ORDER BY hour FORMAT TabSeparated",
         shale_date_histogram,
         lambda text: {int(h): int(c) for h, c in tsv_rows(text)},
         dict(truth.per_hour)),
        ("terms resource.service (top 10) over all docs",
         {"query": "*", "max_hits": 0,
          "aggs": {"services": {"terms": {"field": "resource.service", "size": 10}}}},
         "SELECT resource_service, count() AS c FROM logs GROUP BY resource_service "
         "ORDER BY c DESC, resource_service LIMIT 10 FORMAT TabSeparated",
         shale_terms,
         lambda text: [(s, int(c)) for s, c in tsv_rows(text)],
         [(s, c) for s, c in top_services]),
        (f"count: `{filter_query}`, one day",
         {"query": filter_query, "max_hits": 0, "start_timestamp": FILTER_START,
          "end_timestamp": FILTER_END},
         f"SELECT count() FROM logs WHERE {filter_sql} FORMAT TabSeparated",
         shale_count,
         lambda text: int(text.strip()),
         truth.filtered),
        (f"same filter, count + {TOP_HITS} latest hits",
         {"query": filter_query, "max_hits": TOP_HITS, "start_timestamp": FILTER_START,
          "end_timestamp": FILTER_END, "sort_by": "timestamp"},
         f"SELECT (SELECT count() FROM logs WHERE {filter_sql}), * FROM logs "
         f"WHERE {filter_sql} ORDER BY timestamp DESC LIMIT {TOP_HITS} "
         "FORMAT TabSeparatedWithNames",
         shale_top,
         clickhouse_top,
         [truth.filtered, sorted(truth.filtered_top, reverse=True)]),
        (f"full-text count: `body:{FULLTEXT_WORD}` over all docs",
         {"query": f"body:{FULLTEXT_WORD}", "max_hits": 0},
         f"SELECT count() FROM logs WHERE positionCaseInsensitive(body, '{FULLTEXT_WORD}') > 0 "
         "FORMAT TabSeparated",
         shale_count,
         lambda text: int(text.strip()),
         truth.fulltext),
    ]


def clickhouse_top(text):
    rows = tsv_rows(text)
    header, rows = rows[0], rows[1:]
    column = header.index("timestamp")
    count = int(rows[0][0]) if rows else 0
    # DateTime renders as 'YYYY-MM-DD hh:mm:ss' in the server's time zone (UTC).
    stamps = [calendar.timegm(time.strptime(row[column], "%Y-%m-%d %H:%M:%S")) for row in rows]
    return [count, stamps]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def measure(send, pid, warmup, runs):
    """Runs `send` warmup + runs times; returns (last answer, latencies ms, CPU ms per run)."""
    answer = None
    for _ in range(warmup):
        answer = send()
    latencies = []
    cpu_start = cpu_seconds(pid)
    for _ in range(runs):
        start = time.perf_counter()
        answer = send()
        latencies.append((time.perf_counter() - start) * 1000)
    cpu_ms = (cpu_seconds(pid) - cpu_start) * 1000 / runs
    return answer, latencies, cpu_ms


# ----------------------------------------------------------------------------------------------
# Main


def load_shale(node, data_path, num_docs, report):
    with open(INDEX_CONFIG) as config:
        node.client.json("POST", "/api/v1/indexes", config.read(),
                         headers={"Content-Type": "application/yaml"})
    source = {"version": "0.8", "source_id": "bench-file", "source_type": "file",
              "params": {"filepath": data_path}}
    pid = node.process.pid
    cpu_start, load_start, start = cpu_seconds(pid), load_average(), time.time()
    node.client.json("POST", f"/api/v1/indexes/{INDEX_ID}/sources", json.dumps(source))

    def published():
        # Fatal: wait_until would take a plain Failure for "not yet" and wait hours.
        if not node.alive():
            raise Fatal(f"the Shale node exited with {node.process.returncode}")
        for pipeline in node.client.json("GET", "/api/v1/indexing").get("sources", []):
            if pipeline["source_id"] == "bench-file":
                if pipeline["state"] == "failed":
                    raise Fatal(f"file source failed: {pipeline}")
                if sum(pipeline["num_rejected_docs"].values()) != 0:
                    raise Fatal(f"Shale rejected documents: {pipeline}")
                return pipeline["state"] == "idle" and pipeline["num_published_docs"] == num_docs
        return False

    wait_until("Shale published every document", published, timeout=4 * 3600, interval=0.5)
    seconds = time.time() - start
    cpu = cpu_seconds(pid) - cpu_start
    describe = node.client.json("GET", f"/api/v1/indexes/{INDEX_ID}/describe")
    report["shale_load"] = {"seconds": seconds, "cpu": cpu,
                            "load": f"{load_start} → {load_average()}",
                            "peak_rss_mib": peak_rss_mib(pid),
                            "splits": describe["num_published_splits"],
                            "bytes": describe["size_published_splits"]}
    check(describe["num_published_docs"] == num_docs,
          f"Shale publishes {describe['num_published_docs']} docs")


def load_clickhouse(clickhouse, data_path, report):
    connection = KeepAlive(clickhouse.http_port)
    connection.post("/", CLICKHOUSE_TABLE)
    pid = clickhouse.server_pid()
    cpu_start, load_start, start = cpu_seconds(pid), load_average(), time.time()
    insert_file(clickhouse.http_port, data_path)
    seconds = time.time() - start
    cpu = cpu_seconds(pid) - cpu_start
    rows = tsv_rows(connection.post(
        "/", "SELECT count(), sum(bytes), sum(rows) FROM system.parts "
             "WHERE table = 'logs' AND active FORMAT TabSeparated"))
    connection.close()
    report["clickhouse_load"] = {"seconds": seconds, "cpu": cpu,
                                 "load": f"{load_start} → {load_average()}",
                                 "peak_rss_mib": peak_rss_mib(pid), "parts": int(rows[0][0]),
                                 "bytes": int(rows[0][1]), "rows": int(rows[0][2])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shale-bin", default=os.path.join(REPO_ROOT, "build/release/bin/shale"))
    parser.add_argument("--num-docs", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--data-dir", default=os.path.join(REPO_ROOT, "bench/out/analytics"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    check(os.access(args.shale_bin, os.X_OK), f"{args.shale_bin} not found: build it first")

    os.makedirs(args.data_dir, exist_ok=True)
    stem = os.path.join(os.path.abspath(args.data_dir), f"logs-{args.num_docs}-{args.seed}")
    shale_path, ch_path, truth_path = stem + ".ndjson", stem + ".flat.ndjson", stem + ".truth.json"
    report = {"num_docs": args.num_docs, "seed": args.seed, "runs": args.runs}
    truth = None
    if all(os.path.exists(p) for p in (shale_path, ch_path, truth_path)):
        with open(truth_path) as data:
            truth_json = json.load(data)
        if "fulltext" in truth_json:  # else written by an older version: generate again
            truth = Truth.from_json(truth_json)
            print(f"[analytics] reusing {shale_path}", file=sys.stderr)
    if truth is None:
        print(f"[analytics] generating {args.num_docs} docs", file=sys.stderr)
        start = time.time()
        truth = generate(args.num_docs, args.seed, shale_path, ch_path, truth_path)
        print(f"[analytics] generated in {time.time() - start:.0f} s", file=sys.stderr)
    report["ndjson_bytes"] = os.path.getsize(shale_path)
    report["flat_bytes"] = os.path.getsize(ch_path)

    workdir = tempfile.mkdtemp(prefix="shale-analytics-")
    node = ShaleNode(args.shale_bin, workdir, "node",
                     f"data_dir: {workdir}/data\nsearcher:\n  partial_request_cache_capacity: 0\n")
    failed = False
    try:
        with ClickHouse(workdir) as clickhouse:
            node.start()
            print("[analytics] loading Shale (file source)", file=sys.stderr)
            load_shale(node, shale_path, args.num_docs, report)
            print(f"[analytics] Shale: {report['shale_load']}", file=sys.stderr)
            print("[analytics] loading ClickHouse (HTTP JSONEachRow)", file=sys.stderr)
            load_clickhouse(clickhouse, ch_path, report)
            print(f"[analytics] ClickHouse: {report['clickhouse_load']}", file=sys.stderr)
            check(report["clickhouse_load"]["rows"] == args.num_docs,
                  f"ClickHouse holds {report['clickhouse_load']['rows']} rows")
            shale_http = KeepAlive(node.port)
            ch_http = KeepAlive(clickhouse.http_port)
            results = []
            for name, body, sql, parse_shale, parse_ch, expected in queries(truth):
                print(f"[analytics] {name} (load {load_average()})", file=sys.stderr)
                path = f"/api/v1/{INDEX_ID}/search"
                shale_answer, shale_ms, shale_cpu = measure(
                    lambda: shale_http.post(path, json.dumps(body)), node.process.pid,
                    args.warmup, args.runs)
                ch_answer, ch_ms, ch_cpu = measure(
                    lambda: ch_http.post("/", sql), clickhouse.server_pid(), args.warmup,
                    args.runs)
                shale_value, ch_value = parse_shale(shale_answer), parse_ch(ch_answer)
                agree = shale_value == expected and ch_value == expected
                if not agree:
                    failed = True
                    print(f"MISMATCH on {name}:\n  expected   {expected}\n  shale      "
                          f"{shale_value}\n  clickhouse {ch_value}", file=sys.stderr)
                results.append({"name": name, "shale_ms": shale_ms, "ch_ms": ch_ms,
                                "shale_cpu": shale_cpu, "ch_cpu": ch_cpu, "agree": agree,
                                "answer": summary(expected), "body": body, "sql": sql})
            report["shale_peak_rss_mib"] = peak_rss_mib(node.process.pid)
            report["clickhouse_peak_rss_mib"] = peak_rss_mib(clickhouse.server_pid())
            shale_http.close()
            ch_http.close()
    except BaseException:
        failed = True
        raise
    finally:
        node.stop()
        if args.keep or failed:
            print(f"[analytics] kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(report, results)
    out_path = stem + ".results.md"
    with open(out_path, "w") as out:
        out.write(text)
    print(text)
    print(f"[analytics] written to {out_path}", file=sys.stderr)
    if failed:
        print("FAILED: the engines' answers differ (see MISMATCH above)", file=sys.stderr)
        return 1
    return 0


def summary(expected):
    if isinstance(expected, dict):
        return f"{len(expected)} buckets, {sum(expected.values()):,} docs"
    if isinstance(expected, list) and expected and isinstance(expected[0], tuple):
        return f"top {expected[0][0]} = {expected[0][1]:,}"
    if isinstance(expected, list):
        return f"{expected[0]:,} hits"
    return f"{expected:,} hits"


def render(report, results):
    lines = [f"## Log analytics: Shale vs ClickHouse ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"{report['num_docs']:,} docs (seed {report['seed']}), "
             f"{report['ndjson_bytes'] / 1e6:,.1f} MB NDJSON "
             f"({report['flat_bytes'] / 1e6:,.1f} MB flattened for ClickHouse); host "
             f"{platform.node()}, {os.cpu_count()} cpus, {platform.platform()}", "",
             "| load | wall s | server CPU s | docs/s (wall) | load avg before → after | "
             "peak RSS MiB | on disk MiB | pieces |", "|---|---|---|---|---|---|---|---|"]
    for engine, key, pieces in (("Shale (file source)", "shale_load", "splits"),
                                ("ClickHouse (HTTP JSONEachRow)", "clickhouse_load", "parts")):
        load = report[key]
        lines.append(f"| {engine} | {load['seconds']:.1f} | {load['cpu']:.1f} | "
                     f"{report['num_docs'] / load['seconds']:,.0f} | {load['load']} | "
                     f"{load['peak_rss_mib']:,.0f} | {load['bytes'] / 2**20:,.1f} | "
                     f"{load[pieces]} {pieces} |")
    lines += ["", f"Queries: {report['runs']} warm runs each; latency is the client's wall "
              "clock (keep-alive HTTP on loopback); CPU is the server's user + system time "
              "per query. Ratio = ClickHouse / Shale (> 1: Shale is faster).", "",
              "| query | answer (both engines = generator) | Shale p50 / p99 ms | ClickHouse p50 / "
              "p99 ms | p50 ratio | p99 ratio | Shale CPU ms | ClickHouse CPU ms | CPU ratio |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s50, s99 = percentile(r["shale_ms"], 50), percentile(r["shale_ms"], 99)
        c50, c99 = percentile(r["ch_ms"], 50), percentile(r["ch_ms"], 99)
        answer = r["answer"] if r["agree"] else "**MISMATCH**"
        # /proc counts CPU time in clock ticks (10 ms): below a tick per run, no ratio.
        cpu_ratio = (f"{r['ch_cpu'] / r['shale_cpu']:.2f}×" if min(r["ch_cpu"], r["shale_cpu"]) > 0
                     else "-")
        lines.append(f"| {r['name']} | {answer} | {s50:.1f} / {s99:.1f} | {c50:.1f} / {c99:.1f} "
                     f"| {c50 / s50:.2f}× | {c99 / s99:.2f}× | {r['shale_cpu']:.1f} | "
                     f"{r['ch_cpu']:.1f} | {cpu_ratio} |")
    lines += ["", f"Peak RSS after the queries: Shale {report['shale_peak_rss_mib']:,.0f} MiB, "
              f"ClickHouse {report['clickhouse_peak_rss_mib']:,.0f} MiB. Load average at the "
              f"end: {load_average()}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
