"""How far each stream query is behind its Kafka topic, and how fresh what it landed is.

    retail-pulse ingest lag                        # every stream query
    retail-pulse ingest lag raw_transactions       # one (or a few)

Per query and partition: the messages on the topic it has not landed yet (the topic's end offset
against one past the newest offset in its stream_batches ledger), and the event time of the
newest record it landed. A stalled query (stopped, failing, or a producer writing faster than it
reads) shows as a growing count here. Every check is stored in stream_lag (view v_stream_lag, the
reports and the DAGs' lag gate); the stream job stores one after each run by itself.
Exit codes: 0 measured, 4 Kafka or MySQL unreachable.
"""

from __future__ import annotations

import argparse
import sys

from common.cli import entry_point, fail, job_parser
from common.settings import load_settings
from jobs.ingest.stream import KAFKA_HINT, QUERY_CONTRACTS

QUERIES = sorted(QUERY_CONTRACTS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.ingest.lag", __doc__)
    parser.add_argument("queries", nargs="*", metavar="QUERY", help=f"default: every query ({', '.join(QUERIES)})")
    args = parser.parse_args(argv)
    unknown = [q for q in args.queries if q not in QUERY_CONTRACTS]
    if unknown:
        parser.error(f"unknown query {', '.join(unknown)}; one of: {', '.join(QUERIES)}")
    args.queries = args.queries or QUERIES
    return args


def run(args: argparse.Namespace) -> int:
    from streaming.lag import measure_and_record
    from streaming.topics import broker_reachable

    settings = load_settings()
    if not broker_reachable(settings.kafka_bootstrap):
        return fail(f"no Kafka broker answers at {settings.kafka_bootstrap}; {KAFKA_HINT}", 4)
    topics = {name: settings.topics[QUERY_CONTRACTS[name].topic] for name in args.queries}
    for lag in measure_and_record(settings, topics):
        print(lag.line())
    return 0


main = entry_point(parse_args, run)

if __name__ == "__main__":
    sys.exit(main())
