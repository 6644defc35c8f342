"""The feature store on the real server: a snapshot built by the job equals what scoring computes
online for the same day (no training/serving skew), a re-run replaces it, and it never reads facts
dated on or after its day."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from common.db import connect, query, transaction
from models.products.features import FEATURE_SET
from streaming.products.feature_store import COLUMNS, compute, facts, master_categories
from tests.support import run_job

pytestmark = pytest.mark.integration
AS_OF = date(2025, 6, 1)


def stored(settings, as_of):
    rows = query(
        settings,
        f"SELECT {', '.join(COLUMNS[:-1])} FROM product_features WHERE as_of = %s ORDER BY store_id, item_id",
        (as_of,),
    )
    return pd.DataFrame(rows, columns=COLUMNS[:-1])


def test_offline_snapshot_equals_online_features(private_db, spark):
    settings = private_db
    sales = [
        (AS_OF - timedelta(days=d), s, i, 3 + i + s, (3 + i + s) * (2.0 + i))
        for d in range(-5, 90)
        for s in (1, 2)
        for i in (1, 2, 3)
    ]
    at = datetime.combine(AS_OF, datetime.min.time())
    reviews = [
        (
            "review",
            f"r{n}",
            1 + n % 3,
            at - timedelta(days=n % 40 - 3),
            ("negative", "positive")[n % 2],
            1 + n % 5,
            "text " * (n % 7 + 1),
        )
        for n in range(60)
    ]
    conn = connect(settings)
    with transaction(conn) as cur:
        cur.executemany(
            "INSERT INTO daily_sales (sale_date, store_id, item_id, units, revenue, sale_lines)"
            " VALUES (%s, %s, %s, %s, %s, 1)",
            sales,
        )
        cur.executemany(
            "INSERT INTO review_sentiment (doc_type, doc_id, item_id, created_at, sentiment, confidence, p_negative,"
            " p_neutral, p_positive, rating, synthetic, text, model_version, scored_at)"
            " VALUES (%s, %s, %s, %s, %s, 0.9, 0.1, 0.1, 0.8, %s, 1, %s, 'test/1', NOW())",
            reviews,
        )
    conn.close()

    assert (
        "as of 2025-06-01: 6 store-items (6 with reviews)"
        in run_job("products", "features", "--as-of", AS_OF.isoformat(), timeout=300).stdout
    )
    offline = stored(settings, AS_OF)
    sold, reviewed = facts(settings, AS_OF)
    online = compute(spark, sold, reviewed, AS_OF, master_categories(settings, sold["item_id"]))
    online = online.assign(feature_set=FEATURE_SET)[COLUMNS[:-1]].sort_values(["store_id", "item_id"])
    pd.testing.assert_frame_equal(offline.reset_index(drop=True), online.reset_index(drop=True), check_dtype=False)
    assert (offline["reviews_90"] > 0).all() and offline["units_7"].gt(0).all()

    run_job("products", "features", "--as-of", AS_OF.isoformat(), timeout=300)  # a re-run replaces the snapshot
    assert len(stored(settings, AS_OF)) == 6
    # facts dated on or after as_of exist (5 days of sales, 3 of reviews) and are not read
    sales_read, reviews_read = facts(settings, AS_OF)
    assert query(settings, "SELECT MAX(sale_date) FROM daily_sales")[0][0] > AS_OF
    assert sales_read["sale_date"].max() < AS_OF and reviews_read["created_at"].max() < at
    assert len(reviews_read) < len(reviews)
