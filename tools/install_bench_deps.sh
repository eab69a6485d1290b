#!/bin/bash
# Installs what `make bench-analytics` needs and `make test` does not: ClickHouse, the peer of
# bench/log_analytics_bench.py (Debian 12's clickhouse-server / clickhouse-client, 18.16). The
# packages' systemd service is not used: the benchmark starts its own server as user `nobody`
# on loopback, in a temporary directory, and stops it.
set -euo pipefail
need=()
for pkg in clickhouse-server clickhouse-client; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
