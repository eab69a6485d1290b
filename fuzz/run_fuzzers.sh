#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, clang) and runs each for SECONDS over its
# seed corpus: the checked-in seeds of fuzz/corpus/, the golden splits of tests/compat, a split
# of every field type, and every crash found so far (fuzz/regressions/<target>/, which are also
# replayed once first). Exits non-zero, naming the crashing input, when a target crashes.
#
#   fuzz/run_fuzzers.sh SECONDS [BUILD_DIR]     (make fuzz: 300 s each; make test: 20 s each)
set -euo pipefail

seconds=${1:?usage: run_fuzzers.sh SECONDS [BUILD_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build/fuzz}
targets=(split_reader doc_processor query_parser)

cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  > "$build.cmake.log" 2>&1 || { cat "$build.cmake.log"; exit 1; }
ninja -C "$build" -j"${JOBS:-2}" fuzz_seed_split "${targets[@]/#/fuzz_}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  if [ -d "$root/fuzz/corpus/$target" ]; then cp "$root/fuzz/corpus/$target"/* "$work/$target/"; fi
  if compgen -G "$root/fuzz/regressions/$target/*" > /dev/null; then
    cp "$root/fuzz/regressions/$target"/* "$work/$target/"
  fi
done
# Split seeds: the fuzzer drops the first byte (odd: recompute the footer checksum).
mkdir -p "$work/raw_splits"
"$build/fuzz_seed_split" "$work/raw_splits"
cp "$root"/tests/compat/split_v*/*.split "$work/raw_splits/" 2>/dev/null || true
for split in "$work"/raw_splits/*.split; do
  name=$(basename "$split")
  { printf '\001'; cat "$split"; } > "$work/split_reader/fixed-$name"
  { printf '\000'; cat "$split"; } > "$work/split_reader/as-is-$name"
done

for target in "${targets[@]}"; do
  if compgen -G "$root/fuzz/regressions/$target/*" > /dev/null; then
    echo "== $target: replaying regressions"
    "$build/fuzz_$target" "$root/fuzz/regressions/$target"/* > "$build/fuzz_$target.log" 2>&1 ||
      { tail -n 60 "$build/fuzz_$target.log"; echo "fuzz_$target: a regression crashes again"; exit 1; }
  fi
  echo "== $target: fuzzing for ${seconds}s"
  log="$build/fuzz_$target.log"
  if ! "$build/fuzz_$target" "$work/$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
      > "$log" 2>&1; then
    grep -v -E '^(#[0-9]|\s*NEW_FUNC)' "$log" | tail -n 60
    echo "fuzz_$target crashed: the input is in $build/artifacts/, the log in $log"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log"
done
