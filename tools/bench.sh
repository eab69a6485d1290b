#!/usr/bin/env bash
# End-to-end benchmark (`make bench`): starts a node on a free port with a temporary data dir,
# creates the `hdfs-logs` index, generates and ingests BENCH_NUM_DOCS HDFS-like documents with a
# forced commit, then measures search latency over the REST API.
# Prints a markdown table and writes it to bench/out/results.md.
#
# Environment:
#   SHALE_BIN_DIR       directory holding `shale` and `shale_gen_logs` (default: build/release/bin)
#   BENCH_NUM_DOCS      number of generated documents (default: 1000000)
#   BENCH_QUERY_RUNS    runs per query (default: 50)
#   BENCH_SEED          generator seed (default: 42)
#   BENCH_INGEST_CLIENTS  concurrent `shale index ingest` clients, each sending its share of the
#                       file's lines (default: 4; 1 = one client, one request at a time)
#   BENCH_KEEP_TMP=1    keep the temporary directory (node log, data dir) for inspection
# Needs bash, curl and python3 (stdlib only).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${SHALE_BIN_DIR:-${REPO_ROOT}/build/release/bin}"
NUM_DOCS="${BENCH_NUM_DOCS:-1000000}"
QUERY_RUNS="${BENCH_QUERY_RUNS:-50}"
SEED="${BENCH_SEED:-42}"
INGEST_CLIENTS="${BENCH_INGEST_CLIENTS:-4}"
START_TIMESTAMP=1700000000
DOCS_PER_SECOND=100
INDEX_ID="hdfs-logs"
OUT_DIR="${REPO_ROOT}/bench/out"
RESULTS_FILE="${OUT_DIR}/results.md"

SHALE="${BIN_DIR}/shale"
GEN_LOGS="${BIN_DIR}/shale_gen_logs"
for binary in "${SHALE}" "${GEN_LOGS}"; do
  if [[ ! -x "${binary}" ]]; then
    echo "error: ${binary} not found; build it first or set SHALE_BIN_DIR" >&2
    exit 1
  fi
done
for tool in curl python3; do
  command -v "${tool}" >/dev/null || { echo "error: ${tool} is required" >&2; exit 1; }
done

log() { echo "[bench] $*" >&2; }
now() { date +%s.%N; }

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/shale-bench.XXXXXX")"
NODE_PID=""
cleanup() {
  local status=$?
  if [[ -n "${NODE_PID}" ]] && kill -0 "${NODE_PID}" 2>/dev/null; then
    kill -TERM "${NODE_PID}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "${NODE_PID}" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "${NODE_PID}" 2>/dev/null || true
    wait "${NODE_PID}" 2>/dev/null || true
  fi
  if [[ "${BENCH_KEEP_TMP:-0}" == "1" || ${status} -ne 0 ]]; then
    log "kept ${WORK_DIR} (node log: ${WORK_DIR}/node.log)"
  else
    rm -rf "${WORK_DIR}"
  fi
  exit ${status}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A REST port whose gRPC port (+1, TCP) and gossip port (same number, UDP) are free too.
PORT="$(python3 - <<'EOF'
import socket
for _ in range(100):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if port >= 65535:
        continue
    try:
        sockets = []
        for kind, p in ((socket.SOCK_STREAM, port), (socket.SOCK_STREAM, port + 1),
                        (socket.SOCK_DGRAM, port)):
            s = socket.socket(socket.AF_INET, kind)
            sockets.append(s)
            s.bind(("127.0.0.1", p))
        print(port)
        break
    except OSError:
        pass
    finally:
        for s in sockets:
            s.close()
else:
    raise SystemExit("no free port found")
EOF
)"
ENDPOINT="http://127.0.0.1:${PORT}"

CONFIG_FILE="${WORK_DIR}/node.yaml"
cat >"${CONFIG_FILE}" <<EOF
version: 0.8
node_id: bench-node
listen_address: 127.0.0.1
rest:
  listen_port: ${PORT}
data_dir: ${WORK_DIR}/data
EOF

log "starting node on ${ENDPOINT} (data dir ${WORK_DIR}/data)"
"${SHALE}" run --config "${CONFIG_FILE}" >"${WORK_DIR}/node.log" 2>&1 &
NODE_PID=$!

ready=0
for _ in $(seq 1 300); do
  if ! kill -0 "${NODE_PID}" 2>/dev/null; then
    echo "error: the node exited during start-up; its log:" >&2
    tail -n 30 "${WORK_DIR}/node.log" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null "${ENDPOINT}/health/readyz" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [[ ${ready} -ne 1 ]]; then
  echo "error: the node at ${ENDPOINT} was not ready after 60s; its log:" >&2
  tail -n 30 "${WORK_DIR}/node.log" >&2
  exit 1
