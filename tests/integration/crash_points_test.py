#!/usr/bin/env python3
"""Integration test: the real `shale` binary dies at each stage boundary of its pipelines.

The test-only crash points of docs/durability.md (SHALE_TEST_CRASH_AT=<point>:<nth>) make the
node `_exit(86)` right after a stage: WAL append (before the ack), split build, stage, upload and
publish (before the WAL truncation) for the ingest API and for a file source, and upload and
replace-publish for a merge; and in the middle of a WAL write (the key record whole, the
documents record torn). For each point the test:

1. starts a node with the hook and feeds it a known set of documents (ingest API: batches with
   idempotency keys and commit=force, one split per batch; file source: one file, one split per
   batch of lines; merges: three splits merged into one),
2. waits for the crash (exit code 86, the point named in the log),
3. lists the leaked objects with `shale tool gc --dry-run --grace-period 0s --json`: at most the
   splits in flight (one), and exactly what the point predicts (a staged record without file
   after a stage, with its file after an upload, nothing otherwise),
4. for half of the points deletes them with `shale tool gc --grace-period 0s`; for the others
   the restarted node deletes its own staged splits itself,
5. restarts without the hook, resends every unacknowledged batch with its key (the WAL already
   holds it: the answer is an idempotent replay; after a torn write, it is not, and the batch
   is indexed), sends the rest,
6. checks the exact final count, each id once (`check_each_n_once`), that no staged split is
   left, and that the index storage holds exactly the files of the published splits (published
   splits never touched by the gc).

The ingest point after an upload also runs with the metastore and the index on s3rver.
Only the Python standard library is used.
"""
import http.client
import json
import os
import subprocess
import time
import urllib.error

from shale_testlib import (S3rver, S3RVER_BUCKET, ShaleNode, check, check_each_n_once,
                           numbered_docs_index_config, run_test_main)

CRASH_EXIT_CODE = 86
BATCH_DOCS = 200
NUM_BATCHES = 5
CRASH_AT_BATCH = 2  # the third request / commit: two splits are published before the crash
NO_ANSWER = (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException)

INGEST_POINTS = ["ingest_after_wal_append", "ingest_after_split_build", "ingest_after_stage",
                 "ingest_after_upload", "ingest_after_publish", "ingest_torn_wal_write"]
SOURCE_POINTS = ["source_after_split_build", "source_after_stage", "source_after_upload",
                 "source_after_publish"]
MERGE_POINTS = ["merge_after_upload", "merge_after_publish"]
# What a crash at each point leaves: (staged splits, of which with a file).
EXPECTED_LEAKS = {
    "after_wal_append": (0, 0), "after_split_build": (0, 0), "after_stage": (1, 0),
    "after_upload": (1, 1), "after_publish": (0, 0), "torn_wal_write": (0, 0),
}


def docs_body(first, count):
    return "".join(json.dumps({"id": f"doc-{n:06d}", "n": n, "body": f"crash point event {n}"})
                   + "\n" for n in range(first, first + count))


def ingest_batch(client, index_id, batch):
    """Sends batch `batch` with its idempotency key and commit=force. Returns the answer, or
    None when the node gave none (it died)."""
    try:
        status, text = client.request(
            "POST", f"/api/v1/{index_id}/ingest", docs_body(batch * BATCH_DOCS, BATCH_DOCS),
            params={"commit": "force"}, headers={"Idempotency-Key": f"{index_id}-batch-{batch}"})
    except NO_ANSWER:
        return None
    check(status == 200, f"batch {batch}: HTTP {status}: {text[:300]}")
    answer = json.loads(text)
    check(answer["num_ingested_docs"] == BATCH_DOCS, f"batch {batch}: {answer}")
    return answer


def wait_crash(node, point):
    code = node.wait_exit(timeout=120)
    check(code == CRASH_EXIT_CODE, f"{point}: exit code {code}, expected {CRASH_EXIT_CODE}")
    with open(node.log_path, errors="replace") as log:
        text = log.read()
    check(f"crash point reached point={point} nth=" in text, f"{point}: no crash line in the log")


