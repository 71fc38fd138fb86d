# One command for each habit. `make demo` and `make test` work on a fresh machine.
.PHONY: setup demo test unit up down status lint bench lock

setup:
	deploy/setup.sh

demo: setup
	deploy/demo.sh $(FILE)

test:
	deploy/test.sh

unit: setup
	.venv/bin/python -m pytest -q tests/unit

up: setup
	.venv/bin/goalpost stack up

down:
	.venv/bin/goalpost stack down

status:
	.venv/bin/goalpost stack status

lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes -o requirements.lock --python-version 3.11
