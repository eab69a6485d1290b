#!/usr/bin/env bash
# S3 benchmark (`make bench-s3`): starts s3rver on a free loopback port with a temporary data
# dir, generates HDFS-like documents, then runs shale_s3_bench (bench/s3_bench.cc): split open
# time and leaf search latency / GETs / bytes, cold and warm, for several split sizes.
# Prints markdown tables and writes them to bench/out/s3_results.md; stops s3rver on exit.
#
# Environment:
#   SHALE_BIN_DIR         directory holding shale_s3_bench and shale_gen_logs (default build/release/bin)
#   S3_BENCH_SPLIT_DOCS   comma list of split sizes in documents (default 20000,100000,400000)
#   S3_BENCH_RUNS         measured runs per figure (default 15)
#   S3_BENCH_LATENCY_MS   delay added before every GET, a stand-in for S3's first-byte latency
#                         (default 0: raw loopback s3rver)
#   S3_BENCH_SEED         generator seed (default 42)
# Needs bash, curl, python3 and s3rver in tests/s3/node_modules (tools/install_deps.sh).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${SHALE_BIN_DIR:-${REPO_ROOT}/build/release/bin}"
SPLIT_DOCS="${S3_BENCH_SPLIT_DOCS:-20000,100000,400000}"
RUNS="${S3_BENCH_RUNS:-15}"
LATENCY_MS="${S3_BENCH_LATENCY_MS:-0}"
SEED="${S3_BENCH_SEED:-42}"
S3RVER="${REPO_ROOT}/tests/s3/node_modules/.bin/s3rver"
OUT_DIR="${REPO_ROOT}/bench/out"
RESULTS_FILE="${OUT_DIR}/s3_results.md"

for binary in "${BIN_DIR}/shale_s3_bench" "${BIN_DIR}/shale_gen_logs" "${S3RVER}"; do
  if [[ ! -x "${binary}" ]]; then
    echo "error: ${binary} not found; build it (make bench-s3) or run tools/install_deps.sh" >&2
    exit 1
  fi
done

log() { echo "[s3-bench] $*" >&2; }

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/shale-s3-bench.XXXXXX")"
S3RVER_PID=""
cleanup() {
  local status=$?
  if [[ -n "${S3RVER_PID}" ]] && kill -0 "${S3RVER_PID}" 2>/dev/null; then
    kill -TERM "${S3RVER_PID}" 2>/dev/null || true
    wait "${S3RVER_PID}" 2>/dev/null || true
  fi
  rm -rf "${WORK_DIR}"
  exit ${status}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:${PORT}"
# s3rver 3.7.1 makes continuation tokens with DES, which Node >= 17 only has in the legacy
# OpenSSL provider.
export NODE_OPTIONS="--openssl-legacy-provider${NODE_OPTIONS:+ ${NODE_OPTIONS}}"
mkdir -p "${WORK_DIR}/s3"
"${S3RVER}" --directory "${WORK_DIR}/s3" --address 127.0.0.1 --port "${PORT}" --silent \
  --configure-bucket test-bucket >"${WORK_DIR}/s3rver.log" 2>&1 &
S3RVER_PID=$!
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "${ENDPOINT}/test-bucket"; then break; fi
  sleep 0.1
done
curl -s -o /dev/null "${ENDPOINT}/test-bucket" || { echo "error: s3rver did not start" >&2; exit 1; }
log "s3rver on ${ENDPOINT}"

MAX_DOCS="$(tr ',' '\n' <<<"${SPLIT_DOCS}" | sort -n | tail -n 1)"
DATA_FILE="${WORK_DIR}/hdfs-logs.ndjson"
log "generating ${MAX_DOCS} documents"
"${BIN_DIR}/shale_gen_logs" --num-docs "${MAX_DOCS}" --seed "${SEED}" --output "${DATA_FILE}"

mkdir -p "${OUT_DIR}"
"${BIN_DIR}/shale_s3_bench" --endpoint "${ENDPOINT}" --input "${DATA_FILE}" \
  --index-config "${REPO_ROOT}/bench/index-config.yaml" --split-docs "${SPLIT_DOCS}" \
  --runs "${RUNS}" --latency-ms "${LATENCY_MS}" | tee "${RESULTS_FILE}"
log "results in ${RESULTS_FILE}"
