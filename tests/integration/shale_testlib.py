"""Helpers shared by the integration tests: assertions, free ports and a small REST client.

Standard library only.
"""
import argparse
import json
import os
import shutil
import socket
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


def wait_ready(client, process, timeout=60):
    """Waits until the node answers /health/readyz; Failure if it exits or times out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise Failure(f"shale exited early with code {process.returncode}")
        try:
            status, _ = client.request("GET", "/health/readyz")
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise Failure("node did not become ready")


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
