"""`goalpost stack up|down|status`: the real local stack without Docker.

Kafka (KRaft: one node, or three with `up --brokers 3`) runs from the official jars fetched by Maven, Redis from Debian's
redis-server, and each service is its own process. Everything lives under GOALPOST_STATE_DIR:
data, logs/<name>.log and pids/<name>.pid, so `down` can stop exactly what `up` started.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from services.core import topics as topic_admin
from services.core.auth import entries
from services.core.settings import REPO_ROOT, SERVICE_PORTS, STATE_NOT_RECOVERED, env, port_of
from services.tools import redis_cluster as redis_cluster_nodes

SERVICES = tuple(SERVICE_PORTS)
LEDGER = "ledger"
RECOVERY_LIMIT_S = 30 * 60  # how long `up` waits for a service that is still rebuilding its state
DEPLOY = REPO_ROOT / "deploy"


class StackError(RuntimeError):
    pass


def state_dir() -> Path:
    d = Path(env("GOALPOST_STATE_DIR"))
    for sub in ("logs", "pids", "kafka", "redis"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    return d


def _host_port(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host or "127.0.0.1", int(port)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _pid(name: str) -> int | None:
    f = state_dir() / "pids" / f"{name}.pid"
    try:
        pid = int(f.read_text())
    except (OSError, ValueError):
        return None
    try:  # reap it if it is our own child that exited (a zombie still answers kill 0)
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return None if process_state(pid) in ("Z", "X", None) else pid


def answering(name: str, host: str, port: int, timeout: float = 30) -> bool:
    """Whether `name` is up on its port. A port that still answers after our process of that
    name died is a process still on its way out (a JVM's threads close its sockets after its
    main thread is a zombie): wait for it to close, then it is not up."""
    if not _port_open(host, port):
        return False
    if _pid(name) is not None or not (state_dir() / "pids" / f"{name}.pid").exists():
        return True  # ours and alive, or not one of ours
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _port_open(host, port):
            return False
        time.sleep(0.1)
    return True


def process_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, D, Z for a zombie, ...), None if it is gone.
    A process killed with kill -9 whose parent has not reaped it yet still answers kill 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split(" ", 1)[0]  # after "(comm)", which may hold spaces


def group_pids(leader: int) -> list[int]:
    """The processes of a stack member's process group (each member is started in a session of
    its own): a service with several workers is its supervisor and the workers."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == leader:
                    pids.append(int(entry))
            except ProcessLookupError:
                pass
    return sorted(pids)


