"""Publish the top-N recommendations of every known visitor: MySQL and the `recommendations` topic.

    retail-pulse recommendations recommend                   # k = 10, the registry's @champion
    retail-pulse recommendations recommend --k 20 --run-id manual-2026-11-23

Visitors are everyone in `interactions`. Each gets the champion's best items (the method its training chose:
ALS, ALS blended with recent popularity, item-kNN, or recent or all-time popularity) except the
ones it already purchased (by the current interactions, not only the model's training data); a
visitor the model does not know (new since training: cold start) gets the model's popular items it
has not bought, flagged `fallback = 1`. Without any champion (e.g. nothing beat popularity) every
visitor gets the popular items, flagged, and the log says so.

Written idempotently per run: `recommendations` and `popular_items` are replaced in one MySQL
transaction (readers see the old set or the new one), then one message per visitor goes to the
`recommendations` topic keyed by visitor id, and one keyed `popular` for unknown visitors.
Logged to MLflow (experiment retail_pulse/recommender, run `recommend-<run id>`).
Exit codes: 0 done, 2 nothing to recommend from, 4 MySQL, MLflow or the broker unreachable.
Message value: {"visitor_id", "items": [{"rank", "item_id", "score"}], "fallback", "model_version",
"run_id", "generated_at"}.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import pandas as pd

from common.cli import entry_point, fail, job_parser
from common.results import RESULTS
from common.settings import Settings, load_settings

COLUMNS = ["visitor_id", "rank_no", "item_id", "score", "fallback", "model_version", "run_id", "generated_at"]
POPULAR_KEY = "popular"
RECOMMENDATIONS = RESULTS["recommendations"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.recommendations.recommend", __doc__)
    parser.add_argument("--k", type=int, default=10, help="items per visitor (default 10)")
    parser.add_argument("--run-id", help="the run these lists belong to (default manual-<UTC time>)")
    parser.add_argument("--no-publish", dest="publish", action="store_false", help="MySQL only, no topic messages")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    args.run_id = args.run_id or f"manual-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    return args


def current_interactions(settings: Settings) -> pd.DataFrame:
    from common.db import query

    rows = query(settings, "SELECT visitor_id, item_id, purchases, confidence FROM interactions", role="writer")
    return pd.DataFrame(rows, columns=["visitor_id", "item_id", "purchases", "confidence"])


def visitor_messages(lists: pd.DataFrame, popular: list, meta: dict) -> list[tuple[str, dict]]:
    """One message per visitor (its ranked items) and one keyed ``popular`` for unknown visitors."""
    messages = []
    for visitor, rows in lists.groupby("visitor_id", sort=True):
        items = [
            {"rank": int(r.rank_no), "item_id": int(r.item_id), "score": float(r.score)}
            for r in rows.itertuples(index=False)
        ]
        fallback = bool(rows["fallback"].iloc[0])
        messages.append(
            (str(visitor), RECOMMENDATIONS.message(visitor_id=int(visitor), items=items, fallback=fallback, **meta))
        )
    ranked = [{"rank": n, "item_id": int(item), "score": None} for n, item in enumerate(popular, start=1)]
    messages.append((POPULAR_KEY, RECOMMENDATIONS.message(visitor_id=None, items=ranked, fallback=True, **meta)))
    return messages


def load_model(settings: Settings):
    """(the champion's Recommender, "name/version"), or None."""
    import mlflow

    from common.registry import champion

    version = champion(settings, settings.recommender_model)
    if version is None:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{settings.recommender_model}/{version.version}").unwrap_python_model()
    return model.model, f"{settings.recommender_model}/{version.version}"


def write(settings: Settings, lists: pd.DataFrame, popular: pd.DataFrame) -> None:
    from common.db import connect, fill_table, transaction

    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.execute("DELETE FROM recommendations")
            fill_table(cur, "recommendations", COLUMNS, list(lists[COLUMNS].itertuples(index=False, name=None)))
            cur.execute("DELETE FROM popular_items")
            fill_table(cur, "popular_items", list(popular.columns), list(popular.itertuples(index=False, name=None)))
    finally:
        conn.close()


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.tracking import check_tracking, run_url, start_run
    from models.recommendations.recommender import popularity
    from models.recommendations.recommender_serving import recommend
    from streaming.sinks import TopicPublisher
    from streaming.topics import broker_reachable

    settings = load_settings()
    started = time.time()
    check_tracking(settings)
    if args.publish and not broker_reachable(settings.kafka_bootstrap):
        return fail(f"no Kafka broker answers at {settings.kafka_bootstrap}; start the stack with `make up`", 4)
    current = current_interactions(settings)
    if current.empty:
        return fail("interactions is empty: stream shopper events first (`retail-pulse ingest stream interactions`)", 2)
    model = load_model(settings)
    if model is None:
        print(
            f"no {settings.recommender_model}@champion (train with `retail-pulse recommendations train`; a version"
            " below the popularity baseline is never promoted): every visitor gets the popular items",
            flush=True,
        )
        popular, counts = popularity(current)
        chosen, version = None, "popularity"
    else:
        chosen, version = model
        popular, counts = chosen.popular, chosen.popular_visitors
    bought = current[current["purchases"] > 0]
    excluded = {v: set(items) for v, items in bought.groupby("visitor_id")["item_id"]}
    visitors = sorted(current["visitor_id"].unique().tolist())
    lists = recommend(chosen, popular, visitors, excluded, args.k)
    now = datetime.now(UTC).replace(tzinfo=None)
    lists = lists.assign(model_version=version, run_id=args.run_id, generated_at=now)
    n = min(args.k, len(popular))
    top = pd.DataFrame(
        {
            "rank_no": range(1, n + 1),
            "item_id": popular[:n],
            "visitors": counts[:n].astype(int),
            "run_id": args.run_id,
            "generated_at": now,
        }
    )
    write(settings, lists, top)
    fallback = int(lists.groupby("visitor_id")["fallback"].first().sum())
    print(
        f"{len(visitors):,} visitors: {len(lists):,} recommendations written ({fallback:,} visitors on the popular"
        f" fallback) by {version}, run {args.run_id}",
        flush=True,
    )
    sent = 0
    if args.publish:
        meta = {"model_version": version, "run_id": args.run_id, "generated_at": now.isoformat()}
        messages = visitor_messages(lists, top["item_id"].tolist(), meta)
        publisher = TopicPublisher(settings)
        try:
            sent = publisher.publish(settings.topic_recommendations, messages, "recommend", 0)
        finally:
            publisher.close()
        print(f"published {sent:,} messages to {settings.topic_recommendations} (keyed by visitor id)")
    with start_run(settings, "recommender", f"recommend-{args.run_id}", tags={"kind": "publish"}) as mlflow_run:
        mlflow.log_params({"k": args.k, "model_version": version, "run_id": args.run_id})
        mlflow.log_metrics(
            {
                "visitors": len(visitors),
                "fallback_visitors": fallback,
                "messages": sent,
                "seconds": time.time() - started,
            }
        )
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