fi
log "node ready"

"${SHALE}" index create --endpoint "${ENDPOINT}" \
  --index-config "${REPO_ROOT}/bench/index-config.yaml" >&2

DATA_FILE="${WORK_DIR}/hdfs-logs.ndjson"
log "generating ${NUM_DOCS} documents"
gen_start="$(now)"
"${GEN_LOGS}" --num-docs "${NUM_DOCS}" --seed "${SEED}" --start-timestamp "${START_TIMESTAMP}" \
  --docs-per-second "${DOCS_PER_SECOND}" --output "${DATA_FILE}"
gen_end="$(now)"
DATA_BYTES="$(stat -c %s "${DATA_FILE}")"

# CPU seconds (user + system) the node has used so far, from /proc (the machine may be shared:
# CPU time is the figure that other processes disturb least).
node_cpu_secs() {
  python3 - "${NODE_PID}" <<'PYEOF'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
PYEOF
}

# Each client sends a contiguous share of the lines (split -n l/N keeps lines whole); a last
# empty request with commit=force makes everything searchable before the clock stops.
if (( INGEST_CLIENTS > 1 )); then
  split -n "l/${INGEST_CLIENTS}" -d -a 3 "${DATA_FILE}" "${WORK_DIR}/part."
else
  ln -s "${DATA_FILE}" "${WORK_DIR}/part.000"
fi
# The generator's output is written back to disk before the clock starts: its writeback would
# otherwise compete with the WAL's fsyncs.
sync
log "ingesting $(( DATA_BYTES / 1000000 )) MB with ${INGEST_CLIENTS} client(s), then commit=force"
ingest_cpu_start="$(node_cpu_secs)"
ingest_start="$(now)"
client_pids=()
for part in "${WORK_DIR}"/part.*; do
  "${SHALE}" index ingest --endpoint "${ENDPOINT}" --index "${INDEX_ID}" \
    --input-path "${part}" >"${part}.out" &
  client_pids+=($!)
done
for pid in "${client_pids[@]}"; do
  wait "${pid}" || { echo "error: an ingest client failed" >&2; cat "${WORK_DIR}"/part.*.out >&2; exit 1; }
done
ingest_acked="$(now)"
curl -fsS -X POST "${ENDPOINT}/api/v1/${INDEX_ID}/ingest?commit=force" --data-binary '' \
  >"${WORK_DIR}/force.out"
ingest_end="$(now)"
ingest_cpu_end="$(node_cpu_secs)"
NODE_PEAK_RSS_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/${NODE_PID}/status")"
# The clients' own summaries: documents and rejections add up.
read -r INGESTED_DOCS REJECTED_DOCS < <(cat "${WORK_DIR}"/part.*.out | python3 -c '
import re, sys
docs = rejected = 0
for line in sys.stdin:
    match = re.search(r"Ingested (\d+) documents .*; (\d+) rejected", line)
    if match:
        docs += int(match.group(1))
        rejected += int(match.group(2))
print(docs, rejected)')
log "ingested ${INGESTED_DOCS} documents, ${REJECTED_DOCS} rejected"

# Queries: name | query | extra parameters.
SPAN_SECS=$(( (NUM_DOCS + DOCS_PER_SECOND - 1) / DOCS_PER_SECOND ))
RANGE_START=$(( START_TIMESTAMP + SPAN_SECS / 4 ))
RANGE_END=$(( START_TIMESTAMP + SPAN_SECS / 2 ))
QUERIES=(
  "term|severity_text:ERROR|"
  "full-text term|body:terminating|"
  "boolean|severity_text:ERROR AND resource.service:datanode|"
  "time range|*|start_timestamp=${RANGE_START}&end_timestamp=${RANGE_END}"
  "match all|*|"
)

LATENCY_FILE="${WORK_DIR}/latencies.tsv"
: >"${LATENCY_FILE}"
for spec in "${QUERIES[@]}"; do
  IFS='|' read -r name query extra <<<"${spec}"
  curl_args=(-sS -G "${ENDPOINT}/api/v1/${INDEX_ID}/search" --data-urlencode "query=${query}"
             --data-urlencode "max_hits=10")
  if [[ -n "${extra}" ]]; then
    IFS='&' read -r -a extra_params <<<"${extra}"
    for param in "${extra_params[@]}"; do curl_args+=(--data-urlencode "${param}"); done
  fi
  # Warm-up run; also records the hit count.
  curl "${curl_args[@]}" -o "${WORK_DIR}/response.json" || true
  num_hits="$(python3 -c 'import json,sys
try:
    print(json.load(open(sys.argv[1])).get("num_hits", "?"))
except Exception:
    print("?")' "${WORK_DIR}/response.json")"
  log "query ${name}: ${num_hits} hits, ${QUERY_RUNS} runs"
  for _ in $(seq 1 "${QUERY_RUNS}"); do
    result="$(curl "${curl_args[@]}" -o /dev/null -w '%{http_code} %{time_total}' || echo "000 0")"
    printf '%s\t%s\t%s\t%s\t%s\n' "${name}" "${query}" "${extra}" "${num_hits}" "${result}" \
      >>"${LATENCY_FILE}"
  done
done

mkdir -p "${OUT_DIR}"
python3 - "${LATENCY_FILE}" "${RESULTS_FILE}" <<EOF
import math, platform, os, re, sys, time

latency_file, results_file = sys.argv[1], sys.argv[2]
num_docs = ${NUM_DOCS}
data_bytes = ${DATA_BYTES}
gen_secs = ${gen_end} - ${gen_start}
ingest_secs = ${ingest_end} - ${ingest_start}
acked_secs = ${ingest_acked} - ${ingest_start}
ingest_cpu_secs = ${ingest_cpu_end} - ${ingest_cpu_start}
node_peak_rss_mib = ${NODE_PEAK_RSS_KB} / 1024
ingested_docs, rejected_docs, ingest_clients = ${INGESTED_DOCS}, ${REJECTED_DOCS}, ${INGEST_CLIENTS}

def percentile(values, q):
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]

