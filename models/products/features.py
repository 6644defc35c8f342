"""Product features for the risk and sales-volume models: pure Spark DataFrame functions.

Point in time: the features of ``as_of`` D read only facts dated before D (sales days < D, reviews
created < D), so a snapshot never sees its future, and training (a stored snapshot) and scoring
(computed now) run this same code. Grain: (store_id, item_id); review facts are per item, across
stores (most reviews name no store).

Inputs: ``daily_sales`` (sale_date, store_id, item_id, units, revenue), ``reviews`` (created_at,
item_id, sentiment, rating, text_chars), ``categories`` (item_id, category).
"""

from __future__ import annotations

from datetime import date, timedelta

# v3: the category from the loaded master data (v2: the demo catalogue's product type); v2: review counts and
# mean rating over 90 days (v1: ever, never stationary)
FEATURE_SET = "product_v3"
FEATURES = [
    "units_7",
    "units_28",
    "sales_trend",
    "price_28",
    "discount_28",
    "price_vs_category",
    "reviews_28",
    "reviews_90",
    "avg_rating_90",
    "negative_share_28",
    "positive_share_28",
    "text_chars_28",
]
KEY = ["store_id", "item_id"]
# per item, the same in every store (reviews rarely name a store): one observation per item, not per store-item
ITEM_FEATURES = ["reviews_28", "reviews_90", "avg_rating_90", "negative_share_28", "positive_share_28", "text_chars_28"]


def _day(as_of: date, days_before: int):
    from pyspark.sql import functions as F

    return F.lit((as_of - timedelta(days=days_before)).isoformat()).cast("date")


def sales_features(daily_sales, as_of: date):
    """Per (store, item): units of the last 7 and 28 days, the 7-day pace against the 28-day one
    (1 = steady, 0 when nothing sold), the mean price of the last 28 days and its discount against
    the highest daily price of the last year."""
    from pyspark.sql import functions as F

    year = daily_sales.filter((F.col("sale_date") < _day(as_of, 0)) & (F.col("sale_date") >= _day(as_of, 365)))
    recent = F.col("sale_date") >= _day(as_of, 28)
    daily_price = F.when(F.col("units") > 0, F.col("revenue") / F.col("units"))
    out = year.groupBy(*KEY).agg(
        F.sum(F.when(F.col("sale_date") >= _day(as_of, 7), F.col("units")).otherwise(0)).alias("units_7"),
        F.sum(F.when(recent, F.col("units")).otherwise(0)).alias("units_28"),
        F.sum(F.when(recent, F.col("revenue")).otherwise(0)).alias("revenue_28"),
        F.max(daily_price).alias("max_price"),
    )
    price = F.when(F.col("units_28") > 0, F.col("revenue_28") / F.col("units_28"))
    return out.select(
        *KEY,
        F.col("units_7").cast("double").alias("units_7"),
        F.col("units_28").cast("double").alias("units_28"),
        F.when(F.col("units_28") > 0, F.col("units_7") * 4 / F.col("units_28")).otherwise(0.0).alias("sales_trend"),
        price.alias("price_28"),
        F.when(F.col("max_price") > 0, 1 - price / F.col("max_price")).alias("discount_28"),
    )


def review_features(reviews, as_of: date):
    """Per item: reviews in the last 28 and 90 days, the mean star rating of the last 90 days, the
    negative and positive shares and the mean text length of the last 28 days. Windows, not totals:
    a feature that only grows (reviews ever) would drift forever."""
    from pyspark.sql import functions as F

    before = reviews.filter(
        (F.col("created_at") < _day(as_of, 0).cast("timestamp"))
        & (F.col("created_at") >= _day(as_of, 90).cast("timestamp"))
    )
    recent = F.col("created_at") >= _day(as_of, 28).cast("timestamp")

    def share(label: str):  # of the last 28 days' reviews; null without any
        return F.avg(F.when(recent, (F.col("sentiment") == label).cast("double")))

    return before.groupBy("item_id").agg(
        F.sum(F.when(recent, 1).otherwise(0)).cast("double").alias("reviews_28"),
        F.count(F.lit(1)).cast("double").alias("reviews_90"),
        F.avg("rating").alias("avg_rating_90"),
        share("negative").alias("negative_share_28"),
        share("positive").alias("positive_share_28"),
        F.avg(F.when(recent, F.col("text_chars"))).alias("text_chars_28"),
    )


def product_features(daily_sales, reviews, categories, as_of: date):
    """Every (store, item) with sales in the year before ``as_of``: sales and review features, its
    category and its price relative to the median price of its category."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    joined = (
        sales_features(daily_sales, as_of)
        .join(review_features(reviews, as_of), "item_id", "left")
        .join(categories, "item_id", "left")
        .fillna({"reviews_28": 0.0, "reviews_90": 0.0, "category": "unknown"})
    )
    median = F.percentile_approx("price_28", 0.5).over(Window.partitionBy("category"))
    return joined.withColumn("price_vs_category", F.col("price_28") / median).select(
        *KEY, "category", *FEATURES, F.lit(as_of.isoformat()).cast("date").alias("as_of")
    )
