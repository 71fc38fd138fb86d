#!/usr/bin/env bash
# The test command: sets up, starts the real local stack (Kafka, Redis, the four services),
# runs the unit and integration tests against it, stops the stack, and fails if anything fails.
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh || exit 1
export GOALPOST_REQUIRE_STACK=1   # integration tests fail (never skip) without the stack
if ! .venv/bin/goalpost stack up; then
  echo "stack did not come up; last lines of each log:" >&2
  for f in .stack/logs/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done
  .venv/bin/goalpost stack down
  exit 1
fi
.venv/bin/python -m pytest -p no:cacheprovider "$@" tests
rc=$?
.venv/bin/goalpost stack down
exit $rc