def _spawn(name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> int:
    d = state_dir()
    log = open(d / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(extra_env or {})}, cwd=REPO_ROOT,
                            start_new_session=True)  # own process group: `down` kills it whole
    (d / "pids" / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _wait(what: str, check, timeout: float, log: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    hint = f"; see {state_dir() / 'logs' / log}" if log else ""
    raise StackError(f"{what} did not come up within {timeout:.0f}s{hint}")


# ---------------------------------------------------------------- Redis

def ensure_redis_installed() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    print("redis-server missing: installing Debian's redis-server ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    path = shutil.which("redis-server")
    if not path:
        raise StackError("redis-server could not be installed")
    return path


def redis_cluster() -> bool:
    """Whether this state dir's Redis is a cluster (`up --redis-cluster`; a single Redis when never said)."""
    return (state_dir() / "redis" / "cluster").exists()


def use_redis_cluster(on: bool) -> None:
    """Sets the kind of Redis of this state dir; refused when it holds data of the other kind."""
    marker = state_dir() / "redis" / "cluster"
    held = any((state_dir() / "redis").iterdir())
    if held and redis_cluster() != on:
        raise StackError(f"{state_dir()} holds a {'Redis Cluster' if redis_cluster() else 'single Redis'}; "
                         "`goalpost stack down` and remove it (or use another GOALPOST_STATE_DIR) to change it")
    if on:
        marker.write_text("3 masters, 1 replica each\n")


def redis_names() -> list[str]:
    return redis_cluster_nodes.node_names() if redis_cluster() else ["redis"]


def apply_redis_env() -> None:
    """Points this process and the services it starts at a cluster, when this state dir has one."""
    if redis_cluster():
        os.environ["GOALPOST_REDIS_CLUSTER"] = "true"


def _redis_host_port() -> tuple[str, int]:
    return _host_port(env("GOALPOST_REDIS_URL").split("//", 1)[1].split("/", 1)[0])


def start_redis_cluster() -> None:
    host, first = _redis_host_port()
    ports = [first + i for i in range(redis_cluster_nodes.NODES)]
    server = ensure_redis_installed()
    for name, port in zip(redis_cluster_nodes.node_names(), ports):
        if answering(name, host, port):
            print(f"{name}: already answering on {host}:{port}")
            continue
        _spawn(name, redis_cluster_nodes.node_args(server, port, state_dir() / "redis" / name))
    for name, port in zip(redis_cluster_nodes.node_names(), ports):
        _wait(name, lambda p=port: _port_open(host, p), 20, f"{name}.log")
    if not redis_cluster_nodes.form(ports):
        raise StackError(f"the Redis Cluster on {host}:{ports[0]}-{ports[-1]} did not reach cluster_state:ok")
    print(f"redis: a cluster of 3 masters and 3 replicas on {host}:{ports[0]}-{ports[-1]}")


def start_redis() -> None:
    if redis_cluster():
        start_redis_cluster()
        return
    host, port = _redis_host_port()
    if answering("redis", host, port):
        print(f"redis: already answering on {host}:{port}")
        return
    d = state_dir()
    _spawn("redis", [ensure_redis_installed(), "--bind", "127.0.0.1", "--port", str(port),
                     "--dir", str(d / "redis"), "--appendonly", "yes", "--save", "",
                     "--daemonize", "no", "--protected-mode", "yes"])
    _wait("redis", lambda: _port_open(host, port), 20, "redis.log")
    print(f"redis: up on {host}:{port}")


# ---------------------------------------------------------------- Kafka

def kafka_classpath() -> str:
    out = subprocess.run([str(DEPLOY / "kafka" / "fetch.sh")], check=True, capture_output=True, text=True)
    libs = out.stdout.strip().splitlines()[-1]
    return f"{libs}/*"


CONTROLLER_PORT_OFFSET = 100  # a cluster's controllers listen 100 above its brokers (9192-9194)


def brokers() -> int:
    """How many brokers this state dir's Kafka has (`up --brokers N`; 1 when never said)."""
    f = state_dir() / "kafka" / "brokers"
    return int(f.read_text()) if f.exists() else 1


def kafka_names() -> list[str]:
    n = brokers()
    return ["kafka"] if n == 1 else [f"kafka-{i}" for i in range(1, n + 1)]


def use_brokers(n: int) -> None:
    """Sets the broker count of this state dir (refused when it holds a Kafka of another size),
    and points this process and the services it starts at them: bootstrap, replication 3 and
    min.insync 2 for a cluster unless set."""
    if n not in (1, 3):
        raise StackError(f"--brokers is 1 or 3, got {n}")
    f = state_dir() / "kafka" / "brokers"
    formatted = any((state_dir() / "kafka").glob("**/meta.properties"))
    if formatted and brokers() != n:
        raise StackError(f"{state_dir()} holds a Kafka of {brokers()} broker(s); `goalpost stack down` "
                         "and remove it (or use another GOALPOST_STATE_DIR) to start one of {n}")
    f.write_text(str(n))
    apply_brokers_env()


def apply_brokers_env() -> None:
    n = brokers()
    if n == 1:
        return
    host, port = _host_port(env("GOALPOST_KAFKA_BOOTSTRAP").split(",")[0])
    os.environ["GOALPOST_KAFKA_BOOTSTRAP"] = ",".join(f"{host}:{port + i}" for i in range(n))
    os.environ.setdefault("GOALPOST_TOPIC_REPLICATION", "3")
    os.environ.setdefault("GOALPOST_TOPIC_MIN_INSYNC", "2")


def start_kafka() -> None:
    apply_brokers_env()
    n = brokers()
    host, port = _host_port(env("GOALPOST_KAFKA_BOOTSTRAP").split(",")[0])
    d = state_dir()
    cp = kafka_classpath()
    # The broker's JIT: C1 only by default (GOALPOST_KAFKA_JVM_OPTS). With the full tiered JIT a
    # fresh broker's C2 compiler threads spent minutes of CPU on the two cores it shares with
    # the services (41% of the broker's CPU in a ledger benchmark run three minutes after
    # start; 67-92 µs of broker CPU per ledger entry), while C1-compiled code
    # served the same load for 12.6-20 µs from the second run on (docs/benchmarks.md).
    heap = "-Xmx768m" if n == 1 else "-Xmx512m"
    java = [shutil.which("java") or "java", "-Xms256m", heap, "-XX:+UseG1GC",
            *env("GOALPOST_KAFKA_JVM_OPTS").split(),
            f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.properties'}", "-cp", cp]
    controllers = [port + 1] if n == 1 else [port + CONTROLLER_PORT_OFFSET + i for i in range(n)]
    voters = ",".join(f"{i + 1}@{host}:{c}" for i, c in enumerate(controllers))
    id_file = d / "kafka" / "cluster-id"
    for i, name in enumerate(kafka_names()):
        node_port = port + i
        if answering(name, host, node_port):
            print(f"{name}: already answering on {host}:{node_port}")
            continue
        node_dir = d / "kafka" if n == 1 else d / "kafka" / str(i + 1)
        node_dir.mkdir(parents=True, exist_ok=True)
        props = (DEPLOY / "kafka" / "server.properties").read_text().format(
            node_id=i + 1, voters=voters, port=node_port, controller_port=controllers[i],
            data_dir=node_dir / "data", internal_rf=n, min_isr=1 if n == 1 else 2,
            unclean="true" if n == 1 else "false")
        conf = node_dir / "server.properties"
        conf.write_text(props)
        if not (node_dir / "data" / "meta.properties").exists():
            if not id_file.exists():  # one cluster id for every node of the cluster
                id_file.write_text(subprocess.run(java + ["kafka.tools.StorageTool", "random-uuid"], check=True,
                                                  capture_output=True, text=True).stdout.strip().splitlines()[-1])
            # Eligible leader replicas off: with a single replica they strand partitions after a
            # kill -9 (see server.properties).
            subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", id_file.read_text().strip(),
                                   "-c", str(conf), "--ignore-formatted",
                                   "--feature", "eligible.leader.replicas.version=0"],
                           check=True, capture_output=True)
        _spawn(name, java + ["kafka.Kafka", str(conf)])
    for i, name in enumerate(kafka_names()):
        _wait(name, lambda p=port + i: _port_open(host, p), 120, f"{name}.log")
        print(f"{name}: up on {host}:{port + i}")


# ---------------------------------------------------------------- services

def ledger_workers() -> int:
    return int(env("GOALPOST_LEDGER_WORKERS"))


def members(services: tuple[str, ...]) -> tuple[str, ...]:
    """The processes of these services: the ledger is `ledger` (worker 0, with the resolver)
    and `ledger-1` ... `ledger-<N-1>` for GOALPOST_LEDGER_WORKERS=N."""
    out: list[str] = []
    for name in services:
        out.append(name)
        if name == LEDGER:
            out += [f"{LEDGER}-{i}" for i in range(1, ledger_workers())]
    return tuple(out)


def ledger_worker_of(name: str) -> int | None:
    """The ledger worker a stack member is (`ledger` 0, `ledger-2` 2), None for other services."""
    if name == LEDGER:
        return 0
    if name.startswith(LEDGER + "-") and name[len(LEDGER) + 1:].isdigit():
        return int(name[len(LEDGER) + 1:])
    return None


def member_port(name: str) -> int:
    """A member's HTTP port: ledger worker i listens on GOALPOST_LEDGER_PORT + i."""
    worker = ledger_worker_of(name)
    return port_of(LEDGER) + worker if worker is not None else port_of(name)


def _healthy(service: str) -> bool:
    return _readiness_problems(service) == []


def _readiness_problems(service: str) -> list[str] | None:
    """What /readyz says is missing, [] when ready, None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{member_port(service)}/readyz", timeout=1) as r:
            return list(json.loads(r.read()).get("problems", []))
    except urllib.error.HTTPError as exc:
        try:
            return list(json.loads(exc.read()).get("problems", ["not ready"]))
        except ValueError:
            return ["not ready"]
    except Exception:
        return None


def wait_ready(name: str, timeout: float, recovery_limit: float = RECOVERY_LIMIT_S) -> None:
    """Waits for a service's /readyz. Past `timeout` it goes on waiting, up to `recovery_limit`,
    only while the service answers that it is still rebuilding its state: match and the ledger
    replay their topics at start, which takes minutes on a long history (2.4 million events:
    over 2 minutes for match). A service whose process is gone fails at once."""
    started = time.monotonic()
    said = 0.0
    log = state_dir() / "logs" / f"{name}.log"
    while True:
        problems = _readiness_problems(name)
        if problems == []:
            return
        waited = time.monotonic() - started
        if _pid(name) is None:
            raise StackError(f"service {name} exited while starting; see {log}")
        recovering = problems is not None and set(problems) == {STATE_NOT_RECOVERED}
        if waited > (recovery_limit if recovering else timeout):
            raise StackError(f"service {name} (GET /readyz on port {member_port(name)}) did not come up within "
                             f"{waited:.0f}s ({', '.join(problems or ['no answer'])}); see {log}")
        if recovering and waited > timeout and waited - said >= 30:
            said = waited
            print(f"{name}: still rebuilding its state from the topics ({waited:.0f}s)", flush=True)
        time.sleep(0.25)


def start_service(name: str) -> None:
    if _pid(name):
        print(f"{name}: already running (pid {_pid(name)})")
        return
    ensure_dev_key()  # a service started on its own must find the same keys as `up` gave it
    apply_brokers_env()  # and the same brokers
    apply_redis_env()  # and the same kind of Redis
    worker = ledger_worker_of(name)
    if worker is None:
        _spawn(name, [sys.executable, "-m", f"services.{name}"])
    else:
        _spawn(name, [sys.executable, "-m", f"services.{LEDGER}"],
               {"GOALPOST_LEDGER_WORKER_ID": str(worker), "GOALPOST_LEDGER_PORT": str(member_port(name))})


def ensure_dev_key(announce: bool = False) -> None:
    """Without operator keys, the local stack makes a development key (and says where)."""
    if env("GOALPOST_API_KEYS") or (env("GOALPOST_API_KEYS_FILE") and not announce):
        return
    path = Path(env("GOALPOST_API_KEYS_FILE") or state_dir() / "api-keys")
    if not path.exists():
        path.write_text(f"dev:{secrets.token_urlsafe(24)}:write+read+admin\n")
        path.chmod(0o600)
    os.environ["GOALPOST_API_KEYS_FILE"] = str(path)
    if announce and path == state_dir() / "api-keys":
        print(f"api keys: none configured; using the development key in {path}")


def first_api_key() -> str:
    """The key a local tool (replay, demo, tests) writes with: the first configured one."""
    spec = env("GOALPOST_API_KEYS")
    if not spec:
        keys_file = env("GOALPOST_API_KEYS_FILE") or str(state_dir() / "api-keys")
        spec = Path(keys_file).read_text()
    return entries(spec)[0][1]


def up(services: tuple[str, ...] = SERVICES, timeout: float = 120, n_brokers: int | None = None,
       with_redis_cluster: bool | None = None) -> None:
    if n_brokers is not None:
        use_brokers(n_brokers)
    if with_redis_cluster is not None:
        use_redis_cluster(with_redis_cluster)
    apply_brokers_env()
    apply_redis_env()
    ensure_dev_key(announce=True)
    start_redis()
    start_kafka()
    replication = int(env("GOALPOST_TOPIC_REPLICATION"))
    report = asyncio.run(topic_admin.ensure_topics(env("GOALPOST_KAFKA_BOOTSTRAP"), int(env("GOALPOST_TOPIC_PARTITIONS")),
                                                   replication, int(env("GOALPOST_TOPIC_MIN_INSYNC"))))
    print(f"topics: {len(topic_admin.all_topic_names())} present ({len(report.created)} created)")
    for line in topic_admin.warnings(report, replication):
        print(line)
    for name in members(services):
        start_service(name)
    for name in members(services):
        wait_ready(name, timeout)
        print(f"{name}: ready on http://127.0.0.1:{member_port(name)}")


def _stop(name: str, timeout: float = 20) -> None:
    pid = _pid(name)
    pidfile = state_dir() / "pids" / f"{name}.pid"
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid(name):
        time.sleep(0.2)
    if _pid(name):
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    print(f"{name}: stopped")


def down(services: tuple[str, ...] | None = None) -> None:
    """Stops the named services, or (none named) every service, then Kafka and Redis."""
    for name in services or reversed(SERVICES):
        if name not in SERVICES:
            raise StackError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
        for member in reversed(members((name,))):
            _stop(member)
        if name == LEDGER:  # workers of a larger N started before
            for pidfile in (state_dir() / "pids").glob(f"{LEDGER}-*.pid"):
                if ledger_worker_of(pidfile.stem) is not None:
                    _stop(pidfile.stem)
    if services is None:
        for name in reversed(kafka_names()):
            _stop(name, timeout=40)
        for name in reversed(redis_names()):
            _stop(name)


def status() -> bool:
    ok = True
    for name in (*redis_names(), *kafka_names()) + members(SERVICES):
        pid = _pid(name)
        extra = ""
        if name in members(SERVICES):
            ready = _healthy(name)
            ok &= ready
            extra = f" ready={'yes' if ready else 'no'} port={member_port(name)}"
            processes = len(group_pids(pid)) if pid else 0  # one scan of /proc
            if processes > 1:
                extra += f" workers={processes - 1}"
        else:
            ok &= pid is not None
        print(f"{name:9s} {'running' if pid else 'stopped'}{f' pid={pid}' if pid else ''}{extra}")
    return ok
