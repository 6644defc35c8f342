"""Score every store-item with the champion review-risk and sales-volume models, with reasons.

    python -m jobs.score_products                        # the snapshot of today (UTC): facts up to yesterday
    python -m jobs.score_products --as-of 2026-11-20 --run-id manual-1 --no-publish

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
import json
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd

from common.cli import entry_point, fail
from common.settings import Settings, load_settings
from jobs.build_features import snapshot_parser
from models import product_models as PM

COLUMNS = ["model_name", "kind", "model_version", "as_of", "store_id", "item_id", "prediction", "lower_bound",
           "upper_bound", "flagged", "top_features", "reason", "run_id", "scored_at"]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = snapshot_parser("python -m jobs.score_products", __doc__, "snapshot day to score")
    parser.add_argument("--run-id", help="the run these scores belong to (default manual-<UTC time>)")
    parser.add_argument("--no-publish", dest="publish", action="store_false", help="MySQL only, no topic messages")
    args = parser.parse_args(argv)
    args.run_id = args.run_id or f"manual-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    return args


def prediction_rows(kind: str, name: str, version: str, snapshot: pd.DataFrame, scored: pd.DataFrame,
                    run_id: str, now: datetime) -> pd.DataFrame:  # fmt: skip
    out = snapshot[["as_of", *PM.KEY]].assign(model_name=name, kind=kind, model_version=version, run_id=run_id,
                                              scored_at=now)  # fmt: skip
    out = out.join(scored.rename(columns={"lower": "lower_bound", "upper": "upper_bound"}))
    return out[COLUMNS]


def risk_messages(rows: pd.DataFrame, threshold: float) -> list[tuple[str, dict]]:
    return [
        (
            f"{r.store_id}:{r.item_id}",
            {
                "store_id": int(r.store_id),
                "item_id": int(r.item_id),
                "as_of": str(r.as_of),
                "risk": round(float(r.prediction), 6),
                "flagged": bool(r.flagged),
                "threshold": round(threshold, 6),
                "reason": r.reason,
                "top_features": json.loads(r.top_features),
                "model_version": r.model_version,
                "run_id": r.run_id,
                "scored_at": r.scored_at.isoformat(),
            },
        )  # fmt: skip
        for r in rows.itertuples(index=False)
    ]


def write(settings: Settings, rows: pd.DataFrame) -> None:
    from common.db import connect, transaction
    from streaming.sinks import fill_table

    values = [tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(index=False, name=None)]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            fill_table(cur, "product_predictions", COLUMNS, values)  # REPLACE on (model, version, day, store-item)
    finally:
        conn.close()


def current_champions(settings: Settings, log=print) -> dict:
    """{kind: (model, version, run id)} of the champions that read the current feature set."""
    from models.product_serving import load_champion, model_name

    champions = {kind: load_champion(settings, kind) for kind in PM.KINDS}
    for kind in [k for k, c in champions.items() if c is None or not c[0].current()]:
        log(f"no {model_name(settings, kind)}@champion for the current feature set: {kind} not scored (train with"
            " `python -m jobs.train_product_models`; a version below its baseline is never promoted)")  # fmt: skip
    return {k: c for k, c in champions.items() if c is not None and c[0].current()}


def score_snapshot(settings: Settings, snapshot: pd.DataFrame, champions: dict, run_id: str,
                   publisher=None, log=print) -> dict:  # fmt: skip
    """Score and explain the snapshot rows with each champion, write them, publish the risk
    messages (with a publisher); returns metrics."""
    from models.product_serving import model_name, scored

    now = datetime.now(UTC).replace(tzinfo=None)
    metrics = {"store_items": len(snapshot), "messages": 0}
    for kind, (model, version, _) in champions.items():
        rows = prediction_rows(kind, model_name(settings, kind), version, snapshot, scored(model, snapshot), run_id,
                               now)  # fmt: skip
        write(settings, rows)
        metrics[f"{kind}.mean_prediction"] = float(rows["prediction"].mean())
        log(f"{kind}: {len(rows):,} store-items scored by {model_name(settings, kind)} version {version}"
            f" (mean prediction {rows['prediction'].mean():.3f})")  # fmt: skip
        if kind == "risk":
            metrics["risk.flagged"] = int(rows["flagged"].sum())
            for r in rows.sort_values("prediction", ascending=False).head(3).itertuples(index=False):
                log(f"  store {r.store_id} item {r.item_id}: risk {r.prediction:.2f} ({r.reason})")
            if publisher is not None:
                messages = risk_messages(rows, model.threshold)
                metrics["messages"] = publisher.publish(settings.topic_review_risk, messages, run_id, 0)
                log(f"published {metrics['messages']:,} messages to {settings.topic_review_risk}"
                    " (keyed store_id:item_id)")  # fmt: skip
    return metrics


class ItemScoring:
    """Re-scores the products whose reviews a stream batch changed (``review_scoring``): their
    features as of tomorrow (UTC), i.e. with every fact up to now, computed by the same code as
    the daily snapshot, scored by the champions loaded once, into ``product_predictions`` and
    ``review_risk`` under run id ``stream-<query>``. The daily ``model_monitoring`` run computes
    the full snapshot of that day later and replaces these rows (same model version and day)."""

    def __init__(self, settings: Settings, spark, champions: dict, query_name: str):
        from streaming.sinks import TopicPublisher

        self.settings, self.spark, self.champions = settings, spark, champions
        self.run_id = f"stream-{query_name}"
        self.publisher = TopicPublisher(settings)

    def __call__(self, items: list[int]) -> None:
        from jobs.build_features import compute, facts

        as_of = datetime.now(UTC).date() + timedelta(days=1)
        sales, reviews = facts(self.settings, as_of, items=sorted(items))
        if sales.empty:
            return
        snapshot = compute(self.spark, sales, reviews, as_of)
        metrics = score_snapshot(self.settings, snapshot, self.champions, self.run_id, self.publisher,
                                 log=lambda line: None)  # fmt: skip
        print(f"  re-scored {len(snapshot):,} store-items of {len(items)} product(s) with new reviews"
              f" ({metrics['messages']:,} review_risk messages)", flush=True)  # fmt: skip

    def close(self) -> None:
        self.publisher.close()


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.tracking import check_tracking, run_url, start_run
    from jobs.build_features import snapshots
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
        metrics = score_snapshot(settings, snapshot, champions, args.run_id, publisher,
                                 log=lambda line: print(line, flush=True))  # fmt: skip
    finally:
        if publisher is not None:
            publisher.close()
    with start_run(settings, "product_models", f"score-{args.run_id}", tags={"kind": "score"}) as mlflow_run:
        mlflow.log_params({"as_of": str(args.as_of), "run_id": args.run_id,
                           **{f"{k}_version": c[1] for k, c in champions.items()}})  # fmt: skip
        mlflow.log_metrics(metrics)
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
