"""The fault-injection run (`make faults`) uses the integration tests' fixtures and helpers."""
from tests.integration.conftest import http, run_id, stack  # noqa: F401  (pytest fixtures)
