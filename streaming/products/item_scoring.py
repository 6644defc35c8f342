"""Scoring store-items with the champion product models: prediction rows with SHAP reasons into
product_predictions, risk messages to the review_risk topic; the daily job and the review stream's re-scoring
(ItemScoring) share it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from common.results import RESULTS
from common.settings import Settings
from models.products import product_models as PM

REVIEW_RISK = RESULTS["review_risk"]

COLUMNS = [
    "model_name",
    "kind",
    "model_version",
    "as_of",
    "store_id",
    "item_id",
    "prediction",
    "lower_bound",
    "upper_bound",
    "flagged",
    "top_features",
    "reason",
    "run_id",
    "scored_at",
]


def prediction_rows(
    kind: str, name: str, version: str, snapshot: pd.DataFrame, scored: pd.DataFrame, run_id: str, now: datetime
) -> pd.DataFrame:
    out = snapshot[["as_of", *PM.KEY]].assign(
        model_name=name, kind=kind, model_version=version, run_id=run_id, scored_at=now
    )
    out = out.join(scored.rename(columns={"lower": "lower_bound", "upper": "upper_bound"}))
    return out[COLUMNS]


def risk_messages(rows: pd.DataFrame, threshold: float) -> list[tuple[str, dict]]:
    return [
        (
            f"{r.store_id}:{r.item_id}",
            REVIEW_RISK.message(
                store_id=int(r.store_id),
                item_id=int(r.item_id),
                as_of=str(r.as_of),
                risk=round(float(r.prediction), 6),
                flagged=bool(r.flagged),
                threshold=round(threshold, 6),
                reason=r.reason,
                top_features=json.loads(r.top_features),
                model_version=r.model_version,
                run_id=r.run_id,
                scored_at=r.scored_at.isoformat(),
            ),
        )
        for r in rows.itertuples(index=False)
    ]


def write(settings: Settings, rows: pd.DataFrame) -> None:
    from common.db import connect, fill_table, transaction

    values = [tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(index=False, name=None)]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            fill_table(cur, "product_predictions", COLUMNS, values)  # REPLACE on (model, version, day, store-item)
    finally:
        conn.close()


def current_champions(settings: Settings, log=print) -> dict:
    """{kind: (model, version, run id)} of the champions that read the current feature set."""
    from models.products.product_serving import load_champion, model_name

    champions = {kind: load_champion(settings, kind) for kind in PM.KINDS}
    for kind in [k for k, c in champions.items() if c is None or not c[0].current()]:
        log(
            f"no {model_name(settings, kind)}@champion for the current feature set: {kind} not scored (train with"
            " `retail-pulse products train`; a version below its baseline is never promoted)"
        )
    return {k: c for k, c in champions.items() if c is not None and c[0].current()}


def score_snapshot(
    settings: Settings, snapshot: pd.DataFrame, champions: dict, run_id: str, publisher=None, log=print
) -> dict:
    """Score and explain the snapshot rows with each champion, write them, publish the risk
    messages (with a publisher); returns metrics."""
    from models.products.product_serving import model_name, scored

    now = datetime.now(UTC).replace(tzinfo=None)
    metrics = {"store_items": len(snapshot), "messages": 0}
    for kind, (model, version, _) in champions.items():
        rows = prediction_rows(
            kind, model_name(settings, kind), version, snapshot, scored(model, snapshot), run_id, now
        )
        write(settings, rows)
        metrics[f"{kind}.mean_prediction"] = float(rows["prediction"].mean())
        log(
            f"{kind}: {len(rows):,} store-items scored by {model_name(settings, kind)} version {version}"
            f" (mean prediction {rows['prediction'].mean():.3f})"
        )
        if kind == "risk":
            metrics["risk.flagged"] = int(rows["flagged"].sum())
            for r in rows.sort_values("prediction", ascending=False).head(3).itertuples(index=False):
                log(f"  store {r.store_id} item {r.item_id}: risk {r.prediction:.2f} ({r.reason})")
            if publisher is not None:
                messages = risk_messages(rows, model.threshold)
                metrics["messages"] = publisher.publish(settings.topic_review_risk, messages, run_id, 0)
                log(
                    f"published {metrics['messages']:,} messages to {settings.topic_review_risk}"
                    " (keyed store_id:item_id)"
                )
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
        from streaming.products.feature_store import compute, facts, master_categories

        as_of = datetime.now(UTC).date() + timedelta(days=1)
        sales, reviews = facts(self.settings, as_of, items=sorted(items))
        if sales.empty:
            return
        snapshot = compute(self.spark, sales, reviews, as_of, master_categories(self.settings, sales["item_id"]))
        metrics = score_snapshot(
            self.settings, snapshot, self.champions, self.run_id, self.publisher, log=lambda line: None
        )
        print(
            f"  re-scored {len(snapshot):,} store-items of {len(items)} product(s) with new reviews"
            f" ({metrics['messages']:,} review_risk messages)",
            flush=True,
        )

    def close(self) -> None:
        self.publisher.close()
