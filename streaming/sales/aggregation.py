"""Stream query ``sales_aggregation``: transactions -> daily units and revenue per (date, store, item).

Pure DataFrame functions (:func:`mark_late`, :func:`sale_lines`, :func:`daily_aggregates`) do the
Spark work; :class:`SalesAggregation` is the ``foreachBatch`` body that commits each micro-batch
exactly once:

* Invalid records go to the dead-letter topic and ``quarantined_events`` (as in raw ingestion).
* Event-time watermark: the newest event time of the committed batches minus the allowed lateness,
  in UTC whatever the host's time zone. A batch's newest event time is capped at the moment the
  batch ran (events later than that by more than the contract's skew are rejected as
  out_of_range), so one future-dated event cannot freeze the aggregation. Rows older than the
  watermark are *late*: not added to the aggregates, counted in ``stream_batches.late_rows`` and
  quarantined with reason ``late_event``, so they never silently disappear.
* Each on-time event is counted once: ids already counted (kept in ``sales_counted_events`` while
  younger than the watermark) are skipped, so re-sent events do not double the totals.
* Totals are added to ``daily_sales`` in the batch's ledger transaction; the new totals of every
  touched (date, store, item) are published to ``retail_aggregated`` keyed ``store-item``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow.compute as pc
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from common.results import RESULTS
from common.settings import Settings
from streaming.contracts import TRANSACTION
from streaming.raw_ingest import quarantine_records
from streaming.sinks import (
    BatchCounts,
    BatchResult,
    MySQLBatchSink,
    TopicPublisher,
    batch_source,
    dead_letter_messages,
    utc,
)

QUERY = "sales_aggregation"
RETAIL_AGGREGATED = RESULTS["retail_aggregated"]
AGGREGATE_COLUMNS = [f.name for f in RETAIL_AGGREGATED.fields]  # a daily_sales row: also its message
LATE_REASON = "late_event"


def watermark(max_event_time: datetime | None, lateness: timedelta) -> datetime | None:
    """Rows with an event time before this are late (None: nothing committed yet, nothing is late)."""
    return None if max_event_time is None else max_event_time - lateness


def mark_late(valid: DataFrame, mark: datetime | None) -> DataFrame:
    """Add ``is_late``: event_time strictly before the watermark (naive UTC; the literal goes in as
    text, so no time zone, the host's or the session's, can shift it)."""
    late = F.lit(False) if mark is None else F.col("event_time") < F.lit(mark.isoformat()).cast("timestamp_ntz")
    return valid.withColumn("is_late", late)


def watermark_base(newest: datetime | None, batch_time: datetime) -> datetime | None:
    """What a batch contributes to the watermark: its newest event time, never beyond when it ran."""
    return None if newest is None else min(newest, batch_time)


def sale_lines(on_time: DataFrame) -> DataFrame:
    """One line per event id, with its day and revenue. Of several records with one id in a batch
    the first in the topic (lowest partition, then offset) counts, whatever their payloads."""
    first = Window.partitionBy("event_id").orderBy("kafka_partition", "kafka_offset")
    return (
        on_time.withColumn("_nth", F.row_number().over(first))
        .filter("_nth = 1")
        .select(
            "event_id",
            F.to_date("event_time").alias("sale_date"),
            "store_id",
            "item_id",
            "quantity",
            (F.col("quantity") * F.col("unit_price")).alias("revenue"),
        )
    )


def daily_aggregates(lines: DataFrame) -> DataFrame:
    """Units, revenue (2 decimals) and line count per (sale_date, store_id, item_id)."""
    return lines.groupBy("sale_date", "store_id", "item_id").agg(
        F.sum("quantity").alias("units"),
        F.round(F.sum("revenue"), 2).alias("revenue"),
        F.count(F.lit(1)).alias("sale_lines"),
    )


@dataclass
class SalesAggregation:
    """foreachBatch body of ``sales_aggregation`` (see module doc)."""

    settings: Settings
    lateness: timedelta = timedelta(days=3)
    on_batch: Callable[[BatchResult], None] = lambda result: None
    query_name: str = QUERY

    def __post_init__(self):
        self.sink = MySQLBatchSink(self.settings, self.query_name)
        self.publisher = TopicPublisher(self.settings)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        started = time.time()
        batch = batch_df.persist()
        try:
            source = batch_source(
                batch.groupBy("kafka_topic", "kafka_partition")
                .agg(F.min("kafka_offset"), F.max("kafka_offset"), F.min("kafka_timestamp"))
                .toArrow()
                .to_pylist()
            )
            work = lambda cur: self._work(cur, batch, batch_id, started)  # noqa: E731
            self.on_batch(self.sink.commit(batch_id, started, work, source))
        finally:
            batch.unpersist()

    def _work(self, cur, batch: DataFrame, batch_id: int, started: float) -> BatchCounts:
        mark = watermark(self.sink.last_event_time(cur), self.lateness)
        # three Spark actions on the persisted batch: rejects, the valid rows' keys, the aggregates
        bad = quarantine_records(batch.filter(F.col("reason_code").isNotNull()).toArrow().to_pylist())
        valid = mark_late(batch.filter(F.col("reason_code").isNull()), mark)
        keys = valid.select("event_id", F.to_date("event_time").alias("sale_date"), "event_time", "is_late")
        keys = keys.toArrow()  # columnar on the driver: no per-row Python below
        late = []
        if pc.any(keys["is_late"]).as_py():  # rare: fetch the full late records for the quarantine
            late_rows = valid.filter("is_late").toArrow().to_pylist()
            late = quarantine_records(late_rows, TRANSACTION, LATE_REASON, f"event_time before the watermark {mark}")
        on_time = keys.filter(pc.invert(keys["is_late"]))
        ids = on_time.group_by("event_id").aggregate([("sale_date", "min")]).rename_columns(["event_id", "sale_date"])
        counted = self._already_counted(cur, ids)
        lines = sale_lines(valid.filter(~F.col("is_late")))
        if counted:  # re-sent events: drop them before aggregating
            seen = batch.sparkSession.createDataFrame([(i,) for i in counted], "event_id string")
            lines = lines.join(seen, "event_id", "left_anti")
        totals = daily_aggregates(lines).toArrow().select(AGGREGATE_COLUMNS)
        newest = watermark_base(pc.max(keys["event_time"]).as_py(), utc(started))
        self.sink.upsert(
            cur, "daily_sales", AGGREGATE_COLUMNS, AGGREGATE_COLUMNS[:3], totals, add=AGGREGATE_COLUMNS[3:]
        )
        cur.execute(
            "INSERT IGNORE INTO sales_counted_events (event_id, sale_date) SELECT event_id, sale_date FROM rp_ids"
        )
        if mark is not None:  # ids older than the watermark can only come back late: forget them
            cur.execute("DELETE FROM sales_counted_events WHERE sale_date < %s", ((mark - timedelta(days=1)).date(),))
        self.sink.quarantine(cur, batch_id, bad + late)
        # result and dead-letter messages go out before the commit, on every attempt (see sinks)
        self._publish(cur, totals, batch_id)
        self.publisher.publish(
            self.settings.topic_dead_letter, dead_letter_messages(bad + late), self.query_name, batch_id
        )
        return BatchCounts(
            rows_in=len(bad) + keys.num_rows,
            rows_written=ids.num_rows - len(counted),
            rows_quarantined=len(bad) + len(late),
            late_rows=len(late),
            max_event_time=newest,
        )

    def _already_counted(self, cur, ids) -> set[str]:
        self.sink.load_temporary(cur, "rp_ids", "sales_counted_events", ["event_id", "sale_date"], ids)
        cur.execute("SELECT i.event_id FROM rp_ids i JOIN sales_counted_events c ON c.event_id = i.event_id")
        return {row[0] for row in cur.fetchall()}

    def _publish(self, cur, totals, batch_id: int) -> int:
        """Send the new totals of the touched keys (read inside the transaction, before commit)."""
        if totals.num_rows == 0:
            return 0
        self.sink.load_temporary(cur, "rp_touched", "daily_sales", AGGREGATE_COLUMNS, totals)
        cur.execute(
            "SELECT d.sale_date, d.store_id, d.item_id, d.units, d.revenue, d.sale_lines FROM daily_sales d"
            " JOIN rp_touched t ON t.sale_date = d.sale_date AND t.store_id = d.store_id AND t.item_id = d.item_id"
        )
        messages = [
            (
                f"{store}-{item}",
                RETAIL_AGGREGATED.message(
                    sale_date=day.isoformat(),
                    store_id=store,
                    item_id=item,
                    units=units,
                    revenue=float(revenue),
                    sale_lines=lines,
                ),
            )
            for day, store, item, units, revenue, lines in cur.fetchall()
        ]
        return self.publisher.publish(self.settings.topic_retail_aggregated, messages, self.query_name, batch_id)

    def close(self) -> None:
        self.sink.close()
        self.publisher.close()
