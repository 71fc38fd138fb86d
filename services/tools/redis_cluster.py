"""A local Redis Cluster for `goalpost stack up --redis-cluster`: three masters with a replica
each, Debian's redis-server on loopback, on six ports from GOALPOST_REDIS_URL's port up. A
node's cluster bus listens BUS_OFFSET above it (not Redis's default 10,000, which would land
on ports other local stacks use)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

NODES = 6       # three masters, one replica each
BUS_OFFSET = 1000
NODE_TIMEOUT_MS = 2000  # a master unreachable this long is failed over to its replica


def node_names(n: int = NODES) -> list[str]:
    return [f"redis-{i}" for i in range(1, n + 1)]


def node_args(server: str, port: int, data_dir: Path) -> list[str]:
    """The redis-server command line of one cluster node (AOF on, as the single Redis)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--cluster-port", str(port + BUS_OFFSET),
            "--appendonly", "yes", "--save", "", "--daemonize", "no", "--protected-mode", "yes"]


def _cli(port: int, *args: str) -> str:
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True,
                         text=True, timeout=30)
    return out.stdout


def cluster_info(port: int) -> dict[str, str]:
    """CLUSTER INFO of one node, as a dict ({} when it does not answer)."""
    try:
        text = _cli(port, "cluster", "info")
    except (subprocess.TimeoutExpired, OSError):
        return {}
    return dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)


def form(ports: list[int], timeout: float = 60) -> bool:
    """Joins fresh nodes into one cluster (a no-op when they are one already); True once every
    node says the cluster is ok."""
    if cluster_info(ports[0]).get("cluster_known_nodes") != str(len(ports)):
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(cluster_info(p).get("cluster_state") == "ok" for p in ports):
            return True
        time.sleep(0.5)
    return False


def master_of(port: int, key: str) -> int | None:
    """The port of the master that holds `key`'s slot, as the node at `port` sees it."""
    slot = int(_cli(port, "cluster", "keyslot", key).strip() or -1)
    for line in _cli(port, "cluster", "nodes").splitlines():
        parts = line.split()
        if len(parts) < 9 or "master" not in parts[2] or "fail" in parts[2]:
            continue
        for span in parts[8:]:
            low, _, high = span.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return int(parts[1].split("@")[0].rsplit(":", 1)[1])
    return None
