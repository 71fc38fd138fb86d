#!/bin/bash
# Paired ledger benchmark runs of two or more checkouts on one stack, to tell a change from the
# machine's drift (the same code moves 30% and more between runs minutes apart):
#
#     GOALPOST_STATE_DIR=/tmp/ab-stack tests/bench/ab_ledger.sh N DIR_A DIR_B ...
#
# The stack must be up (`goalpost stack up` from any of them). For each of N rounds and each
# checkout in turn, the ledger is restarted from that checkout's code (the other services are
# stopped) and `bench_ledger --reactions 50000` is run; prints round, checkout, entries/s and
# the CPU per entry of the ledger, Kafka and Redis and the ledger's memory after the run.
# Each DIR needs a .venv (a symlink to another checkout's is enough).
set -euo pipefail
rounds=$1; shift
for i in $(seq 1 "$rounds"); do
  for dir in "$@"; do
    (cd "$dir" && .venv/bin/goalpost stack down ledger >/dev/null && .venv/bin/goalpost stack up >/dev/null \
       && .venv/bin/goalpost stack down ingest classify match >/dev/null)
    sleep 3
    result=$(cd "$dir" && .venv/bin/python -m tests.bench.bench_ledger --reactions 50000 2>&1 | python3 -c '
import json, sys
text = sys.stdin.read()
d = json.loads(text[text.index("{"):])
cpu = d["cpu_us_per_entry"]
print(d["entries_per_s"], cpu["ledger"], cpu.get("kafka"), cpu.get("redis"), d["memory_after_mib"]["ledger"])')
    echo "$i $dir $result"
  done
done