def run_gc(shale_bin, node, index_id, dry_run):
    command = [shale_bin, "tool", "gc", "--config", node.config_path, "--index", index_id,
               "--grace-period", "0s", "--json"]
    if dry_run:
        command.append("--dry-run")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"{' '.join(command)} failed: {result.stderr}")
    reports = json.loads(result.stdout)
    check(len(reports) == 1 and reports[0]["index_id"] == index_id, f"gc report: {reports}")
    return reports[0]


def check_leaks(point, report, expected_staged, expected_with_file):
    """The leaked objects of one crash: bounded by the splits in flight (one) and as predicted."""
    staged = report["staged_splits"]
    leaked = len(staged) + len(report["orphan_files"])
    check(leaked <= 1, f"{point}: {leaked} leaked objects, at most 1 split is in flight: {report}")
    with_file = [s for s in staged if s["file_num_bytes"] is not None]
    check(len(staged) == expected_staged and len(with_file) == expected_with_file,
          f"{point}: expected {expected_staged} staged splits ({expected_with_file} with a file), "
          f"listed {report}")
    check(not report["orphan_files"], f"{point}: orphan files {report['orphan_files']}")
    for split in with_file:
        check(split["file_num_bytes"] > 0, f"{point}: empty leaked file {split}")


def split_ids(client, index_id, state):
    splits = client.json("GET", f"/api/v1/indexes/{index_id}/splits")["splits"]
    return sorted(s["split_id"] for s in splits if s["split_state"] == state)


def published_split_ids(client, index_id):
    """The published splits; Failure if a staged split is left (call it once nothing runs)."""
    staged = split_ids(client, index_id, "Staged")
    check(not staged, f"staged splits left after the restart: {staged}")
    return split_ids(client, index_id, "Published")


def check_storage_holds_published(split_files, client, index_id, what):
    """The index storage holds exactly the files of the published splits."""
    published = published_split_ids(client, index_id)
    files = sorted(name[:-len(".split")] for name in split_files() if name.endswith(".split"))
    check(files == published, f"{what}: split files {files} != published splits {published}")
    return published


def local_split_files(data_dir, index_id):
    directory = os.path.join(data_dir, "indexes", index_id)
    return lambda: os.listdir(directory) if os.path.isdir(directory) else []


def s3_split_files(s3, prefix):
    return lambda: [key[len(prefix):] for key in s3.list_keys(prefix)
                    if "/" not in key[len(prefix):]]


def index_name(point):
    """`ingest_after_stage` -> `ingest-after-stage`."""
    return point.replace("_", "-")


def expected_leaks(point):
    return EXPECTED_LEAKS[point.split("_", 1)[1]]


def run_ingest_point(args, workdir, point, config, split_files, collect_with_tool,
                     node_name=None):
    index_id = index_name(point)
    node = ShaleNode(args.shale_bin, workdir, node_name or index_id, config,
                     env={"SHALE_TEST_CRASH_AT": f"{point}:{CRASH_AT_BATCH + 1}"})
    try:
        client = node.start(index_id=index_id)
        client.json("POST", "/api/v1/indexes", json.dumps(numbered_docs_index_config(
            index_id, merge_policy={"type": "no_merge"})))
        for batch in range(CRASH_AT_BATCH):
            check(ingest_batch(client, index_id, batch) is not None, f"batch {batch} unanswered")
        check(ingest_batch(client, index_id, CRASH_AT_BATCH) is None,
              f"{point}: batch {CRASH_AT_BATCH} was answered, the node should have died")
        wait_crash(node, point)

        expected_staged, expected_with_file = expected_leaks(point)
        report = run_gc(args.shale_bin, node, index_id, dry_run=True)
        check_leaks(point, report, expected_staged, expected_with_file)
        published_before = CRASH_AT_BATCH + (1 if point.endswith("after_publish") else 0)
        check(report["num_published_splits"] == published_before,
              f"{point}: {report['num_published_splits']} published splits before the restart")
        if collect_with_tool:
            deleted = run_gc(args.shale_bin, node, index_id, dry_run=False)
            check(not deleted["dry_run"] and len(deleted["staged_splits"]) == expected_staged,
                  f"{point}: gc deleted {deleted}")
            check_leaks(point, run_gc(args.shale_bin, node, index_id, dry_run=True), 0, 0)

        node.env = {}
        node.start()
        # The WAL held the unacknowledged batch with its key: the resend is a replay. Unless
        # the write was torn: then the key record is whole but not the documents, and the
        # batch must be indexed by the resend.
        torn = point == "ingest_torn_wal_write"
        resent = ingest_batch(client, index_id, CRASH_AT_BATCH)
        check(resent is not None and resent.get("idempotent_replay") is not torn,
              f"{point}: the resend of batch {CRASH_AT_BATCH} should "
              f"{'not ' if torn else ''}be a replay: {resent}")
        for batch in range(CRASH_AT_BATCH + 1, NUM_BATCHES):
            answer = ingest_batch(client, index_id, batch)
            check(answer is not None and not answer.get("idempotent_replay"),
                  f"batch {batch}: {answer}")
        check_each_n_once(client, index_id, NUM_BATCHES * BATCH_DOCS)
        published = check_storage_holds_published(split_files, client, index_id, point)
        check(len(published) == NUM_BATCHES, f"{point}: {len(published)} published splits")
        print(f"ok  {point}: crashed at batch {CRASH_AT_BATCH}, leaked {expected_staged} staged "
              f"split(s) ({expected_with_file} file), "
              f"{'collected by tool gc' if collect_with_tool else 'deleted by the restart'}, "
              f"{NUM_BATCHES * BATCH_DOCS} docs once each")
    finally:
        node.stop()