queries = {}
for line in open(latency_file):
    name, query, extra, hits, result = line.rstrip("\n").split("\t")
    code, seconds = result.split()
    entry = queries.setdefault(name, {"query": query, "extra": extra, "hits": hits,
                                      "ms": [], "errors": 0})
    if code == "200":
        entry["ms"].append(float(seconds) * 1000)
    else:
        entry["errors"] += 1

mb = data_bytes / 1e6
lines = []
lines.append(f"## Shale benchmark ({time.strftime('%Y-%m-%d %H:%M:%S')})")
lines.append("")
lines.append(f"{num_docs} HDFS-like documents, {mb:.1f} MB NDJSON; host {platform.node()}, "
             f"{os.cpu_count()} cpus, {platform.platform()}")
lines.append("")
lines.append("| ingest (durability: request, then commit=force) | value |")
lines.append("|---|---|")
lines.append(f"| generator | {gen_secs:.2f} s ({mb / max(gen_secs, 1e-9):.1f} MB/s) |")
lines.append(f"| clients (concurrent \`shale index ingest\`) | {ingest_clients} |")
lines.append(f"| documents ingested | {ingested_docs} ({rejected_docs} rejected) |")
lines.append(f"| wall clock, every document acknowledged (durable in the WAL) | {acked_secs:.2f} s: "
             f"{mb / max(acked_secs, 1e-9):.1f} MB/s, "
             f"{num_docs / max(acked_secs, 1e-9):.0f} docs/s |")
lines.append(f"| wall clock, every document searchable (incl. final commit) | {ingest_secs:.2f} s: "
             f"{mb / max(ingest_secs, 1e-9):.1f} MB/s, "
             f"{num_docs / max(ingest_secs, 1e-9):.0f} docs/s |")
lines.append(f"| node CPU during ingest (user + system) | {ingest_cpu_secs:.2f} s: "
             f"{mb / max(ingest_cpu_secs, 1e-9):.1f} MB per CPU-second |")
lines.append(f"| node peak RSS (VmHWM) | {node_peak_rss_mib:.0f} MiB |")
lines.append("")
runs = max((len(e["ms"]) + e["errors"] for e in queries.values()), default=0)
lines.append(f"| query (max_hits=10, {runs} runs) | hits | p50 ms | p99 ms | mean ms | errors |")
lines.append("|---|---|---|---|---|---|")
for name, entry in queries.items():
    text = entry["query"] + (f" [{entry['extra']}]" if entry["extra"] else "")
    ms = entry["ms"]
    if ms:
        p50, p99, mean = percentile(ms, 50), percentile(ms, 99), sum(ms) / len(ms)
        cells = f"{p50:.2f} | {p99:.2f} | {mean:.2f}"
    else:
        cells = "- | - | -"
    lines.append(f"| {name}: \`{text}\` | {entry['hits']} | {cells} | {entry['errors']} |")
report = "\n".join(lines) + "\n"
with open(results_file, "w") as out:
    out.write(report)
sys.stdout.write(report)
EOF
log "results written to ${RESULTS_FILE}"
