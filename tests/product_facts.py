"""Store-item sales and scored reviews written straight into MySQL (as the sales and review streams
would have stored them), for the product-model tests of the integration and e2e tiers."""

from datetime import date, datetime, timedelta

import numpy as np

from common.db import connect, fill_table, transaction
from common.results import RESULTS

ITEMS, STORES = 150, 4
SALES_COLUMNS = [f.name for f in RESULTS["retail_aggregated"].fields]  # a daily_sales row
REVIEW_COLUMNS = [
    "doc_type",
    "doc_id",
    "item_id",
    "created_at",
    "sentiment",
    "confidence",
    "p_negative",
    "p_neutral",
    "p_positive",
    "rating",
    "synthetic",
    "text",
    "model_version",
    "scored_at",
]


def facts(start: date, days: int, shifted: bool = False, seed: int = 1, review_rate: float = 0.06):
    """Stationary store-item sales with two-week promotions (units x2.5 at 30% off) and reviews
    that turn negative for items priced far from their category's norm, either way (a U shape a
    linear baseline cannot fit). ``shifted``: prices x1.8 and units x0.4 (deliberate drift)."""
    rng = np.random.default_rng(seed)
    items = np.arange(ITEMS)
    level = np.random.default_rng(0).uniform(0.4, 2.5, ITEMS)  # the same products in every call
    price = np.array([5.0, 10.0, 20.0])[items % 3] * level
    demand = np.random.default_rng(1).gamma(2.0, 3.0, (STORES, ITEMS)) / level
    starts = rng.random((days + 14, STORES, ITEMS)) < 1 / 70
    promo = np.cumsum(starts, axis=0)
    promo = (promo[14:] - promo[:-14]) > 0
    sales = []
    for d in range(days):
        day = start + timedelta(days=d)
        units = rng.poisson(demand * np.where(promo[d], 2.5, 1.0) * (0.4 if shifted else 1.0))
        paid = price * np.where(promo[d], 0.7, 1.0) * (1.8 if shifted else 1.0)
        for s in range(STORES):
            sales += [(day, s + 1, int(i) + 1, int(units[s, i]), float(units[s, i] * paid[s, i]), 1) for i in items]
    negative = np.where((level < 0.7) | (level > 1.9), 0.75, 0.1)
    reviews, now = [], datetime(2025, 1, 1)
    for d in range(days):
        at = datetime.combine(start + timedelta(days=d), datetime.min.time())
        for i in np.flatnonzero(rng.random(ITEMS) < review_rate):
            bad = rng.random() < negative[i]
            tag = f"{'s' if shifted else 'u'}{start:%Y%m%d}-{d}-{i}"
            reviews.append(
                (
                    "review",
                    tag,
                    int(i) + 1,
                    at + timedelta(hours=int(rng.integers(24))),
                    "negative" if bad else "positive",
                    0.9,
                    0.8 if bad else 0.1,
                    0.1,
                    0.1 if bad else 0.8,
                    1 if bad else 5,
                    1,
                    "x" * int(rng.integers(20, 200)),
                    "test/1",
                    now,
                )
            )
    return sales, reviews


def insert(settings, sales, reviews):
    conn = connect(settings)
    with transaction(conn) as cur:
        fill_table(cur, "daily_sales", SALES_COLUMNS, sales)
        fill_table(cur, "review_sentiment", REVIEW_COLUMNS, reviews)
    conn.close()
