#!/usr/bin/env bash
# The test command: sets up, starts the real local stack (Kafka, Redis, the four services),
# runs the unit and integration tests against it, stops the stack, and fails if anything fails.
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh || exit 1
export GOALPOST_REQUIRE_STACK=1   # integration tests fail (never skip) without the stack
# The tests get a stack of their own, fresh each run, so they neither see nor leave data in the
# demo's stack (.stack). Both use the same ports: stop a running stack first.
export GOALPOST_STATE_DIR="$PWD/.stack-test"
if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', 9092)) != 0)"; then
  echo "a Kafka is already listening on 127.0.0.1:9092 (a running stack?); stop it first: make down" >&2
  exit 1
fi
rm -rf "$GOALPOST_STATE_DIR"
# Keys of each scope for the access tests; the first (all scopes) is the one tools write with.
mkdir -p "$GOALPOST_STATE_DIR"
export GOALPOST_API_KEYS_FILE="$GOALPOST_STATE_DIR/api-keys"
for entry in dev:write+read+admin writer:write reader:read; do
  echo "${entry%%:*}:$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))'):${entry#*:}"
done > "$GOALPOST_API_KEYS_FILE"
chmod 600 "$GOALPOST_API_KEYS_FILE"
# A small cache for the ledger's rule memory: the crash tests then run through evictions to
# disk and checkpoints every batch or two, not only the start-up checkpoint.
export GOALPOST_LEDGER_CACHE_ITEMS="${GOALPOST_LEDGER_CACHE_ITEMS:-200}"
# Short wave timers, so the tests see later waves of asks within seconds.
export GOALPOST_MATCH_WAVE_AFTER_S="${GOALPOST_MATCH_WAVE_AFTER_S:-4}"
if ! .venv/bin/goalpost stack up; then
  echo "stack did not come up; last lines of each log:" >&2
  for f in "$GOALPOST_STATE_DIR"/logs/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done
  .venv/bin/goalpost stack down
  exit 1
fi
# Default: unit and integration tests, the fault injection run (each service killed and the
# broker restarted during a replay, last since it restarts them all), then the cluster tests.
# `deploy/test.sh tests/faults -s` is `make faults`, on a stack of its own.
cluster=0
if [ $# -eq 0 ]; then set -- tests/unit tests/integration tests/faults; cluster=1; fi
.venv/bin/python -m pytest -p no:cacheprovider "$@"
rc=$?
.venv/bin/goalpost stack down
if [ $cluster -eq 1 ]; then
  # The tests about the cluster: a KRaft cluster of three brokers (ports 9092-9094) and a Redis
  # Cluster of three masters with a replica each (ports 6379-6384), of their own.
  export GOALPOST_STATE_DIR="$PWD/.stack-cluster"
  rm -rf "$GOALPOST_STATE_DIR"
  mkdir -p "$GOALPOST_STATE_DIR"
  cp "$GOALPOST_API_KEYS_FILE" "$GOALPOST_STATE_DIR/api-keys"
  export GOALPOST_API_KEYS_FILE="$GOALPOST_STATE_DIR/api-keys"
  if .venv/bin/goalpost stack up --brokers 3 --redis-cluster; then
    .venv/bin/python -m pytest -p no:cacheprovider tests/cluster || rc=1
  else
    echo "the cluster stack did not come up; last lines of each log:" >&2
    for f in "$GOALPOST_STATE_DIR"/logs/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done
    rc=1
  fi
  .venv/bin/goalpost stack down
fi
exit $rc
