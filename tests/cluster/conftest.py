"""Tests about the cluster run against `goalpost stack up --brokers 3` (deploy/test.sh starts it
after the other tests); the fixtures are the integration tests' own."""
from tests.integration.conftest import http, run_id, stack  # noqa: F401  (pytest fixtures)
