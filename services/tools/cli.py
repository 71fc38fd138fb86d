"""The `goalpost` command: stack, eval, replay, tail, ledger, contracts, config."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def cmd_stack(args: argparse.Namespace) -> int:
    from services.tools import stack
    try:
        if args.action == "up":
            stack.up(tuple(args.services) if args.services else stack.SERVICES, n_brokers=args.brokers,
                     with_redis_cluster=True if args.redis_cluster else None)
            print("stack is up; stop it with: goalpost stack down")
        elif args.action == "down":
            stack.down(tuple(args.services) if args.services else None)
        else:
            return 0 if stack.status() else 1
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what == "asks":  # its own flags (the wave policy), one JSON line a file
        from services.match.eval_asks import main
        policy = [(f"--{name.replace('_', '-')}", str(v)) for name in ("wave_size", "after_s", "max_waves")
                  if (v := getattr(args, name)) is not None]
        return main(["--data", args.data, *[x for pair in policy for x in pair]])
    if args.what == "classify":
        from services.classify.evaluate import evaluate
    else:
        from services.match.evaluate import evaluate
    print(json.dumps(evaluate(args.data), indent=2))
    return 0


def cmd_reclassify(args: argparse.Namespace) -> int:
    from services.classify.reclassify import main as reclassify
    return reclassify(["--since", args.since, "--batch", str(args.batch), *(["--replies"] if args.replies else [])])


def cmd_replay(args: argparse.Namespace) -> int:
    from services.tools.replay import replay_http
    report = asyncio.run(replay_http(Path(args.file), rate=args.rate, batch_size=args.batch,
                                     limit=args.limit, progress=not args.quiet))
    print(json.dumps(report, indent=2))
    return 0 if report["failed"] == 0 else 1


def cmd_tail(args: argparse.Namespace) -> int:
    from services.tools.tail import tail
    try:
        return asyncio.run(tail(args.topic, from_beginning=args.from_beginning, limit=args.limit))
    except KeyboardInterrupt:
        return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from services.ledger import admin
    return asyncio.run(admin.verify() if args.action == "verify" else admin.rebuild())


def cmd_contracts(args: argparse.Namespace) -> int:
    from services.core.schemas import write_schemas
    for path in write_schemas():
        print(path)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from services.core.settings import Settings
    from services.core.topics import ensure_topics, warnings
    s = Settings("topics")
    report = asyncio.run(ensure_topics(s.kafka_bootstrap, s.topic_partitions, s.topic_replication, s.topic_min_insync))
    print(f"created: {', '.join(report.created) or 'none (all present)'}")
    for line in warnings(report, s.topic_replication):
        print(line)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from services.tools.report import print_report, report
    r = report()
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_report(r)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from services.core.settings import env_example
    sys.stdout.write(env_example())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="goalpost", description="Goalpost streaming backbone")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="run the local stack (Kafka, Redis, the four services)")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("services", nargs="*", help="only these services (default: all)")
    p.add_argument("--brokers", type=int, choices=[1, 3], default=None,
                   help="up: a Kafka of 1 broker, or a KRaft cluster of 3 on ports 9092-9094 (topics then "
                        "replicated 3 times, min.insync 2); kept for the state dir")
    p.add_argument("--redis-cluster", action="store_true",
                   help="up: a Redis Cluster of 3 masters with a replica each, on six ports from "
                        "GOALPOST_REDIS_URL's; kept for the state dir")
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("eval", help="evaluate classify or match in-process (SPEC.md)")
    p.add_argument("what", choices=["classify", "match", "asks"])
    p.add_argument("--data", required=True)
    for flag, kind in (("--wave-size", int), ("--after-s", float), ("--max-waves", int)):
        p.add_argument(flag, type=kind, help="asks only: the wave policy (default: the service's default)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("reclassify", help="classify posts.v1 again from a time on with the current model "
                                          "(posts.classified.v1, same post ids, the new model_version)")
    p.add_argument("--since", required=True, help="RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
    p.add_argument("--replies", action="store_true", help="replies too, not only root posts")
    p.add_argument("--batch", type=int, default=500)
    p.set_defaults(func=cmd_reclassify)

    p = sub.add_parser("replay", help="replay a JSON Lines replay file through the ingest HTTP API")
    p.add_argument("file")
    p.add_argument("--rate", type=float, default=0, help="events per second (0: as fast as possible)")
    p.add_argument("--batch", type=int, default=200, help="posts per batch request")
    p.add_argument("--limit", type=int, default=0, help="stop after this many events (0: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("tail", help="print decoded records of a topic")
    p.add_argument("topic")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("ledger", help="ledger maintenance")
    p.add_argument("action", choices=["verify", "rebuild"])
    p.set_defaults(func=cmd_ledger)

    p = sub.add_parser("contracts", help="write the JSON Schema files of the records")
    p.set_defaults(func=cmd_contracts)

    p = sub.add_parser("topics", help="create the contract topics that are missing")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("report", help="posts by intent, matches, and the leaderboard, once drained")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("config", help="print .env.example (every setting)")
    p.set_defaults(func=cmd_config)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
