"""Publish a forecast run from MySQL to the forecasts topic: one message per (store, item).

    retail-pulse sales publish                       # the newest run
    retail-pulse sales publish --run-key 2025-03-10-daily

Each message is keyed "<store_id>-<item_id>" (a consumer keeps the newest per key) and holds the
run key, as-of date, method, fallback reason and the daily points with 80% and 95% intervals;
headers carry the run key. Re-publishing a run sends the same messages again (idempotent for a
consumer that keys by store-item and run). Exit codes: 0 done, 2 no such run, 4 broker unreachable.
"""

from __future__ import annotations

import argparse
import sys
from itertools import groupby

from common.cli import entry_point, job_parser
from common.db import query
from common.results import FORECAST_POINT_COLUMNS, RESULTS
from common.settings import load_settings
from streaming.sinks import TopicPublisher

FORECASTS = RESULTS["forecasts"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.sales.publish_forecasts", __doc__)
    parser.add_argument("--run-key", help="forecast run to publish (default: the newest)")
    parser.add_argument("--topic", help="target topic (default: settings' forecasts topic)")
    return parser.parse_args(argv)


def forecast_messages(run_key: str, as_of, rows: list[tuple]) -> list[tuple[str, dict]]:
    """Rows (store_id, item_id, method, fallback_reason, *FORECAST_POINT_COLUMNS) sorted by series and date
    -> keyed messages, one per series."""
    messages = []
    for (store, item, method, reason), points in groupby(rows, key=lambda r: r[:4]):
        messages.append(
            (
                f"{store}-{item}",
                FORECASTS.message(
                    run_key=run_key,
                    as_of=as_of.isoformat(),
                    store_id=store,
                    item_id=item,
                    method=method,
                    fallback_reason=reason,
                    points=[
                        {
                            "date": p[4].isoformat(),
                            **{c: round(float(v), 4) for c, v in zip(FORECAST_POINT_COLUMNS[1:], p[5:], strict=True)},
                        }
                        for p in points
                    ],
                ),
            )
        )
    return messages


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    where, params = ("run_key = %s", (args.run_key,)) if args.run_key else ("1 = 1", ())
    runs = query(
        settings, f"SELECT run_key, as_of FROM forecast_runs WHERE {where} ORDER BY as_of DESC LIMIT 1", params
    )
    if not runs:
        print(
            f"error: no forecast run {args.run_key or ''} in forecast_runs; run `retail-pulse sales forecast` first",
            file=sys.stderr,
        )
        return 2
    run_key, as_of = runs[0]
    rows = query(
        settings,
        f"SELECT store_id, item_id, method, fallback_reason, {', '.join(FORECAST_POINT_COLUMNS)} FROM sales_forecasts"
        " WHERE run_key = %s ORDER BY store_id, item_id, forecast_date",
        (run_key,),
    )
    topic = args.topic or settings.topic_forecasts
    publisher = TopicPublisher(settings)
    try:
        sent = publisher.publish(topic, forecast_messages(run_key, as_of, rows), f"forecast:{run_key}", 0)
    except Exception as exc:
        if type(exc).__module__.startswith("kafka"):
            print(f"error: cannot publish to {topic} at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
            return 4
        raise
    finally:
        publisher.close()
    print(f"{topic}: published {sent} series of forecast run {run_key} ({len(rows):,} daily points)")
    return 0


main = entry_point(parse_args, run)

if __name__ == "__main__":
    sys.exit(main())
