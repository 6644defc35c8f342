"""sales_aggregation's pure DataFrame functions: watermark marking and daily aggregation (local Spark)."""

from datetime import date, datetime, timedelta
from itertools import count

from pyspark.testing import assertDataFrameEqual

from streaming.sales.aggregation import daily_aggregates, mark_late, sale_lines, watermark, watermark_base

OFFSETS = count()


def line(event_id, when, store=1, item=1, quantity=1, price=2.5, partition=0):
    return (event_id, datetime.fromisoformat(when), store, item, quantity, price, partition, next(OFFSETS))


SCHEMA = (
    "event_id string, event_time timestamp_ntz, store_id long, item_id long, quantity long, unit_price double,"
    " kafka_partition int, kafka_offset long"
)


def test_watermark_marks_rows_older_than_max_minus_lateness(spark):
    mark = watermark(datetime(2024, 1, 10, 12), timedelta(days=2))
    assert mark == datetime(2024, 1, 8, 12) and watermark(None, timedelta(days=2)) is None
    df = spark.createDataFrame(
        [line("a", "2024-01-08T11:59:59"), line("b", "2024-01-08T12:00:00"), line("c", "2024-01-11T00:00:00")], SCHEMA
    )
    late = {r.event_id: r.is_late for r in mark_late(df, mark).collect()}
    assert late == {"a": True, "b": False, "c": False}
    assert not any(r.is_late for r in mark_late(df, None).collect())


def test_the_watermark_does_not_depend_on_the_hosts_time_zone(spark, monkeypatch):
    import time

    df = spark.createDataFrame([line("a", "2024-01-08T11:59:59"), line("b", "2024-01-08T12:00:00")], SCHEMA)
    for zone in ("America/New_York", "Asia/Kolkata", "UTC"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        late = {r.event_id: r.is_late for r in mark_late(df, datetime(2024, 1, 8, 12)).collect()}
        assert late == {"a": True, "b": False}, zone
    monkeypatch.undo()
    time.tzset()


def test_one_future_dated_event_cannot_push_the_watermark_past_the_batch_time():
    ran = datetime(2026, 11, 23, 10)
    assert watermark_base(datetime(2099, 1, 1), ran) == ran  # the outlier is capped
    assert watermark_base(datetime(2026, 11, 22), ran) == datetime(2026, 11, 22)
    assert watermark_base(None, ran) is None


def test_of_one_id_with_different_payloads_the_first_in_the_topic_counts(spark):
    df = spark.createDataFrame(
        [
            line("a", "2024-01-01T09:00:00", quantity=7, partition=1),  # later partition
            line("a", "2024-01-01T09:00:00", quantity=2, partition=0),  # first: partition 0
            line("a", "2024-01-01T09:00:00", quantity=5, partition=0),  # same partition, higher offset
        ],
        SCHEMA,
    )
    assert [r.quantity for r in sale_lines(df).collect()] == [2]


def test_daily_aggregates_sum_units_and_revenue_once_per_event(spark):
    df = spark.createDataFrame(
        [
            line("a", "2024-01-01T09:00:00", quantity=2, price=1.25),
            line("a", "2024-01-01T09:00:00", quantity=2, price=1.25),  # the same event twice in a batch
            line("b", "2024-01-01T23:59:59", quantity=3, price=1.0),
            line("c", "2024-01-02T00:00:00", quantity=1, price=4.0),
            line("d", "2024-01-01T10:00:00", store=2, quantity=0, price=9.0),
        ],
        SCHEMA,
    )
    expected = spark.createDataFrame(
        [(date(2024, 1, 1), 1, 1, 5, 5.5, 2), (date(2024, 1, 2), 1, 1, 1, 4.0, 1), (date(2024, 1, 1), 2, 1, 0, 0.0, 1)],
        "sale_date date, store_id long, item_id long, units long, revenue double, sale_lines long",
    )
    assertDataFrameEqual(daily_aggregates(sale_lines(df)), expected)
