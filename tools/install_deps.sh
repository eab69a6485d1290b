#!/usr/bin/env bash
# Installs every build and test dependency of Shale on Debian 12. Idempotent: installs only what
# is missing, so `make run` and `make test` can both call it on every invocation cheaply.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3 python3-yaml curl
  libabsl-dev libboost-dev libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev
  libzstd-dev liblz4-dev libxxhash-dev zlib1g-dev libre2-dev libstemmer-dev
  libcli11-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libssl-dev libjemalloc-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  clang libclang-rt-14-dev
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# Installs the Debian packages named as arguments; needs root.
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_deps: missing packages $*; run as root or install them" >&2
    exit 1
  fi
  echo "install_deps: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# s3rver, the local S3-compatible server of the storage integration tests (storage_s3_test).
# Installed from tests/s3/package-lock.json into tests/s3/node_modules (not committed).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$REPO_ROOT/tests/s3/node_modules/.bin/s3rver" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  echo "install_deps: installing s3rver into tests/s3"
  npm ci --prefix "$REPO_ROOT/tests/s3" --no-audit --no-fund
fi
