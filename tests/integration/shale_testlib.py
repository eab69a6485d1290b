"""Helpers shared by the integration tests: assertions, free ports and a small REST client.

Standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


class Failure(Exception):
    pass


class Fatal(Failure):
    """A Failure that wait_until does not take for "not yet": a predicate raises it when waiting
    longer cannot help (the process under test exited, a pipeline failed)."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """A REST client for one node; `index_id` is the index `num_hits` searches."""

    def __init__(self, port, index_id=None):
        self.base = f"http://127.0.0.1:{port}"
        self.index_id = index_id

    def request(self, method, path, body=None, params=None, headers=None):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def json(self, method, path, body=None, params=None, headers=None, expect=200):
        status, text = self.request(method, path, body, params, headers)
        check(status == expect, f"{method} {path} {params}: expected {expect}, got {status}: {text}")
        return json.loads(text)

    def num_hits(self, query, **params):
        params = dict(params, query=query, max_hits=0)
        return self.json("GET", f"/api/v1/{self.index_id}/search", params=params)["num_hits"]

    def counter(self, name):
        """The value of a metric from /metrics (`name` or `name{labels}`), 0 when absent."""
        _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        return 0


def numbered_docs_index_config(index_id, **indexing_settings):
    """An index of documents {"id": "doc-...", "n": <u64>, "body": <text>}: `id` and `n` are fast
    fields, so tests can count documents per range of `n` and aggregate on `id`."""
    return {
        "version": "0.8",
        "index_id": index_id,
        "doc_mapping": {
            "mode": "strict",
            "field_mappings": [
                {"name": "id", "type": "text", "tokenizer": "raw", "fast": True},
                {"name": "n", "type": "u64", "fast": True},
                {"name": "body", "type": "text"},
            ],
        },
        "indexing_settings": dict({"commit_timeout_secs": 3600}, **indexing_settings),
        "search_settings": {"default_search_fields": ["body"]},
    }


def check_each_n_once(client, index_id, total):
    """Checks that the index holds exactly `total` documents, those with n in [0, total), each
    id once: per range of n (a terms aggregation holds at most 65,000 buckets) the hits equal the
    range's size and the largest `id` bucket holds one document."""
    count = client.json("GET", f"/api/v1/{index_id}/search",
                        params={"query": "*", "max_hits": 0})["num_hits"]
    check(count == total, f"{count} docs searchable, expected exactly {total}")
    chunk = 50_000
    for first in range(0, total, chunk):
        last = min(total, first + chunk) - 1
        query = f"n:[{first} TO {last}]"
        aggs = {"ids": {"terms": {"field": "id", "size": 1}}}
        result = client.json("POST", f"/api/v1/{index_id}/search",
                             json.dumps({"query": query, "max_hits": 0, "aggs": aggs}))
        check(result["num_hits"] == last - first + 1, f"{query}: {result['num_hits']} hits")
        ids = result["aggregations"]["ids"]
        top = ids["buckets"][0]
        check(top["doc_count"] == 1, f"id {top['key']} is indexed {top['doc_count']} times")
        check(top["doc_count"] + ids["sum_other_doc_count"] == last - first + 1,
              f"{query}: id buckets sum to {top['doc_count'] + ids['sum_other_doc_count']}")


# The HDFS-like log documents of the integration tests.
SEVERITIES = ["INFO"] * 80 + ["WARN"] * 12 + ["ERROR"] * 6 + ["DEBUG"] * 2
SERVICES = ["datanode", "datanode", "datanode", "namenode", "dfsclient", "balancer"]


def tokens(text):
    """The lower-cased words of `text`, as the `default` tokenizer cuts them."""
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+", text)]


def wait_until(description, predicate, timeout, interval=0.1):
    """Polls `predicate` every `interval` seconds until it is true and returns the seconds that
    took; Failure after `timeout` (a Failure or a connection error raised by `predicate` counts
    as false, a Fatal one is raised at once)."""
    start = time.time()
    last_error = None
    while time.time() - start < timeout:
        try:
            if predicate():
                return time.time() - start
        except Fatal:
            raise
        except (Failure, OSError) as error:
            last_error = error
        time.sleep(interval)
    raise Failure(f"{description}: not true after {timeout}s (last error: {last_error})")


