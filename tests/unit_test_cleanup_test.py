#!/usr/bin/env python3
"""Unit test binaries remove the files their tests write (src/common/testing/test_main.cc).

Runs a unit test binary twice with TMPDIR pointing at an empty directory of this test's:
  1. with SHALE_KEEP_TEST_TMP=1: the tests' files must be there (so they do go under TMPDIR,
     and the second run below proves something);
  2. without it: the directory must be empty again when the binary exits.
Only the Python standard library is used.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def run(binary, gtest_filter, tmpdir, keep):
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_TMPDIR", "SHALE_KEEP_TEST_TMP")}
    env["TMPDIR"] = tmpdir
    if keep:
        env["SHALE_KEEP_TEST_TMP"] = "1"
    result = subprocess.run([binary, f"--gtest_filter={gtest_filter}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        print(result.stdout[-4000:])
        raise SystemExit(f"FAILED: {binary} exited with {result.returncode}")


def files_under(directory):
    return [os.path.join(root, name) for root, _, names in os.walk(directory) for name in names]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--filter", required=True)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="shale-unit-cleanup-")
    try:
        kept = os.path.join(workdir, "kept")
        cleaned = os.path.join(workdir, "cleaned")
        os.makedirs(kept)
        os.makedirs(cleaned)
        run(args.binary, args.filter, kept, keep=True)
        if not files_under(kept):
            raise SystemExit(f"FAILED: the tests wrote no file under TMPDIR={kept}")
        run(args.binary, args.filter, cleaned, keep=False)
        left = os.listdir(cleaned)
        if left:
            raise SystemExit(f"FAILED: the tests left {left} under TMPDIR={cleaned}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("unit_test_cleanup: the tests' files went under TMPDIR and were removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
