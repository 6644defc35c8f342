"""Product features on tiny frames: the values, and that nothing dated on or after as_of leaks in."""

from datetime import date, datetime, timedelta

import pytest

from models.products.features import FEATURES, product_features

AS_OF = date(2025, 3, 1)
SALES = "sale_date date, store_id long, item_id long, units long, revenue double"
REVIEWS = "created_at timestamp, item_id long, sentiment string, rating int, text_chars int"


def sales_rows(days_before=range(1, 61), after=0):
    rows = []
    for back in days_before:
        day = AS_OF - timedelta(days=back)
        rows.append((day, 1, 1, 2, 4.0))  # item 1: 2 units a day at 2.00
        rows.append((day, 1, 2, 1, 10.0 if back > 28 else 8.0))  # item 2: 10.00, 20% off in the last 28 days
        rows.append((day, 1, 3, 1, 1.0))  # item 3 (no category given)
    for ahead in range(after):
        rows.append((AS_OF + timedelta(days=ahead), 1, 1, 100, 1.0))  # the future: must not count
    return rows


def review_rows(future=False):
    at = datetime.combine(AS_OF, datetime.min.time())
    rows = [
        (at - timedelta(days=2), 1, "negative", 1, 100),
        (at - timedelta(days=3), 1, "positive", 5, 50),
        (at - timedelta(days=5), 1, "positive", 4, 30),
        (at - timedelta(days=40), 1, "negative", 1, 10),  # older than 28 days: only in the 90-day figures
        (at - timedelta(days=91), 1, "negative", 1, 10),  # older than 90 days: in no feature
        (at - timedelta(days=50), 3, "negative", 1, 10),  # item 3: reviews, none in the last 28 days
    ]
    if future:
        rows += [(at, 1, "negative", 1, 999), (at + timedelta(days=3), 2, "negative", 1, 999)]
    return rows


def features(spark, future=False):
    sales = spark.createDataFrame(sales_rows(after=10 if future else 0), SALES)
    reviews = spark.createDataFrame(review_rows(future), REVIEWS)
    categories = spark.createDataFrame([(1, "food"), (2, "food")], "item_id long, category string")
    rows = product_features(sales, reviews, categories, AS_OF).orderBy("item_id").collect()
    return {r["item_id"]: r.asDict() for r in rows}


def test_sales_and_review_features(spark):
    got = features(spark)
    one, two = got[1], got[2]
    assert (one["units_7"], one["units_28"], one["sales_trend"]) == (14.0, 56.0, 1.0)
    assert one["price_28"] == 2.0 and one["discount_28"] == 0.0
    assert two["price_28"] == 8.0 and two["discount_28"] == pytest.approx(0.2)
    assert one["reviews_28"] == 3 and one["reviews_90"] == 4 and one["avg_rating_90"] == pytest.approx(11 / 4)
    assert one["negative_share_28"] == pytest.approx(1 / 3) and one["positive_share_28"] == pytest.approx(2 / 3)
    assert one["text_chars_28"] == pytest.approx(60.0)
    assert two["reviews_90"] == 0 and two["negative_share_28"] is None  # no reviews: zero counts, no shares
    three = got[3]  # reviews in the last 90 days but none in the last 28: counts, no shares
    assert (three["reviews_28"], three["reviews_90"], three["negative_share_28"]) == (0, 1, None)
    assert three["category"] == "unknown"
    # price against the category's median (percentile_approx picks the lower middle of two)
    assert one["price_vs_category"] == 1.0 and two["price_vs_category"] == 4.0
    assert one["as_of"] == AS_OF and one["category"] == "food"


def test_nothing_on_or_after_as_of_leaks_into_a_snapshot(spark):
    assert features(spark, future=True) == features(spark)
    assert set(FEATURES) <= set(features(spark)[1])
