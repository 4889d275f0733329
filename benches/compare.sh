#!/usr/bin/env bash
# finsight vs DuckDB on the bank workload, and finsight's domain kernels vs
# the Python libraries: builds the release binary, installs DuckDB and the
# libraries (benches/requirements.txt) into a venv under ~/.cache/finsight,
# generates the demo data if missing, and writes benches/results/.
#
#   benches/compare.sh                      # scale 1
#   benches/compare.sh --scale 1,10         # scale 1 and 10 (about 56M transactions)
#   benches/compare.sh --help               # every option (runs, threads, memory limit...)
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/finsight"
# The release build of `cargo run --release -- demo` (./target unless
# CARGO_TARGET_DIR is set), not a second one.
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
venv="$cache/bench-venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s benches/requirements.txt "$stamp"; then
    export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$cache/pip}"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r benches/requirements.txt
    cp benches/requirements.txt "$stamp"
fi
# FINSIGHT_BINARY: time an already built binary (CI's smoke run uses the debug build).
binary="${FINSIGHT_BINARY:-}"
if [ -z "$binary" ]; then
    cargo build --release --quiet --bin finsight
    binary="$target/release/finsight"
fi
exec "$venv/bin/python" benches/compare.py --binary "$binary" "$@"
