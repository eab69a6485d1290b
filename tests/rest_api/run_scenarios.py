#!/usr/bin/env python3
"""Runs Quickwit's REST API scenario files against a Shale node.

The scenario format is described in ../shared/qw-rest-api-tests/README.md: a folder tree of YAML
files, each a sequence of request / expected-response steps, with `_ctx`, `_setup` and
`_teardown` files applied per folder. This runner follows those rules with the standard library
plus PyYAML (Debian python3-yaml).

By default it starts its own node (`--shale-bin`) on a free loopback port with a temporary data
dir, rewrites `localhost:7280` to that port, runs the selected scenario folders, and prints one
line per file and a closing `N passed, N failed` line. With `--expect-pass FILE`, only the
scenario files listed there must pass (others are reported as not supported yet, never hidden);
the exit code is non-zero if an expected file fails.
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from shale_testlib import ShaleNode  # noqa: E402 - the shared node launcher of the tests

import yaml


class StepFailure(Exception):
    pass


def load_steps(path):
    with open(path, encoding="utf-8") as source:
        text = source.read()
    steps = []
    for chunk in text.split("\n---"):
        if not chunk.strip():
            continue
        document = yaml.safe_load(chunk)
        if isinstance(document, dict):
            steps.append(document)
    return steps


def load_ctx(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as source:
        document = yaml.safe_load(source.read())
    return document if isinstance(document, dict) else {}


def resolve_previous(value, previous):
    if isinstance(value, dict):
        if set(value.keys()) == {"$previous"}:
            return eval(value["$previous"], {}, {"val": previous})  # scenario files are trusted
        return {key: resolve_previous(item, previous) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_previous(item, previous) for item in value]
    return value


def check_expected(expected, actual, path="$"):
    if isinstance(expected, dict):
        if set(expected.keys()) == {"$expect"}:
            expressions = expected["$expect"]
            expression = expressions[0] if isinstance(expressions, list) else expressions
            if not eval(expression, {}, {"val": actual}):
                raise StepFailure(f"{path}: expectation `{expression}` failed on {actual!r}")
            return
        if not isinstance(actual, dict):
            raise StepFailure(f"{path}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if key not in actual:
                raise StepFailure(f"{path}: missing key `{key}` in {json.dumps(actual)[:300]}")
            check_expected(value, actual[key], f"{path}.{key}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise StepFailure(f"{path}: expected list of {len(expected)}, got {json.dumps(actual)[:300]}")
        for index, (item_expected, item_actual) in enumerate(zip(expected, actual)):
            check_expected(item_expected, item_actual, f"{path}[{index}]")
        return
    if type(expected) is not type(actual) or expected != actual:
        raise StepFailure(f"{path}: expected {expected!r} ({type(expected).__name__}), "
                          f"got {actual!r} ({type(actual).__name__})")


class Runner:
    def __init__(self, port, engine, scenario_root, verbose):
        self.port = port
        self.engine = engine
        self.scenario_root = scenario_root
        self.verbose = verbose
        self.previous = None

    def rewrite(self, url):
        return url.replace("localhost:7280", f"127.0.0.1:{self.port}")

    def send(self, method, url, body, headers):
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def run_step(self, step, folder):
        if step.get("engines") and self.engine not in step["engines"]:
            return
        method = step.get("method")
        if method is None:
            time.sleep(step.get("sleep_after", 0))
            return
        methods = method if isinstance(method, list) else [method]
        url = self.rewrite(step["api_root"].rstrip("/") + "/" + step["endpoint"].lstrip("/"))
        params = resolve_previous(step.get("params"), self.previous)
        if params:
            # Booleans as the lowercase words servers expect, like the requests library's
            # callers write them in these files.
            encoded = urllib.parse.urlencode(
                {k: ("true" if v is True else "false" if v is False else v)
                 for k, v in params.items()})
            url += ("&" if "?" in url else "?") + encoded
        headers = dict(resolve_previous(step.get("headers"), self.previous) or
                       {"user-agent": "my-app/0.0.1"})
        bodies = [None]
        if "json" in step:
            bodies = [json.dumps(resolve_previous(step["json"], self.previous)).encode()]
            headers.setdefault("Content-Type", "application/json")
        elif "data" in step:
            data = resolve_previous(step["data"], self.previous)
            bodies = [data.encode() if isinstance(data, str) else data]
        elif "ndjson" in step:
            bodies = ["".join(json.dumps(doc) + "\n" for doc in step["ndjson"]).encode()]
            headers["Content-Type"] = "application/json"
        elif "shuffle_ndjson" in step:
            docs = list(step["shuffle_ndjson"])
            rng = random.Random(step.get("seed"))
            rng.shuffle(docs)
            num_batches = rng.randint(step.get("min_splits", 1), step.get("max_splits", 5))
            num_batches = max(1, min(num_batches, len(docs)))
            bounds = sorted(rng.sample(range(1, len(docs)), num_batches - 1)) if num_batches > 1 else []
            bodies, start = [], 0
            for end in bounds + [len(docs)]:
                bodies.append("".join(json.dumps(doc) + "\n" for doc in docs[start:end]).encode())
                start = end
            headers["Content-Type"] = "application/json"
        elif "body_from_file" in step:
            with open(os.path.join(folder, step["body_from_file"]), "rb") as source:
                bodies = [source.read()]
        expected_status = step.get("status_code", 200)
        num_retries = step.get("num_retries", 0)
        for body in bodies:
            for method_name in methods:
                for attempt in range(num_retries + 1):
                    status, raw = self.send(method_name, url, body, headers)
                    if expected_status is None or status == expected_status or attempt == num_retries:
                        break
                    time.sleep(0.5)
                try:
                    parsed = json.loads(raw.decode("utf-8") if raw else "")
                except (ValueError, UnicodeDecodeError):
                    raise StepFailure(f"{method_name} {url}: response is not JSON: {raw[:200]!r}")
                if self.verbose or step.get("debug"):
                    print(f"    {method_name} {url} -> {status} {json.dumps(parsed)[:500]}")
                if expected_status is not None and status != expected_status:
                    raise StepFailure(f"{method_name} {url}: expected status {expected_status}, "
                                      f"got {status}: {json.dumps(parsed)[:300]}")
                self.previous = parsed
        if "expected" in step:
            check_expected(step["expected"], self.previous)
        if step.get("sleep_after"):
            time.sleep(step["sleep_after"])

    def run_file(self, path, context):
        folder = os.path.dirname(path)
        for index, raw_step in enumerate(load_steps(path)):
            step = copy.deepcopy(context)
            step.update(raw_step)
            try:
                self.run_step(step, folder)
            except StepFailure as failure:
                return f"step {index + 1} ({raw_step.get('desc') or raw_step.get('endpoint')}): {failure}"
            except (urllib.error.URLError, OSError) as error:
                return f"step {index + 1}: connection error {error}"
        return None


def collect(root, prefixes):
    files = []
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            if not filename.endswith(".yaml") or filename.startswith("_"):
                continue
            relative = os.path.relpath(os.path.join(dirpath, filename), root)
            if not prefixes or any(relative.startswith(prefix) for prefix in prefixes):
                files.append(relative)
    return sorted(files)


def run_tree(runner, root, files, results):
    """Visits folders depth-first, children sorted, applying ctx/setup/teardown per folder."""
    folders = sorted({os.path.dirname(f) for f in files})
    tree = {}
    for folder in folders:
        node = tree
        for part in [p for p in folder.split(os.sep) if p]:
            node = node.setdefault(part, {})

    def visit(relative_folder, subtree, context):
        folder = os.path.join(root, relative_folder)
        context = dict(context, cwd=folder)
        context.update(load_ctx(os.path.join(folder, "_ctx.yaml")))
        context.update(load_ctx(os.path.join(folder, f"_ctx.{runner.engine}.yaml")))
        for setup in ("_setup.yaml", f"_setup.{runner.engine}.yaml"):
            path = os.path.join(folder, setup)
            if os.path.exists(path):
                error = runner.run_file(path, context)
                if error:
                    print(f"SETUP FAILED {os.path.join(relative_folder, setup)}: {error}")
        for relative in files:
            if os.path.dirname(relative) == relative_folder:
                error = runner.run_file(os.path.join(root, relative), context)
                results[relative] = error
                print(("PASS " if error is None else "FAIL ") + relative +
                      ("" if error is None else f"\n     {error}"))
        for child in sorted(subtree):
            visit(os.path.join(relative_folder, child) if relative_folder else child,
                  subtree[child], context)
        for teardown in ("_teardown.yaml", f"_teardown.{runner.engine}.yaml"):
            path = os.path.join(folder, teardown)
            if os.path.exists(path):
                runner.run_file(path, context)

    visit("", tree, {})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarii", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
        "qw-rest-api-tests", "scenarii"))
    parser.add_argument("--shale-bin", help="start this binary on a free port")
    parser.add_argument("--port", type=int, default=7280, help="an already running node")
    parser.add_argument("--engine", default="quickwit")
    parser.add_argument("--test", action="append", default=[], help="scenario path prefix")
    parser.add_argument("--expect-pass", help="file listing the scenario files that must pass")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    root = os.path.abspath(args.scenarii)
    if not os.path.isdir(root):
        print(f"SKIPPED: scenario folder {root} is absent (../shared not checked out)")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    files = collect(root, args.test)
    workdir = tempfile.mkdtemp(prefix="shale-scenarios-")
    node = None
    port = args.port
    try:
        if args.shale_bin:
            node = ShaleNode(args.shale_bin, workdir, "node", f"data_dir: {workdir}/data\n")
            node.start(timeout=60)
            port = node.port
        results = {}
        run_tree(Runner(port, args.engine, root, args.verbose), root, files, results)
    finally:
        if node is not None:
            node.stop(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    passed = sorted(f for f, error in results.items() if error is None)
    failed = sorted(f for f, error in results.items() if error is not None)
    if args.expect_pass:
        with open(args.expect_pass) as source:
            expected = [line.split("#")[0].strip() for line in source]
        expected = [line for line in expected if line]
        regressions = [f for f in expected if f in failed or f not in results]
        not_supported = [f for f in failed if f not in expected]
        print(f"scenario files: {len(passed)} pass, {len(failed)} fail "
              f"({len(not_supported)} not supported yet, listed in docs/rest-api-conformance.md)")
        for regression in regressions:
            print(f"REGRESSION: {regression} is expected to pass")
        print(f"{len(expected) - len(regressions)} passed, {len(regressions)} failed")
        return 1 if regressions else 0
    print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