def source_pipeline(client, index_id):
    for pipeline in client.json("GET", "/api/v1/indexing")["sources"]:
        if pipeline["index_id"] == index_id:
            return pipeline
    return None


def run_source_point(args, workdir, point, collect_with_tool):
    index_id = index_name(point)
    input_path = os.path.join(workdir, f"{index_id}.ndjson")
    with open(input_path, "w") as out:
        out.write(docs_body(0, NUM_BATCHES * BATCH_DOCS))
    data_dir = os.path.join(workdir, f"{index_id}-data")
    node = ShaleNode(args.shale_bin, workdir, index_id, f"data_dir: {data_dir}\n",
                     env={"SHALE_TEST_CRASH_AT": f"{point}:{CRASH_AT_BATCH + 1}"})
    try:
        client = node.start(index_id=index_id)
        client.json("POST", "/api/v1/indexes", json.dumps(numbered_docs_index_config(
            index_id, split_num_docs_target=BATCH_DOCS, merge_policy={"type": "no_merge"})))
        client.json("POST", f"/api/v1/indexes/{index_id}/sources", json.dumps({
            "version": "0.8", "source_id": "file", "source_type": "file",
            "params": {"filepath": input_path}}))
        wait_crash(node, point)

        expected_staged, expected_with_file = expected_leaks(point)
        report = run_gc(args.shale_bin, node, index_id, dry_run=True)
        check_leaks(point, report, expected_staged, expected_with_file)
        if collect_with_tool:
            run_gc(args.shale_bin, node, index_id, dry_run=False)
            check_leaks(point, run_gc(args.shale_bin, node, index_id, dry_run=True), 0, 0)

        node.env = {}
        node.start()
        deadline = time.time() + 300
        pipeline = None
        while time.time() < deadline:
            pipeline = source_pipeline(client, index_id)
            if pipeline is not None and pipeline["state"] == "idle":
                break
            time.sleep(0.1)
        check(pipeline is not None and pipeline["state"] == "idle",
              f"{point}: the source did not finish: {pipeline}")
        check_each_n_once(client, index_id, NUM_BATCHES * BATCH_DOCS)
        published = check_storage_holds_published(local_split_files(data_dir, index_id), client,
                                                  index_id, point)
        check(len(published) == NUM_BATCHES, f"{point}: {len(published)} published splits")
        print(f"ok  {point}: leaked {expected_staged} staged split(s) ({expected_with_file} "
              f"file), the restarted source indexed {NUM_BATCHES * BATCH_DOCS} docs once each")
    finally:
        node.stop()


