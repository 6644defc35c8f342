"""A Spark streaming data source for Kafka written over kafka-python (format ``retail_kafka``).

Spark's own ``kafka`` source needs the spark-sql-kafka jar, which cannot be obtained on the local
stack; this source takes the same options and produces the same columns, so the ``docker`` profile
swaps in ``format("kafka")`` with no other change.

Options (names as in Spark's Kafka source):
  kafka.bootstrap.servers   host:port list (required)
  subscribe                 one topic (required)
  startingOffsets           earliest (default) | latest
  maxOffsetsPerTrigger      cap on records per micro-batch, spread over partitions
  failOnDataLoss            true (default): stop with an explanation when checkpointed offsets lie
                            beyond the end of the topic (e.g. the memory-only broker restarted);
                            false: resume from the start of what the topic now holds

Offsets are ``{"<partition>": next_offset}`` (string keys: offsets travel as JSON).
"""

from __future__ import annotations

import time

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows, SupportsTriggerAvailableNow
from pyspark.sql.types import (
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

FORMAT_NAME = "retail_kafka"
KAFKA_SCHEMA = StructType(
    [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
        StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ]
)
ARROW_CHUNK = 20_000
READ_STALL_SECONDS = 60.0


class DataLossError(RuntimeError):
    """Checkpointed offsets point past the end of the topic."""


def cap_offsets(start: dict[str, int], end: dict[str, int], max_rows: int) -> dict[str, int]:
    """Limit the total records between start and end to max_rows, shared in proportion to backlog.

    Every partition with a backlog advances by at least one record while budget remains, so a
    small cap never stalls a partition.
    """
    backlog = {p: max(0, end[p] - start.get(p, 0)) for p in end}
    total = sum(backlog.values())
    if total <= max_rows:
        return dict(end)
    capped = {p: start.get(p, 0) + backlog[p] * max_rows // total for p in end}
    budget = max_rows - sum(capped[p] - start.get(p, 0) for p in end)
    for p in sorted(end, key=lambda p: -backlog[p]):
        if budget <= 0:
            break
        if capped[p] < end[p]:
            capped[p] += 1
            budget -= 1
    return capped


def check_data_loss(topic: str, start: dict[str, int], end: dict[str, int], fail: bool) -> dict[str, int]:
    """Compare checkpointed start offsets with the topic's end offsets.

    Returns the effective start offsets: unchanged when nothing is lost; when offsets lie beyond the
    end and ``fail`` is false, those partitions restart from 0. With ``fail`` true, raises
    DataLossError explaining what happened and how to resume.
    """
    lost = {p: (off, end.get(p, 0)) for p, off in start.items() if off > end.get(p, 0)}
    if not lost:
        return dict(start)
    if fail:
        detail = ", ".join(f"partition {p}: checkpoint at {o}, topic ends at {e}" for p, (o, e) in sorted(lost.items()))
        raise DataLossError(
            f"topic {topic!r} holds fewer records than this query already processed ({detail}). "
            "The broker probably restarted and lost its data (the local tansu broker keeps topics in memory). "
            "To resume from what the topic holds now, rerun with --no-fail-on-data-loss "
            "(option failOnDataLoss=false); to reprocess from scratch, delete the query's checkpoint folder and "
            "its rows in stream_batches, or run it under a new name."
        )
    return {p: (0 if p in lost else off) for p, off in start.items()}


class KafkaPartitionRange(InputPartition):
    def __init__(self, topic: str, partition: int, start: int, end: int):
        super().__init__((topic, partition, start, end))
        self.topic, self.partition, self.start, self.end = topic, partition, start, end


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: dict):
        self.bootstrap = options.get("kafka.bootstrap.servers")
        self.topic = options.get("subscribe")
        if not self.bootstrap or not self.topic:
            raise ValueError("retail_kafka needs options kafka.bootstrap.servers and subscribe")
        self.starting = options.get("startingOffsets", "earliest")
        if self.starting not in ("earliest", "latest"):
            raise ValueError(f"startingOffsets must be earliest or latest, got {self.starting!r}")
        max_rows = options.get("maxOffsetsPerTrigger")
        self.max_rows = int(max_rows) if max_rows else None
        self.fail_on_data_loss = str(options.get("failOnDataLoss", "true")).lower() != "false"
        self._consumer = None  # created lazily: readers are pickled to workers
        self._target: dict[str, int] | None = None

    def _client(self):
        if self._consumer is None:
            from kafka import KafkaConsumer

            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        return self._consumer

    def _ends(self) -> dict[str, int]:
        from streaming.topics import true_end_offsets

        return {str(p): off for p, off in true_end_offsets(self._client(), self.topic).items()}

    def initialOffset(self) -> dict:
        ends = self._ends()
        return ends if self.starting == "latest" else {p: 0 for p in ends}

    def getDefaultReadLimit(self):
        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._ends()

    def latestOffset(self, start: dict, limit) -> dict:
        ends = dict(self._target) if self._target is not None else self._ends()
        # partitions reset by a tolerated data loss restart from 0 (see partitions())
        effective = check_data_loss(self.topic, start, ends, self.fail_on_data_loss)
        end = {p: ends.get(p, 0) for p in set(ends) | set(effective)}
        if isinstance(limit, ReadMaxRows):
            end = cap_offsets(effective, end, limit.max_rows)
        return end

    def reportLatestOffset(self):
        return self._ends()

    def partitions(self, start: dict, end: dict):
        ranges = []
        for p, stop in sorted(end.items(), key=lambda kv: int(kv[0])):
            begin = start.get(p, 0)
            if begin > stop:  # only after data loss with failOnDataLoss=false
                begin = 0
            if stop > begin:
                ranges.append(KafkaPartitionRange(self.topic, int(p), begin, stop))
        return ranges

    def read(self, partition: KafkaPartitionRange):
        import pyarrow as pa
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        tp = TopicPartition(partition.topic, partition.partition)
        consumer.assign([tp])
        consumer.seek(tp, partition.start)
        schema = pa.schema(
            [
                (f.name, t)
                for f, t in zip(
                    KAFKA_SCHEMA.fields,
                    (
                        pa.binary(),
                        pa.binary(),
                        pa.string(),
                        pa.int32(),
                        pa.int64(),
                        pa.timestamp("us", tz="UTC"),
                        pa.int32(),
                    ),
                    strict=False,
                )
            ]
        )
        columns: dict[str, list] = {name: [] for name in schema.names}

        def flush():
            batch = pa.RecordBatch.from_pydict(columns, schema=schema)
            for values in columns.values():
                values.clear()
            return batch

        position, last_progress = partition.start, time.monotonic()
        try:
            while position < partition.end:
                records = consumer.poll(timeout_ms=500, max_records=50_000).get(tp, [])
                if not records:
                    position = max(position, consumer.position(tp))
                    if time.monotonic() - last_progress > READ_STALL_SECONDS:
                        raise TimeoutError(
                            f"no records from {partition.topic}[{partition.partition}] at offset {position} "
                            f"(wanted up to {partition.end}) for {READ_STALL_SECONDS:.0f}s"
                        )
                    continue
                last_progress = time.monotonic()
                for m in records:
                    if m.offset >= partition.end:
                        break
                    columns["key"].append(m.key)
                    columns["value"].append(m.value)
                    columns["offset"].append(m.offset)
                    columns["timestamp"].append(m.timestamp * 1000)
                    columns["timestampType"].append(m.timestamp_type)
                position = max(records[-1].offset + 1, position)
                if len(columns["offset"]) >= ARROW_CHUNK:
                    yield self._complete(columns, partition, flush)
            if columns["offset"]:
                yield self._complete(columns, partition, flush)
        finally:
            consumer.close()

    @staticmethod
    def _complete(columns: dict, partition: KafkaPartitionRange, flush):
        n = len(columns["offset"])
        columns["topic"].extend([partition.topic] * n)
        columns["partition"].extend([partition.partition] * n)
        return flush()

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class RetailKafkaSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self):
        return KAFKA_SCHEMA

    def streamReader(self, schema):
        return KafkaStreamReader(self.options)
