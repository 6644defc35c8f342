"""How far a stream query is behind its topic, and how fresh what it landed is.

Per partition: the topic's end offset against the first offset the query has not committed yet
(one past the newest offset in its ``stream_batches`` ledger; the partition's earliest retained
offset when the query never committed any of it). The difference is the lag: messages on the topic
the query has not landed. With it, the event time of the newest record the query landed. Each
measurement is stored in ``stream_lag`` (``v_stream_lag`` per query and check) by the stream job
after every run and by ``retail-pulse ingest lag``; the DAGs' gates read it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from common.db import connect, query, transaction
from common.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end_offset: int
    next_offset: int

    @property
    def lag(self) -> int:
        return max(0, self.end_offset - self.next_offset)


@dataclass(frozen=True)
class QueryLag:
    query_name: str
    topic: str
    checked_at: datetime  # naive UTC
    partitions: list[PartitionLag]
    newest_event_time: datetime | None

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def line(self) -> str:
        """One line for the operator."""
        per_partition = ", ".join(f"p{p.partition} {p.lag:,}" for p in self.partitions)
        if self.newest_event_time is None:
            fresh = "no event landed yet"
        else:
            hours = (self.checked_at - self.newest_event_time).total_seconds() / 3600
            fresh = f"newest event landed {self.newest_event_time:%Y-%m-%d %H:%M:%S} ({hours:,.1f} h before the check)"
        return (
            f"{self.query_name} ({self.topic}): {self.lag:,} message(s) unread over {len(self.partitions)}"
            f" partition(s){f' ({per_partition})' if self.partitions else ''}; {fresh}"
        )


def committed_next_offsets(ledger: Iterable[str | None], topic: str) -> dict[int, int]:
    """Per partition of ``topic``, one past the newest offset in a query's ledger (the ``offsets``
    column of its stream_batches rows: ``{topic: {partition: [first, last]}}``)."""
    nexts: dict[int, int] = {}
    for text in ledger:
        for partition, (_, last) in (json.loads(text) if text else {}).get(topic, {}).items():
            nexts[int(partition)] = max(nexts.get(int(partition), 0), int(last) + 1)
    return nexts


def partition_lags(topic: str, ends: dict[int, int], begins: dict[int, int], committed: dict[int, int]):
    """Each partition's end against what the query committed (else the earliest retained offset)."""
    return [PartitionLag(topic, p, end, committed.get(p, begins.get(p, 0))) for p, end in sorted(ends.items())]


def measure(settings: Settings, consumer, query_name: str, topic: str) -> QueryLag:
    """The lag of ``query_name`` on ``topic`` now (``consumer``: a kafka-python KafkaConsumer)."""
    from kafka import TopicPartition

    from streaming.topics import end_offsets

    checked_at = datetime.now(UTC).replace(tzinfo=None)
    ends = end_offsets(consumer, topic)
    begins = {tp.partition: o for tp, o in consumer.beginning_offsets([TopicPartition(topic, p) for p in ends]).items()}
    rows = query(
        settings,
        "SELECT offsets, max_event_time FROM stream_batches WHERE query_name = %s AND offsets IS NOT NULL",
        (query_name,),
    )
    committed = committed_next_offsets((r[0] for r in rows), topic)
    newest = max((r[1] for r in rows if r[1] is not None), default=None)
    return QueryLag(query_name, topic, checked_at, partition_lags(topic, ends, begins, committed), newest)


def record(settings: Settings, lag: QueryLag) -> None:
    """Store one measurement in ``stream_lag`` (one row per partition)."""
    rows = [
        (
            lag.query_name,
            lag.checked_at,
            p.topic,
            p.partition,
            p.end_offset,
            p.next_offset,
            p.lag,
            lag.newest_event_time,
        )
        for p in lag.partitions
    ]
    if not rows:
        return
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.executemany(
                "INSERT INTO stream_lag (query_name, checked_at, topic, kafka_partition, end_offset, next_offset,"
                " unread, newest_event_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    finally:
        conn.close()


def measure_and_record(settings: Settings, queries: dict[str, str]) -> list[QueryLag]:
    """Measure and store the lag of each ``{query_name: topic}``."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        lags = [measure(settings, consumer, name, topic) for name, topic in queries.items()]
    finally:
        consumer.close()
    for lag in lags:
        record(settings, lag)
    return lags
