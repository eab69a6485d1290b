#!/usr/bin/env bash
# Starts s3rver (a local S3-compatible server) on 127.0.0.1 with the bucket `test-bucket`, for
# trying Shale against S3 by hand. storage_s3_test starts its own instance.
#
#   tests/s3/start_s3rver.sh [port]      # default port 4568; Ctrl-C stops it
#
# Then use s3://test-bucket/... with endpoint http://127.0.0.1:<port>, force_path_style_access
# true, and access key / secret S3RVER / S3RVER.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/node_modules/.bin/s3rver"
PORT="${1:-4568}"
if [ ! -x "$BIN" ]; then
  echo "start_s3rver: $BIN is missing; run tools/install_deps.sh" >&2
  exit 1
fi
DATA_DIR="$(mktemp -d -t shale-s3rver.XXXXXX)"
trap 'rm -rf "$DATA_DIR"' EXIT
# s3rver 3.7.1 makes continuation tokens with DES, which Node >= 17 only has in the legacy
# OpenSSL provider.
export NODE_OPTIONS="--openssl-legacy-provider${NODE_OPTIONS:+ $NODE_OPTIONS}"
echo "start_s3rver: http://127.0.0.1:$PORT, bucket test-bucket, data in $DATA_DIR"
"$BIN" --directory "$DATA_DIR" --address 127.0.0.1 --port "$PORT" --configure-bucket test-bucket &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA_DIR"' EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/test-bucket"; then
    echo "start_s3rver: ready"
    break
  fi
  sleep 0.1
done
wait "$PID"
