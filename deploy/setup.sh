#!/usr/bin/env bash
# Sets up everything Goalpost needs on a fresh machine, idempotently:
# the Python environment (.venv, from the lock file, and the two compiled cores, the match
# service's index and the classify service's post reader, built from services/match/native and
# services/classify/native with cargo and maturin), Redis (Debian's redis-server) and the
# Apache Kafka jars (Maven Central, cached in ~/.cache/goalpost).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/pip install -q uv==0.13.8
fi
.venv/bin/uv pip install --python .venv/bin/python -q -r requirements.lock
.venv/bin/uv pip install --python .venv/bin/python -q --no-deps -e .
command -v cargo >/dev/null || { echo "Rust (cargo 1.82+) is needed to build services/match/native and services/classify/native" >&2; exit 1; }
# uv rebuilds each only when its sources change (cache-keys in its pyproject.toml)
.venv/bin/uv pip install --python .venv/bin/python -q services/match/native services/classify/native

if ! command -v redis-server >/dev/null; then
  echo "installing redis-server (Debian package) ..."
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq redis-server >/dev/null
fi
if ! command -v promtool >/dev/null; then
  echo "installing prometheus (Debian package: promtool for the alert rule tests) ..."
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package: the HTTP load generator of the ingest benchmark) ..."
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq wrk >/dev/null
fi
command -v java >/dev/null || { echo "a JDK (java 17+) is needed to run Kafka" >&2; exit 1; }
deploy/kafka/fetch.sh >/dev/null
echo "setup done: .venv ready, redis-server at $(command -v redis-server), Kafka jars cached"
