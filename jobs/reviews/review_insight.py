"""Does sentiment move with sales? Daily sentiment per product and store next to units sold.

    retail-pulse reviews insight                 # rebuild the tables, print the top negative products
    retail-pulse reviews insight --top 10 --min-documents 20

1. ``sentiment_sales_daily``: per day, store and item, the scored reviews and posts by class, the
   net sentiment ((positive - negative) / documents) and that day's units from ``daily_sales``
   (rebuilt: delete then insert, one transaction).
2. ``sentiment_sales_correlation``: per item, the Pearson correlation between its daily net
   sentiment (all stores) and its units ``lag`` days later, for lags 0, 1, 3 and 7; NULL with
   fewer than --min-days days of both. ``v_sentiment_sales`` puts the two side by side.
3. Prints the products with the highest share of negative documents (at least --min-documents).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from common.cli import entry_point, job_parser
from common.db import connect, transaction
from common.report_queries import top_negative_products
from common.settings import load_settings

LAGS = (0, 1, 3, 7)

DAILY_SQL = """
INSERT INTO sentiment_sales_daily (day, store_id, item_id, documents, negative, neutral, positive, net_sentiment, units)
SELECT s.day, s.store_id, s.item_id, s.documents, s.negative, s.neutral, s.positive,
       (s.positive - s.negative) / s.documents, d.units
FROM (
  SELECT DATE(created_at) AS day, store_id, item_id, COUNT(*) AS documents,
         SUM(sentiment = 'negative') AS negative, SUM(sentiment = 'neutral') AS neutral,
         SUM(sentiment = 'positive') AS positive
  FROM review_sentiment WHERE item_id IS NOT NULL AND store_id IS NOT NULL
  GROUP BY DATE(created_at), store_id, item_id
) s
LEFT JOIN daily_sales d ON d.sale_date = s.day AND d.store_id = s.store_id AND d.item_id = s.item_id
"""


def lagged_correlations(daily: pd.DataFrame, lags=LAGS, min_days: int = 10) -> pd.DataFrame:
    """Pure: ``item_id, day, net_sentiment, units`` (one row per item and day, all stores) ->
    ``item_id, lag_days, correlation, days``: corr(net sentiment on day d, units on day d + lag)."""
    rows = []
    for item, group in daily.groupby("item_id"):
        series = group.set_index(pd.to_datetime(group["day"]))
        for lag in lags:
            units_later = series["units"].copy()
            units_later.index = units_later.index - pd.Timedelta(days=lag)
            both = pd.concat([series["net_sentiment"], units_later.rename("later")], axis=1).dropna()
            corr = None
            varied = len(both) >= 2 and both["net_sentiment"].std() > 0 and both["later"].std() > 0
            if len(both) >= min_days and varied:
                corr = round(float(np.corrcoef(both["net_sentiment"], both["later"])[0, 1]), 4)
            rows.append((int(item), lag, corr, len(both)))
    return pd.DataFrame(rows, columns=["item_id", "lag_days", "correlation", "days"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reviews.review_insight", __doc__)
    parser.add_argument("--top", type=int, default=5, help="how many of the most negative products to print")
    parser.add_argument("--min-documents", type=int, default=10, help="products with fewer documents are not ranked")
    parser.add_argument("--min-days", type=int, default=10, help="days needed for a correlation")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.execute("DELETE FROM sentiment_sales_daily")
            cur.execute(DAILY_SQL)
            days = cur.rowcount
            cur.execute(
                "SELECT item_id, day, SUM(positive - negative) / SUM(documents), SUM(units)"
                " FROM sentiment_sales_daily GROUP BY item_id, day"
            )
            daily = pd.DataFrame(cur.fetchall(), columns=["item_id", "day", "net_sentiment", "units"])
            daily[["net_sentiment", "units"]] = daily[["net_sentiment", "units"]].astype(float)
            corr = lagged_correlations(daily, min_days=args.min_days)
            now = datetime.now(UTC).replace(tzinfo=None)
            cur.execute("DELETE FROM sentiment_sales_correlation")
            cur.executemany(
                "INSERT INTO sentiment_sales_correlation (item_id, lag_days, correlation, days, computed_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(*row, now) for row in corr.itertuples(index=False, name=None)],
            )
    finally:
        conn.close()
    measured = corr.dropna(subset=["correlation"])
    print(
        f"sentiment_sales_daily: {days:,} (day, store, item) rows; correlations for "
        f"{measured['item_id'].nunique():,} items at lags {', '.join(map(str, LAGS))} days"
    )
    for lag, group in measured.groupby("lag_days"):
        print(f"  lag {lag} d: median correlation {group['correlation'].median():+.3f} over {len(group)} items")
    top = top_negative_products(settings, args.top, args.min_documents)
    print(f"top {len(top)} negative products (share of negative reviews and posts):")
    for p in top:
        print(f"  {p['product']:32} item {p['item_id']:>4}: {p['negative_share']:6.1%} of {p['documents']:,}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
