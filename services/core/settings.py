"""Every setting of every service, read from environment variables in one place.

The table below is the single source: `.env.example` and the README's configuration table are
generated from it (`goalpost config env`), and a test checks they stay in sync.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SERVICE_PORTS = {"ingest": 8081, "classify": 8082, "match": 8083, "ledger": 8084}
# The /readyz problem of a service that is up but still rebuilding its state from the topics
# (`goalpost stack up` waits longer for that one).
STATE_NOT_RECOVERED = "state not recovered yet"

@dataclass(frozen=True)
class Var:
    name: str
    default: str
    help: str

# name, default, what it does. Order is the order of the docs.
VARIABLES: tuple[Var, ...] = (
    Var("GOALPOST_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers (host:port[,host:port])"),
    Var("GOALPOST_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL for derived views, dedupe keys and rate limits"),
    Var("GOALPOST_REDIS_CLUSTER", "false", "true: GOALPOST_REDIS_URL is a node of a Redis Cluster, and the services are cluster clients"),
    Var("GOALPOST_HTTP_HOST", "127.0.0.1", "address the services' HTTP servers bind to"),
    Var("GOALPOST_INGEST_PORT", "8081", "HTTP port of ingest"),
    Var("GOALPOST_INGEST_WORKERS", "2", "ingest worker processes sharing its port (one core each at most)"),
    Var("GOALPOST_CLASSIFY_PORT", "8082", "HTTP port of classify"),
    Var("GOALPOST_MATCH_PORT", "8083", "HTTP port of match"),
    Var("GOALPOST_LEDGER_PORT", "8084", "HTTP port of ledger"),
    Var("GOALPOST_TOPIC_PARTITIONS", "4", "partitions per topic when the stack creates topics"),
    Var("GOALPOST_TOPIC_REPLICATION", "1", "replication factor of the topics `goalpost topics` and `stack up` create (3 on a cluster)"),
    Var("GOALPOST_TOPIC_MIN_INSYNC", "1", "min.insync.replicas of the topics they create: acks=all waits for this many copies (2 on a cluster)"),
    Var("GOALPOST_API_KEYS", "", "API keys, comma-separated name:key or name:key:scope+scope (write, read, admin; none given: write+read)"),
    Var("GOALPOST_API_KEYS_FILE", "", "file of API keys, one name:key[:scopes] per line"),
    Var("GOALPOST_PUBLIC_LEADERBOARD", "false", "true: GET /v1/leaderboard needs no key"),
    Var("GOALPOST_BATCH_MAX_ITEMS", "5000", "most items accepted by POST /v1/posts/batch"),
    Var("GOALPOST_IDEMPOTENCY_WINDOW_S", "86400", "how long a post_id/reaction_id/Idempotency-Key is remembered"),
    Var("GOALPOST_RATE_PER_AUTHOR", "20", "token bucket refill per author, writes per second"),
    Var("GOALPOST_RATE_PER_KEY", "100000", "token bucket refill per API key, writes per second"),
    Var("GOALPOST_STREAM_BATCH", "500", "most messages a service handles in one batch"),
    Var("GOALPOST_LEDGER_WORKERS", "1", "ledger workers, each owning the users of a share of the credit partitions (the local stack starts this many; a StatefulSet's replicas)"),
    Var("GOALPOST_LEDGER_WORKER_ID", "", "which ledger worker this process is, 0..GOALPOST_LEDGER_WORKERS-1 (empty: the ordinal at the end of the host name, else 0)"),
    Var("GOALPOST_LEDGER_BATCH", "2000", "most input records the ledger commits in one transaction"),
    Var("GOALPOST_LEDGER_STORE", "", "SQLite file of the ledger's rule memory (empty: ledger-rules.sqlite in GOALPOST_STATE_DIR); rebuilt from the topics when missing"),
    Var("GOALPOST_LEDGER_CACHE_ITEMS", "10000", "values of each rule-memory map the ledger keeps in RAM; the rest stay on disk"),
    Var("GOALPOST_STREAM_BATCH_WITHIN_S", "0.05", "longest wait to fill a batch, seconds"),
    Var("GOALPOST_MATCH_TOP_K", "10", "candidates ranked for each wave of asks (the best not yet asked are asked)"),
    Var("GOALPOST_MATCH_WAVE_SIZE", "3", "helpers asked in each wave"),
    Var("GOALPOST_MATCH_WAVE_AFTER_S", "600", "seconds without a reply after which the next wave is asked"),
    Var("GOALPOST_MATCH_MAX_WAVES", "3", "most waves of asks for one post"),
    Var("GOALPOST_SERIAL_VOTES", "10", "upvotes by one user on another's posts within 24 h past which the ledger reverses them"),
    Var("GOALPOST_FLAGS_TO_WITHDRAW", "3", "distinct users whose flag withdraws a post from routing (its asks end)"),
    Var("GOALPOST_MATCH_HELPER_CAP", "20", "most open routed requests per helper"),
    Var("GOALPOST_MATCH_ASK_TTL_S", "604800", "an unanswered ask expires after this long: it leaves the inbox and stops counting against the helper's capacity"),
    # The match index's memory bounds (docs/benchmarks.md, tests/bench/match_memory.py)
    Var("GOALPOST_MATCH_POSTINGS_PER_TERM", "100", "helpers the match index keeps per term (the heaviest, most recent)"),
    Var("GOALPOST_MATCH_MAX_TERMS", "300000", "terms the match index keeps (the rarest, least recent go first)"),
    Var("GOALPOST_MATCH_CACHED_ROOTS", "50000", "root posts whose terms later replies still teach the match index"),
    Var("GOALPOST_MATCH_CACHED_POSTS", "100000", "replies the match index remembers, to credit reactions and replies to them"),
    Var("GOALPOST_MATCH_CACHED_REACTIONS", "50000", "reactions the match index remembers for unvote and unaccept"),
    Var("GOALPOST_MATCH_IDLE_USERS", "50000", "users who never answered whose last activity the match index keeps"),
    Var("GOALPOST_STATE_DIR", str(REPO_ROOT / ".stack"), "where the local stack keeps data, logs and pid files"),
    Var("GOALPOST_KAFKA_JVM_OPTS", "-XX:TieredStopAtLevel=1",
        "extra JVM options of the local stack's broker (default: the quick JIT only; see docs/benchmarks.md)"),
    Var("GOALPOST_LOG_LEVEL", "INFO", "log level of the services (JSON lines on stderr)"),
    Var("GOALPOST_EVENT_LOOP", "uvloop", "the services' event loop: uvloop (libuv, faster) or asyncio (the standard one)"),
)
_DEFAULTS = {v.name: v for v in VARIABLES}

def env(name: str) -> str:
    """The value of a documented variable (unknown names are a programming error)."""
    return os.environ.get(name, _DEFAULTS[name].default)

@dataclass(frozen=True)
class Settings:
    service: str
    kafka_bootstrap: str = field(default_factory=lambda: env("GOALPOST_KAFKA_BOOTSTRAP"))
    redis_url: str = field(default_factory=lambda: env("GOALPOST_REDIS_URL"))
    redis_cluster: bool = field(default_factory=lambda: env("GOALPOST_REDIS_CLUSTER").lower() == "true")
    http_host: str = field(default_factory=lambda: env("GOALPOST_HTTP_HOST"))
    topic_partitions: int = field(default_factory=lambda: int(env("GOALPOST_TOPIC_PARTITIONS")))
    topic_replication: int = field(default_factory=lambda: int(env("GOALPOST_TOPIC_REPLICATION")))
    topic_min_insync: int = field(default_factory=lambda: int(env("GOALPOST_TOPIC_MIN_INSYNC")))
    stream_batch: int = field(default_factory=lambda: int(env("GOALPOST_STREAM_BATCH")))
    stream_batch_within_s: float = field(default_factory=lambda: float(env("GOALPOST_STREAM_BATCH_WITHIN_S")))
    ledger_batch: int = field(default_factory=lambda: int(env("GOALPOST_LEDGER_BATCH")))
    ledger_cache_items: int = field(default_factory=lambda: int(env("GOALPOST_LEDGER_CACHE_ITEMS")))
    batch_max_items: int = field(default_factory=lambda: int(env("GOALPOST_BATCH_MAX_ITEMS")))
    idempotency_window_s: int = field(default_factory=lambda: int(env("GOALPOST_IDEMPOTENCY_WINDOW_S")))
    rate_per_author: float = field(default_factory=lambda: float(env("GOALPOST_RATE_PER_AUTHOR")))
    rate_per_key: float = field(default_factory=lambda: float(env("GOALPOST_RATE_PER_KEY")))
    match_top_k: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_TOP_K")))
    match_wave_size: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_WAVE_SIZE")))
    match_wave_after_s: float = field(default_factory=lambda: float(env("GOALPOST_MATCH_WAVE_AFTER_S")))
    match_max_waves: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_MAX_WAVES")))
    flags_to_withdraw: int = field(default_factory=lambda: int(env("GOALPOST_FLAGS_TO_WITHDRAW")))
    match_helper_cap: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_HELPER_CAP")))
    match_ask_ttl_s: float = field(default_factory=lambda: float(env("GOALPOST_MATCH_ASK_TTL_S")))
    match_postings_per_term: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_POSTINGS_PER_TERM")))
    match_max_terms: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_MAX_TERMS")))
    match_cached_roots: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_CACHED_ROOTS")))
    match_cached_posts: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_CACHED_POSTS")))
    match_cached_reactions: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_CACHED_REACTIONS")))
    match_idle_users: int = field(default_factory=lambda: int(env("GOALPOST_MATCH_IDLE_USERS")))
    public_leaderboard: bool = field(default_factory=lambda: env("GOALPOST_PUBLIC_LEADERBOARD").lower() == "true")
    state_dir: Path = field(default_factory=lambda: Path(env("GOALPOST_STATE_DIR")))
    log_level: str = field(default_factory=lambda: env("GOALPOST_LOG_LEVEL"))
    event_loop: str = field(default_factory=lambda: env("GOALPOST_EVENT_LOOP"))

    @property
    def ledger_store(self) -> Path:
        return Path(env("GOALPOST_LEDGER_STORE") or self.state_dir / "ledger-rules.sqlite")

    @property
    def workers(self) -> int:
        """Worker processes of the service (services/core/workers.py); 1 where not configurable."""
        name = f"GOALPOST_{self.service.upper()}_WORKERS"
        return int(env(name)) if name in _DEFAULTS else 1

    @property
    def http_port(self) -> int:
        return int(env(f"GOALPOST_{self.service.upper()}_PORT"))

def port_of(service: str) -> int:
    return int(env(f"GOALPOST_{service.upper()}_PORT"))

def env_example() -> str:
    """The text of `.env.example`: every variable with its default and meaning."""
    lines = ["# Goalpost configuration: every variable, its default, and what it does.",
             "# Generated by `goalpost config env`; edit services/core/settings.py instead.", ""]
    for v in VARIABLES:
        lines.append(f"# {v.help}")
        default = v.default if v.name != "GOALPOST_STATE_DIR" else "./.stack"
        lines.append(f"{v.name}={default}")
    return "\n".join(lines) + "\n"

