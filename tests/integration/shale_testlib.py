"""Helpers shared by the integration tests: assertions, free ports and a small REST client.

Standard library only.
"""
import argparse
import json
import os
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
        """The value of an unlabelled counter from /metrics, 0 when absent."""
        _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        return 0


class Node:
    """The real `shale` binary with every service, on a free loopback port, data under
    `workdir/data`, its log appended to `workdir/node.log`. `extra_config` is appended to the
    node config (YAML)."""

    def __init__(self, shale_bin, workdir, node_id, index_id=None, extra_config=""):
        self.shale_bin = shale_bin
        self.workdir = workdir
        self.node_id = node_id
        self.index_id = index_id
        self.extra_config = extra_config
        self.config_path = os.path.join(workdir, "node.yaml")
        self.process = None
        self.client = None
        self.log = None
        self.starts = 0

    def write_config(self, port):
        with open(self.config_path, "w") as config:
            config.write(f"version: 0.8\nnode_id: {self.node_id}\nlisten_address: 127.0.0.1\n"
                         f"rest:\n  listen_port: {port}\ndata_dir: {self.workdir}/data\n"
                         + self.extra_config)

    def start(self):
        """Starts the node and returns its Client once /health/readyz answers 200."""
        port = free_port()
        self.write_config(port)
        self.starts += 1
        self.log = open(os.path.join(self.workdir, "node.log"), "a")
        self.log.write(f"==== start {self.starts} ====\n")
        self.log.flush()
        self.process = subprocess.Popen([self.shale_bin, "run", "--config", self.config_path],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.client = Client(port, index_id=self.index_id)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"shale exited early with code {self.process.returncode}")
            try:
                status, _ = self.client.request("GET", "/health/readyz")
                if status == 200:
                    return self.client
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise Failure("node did not become ready")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        code = self.process.wait(timeout=60)
        check(code == -signal.SIGKILL, f"node should die of SIGKILL, exit code {code}")
        self.log.close()

    def stop(self):
        """SIGTERM, then waits (kills after 60 s). Returns the exit code, None if not running."""
        code = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None and not self.log.closed:
            self.log.close()
        return code


def run_test_main(name, run, arguments):
    """Parses `arguments` (flag names, all required), runs `run(args, workdir)` in a temporary
    directory and prints the tail of `workdir/node.log` on failure. Returns the exit code.
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
        log_path = os.path.join(workdir, "node.log")
        if os.path.exists(log_path):
            print("---- node log (tail) ----")
            with open(log_path) as log:
                print("".join(log.readlines()[-60:]))
        return 1
    finally:
        if os.environ.get("SHALE_KEEP_TEST_DIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{name}: all checks passed")
    return 0
