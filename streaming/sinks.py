"""Sinks for ``foreachBatch``: an exactly-once MySQL sink and a result-topic publisher.

MySQL: the batch's rows, its quarantined records and its ``stream_batches`` row are written in
one transaction. ``stream_batches`` is keyed by ``(query_name, batch_id)``, so a batch Spark
replays after a crash finds its row and becomes a no-op. Rows go through a temporary staging table
(bulk-filled with ``LOAD DATA LOCAL INFILE``, or ``executemany`` when the server forbids it) and
then ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`` into the target, so even a row seen twice
in Kafka lands once.

Topics: messages are keyed and carry the query name and batch id in headers. They are sent on
every attempt of a batch, before the MySQL commit, so a crash never loses one; consumers dedupe by
key (at-least-once delivery, as with Spark's own Kafka sink).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import mysql.connector
import orjson

from common.db import connect, executemany_chunked, fill_table, transaction
from common.results import RESULTS
from common.settings import Settings
from streaming.contracts import CONTRACTS

DEAD_LETTER = RESULTS["dead_letter"]
# connection refused / server gone / lost during a query: worth retrying the batch's transaction
CONNECTION_LOST = {2003, 2006, 2013, 2055}
QUARANTINE_COLUMNS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "query_name",
    "batch_id",
    "reason_code",
    "reason",
    "raw_key",
    "raw_value",
    "kafka_timestamp",
)


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    rows_in: int
    rows_written: int
    rows_quarantined: int
    late_rows: int
    duration_ms: int
    replayed: bool


@dataclass(frozen=True)
class BatchCounts:
    """What a batch's work did, recorded in its stream_batches row."""

    rows_in: int
    rows_written: int
    rows_quarantined: int
    late_rows: int = 0
    max_event_time: datetime | None = None

    @property
    def row_counts(self) -> tuple[int, int, int, int]:
        """(rows_in, rows_written, rows_quarantined, late_rows): the order of BatchResult and the table."""
        return self.rows_in, self.rows_written, self.rows_quarantined, self.late_rows


