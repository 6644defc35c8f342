"""Build the product feature snapshot of one day: MySQL facts -> Spark -> product_features.

    python -m jobs.build_features                      # as of today (UTC): facts up to yesterday
    python -m jobs.build_features --as-of 2026-11-20   # a past snapshot (backfill), point in time

Reads daily_sales (the year before --as-of) and review_sentiment (created before --as-of), computes
the features of every (store, item) with sales in that year (models/features.py: rolling units,
pace, price and discount, price against the category median, review counts, mean rating,
negative / positive shares, text length) and replaces that day's rows of the feature set in
product_features, in one transaction: a re-run gives the same snapshot. Training reads stored
snapshots; scoring computes the same features with the same code.
Exit codes: 0 done, 2 no sales before --as-of, 4 MySQL unreachable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from common.cli import entry_point, fail
from common.settings import Settings, load_settings
from models.features import FEATURE_SET, FEATURES, KEY

COLUMNS = ["feature_set", "as_of", *KEY, "category", *FEATURES, "computed_at"]


def snapshot_parser(prog: str, doc: str, as_of_help: str) -> argparse.ArgumentParser:
    """The argument parser of a job working on one snapshot day: --as-of, default today (UTC)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--as-of", type=date.fromisoformat, default=datetime.now(UTC).date(),
                        help=f"{as_of_help} (default today, UTC)")  # fmt: skip
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return snapshot_parser("python -m jobs.build_features", __doc__, "snapshot day").parse_args(argv)


def facts(settings: Settings, as_of: date, since: date | None = None, items: list[int] | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
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


def catalogue_categories(items) -> pd.DataFrame:
    """(item_id, category): the product type of the demo catalogue's items, ``unknown`` for others."""
    from streaming.catalogue import catalogue

    known = {p.item_id: p.product_type for p in catalogue().products}
    items = sorted(set(items))
    return pd.DataFrame({"item_id": items, "category": [known.get(i, "unknown") for i in items]})


def compute(spark, sales: pd.DataFrame, reviews: pd.DataFrame, as_of: date | list[date],
            categories: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The feature rows of as_of (or of each of several days) from fact frames: the one code path
    of training and scoring. ``categories`` (item_id, category) defaults to the catalogue's."""
    from models.features import product_features

    if categories is None:
        categories = catalogue_categories(sales["item_id"])
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
    sql = (f"SELECT {', '.join(COLUMNS[1:-1])} FROM product_features WHERE feature_set = %s AND as_of IN ({marks})"
           " ORDER BY as_of, store_id, item_id")  # fmt: skip
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
            rows = compute(spark_factory(), sales, reviews, missing)
            for day, part in rows.groupby("as_of"):
                store(settings, part, day)
    return stored_snapshots(settings, days)


def store(settings: Settings, rows: pd.DataFrame, as_of: date) -> None:
    from common.db import connect, transaction
    from streaming.sinks import fill_table

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


def run(args: argparse.Namespace) -> int:
    from streaming.spark import get_spark

    settings = load_settings()
    sales, reviews = facts(settings, args.as_of)
    if sales.empty:
        return fail(f"no daily_sales in the year before {args.as_of}: nothing to compute features from", 2)
    rows = compute(get_spark(settings, "build-features"), sales, reviews, args.as_of)
    store(settings, rows, args.as_of)
    with_reviews = int((rows["reviews_90"] > 0).sum())
    print(f"{FEATURE_SET} as of {args.as_of}: {len(rows):,} store-items ({with_reviews:,} with reviews) from"
          f" {len(sales):,} sales days and {len(reviews):,} scored reviews")  # fmt: skip
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
