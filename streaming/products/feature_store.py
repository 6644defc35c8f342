"""The product feature store: the facts a snapshot reads, the features Spark computes from them, the stored
snapshots in product_features. Training, the daily snapshot, scoring and the review stream's re-scoring all use
this one code path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from common.settings import Settings
from models.products import product_models as PM
from models.products.features import FEATURE_SET, FEATURES, KEY

COLUMNS = ["feature_set", "as_of", *KEY, "category", *FEATURES, "computed_at"]


def facts(
    settings: Settings, as_of: date, since: date | None = None, items: list[int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sales days and the scored reviews dated before as_of (sales from ``since``, default the
    year before as_of: all a snapshot of as_of reads), of every item or of ``items`` only."""
    from common.db import query

    only = f" AND item_id IN ({', '.join(['%s'] * len(items))})" if items else ""
    sales = query(
        settings,
        "SELECT sale_date, store_id, item_id, units, revenue FROM daily_sales WHERE sale_date >= %s"
        f" AND sale_date < %s{only}",
        (since or as_of - timedelta(days=365), as_of, *(items or [])),
        role="writer",
    )
    reviews = query(
        settings,
        "SELECT created_at, item_id, sentiment, rating, CHAR_LENGTH(text) FROM review_sentiment"
        f" WHERE item_id IS NOT NULL AND created_at < %s{only}",
        (as_of, *(items or [])),
        role="writer",
    )
    sales_frame = pd.DataFrame(sales, columns=["sale_date", *KEY, "units", "revenue"]).astype({"revenue": float})
    review_frame = pd.DataFrame(reviews, columns=["created_at", "item_id", "sentiment", "rating", "text_chars"])
    return sales_frame, review_frame


def master_categories(settings: Settings, items) -> pd.DataFrame:
    """(item_id, category): each item's category in the master data loaded into MySQL (`retail-pulse ingest
    catalogue`), ``unknown`` for an item it lacks; with no master data loaded, the demo catalogue's."""
    from common.catalogue import catalogue, stored_catalogue

    known = {p.item_id: p.product_type for p in (stored_catalogue(settings) or catalogue()).products}
    items = sorted(set(items))
    return pd.DataFrame({"item_id": items, "category": [known.get(i, "unknown") for i in items]})


def compute(
    spark, sales: pd.DataFrame, reviews: pd.DataFrame, as_of: date | list[date], categories: pd.DataFrame
) -> pd.DataFrame:
    """The feature rows of as_of (or of each of several days) from fact frames and (item_id, category)
    (master_categories): the one code path of training and scoring."""
    from models.products.features import product_features

    sales_df = spark.createDataFrame(sales, "sale_date date, store_id long, item_id long, units double, revenue double")
    review_df = spark.createDataFrame(
        reviews, "created_at timestamp, item_id long, sentiment string, rating int, text_chars int"
    )
    category_df = spark.createDataFrame(categories, "item_id long, category string")
    days = as_of if isinstance(as_of, list) else [as_of]
    frames = [product_features(sales_df, review_df, category_df, day).toPandas() for day in days]
    return pd.concat(frames, ignore_index=True)


def stored_snapshots(settings: Settings, days: list[date]) -> pd.DataFrame:
    """The stored rows of these snapshot days (COLUMNS without computed_at)."""
    from common.db import query

    marks = ", ".join(["%s"] * len(days))
    sql = (
        f"SELECT {', '.join(COLUMNS[1:-1])} FROM product_features WHERE feature_set = %s AND as_of IN ({marks})"
        " ORDER BY as_of, store_id, item_id"
    )
    rows = query(settings, sql, (FEATURE_SET, *days), role="writer")
    frame = pd.DataFrame(rows, columns=COLUMNS[1:-1])
    return frame.astype({f: float for f in FEATURES})


def snapshots(settings: Settings, days: list[date], spark_factory, log=print) -> pd.DataFrame:
    """The snapshots of these days, building (and storing) the missing ones first."""
    have = set(stored_snapshots(settings, days)["as_of"].unique())
    missing = sorted(d for d in days if d not in have)
    if missing:
        log(f"building {len(missing)} missing {FEATURE_SET} snapshot(s): {', '.join(map(str, missing))}")
        sales, reviews = facts(settings, missing[-1], since=missing[0] - timedelta(days=365))
        if not sales.empty:
            rows = compute(spark_factory(), sales, reviews, missing, master_categories(settings, sales["item_id"]))
            for day, part in rows.groupby("as_of"):
                store(settings, part, day)
    return stored_snapshots(settings, days)


def store(settings: Settings, rows: pd.DataFrame, as_of: date) -> None:
    from common.db import connect, fill_table, transaction

    now = datetime.now(UTC).replace(tzinfo=None)
    frame = rows.assign(feature_set=FEATURE_SET, as_of=as_of, computed_at=now)[COLUMNS]
    values = [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.execute("DELETE FROM product_features WHERE feature_set = %s AND as_of = %s", (FEATURE_SET, as_of))
            fill_table(cur, "product_features", COLUMNS, values)
    finally:
        conn.close()


def snapshot_days(as_of: date, count: int, every: int, horizon: int = PM.HORIZON) -> list[date]:
    """The ``count`` snapshot days, oldest first, the newest ``horizon`` days before ``as_of``."""
    newest = as_of - timedelta(days=horizon)
    return [newest - timedelta(days=every * k) for k in reversed(range(count))]


def labelled(settings: Settings, days: list[date], as_of: date, log=print) -> pd.DataFrame:
    """The snapshots of ``days`` with their outcomes from the facts before ``as_of``."""
    from streaming.products.feature_store import facts, snapshots
    from streaming.spark import get_spark

    frame = snapshots(settings, days, lambda: get_spark(settings, "product-features"), log)
    sales, reviews = facts(settings, as_of, since=min(days))
    return PM.label_snapshots(frame, sales, reviews, as_of - timedelta(days=1))
