# One command for each habit. `make demo` and `make test` work on a fresh machine.
.PHONY: setup demo test faults unit lint typecheck bench up down status lock

setup:
	deploy/setup.sh

demo: setup
	deploy/demo.sh $(FILE)

test:
	deploy/test.sh

# Fault injection (kill -9 each service, restart the broker, during a replay) on a fresh stack.
faults:
	deploy/test.sh tests/faults -s

unit: setup
	.venv/bin/python -m pytest -q tests/unit

# ruff (pyflakes, pycodestyle, import order, bugbear) over the code and the tests.
lint: setup
	.venv/bin/ruff check services tests

# mypy over services/ (settings in pyproject.toml).
typecheck: setup
	.venv/bin/mypy

# The in-process benchmarks (no stack needed); the stack benchmarks are listed in docs/benchmarks.md.
bench: setup
	.venv/bin/python -m tests.bench.bench_match
	.venv/bin/python -m tests.bench.bench_validate
	.venv/bin/goalpost eval classify --data ../shared/data/intent-dev.jsonl

up: setup
	.venv/bin/goalpost stack up

down:
	.venv/bin/goalpost stack down

status:
	.venv/bin/goalpost stack status

lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes -o requirements.lock --python-version 3.11
