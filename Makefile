# Shale developer entry points. `make run` and `make test` work on a fresh Debian 12 machine
# (as root): both install what is missing first.
BUILD_DIR ?= build
RELEASE_DIR := $(BUILD_DIR)/release
DEBUG_DIR := $(BUILD_DIR)/debug
CONFIG ?= config/shale.yaml
JOBS ?= $(shell nproc)

.PHONY: all deps build build-debug run test test-unit test-integration bench bench-s3 bench-fulltext bench-analytics fmt fmt-check tidy \
        check-layering clean fuzz

all: build

deps:
	bash tools/install_deps.sh

build: deps
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHALE_BUILD_TESTS=OFF
	ninja -C $(RELEASE_DIR) -j$(JOBS) shale shale_gen_logs

build-debug: deps
	cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug
	ninja -C $(DEBUG_DIR) -j$(JOBS)

# Starts a single node with every service on http://127.0.0.1:7280, data under ./shale-data.
run: build
	$(RELEASE_DIR)/bin/shale run --config $(CONFIG)

# Debug build with ASan + UBSan, then every test through CTest (unit, integration, layering).
test: build-debug
	cd $(DEBUG_DIR) && ctest --output-on-failure -j$(JOBS)

test-unit: build-debug
	cd $(DEBUG_DIR) && ctest --output-on-failure -j$(JOBS) -L unit

test-integration: build-debug
	cd $(DEBUG_DIR) && ctest --output-on-failure -L integration

bench: build
	SHALE_BIN_DIR=$(RELEASE_DIR)/bin bash tools/bench.sh

# Split open and leaf search latency / GETs on s3rver, cold and warm (tools/s3_bench.sh).
bench-s3: deps
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHALE_BUILD_TESTS=OFF
	ninja -C $(RELEASE_DIR) -j$(JOBS) shale_s3_bench shale_gen_logs
	SHALE_BIN_DIR=$(RELEASE_DIR)/bin bash tools/s3_bench.sh

# The search-benchmark-game queries against Xapian and Lucene++ on 1M docs of real English
# (bench/fulltext/: installs its own deps, builds the corpus once, runs shale_fulltext_bench).
bench-fulltext: deps
	bash bench/fulltext/install_deps.sh
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHALE_BUILD_TESTS=OFF
	ninja -C $(RELEASE_DIR) -j$(JOBS) shale_fulltext_bench
	SHALE_BIN_DIR=$(RELEASE_DIR)/bin bash bench/fulltext/run.sh

# Shale against ClickHouse on 10M log docs: date_histogram, terms, filtered count (issue 4;
# bench/log_analytics_bench.py, ANALYTICS_ARGS="--num-docs N --runs R" to change the size).
bench-analytics: build
	bash tools/install_bench_deps.sh
	python3 bench/log_analytics_bench.py --shale-bin $(RELEASE_DIR)/bin/shale $(ANALYTICS_ARGS)

# libFuzzer targets (clang) over the split reader, the doc processor and the query parser, 300 s
# each (FUZZ_SECONDS=...); crashes are written to build/fuzz/artifacts/.
FUZZ_SECONDS ?= 300
fuzz: deps
	bash fuzz/run_fuzzers.sh $(FUZZ_SECONDS) $(BUILD_DIR)/fuzz

check-layering:
	python3 tools/check_layering.py

fmt:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

fmt-check:
	git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror

# clang-tidy on the C++ files changed against main's merge base.
tidy: build-debug
	git diff --name-only --diff-filter=d $$(git merge-base HEAD origin/main 2>/dev/null || git rev-list --max-parents=0 HEAD) -- '*.cc' \
	  | xargs -r clang-tidy -p $(DEBUG_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
