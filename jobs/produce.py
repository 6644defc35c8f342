"""Replay a dataset or generator into a Kafka topic.

    python -m jobs.produce --event transaction --source generated --limit 50000
    python -m jobs.produce --event transaction --limit 10000 --rate 2000 --malformed-fraction 0.01

Messages are keyed by the contract's key fields, validated by the contract, and carry
deterministic event ids (a replay is recognisable downstream). Prints a progress bar and a summary.
"""

from __future__ import annotations

import argparse
import sys

from common.settings import load_settings
from streaming.contracts import CONTRACTS
from streaming.producer import produce
from streaming.sources import SOURCES

SOURCE_EVENTS = {"generated": "transaction"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.produce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--event", default="transaction", choices=sorted(CONTRACTS), help="event contract")
    parser.add_argument("--source", default="generated", choices=sorted(SOURCES), help="record source")
    parser.add_argument("--topic", help="target topic (default: the contract's configured topic)")
    parser.add_argument("--limit", type=int, default=None, help="stop after N messages (default: source end)")
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default: as fast as possible)")
    parser.add_argument(
        "--malformed-fraction",
        type=float,
        default=0.0,
        help="fraction of messages deliberately broken, for demos and tests (0..1)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generator and of the malformed choice")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be >= 0")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if not 0 <= args.malformed_fraction <= 1:
        parser.error("--malformed-fraction must be between 0 and 1")
    if SOURCE_EVENTS[args.source] != args.event:
        parser.error(f"source {args.source!r} produces {SOURCE_EVENTS[args.source]} events, not {args.event}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    contract = CONTRACTS[args.event]
    topic = args.topic or settings.topics[contract.topic]
    records = SOURCES[args.source](seed=args.seed)
    try:
        summary = produce(
            settings.kafka_bootstrap,
            topic,
            contract,
            records,
            args.limit,
            args.rate,
            args.malformed_fraction,
            args.seed,
            args.progress,
        )
    except Exception as exc:  # broker down, unknown topic...: one clear line
        if type(exc).__module__.startswith("kafka"):
            print(f"error: cannot produce to {topic} at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
            return 4
        raise
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
