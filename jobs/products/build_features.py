"""Build the product feature snapshot of one day: MySQL facts -> Spark -> product_features.

    retail-pulse products features                      # as of today (UTC): facts up to yesterday
    retail-pulse products features --as-of 2026-11-20   # a past snapshot (backfill), point in time

Reads daily_sales (the year before --as-of) and review_sentiment (created before --as-of), computes
the features of every (store, item) with sales in that year (models/products/features.py: rolling units,
pace, price and discount, price against the category median, review counts, mean rating,
negative / positive shares, text length) and replaces that day's rows of the feature set in
product_features, in one transaction: a re-run gives the same snapshot. Training reads stored
snapshots; scoring computes the same features with the same code.
Exit codes: 0 done, 2 no sales before --as-of, 4 MySQL unreachable.
"""

from __future__ import annotations

import argparse
import sys

from common.cli import entry_point, fail, snapshot_parser
from common.settings import load_settings
from models.products.features import FEATURE_SET
from streaming.products.feature_store import compute, facts, master_categories, store


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return snapshot_parser("jobs.products.build_features", __doc__, "snapshot day").parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from streaming.spark import get_spark

    settings = load_settings()
    sales, reviews = facts(settings, args.as_of)
    if sales.empty:
        return fail(f"no daily_sales in the year before {args.as_of}: nothing to compute features from", 2)
    categories = master_categories(settings, sales["item_id"])
    rows = compute(get_spark(settings, "build-features"), sales, reviews, args.as_of, categories)
    store(settings, rows, args.as_of)
    with_reviews = int((rows["reviews_90"] > 0).sum())
    print(
        f"{FEATURE_SET} as of {args.as_of}: {len(rows):,} store-items ({with_reviews:,} with reviews) from"
        f" {len(sales):,} sales days and {len(reviews):,} scored reviews"
    )
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
