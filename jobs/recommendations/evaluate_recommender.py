"""Choose a recommendation method for your own events or ratings and score it against popularity, with the pipeline's
protocol.

    retail-pulse recommendations evaluate --data events.csv --format retailrocket --k 10 --out metrics.json
    retail-pulse recommendations evaluate --data ratings.csv --format ratings --min-rating 4 --out metrics.json

Formats: retailrocket (timestamp,visitorid,event,itemid[,transactionid]; timestamp in epoch ms),
ratings (user,item,rating,timestamp; MovieLens names such as userId,movieId and `::` files
accepted; every rated item counts as seen, ratings >= --min-rating are the relevant ones; timestamps epoch
seconds or ISO), ta_feng (the Ta-Feng grocery file). The protocol is the one jobs.recommendations.train_recommender
uses (models/recommendations/recommender.py and selection.py): time-based split; every candidate (ALS grid,
recent popularity per window, ALS blended with it, item-kNN) scored on a validation window inside the
training window, an earlier guard window against a lucky win; the choice, ALS, all-time and recent
popularity side by side on the holdout. Runs on local Spark; needs no service.

metrics.json: objects "als", "popularity", "recent_popularity" and "chosen", each with precision@K,
recall@K, map@K, ndcg@K and users (the warm test visitors scored); "method" (the chosen method and
its parameters) and "reason"; "protocol" (split, sizes) and "candidates" (every candidate's
validation metrics, and guard-window metrics where the guard looked). Exit codes: 0 done, 2 bad
arguments or data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.cli import fail, job_parser, write_report
from common.settings import load_settings
from models.recommendations import recommender as R
from models.recommendations.protocol import (
    add_protocol_args,
    check_protocol_args,
    protocol_options,
    report,
    summary_line,
)
from models.recommendations.selection import select_and_evaluate
from streaming.files import DatasetError
from streaming.recommendations.event_sources import read_events


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.recommendations.evaluate_recommender", __doc__)
    parser.add_argument("--data", type=Path, required=True, help="the events or ratings file")
    parser.add_argument("--format", choices=("retailrocket", "ratings", "ta_feng"), required=True)
    parser.add_argument("--min-rating", type=float, default=4.0, help="ratings: lowest rating that counts (4)")
    parser.add_argument("--out", type=Path, required=True, help="where to write metrics.json")
    add_protocol_args(parser)
    args = parser.parse_args(argv)
    check_protocol_args(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    from streaming.spark import get_spark

    args = parse_args(argv)
    settings = load_settings()
    try:
        weights = R.parse_weights(args.weights or settings.interaction_weights)
        events = read_events(args.data, args.format, args.min_rating)
        print(
            f"{args.data}: {len(events):,} events, {events['visitor_id'].nunique():,} visitors,"
            f" {events['item_id'].nunique():,} items",
            flush=True,
        )
        spark = get_spark(settings, "evaluate-recommender")
        outcome = select_and_evaluate(
            spark, events, protocol_options(args, weights), lambda line: print(line, flush=True)
        )
    except (DatasetError, R.DataError) as exc:
        return fail(str(exc), 2)
    print(summary_line(outcome, args.k))
    write_report(args.out, report(outcome, args, weights))
    return 0


if __name__ == "__main__":
    sys.exit(main())
