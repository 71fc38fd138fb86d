"""Tests about the cluster run against `goalpost stack up --brokers 3 --redis-cluster`
(deploy/test.sh starts it after the other tests); the fixtures are the integration tests' own.
This process's clients are pointed at the same brokers and Redis Cluster as the services."""
from services.tools import stack as local_stack
from tests.integration.conftest import http, run_id, stack  # noqa: F401  (pytest fixtures)

local_stack.apply_brokers_env()
local_stack.apply_redis_env()
