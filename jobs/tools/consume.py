"""Print a topic's messages as JSON lines: key, partition, offset, headers and the value.

    retail-pulse tools consume forecasts --limit 3                  # from the beginning, then stop
    retail-pulse tools consume retail_aggregated --follow           # keep printing new messages
    retail-pulse tools consume dead_letter --key retail_transactions-0-42

Manual partition assignment, no consumer group, nothing committed: looking never moves anyone's
offsets. Standard clients work as well (docs/service-developer.md shows kcat).
Exit codes: 0 done, 2 no such topic, 4 broker unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys

from common.cli import job_parser
from common.settings import load_settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.consume", __doc__)
    parser.add_argument("topic", help="topic name, e.g. forecasts, retail_aggregated, dead_letter")
    parser.add_argument("--limit", type=int, help="stop after N messages")
    parser.add_argument("--key", help="only messages with this key")
    parser.add_argument("--follow", action="store_true", help="wait for new messages instead of stopping at the end")
    return parser.parse_args(argv)


def render(message) -> str:
    try:
        value = json.loads(message.value) if message.value is not None else None
    except ValueError:
        value = message.value.decode("utf-8", errors="replace")
    return json.dumps(
        {
            "key": message.key.decode("utf-8", errors="replace") if message.key is not None else None,
            "partition": message.partition,
            "offset": message.offset,
            "headers": {k: v.decode("utf-8", errors="replace") for k, v in message.headers or []},
            "value": value,
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from streaming.topics import end_offsets

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, allow_auto_create_topics=False
        )
        partitions = consumer.partitions_for_topic(args.topic)
    except KafkaError as exc:
        print(f"error: cannot reach the broker at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
        return 4
    if not partitions:
        print(f"error: no topic {args.topic!r} at {settings.kafka_bootstrap}", file=sys.stderr)
        consumer.close()
        return 2
    ends = {} if args.follow else end_offsets(consumer, args.topic)
    assigned = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    printed = 0
    try:
        while True:
            done = [tp for tp in assigned if not args.follow and consumer.position(tp) >= ends.get(tp.partition, 0)]
            if len(done) == len(assigned):
                break
            for records in consumer.poll(timeout_ms=1000).values():
                for message in records:
                    if not args.follow and message.offset >= ends[message.partition]:
                        continue
                    if args.key is not None and (message.key or b"").decode(errors="replace") != args.key:
                        continue
                    print(render(message), flush=True)
                    printed += 1
                    if args.limit is not None and printed >= args.limit:
                        return 0
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