class MySQLBatchSink:
    """Commits one micro-batch's work exactly once (see module doc).

    :meth:`write` is the common case (upsert rows into ``table``, quarantine the rejects); jobs with
    more to do pass their own work function to :meth:`commit` and use :meth:`upsert`,
    :meth:`load_temporary` and :meth:`quarantine` on the cursor it hands them.
    """

    def __init__(
        self,
        settings: Settings,
        query_name: str,
        table: str = "",
        columns: list[str] = (),
        key: list[str] = (),
        bulk: bool = True,
    ):
        self.settings, self.query_name, self.table = settings, query_name, table
        self.columns, self.key, self.bulk = list(columns), list(key), bulk
        self._conn = None

    def _connection(self):
        if self._conn is None or not self._conn.is_connected():
            self._conn = connect(self.settings, "writer")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def last_event_time(self, cur) -> datetime | None:
        """The newest event time over this query's committed batches (the watermark's base)."""
        cur.execute("SELECT MAX(max_event_time) FROM stream_batches WHERE query_name = %s", (self.query_name,))
        return cur.fetchone()[0]

    def commit(
        self, batch_id: int, started: float, work: Callable[[object], BatchCounts], source: BatchSource | None = None
    ) -> BatchResult:
        """Run ``work(cursor)`` and record the batch in one transaction; a replayed batch (same id,
        same Kafka offsets in ``source``) is a no-op. MySQL unreachable: the whole transaction is retried, with
        backoff, for up to ``settings.mysql_retry_seconds``."""
        deadline = time.monotonic() + self.settings.mysql_retry_seconds
        pause = 1.0
        while True:
            try:
                return self._commit_once(batch_id, started, work, source)
            except (mysql.connector.errors.InterfaceError, mysql.connector.errors.OperationalError) as exc:
                if getattr(exc, "errno", None) not in CONNECTION_LOST or time.monotonic() + pause > deadline:
                    raise
                print(f"batch {batch_id}: MySQL unreachable ({exc.msg}); retrying in {pause:.0f}s", flush=True)
                self.close()
                time.sleep(pause)
                pause = min(pause * 2, 10.0)

    def _commit_once(self, batch_id: int, started: float, work, source: BatchSource | None) -> BatchResult:
        offsets = None if source is None else source.offsets
        conn = self._connection()
        with transaction(conn) as cur:
            cur.execute(
                "SELECT rows_in, rows_written, rows_quarantined, late_rows, offsets FROM stream_batches"
                " WHERE query_name = %s AND batch_id = %s FOR UPDATE",
                (self.query_name, batch_id),
            )
            previous = cur.fetchone()
            if previous is not None:
                recorded = json.loads(previous[4]) if previous[4] else None
                if offsets is not None and recorded is not None and recorded != offsets:
                    raise LedgerMismatch(
                        f"batch {batch_id} of {self.query_name} was committed for offsets {recorded}, and now comes"
                        f" with {offsets}: the checkpoint and the stream_batches ledger disagree (a checkpoint"
                        " replaced or reused?); refusing to skip it as a replay"
                    )
                elapsed = int((time.time() - started) * 1000)
                return BatchResult(batch_id, *previous[:4], elapsed, replayed=True)
            counts = work(cur)
            finished = time.time()
            duration_ms = int((finished - started) * 1000)
            cur.execute(
                "INSERT INTO stream_batches (query_name, batch_id, rows_in, rows_written, rows_quarantined,"
                " late_rows, duration_ms, started_at, finished_at, max_event_time, first_arrival, offsets)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (self.query_name, batch_id, *counts.row_counts, duration_ms, utc(started), utc(finished))
                + (counts.max_event_time or (source and source.newest_event), source and source.first_arrival)
                + (None if offsets is None else json.dumps(offsets, sort_keys=True),),
            )
        return BatchResult(batch_id, *counts.row_counts, duration_ms, replayed=False)

    def write(
        self, batch_id: int, rows, quarantined: list[dict], started: float, source: BatchSource | None = None
    ) -> BatchResult:
        """Upsert rows (tuples or a pyarrow Table, in ``columns`` order) into ``table`` and quarantine
        the rejects."""

        def work(cur) -> BatchCounts:
            written = self.upsert(cur, self.table, self.columns, self.key, rows)
            self.quarantine(cur, batch_id, quarantined)
            return BatchCounts(len(rows) + len(quarantined), written, len(quarantined))

        return self.commit(batch_id, started, work, source)

    def load_temporary(self, cur, name: str, like: str, columns: list[str], rows) -> None:
        """(Re)create temporary table ``name`` shaped like ``like`` and bulk-fill it with rows."""
        cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}")
        cur.execute(f"CREATE TEMPORARY TABLE {name} LIKE {like}")
        self.bulk = fill_table(cur, name, columns, rows, self.bulk)

    def upsert(self, cur, table: str, columns: list[str], key: list[str], rows, add=()) -> int:
        """Insert or update rows (tuples, or a pyarrow Table in ``columns`` order) by the table's key
        through a staging table; return rows staged. Columns in ``add`` are added to the stored
        value instead of replacing it."""
        if len(rows) == 0:
            return 0
        self.load_temporary(cur, "rp_staging", table, columns, rows)
        cur.execute("SELECT COUNT(*) FROM rp_staging")
        written = cur.fetchone()[0]
        updates = ", ".join(
            f"{table}.{c} = {table}.{c} + VALUES({c})" if c in add else f"{c} = VALUES({c})"
            for c in columns
            if c not in key
        )
        cols = ", ".join(columns)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM rp_staging ON DUPLICATE KEY UPDATE {updates}")
        cur.execute("DROP TEMPORARY TABLE rp_staging")
        return written

    def quarantine(self, cur, batch_id: int, records: list[dict]) -> None:
        if not records:
            return
        values = [
            tuple({**r, "query_name": self.query_name, "batch_id": batch_id}.get(c) for c in QUARANTINE_COLUMNS)
            for r in records
        ]
        placeholders = ", ".join(["%s"] * len(QUARANTINE_COLUMNS))
        executemany_chunked(
            cur,
            f"INSERT INTO quarantined_events ({', '.join(QUARANTINE_COLUMNS)}) VALUES ({placeholders})"
            " ON DUPLICATE KEY UPDATE reason_code = VALUES(reason_code), reason = VALUES(reason)",
            values,
        )