def wait_ready(client, process, timeout=60):
    """Waits until the node answers /health/readyz with 200; Failure if it exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise Failure(f"shale exited early with code {process.returncode}")
        try:
            status, _ = client.request("GET", "/health/readyz")
            if status == 200:
                return client
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise Failure("node did not become ready")


S3RVER_BUCKET = "test-bucket"


class S3rver:
    """s3rver (tests/s3, installed by tools/install_deps.sh) on a free port of 127.0.0.1 with the
    bucket `test-bucket`, its data under `workdir`. Use as a context manager."""

    def __init__(self, workdir):
        self.bin = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "s3",
                                "node_modules", ".bin", "s3rver")
        self.workdir = workdir
        self.port = None
        self.process = None
        self.log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        if not os.path.exists(self.bin):
            raise Failure(f"s3rver is not installed at {self.bin}: run tools/install_deps.sh")
        self.port = free_port()
        directory = os.path.join(self.workdir, "s3rver")
        os.makedirs(directory, exist_ok=True)
        env = dict(os.environ)
        # s3rver 3.7.1 makes continuation tokens with DES: Node >= 17 needs the legacy provider.
        env["NODE_OPTIONS"] = ("--openssl-legacy-provider " + env.get("NODE_OPTIONS", "")).strip()
        self.log = open(os.path.join(self.workdir, "s3rver.log"), "w")
        self.process = subprocess.Popen(
            [self.bin, "--directory", directory, "--address", "127.0.0.1", "--port",
             str(self.port), "--silent", "--configure-bucket", S3RVER_BUCKET],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"s3rver exited early with code {self.process.returncode}")
            try:
                self.list_keys("")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise Failure("s3rver did not answer")

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()

    def list_keys(self, prefix):
        """Every key of the bucket under `prefix` (ListObjectsV2, unsigned: s3rver allows it)."""
        keys = []
        token = None
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            url = f"{self.endpoint}/{S3RVER_BUCKET}?" + urllib.parse.urlencode(params)
            with urllib.request.urlopen(url, timeout=60) as response:
                text = response.read().decode()
            keys += [urllib.parse.unquote(k) for k in re.findall(r"<Key>([^<]*)</Key>", text)]
            match = re.search(r"<NextContinuationToken>([^<]*)</NextContinuationToken>", text)
            if "<IsTruncated>true</IsTruncated>" not in text or not match:
                return keys
            token = match.group(1)

    def node_config(self):
        """The `storage.s3` section of a node config reaching this server."""
        return (f"storage:\n  s3:\n    endpoint: {self.endpoint}\n    region: us-east-1\n"
                f"    force_path_style_access: true\n    access_key_id: S3RVER\n"
                f"    secret_access_key: S3RVER\n")


class ShaleNode:
    """One `shale run` process with the given YAML config (rest.listen_port and, unless the config
    sets it, grpc_listen_port are added) and extra environment variables; its output goes to
    `workdir/<name>.log`. The ports are chosen once and kept across restarts, so `client` (one
    object for the node's life) stays valid and peers find a restarted node at its address.
    `gossip_addr` is the address to list in other nodes' peer_seeds."""

    def __init__(self, shale_bin, workdir, name, config, env=None):
        self.shale_bin = shale_bin
        self.workdir = workdir
        self.name = name
        self.config = config
        self.env = env or {}
        self.process = None
        self.port = free_port()
        self.grpc_port = free_port()
        while self.grpc_port == self.port:
            self.grpc_port = free_port()
        self.client = Client(self.port)
        self.log = None
        self.starts = 0
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.config_path = os.path.join(workdir, f"{name}.yaml")

    def cluster(self):
        """The node's `GET /api/v1/cluster` answer."""
        return self.client.json("GET", "/api/v1/cluster")

    def cluster_ids(self, field):
        """The sorted node ids of one list (`ready_nodes`, `live_nodes`, `dead_nodes`) of
        cluster()."""
        return sorted(node["node_id"] for node in self.cluster()[field])

    def start(self, index_id=None, timeout=180):
        if index_id is not None:
            self.client.index_id = index_id
        port = self.port
        grpc = "" if "grpc_listen_port" in self.config else f"grpc_listen_port: {self.grpc_port}\n"
        with open(self.config_path, "w") as config:
            config.write(f"version: 0.8\nnode_id: {self.name}\nlisten_address: 127.0.0.1\n"
                         f"rest:\n  listen_port: {port}\n" + grpc + self.config)
        self.starts += 1
        self.log = open(self.log_path, "a")
        self.log.write(f"==== start {self.starts} ====\n")
        self.log.flush()
        self.process = subprocess.Popen([self.shale_bin, "run", "--config", self.config_path],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, **self.env))
        return wait_ready(self.client, self.process, timeout)

    @property
    def gossip_addr(self):
        return f"127.0.0.1:{self.port}"

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill9(self):
        """SIGKILL: a crash."""
        self.process.send_signal(signal.SIGKILL)
        code = self.process.wait(timeout=60)
        check(code == -signal.SIGKILL, f"{self.name} should die of SIGKILL, exit code {code}")
        self.log.close()

    def wait_exit(self, timeout=120):
        """Waits for the process to exit on its own (a test crash point) and returns its exit
        code; Failure when it is still running after `timeout` seconds."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} still runs after {timeout} s")
        self.log.close()
        return code

    def stop(self, timeout=300):
        """SIGTERM, then waits (a graceful stop commits what is pending)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None and not self.log.closed:
            self.log.close()
        return self.process.returncode if self.process is not None else None


def run_test_main(name, run, arguments):
    """Parses `arguments` (flag names, all required), runs `run(args, workdir)` in a temporary
    directory and prints the tail of each `workdir/*.log` on failure. Returns the exit code.
    SHALE_KEEP_TEST_DIR=1 keeps the directory."""
    parser = argparse.ArgumentParser()
    for argument in arguments:
        parser.add_argument(argument, required=True)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix=f"shale-{name}-")
    try:
        run(args, workdir)
    except Failure as failure:
        print(f"FAILED: {failure}")
        for log_name in sorted(os.listdir(workdir)):
            if log_name.endswith(".log"):
                print(f"---- {log_name} (tail) ----")
                with open(os.path.join(workdir, log_name), errors="replace") as log:
                    print("".join(log.readlines()[-60:]))
        return 1
    finally:
        if os.environ.get("SHALE_KEEP_TEST_DIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{name}: all checks passed")
    return 0