def run_merge_point(args, workdir, point, collect_with_tool):
    index_id = index_name(point)
    num_batches = 3
    data_dir = os.path.join(workdir, f"{index_id}-data")
    node = ShaleNode(args.shale_bin, workdir, index_id, f"data_dir: {data_dir}\n",
                     env={"SHALE_TEST_CRASH_AT": f"{point}:1"})
    merge_policy = {"type": "stable_log", "merge_factor": num_batches,
                    "max_merge_factor": num_batches}
    try:
        client = node.start(index_id=index_id)
        client.json("POST", "/api/v1/indexes", json.dumps(numbered_docs_index_config(
            index_id, merge_policy=merge_policy)))
        # The third publish wakes the planner, which merges the three splits and dies: the
        # third answer may or may not arrive first.
        unanswered = [b for b in range(num_batches) if ingest_batch(client, index_id, b) is None]
        check(unanswered in ([], [num_batches - 1]), f"{point}: unanswered batches {unanswered}")
        wait_crash(node, point)

        report = run_gc(args.shale_bin, node, index_id, dry_run=True)
        if point == "merge_after_upload":
            check_leaks(point, report, 1, 1)
            check(report["num_published_splits"] == num_batches, f"{point}: {report}")
        else:
            check_leaks(point, report, 0, 0)
            # The replaced inputs wait for the deletion grace period; the merged split is live.
            check(len(report["marked_splits"]) == num_batches and
                  report["num_published_splits"] == 1, f"{point}: {report}")
        if collect_with_tool:
            run_gc(args.shale_bin, node, index_id, dry_run=False)
            after = run_gc(args.shale_bin, node, index_id, dry_run=True)
            check_leaks(point, after, 0, 0)
            check(not after["marked_splits"], f"{point}: marked splits left {after}")

        node.env = {}
        node.start()
        for batch in unanswered:
            resent = ingest_batch(client, index_id, batch)
            check(resent is not None and resent.get("idempotent_replay") is True,
                  f"{point}: the resend of batch {batch} should be a replay: {resent}")
        deadline = time.time() + 300
        published = []
        while time.time() < deadline:
            # A merge planned after the restart is staged while it runs.
            published = split_ids(client, index_id, "Published")
            if len(published) == 1:
                break
            time.sleep(0.2)
        check(len(published) == 1, f"{point}: the merge did not complete: {published}")
        check(published_split_ids(client, index_id) == published, f"{point}: splits changed")
        check_each_n_once(client, index_id, num_batches * BATCH_DOCS)
        if collect_with_tool:
            check_storage_holds_published(local_split_files(data_dir, index_id), client,
                                          index_id, point)
        print(f"ok  {point}: {num_batches} splits merged into 1 after the restart, "
              f"{num_batches * BATCH_DOCS} docs once each")
    finally:
        node.stop()


def run(args, workdir):
    for number, point in enumerate(INGEST_POINTS):
        data_dir = os.path.join(workdir, f"{index_name(point)}-data")
        run_ingest_point(args, workdir, point, f"data_dir: {data_dir}\n",
                         local_split_files(data_dir, index_name(point)),
                         collect_with_tool=number % 2 == 0)
    for number, point in enumerate(SOURCE_POINTS):
        run_source_point(args, workdir, point, collect_with_tool=number % 2 == 1)
    for number, point in enumerate(MERGE_POINTS):
        run_merge_point(args, workdir, point, collect_with_tool=number % 2 == 1)

    point = "ingest_after_upload"
    with S3rver(workdir) as s3:
        for collect_with_tool in (True, False):
            run_name = "s3-gc" if collect_with_tool else "s3-restart"
            config = (f"data_dir: {workdir}/{run_name}\n"
                      f"metastore_uri: s3://{S3RVER_BUCKET}/{run_name}/metastore\n"
                      f"default_index_root_uri: s3://{S3RVER_BUCKET}/{run_name}/indexes\n"
                      + s3.node_config())
            files = s3_split_files(s3, f"{run_name}/indexes/{index_name(point)}/")
            run_ingest_point(args, workdir, point, config, files, collect_with_tool,
                             node_name=f"{run_name}-{index_name(point)}")
        print("ok  the same on s3rver (metastore and index), with tool gc and with the restart")


if __name__ == "__main__":
    raise SystemExit(run_test_main("crash-points", run, ["--shale-bin"]))
