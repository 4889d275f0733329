#!/usr/bin/env bash
# The test command of the README: sets up what the tests need on a fresh
# machine (a Python venv with moto's S3 server for the object-store tests
# and the reference libraries the analytics are checked against; a
# PostgreSQL server for the audit trail's PostgreSQL backend),
# then runs every Rust test: unit tests, the .slt suite and the integration
# tests that drive the real binary.
#
# The venv lives under $HOME/.cache/finsight, outside the checkout, so reruns
# are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${FINSIGHT_CACHE:-$HOME/.cache/finsight}"
# The build goes where `cargo run --release -- demo` put it (./target, or the
# user's CARGO_TARGET_DIR), so the README's two commands share one target
# directory; .ci/run sets CARGO_TARGET_DIR to a cache outside the clone.
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$cache/pip}"
venv="$cache/venv"

# Reinstall when tests/requirements.txt changes (its hash is kept in the venv).
wanted="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$wanted" ]; then
  echo "== setting up $venv (moto S3 server; reference libraries; ADBC Flight SQL clients)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -r tests/requirements.txt
  echo "$wanted" > "$venv/.requirements"
fi
# A PostgreSQL server for the audit-trail backend test, started by the test
# itself on a Unix socket in a temp dir (Debian's postgresql package).
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing PostgreSQL (Debian package postgresql)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql >/dev/null
fi

# openssl makes the self-signed certificate of the Flight-over-TLS test.
if ! command -v openssl >/dev/null; then
  echo "== installing openssl (Debian package openssl)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null
fi

export FINSIGHT_PYTHON="$venv/bin/python"
export FINSIGHT_REQUIRE_S3=1
export FINSIGHT_REQUIRE_REFERENCE=1

echo "== cargo test"
cargo test --workspace --all-targets "$@"
