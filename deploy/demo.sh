#!/usr/bin/env bash
# The main job: set up, bring up the whole stack, replay a real Stack Exchange replay file
# through the ingest HTTP API, and report what the stack made of it. The stack stays up.
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-../shared/data/se/beer.jsonl}"
[ -f "$file" ] || { echo "replay file $file not found (expected ../shared/data/se/*.jsonl)" >&2; exit 1; }
deploy/setup.sh
.venv/bin/goalpost stack up
.venv/bin/goalpost replay "$file"
.venv/bin/goalpost report
cat <<MSG

The stack is still running:
  ingest   http://127.0.0.1:8081/openapi.json     classify http://127.0.0.1:8082/v1/classify
  match    http://127.0.0.1:8083/v1/helpers/<user_id>/inbox
  ledger   http://127.0.0.1:8084/v1/leaderboard?window=all&limit=10
  logs     .stack/logs/        API key   .stack/api-keys
  watch a topic:  .venv/bin/goalpost tail matches.v1
Stop it with:  make down   (or .venv/bin/goalpost stack down)
MSG