def utc(epoch: float) -> datetime:
    """A time.time() value as naive UTC (how every DATETIME column is stored)."""
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class BatchSource:
    """Where a micro-batch came from: its Kafka positions, ``{topic: {partition: [first, last]}}``
    (the ledger's replay check), and the broker's append time of its oldest record (naive UTC; the
    start of the batch's latency)."""

    offsets: dict[str, dict[str, list[int]]]
    first_arrival: datetime | None = None
    newest_event: datetime | None = None  # the newest event time among its records (freshness)


def batch_source(rows: list[dict]) -> BatchSource:
    """A :class:`BatchSource` from grouped rows whose values are (topic, partition, min offset,
    max offset, min Kafka timestamp) in that order."""
    ranges: dict[str, dict[str, list[int]]] = {}
    arrivals = []
    for row in rows:
        topic, partition, first, last, arrival = row.values()
        ranges.setdefault(topic, {})[str(partition)] = [int(first), int(last)]
        if arrival is not None:
            arrivals.append(arrival)
    return BatchSource(ranges, min(arrivals, default=None))


# the event-time column of each contract's records, as the contracts define them
EVENT_TIME_COLUMNS = tuple(dict.fromkeys(f.name for c in CONTRACTS.values() for f in c.fields if f.kind == "timestamp"))


def arrow_source(table) -> BatchSource:
    """:func:`batch_source` of an Arrow batch with kafka_topic, kafka_partition, kafka_offset and
    kafka_timestamp columns, and the newest value of its event-time column (None for a record that
    failed its contract)."""
    import pyarrow.compute as pc

    grouped = table.group_by(["kafka_topic", "kafka_partition"]).aggregate(
        [("kafka_offset", "min"), ("kafka_offset", "max"), ("kafka_timestamp", "min")]
    )
    source = batch_source(grouped.to_pylist())
    column = next((c for c in EVENT_TIME_COLUMNS if c in table.column_names), None)
    newest = pc.max(table.column(column)).as_py() if column and table.num_rows else None
    return replace(source, newest_event=newest)


class LedgerMismatch(RuntimeError):
    """A batch id already committed for other Kafka offsets: taking it for a replay would skip data."""


class TopicPublisher:
    """Keyed JSON messages to a result topic, with query and batch id headers (librdkafka). A topic
    is created on first use if the broker does not have it (brokers here never auto-create)."""

    def __init__(self, settings: Settings, timeout_s: float = 30.0):
        self.settings, self.timeout_s = settings, timeout_s
        self._producer = None
        self._ready: set[str] = set()

    def publish(self, topic: str, messages: list[tuple[str, dict]], query_name: str, batch_id: int) -> int:
        """Send and wait until every message is acknowledged; raise otherwise (the batch is then
        retried: nothing lost)."""
        from streaming.producer import Deliveries, new_producer, send
        from streaming.topics import ensure_topics

        if not messages:
            return 0
        if topic not in self._ready:
            ensure_topics(self.settings, [topic])
            self._ready.add(topic)
        if self._producer is None:
            self._producer = new_producer(self.settings.kafka_bootstrap, self.timeout_s)
        deliveries = Deliveries()
        headers = [("query_name", query_name.encode()), ("batch_id", str(batch_id).encode())]
        for key, value in messages:
            send(self._producer, topic, orjson.dumps(value, default=str), key.encode(), deliveries, headers)
        unsent = self._producer.flush(self.timeout_s)
        if unsent or deliveries.failed:
            raise RuntimeError(
                f"{unsent + deliveries.failed} of {len(messages)} messages to {topic} not acknowledged"
                f" ({deliveries.first_error or 'timed out'})"
            )
        return len(messages)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
            self._producer = None


def dead_letter_messages(records: list[dict]) -> list[tuple[str, dict]]:
    """Dead-letter messages keyed by source position, so a consumer can dedupe replays."""
    return [
        (f"{r['source_topic']}-{r['source_partition']}-{r['source_offset']}", DEAD_LETTER.message(**r)) for r in records
    ]
