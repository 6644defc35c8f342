"""Score every store-item with the champion review-risk and sales-volume models, with reasons.

    retail-pulse products score                        # the snapshot of today (UTC): facts up to yesterday
    retail-pulse products score --as-of 2026-11-20 --run-id manual-1 --no-publish

Reads (or builds, with the same code as training) the feature-store snapshot of --as-of, scores it
with each model's `@champion`, explains every prediction with SHAP (the three largest
contributions and a plain-language reason, e.g. "risk up: many recent negative reviews, falling
sales") and writes `product_predictions`: idempotent by (model, version, as_of, store, item), so a
re-run replaces its rows. Risk predictions go to the `review_risk` topic, one message per
store-item keyed "<store_id>:<item_id>". Logged to MLflow (retail_pulse/product_models, run
`score-<run id>`). A model without a champion is skipped with a message.

Message value: {"store_id", "item_id", "as_of", "risk", "flagged", "threshold", "reason",
"top_features": [{"feature", "value", "contribution"}], "model_version", "run_id", "scored_at"}.
Exit codes: 0 done, 2 no snapshot or no champion at all, 4 MySQL, MLflow or the broker unreachable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from common.cli import entry_point, fail, snapshot_parser
from common.settings import load_settings
from models.products import product_models as PM
from streaming.products.item_scoring import current_champions, score_snapshot


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = snapshot_parser("jobs.products.score_products", __doc__, "snapshot day to score")
    parser.add_argument("--run-id", help="the run these scores belong to (default manual-<UTC time>)")
    parser.add_argument("--no-publish", dest="publish", action="store_false", help="MySQL only, no topic messages")
    args = parser.parse_args(argv)
    args.run_id = args.run_id or f"manual-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    return args


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.tracking import check_tracking, run_url, start_run
    from streaming.products.feature_store import snapshots
    from streaming.sinks import TopicPublisher
    from streaming.spark import get_spark
    from streaming.topics import broker_reachable

    PM.set_threads()
    settings = load_settings()
    check_tracking(settings)
    if args.publish and not broker_reachable(settings.kafka_bootstrap):
        return fail(f"no Kafka broker answers at {settings.kafka_bootstrap}; start the stack with `make up`", 4)
    champions = current_champions(settings)
    if not champions:
        return fail("no product model has a champion: nothing to score with", 2)
    snapshot = snapshots(settings, [args.as_of], lambda: get_spark(settings, "product-features"))
    if snapshot.empty:
        return fail(f"no features for {args.as_of}: no daily_sales in the year before it", 2)
    publisher = TopicPublisher(settings) if args.publish else None
    try:
        metrics = score_snapshot(
            settings, snapshot, champions, args.run_id, publisher, log=lambda line: print(line, flush=True)
        )
    finally:
        if publisher is not None:
            publisher.close()
    with start_run(settings, "product_models", f"score-{args.run_id}", tags={"kind": "score"}) as mlflow_run:
        mlflow.log_params(
            {"as_of": str(args.as_of), "run_id": args.run_id, **{f"{k}_version": c[1] for k, c in champions.items()}}
        )
        mlflow.log_metrics(metrics)
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
