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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.build_features", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--as-of", type=date.fromisoformat, help="snapshot day (default today, UTC)")
    args = parser.parse_args(argv)
    args.as_of = args.as_of or datetime.now(UTC).date()
    return args


def facts(settings: Settings, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sales of the year before as_of and the scored reviews created before it."""
    from common.db import query

    sales = query(
        settings,
        "SELECT sale_date, store_id, item_id, units, revenue FROM daily_sales WHERE sale_date >= %s AND sale_date < %s",
        (as_of - timedelta(days=365), as_of),
        role="writer",
    )
    reviews = query(
        settings,
        "SELECT created_at, item_id, sentiment, rating, CHAR_LENGTH(text) FROM review_sentiment"
        " WHERE item_id IS NOT NULL AND created_at < %s",
        (as_of,),
        role="writer",
    )
    sales_frame = pd.DataFrame(sales, columns=["sale_date", *KEY, "units", "revenue"]).astype({"revenue": float})
    review_frame = pd.DataFrame(reviews, columns=["created_at", "item_id", "sentiment", "rating", "text_chars"])
    return sales_frame, review_frame


def compute(spark, sales: pd.DataFrame, reviews: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The feature rows of as_of from fact frames (the one code path of training and scoring)."""
    from models.features import product_features
    from streaming.catalogue import catalogue

    known = {p.item_id: p.product_type for p in catalogue().products}
    items = sorted(set(sales["item_id"]))
    categories = pd.DataFrame({"item_id": items, "category": [known.get(i, "unknown") for i in items]})
    sales_df = spark.createDataFrame(sales, "sale_date date, store_id long, item_id long, units long, revenue double")
    review_df = spark.createDataFrame(
        reviews, "created_at timestamp, item_id long, sentiment string, rating int, text_chars int"
    )
    category_df = spark.createDataFrame(categories, "item_id long, category string")
    return product_features(sales_df, review_df, category_df, as_of).toPandas()


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
    with_reviews = int((rows["reviews_all"] > 0).sum())
    print(f"{FEATURE_SET} as of {args.as_of}: {len(rows):,} store-items ({with_reviews:,} with reviews) from"
          f" {len(sales):,} sales days and {len(reviews):,} scored reviews")  # fmt: skip
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
