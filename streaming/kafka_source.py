"""A Spark streaming data source for Kafka (format ``retail_kafka``): librdkafka (confluent-kafka)
reads the records straight into Arrow batches; kafka-python answers the driver's offset questions.

Spark's own ``kafka`` source needs the spark-sql-kafka jar, which cannot be obtained on the local
stack; this source takes the same options and produces the same columns, so the ``docker`` profile
swaps in ``format("kafka")`` with no other change.

Options (names as in Spark's Kafka source):
  kafka.bootstrap.servers   host:port list (required)
  subscribe                 one topic (required)
  startingOffsets           earliest (default) | latest
  maxOffsetsPerTrigger      cap on records per micro-batch, spread over partitions
  failOnDataLoss            true (default): stop with an explanation when records the checkpoint
                            has not processed yet are gone: checkpointed offsets beyond the end of
                            the topic (the memory-only broker restarted, or the topic was recreated
                            smaller), below the start of its log (retention deleted them), or
                            partitions that disappeared; false: resume from what the topic holds

Offsets use Spark's Kafka layout, ``{"<topic>": {"<partition>": next_offset}}``; a checkpoint of
another topic is refused (a query name and checkpoint belong to one topic).
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
ARROW_CHUNK = 50_000
READ_STALL_SECONDS = 60.0  # no records and no error for this long: give up on the batch
BROKER_GRACE_SECONDS = 5.0  # no records for this long after the client reported the broker gone: give up
BROKER_TIMEOUT_MS = 10_000


class DataLossError(RuntimeError):
    """Records between the checkpoint and the topic's current log are gone."""


class CheckpointMismatch(RuntimeError):
    """The checkpoint belongs to another topic."""


class BrokerUnavailable(RuntimeError):
    """The broker cannot be reached (at start, or while reading a batch)."""


def topic_offsets(topic: str, offsets: dict) -> dict[str, int]:
    """Spark-layout offsets (``{topic: {partition: offset}}``) -> ``{partition: offset}`` of ``topic``.
    The layout of earlier versions (``{partition: offset}``) is read as this topic's."""
    if offsets and all(isinstance(v, int) for v in offsets.values()):
        return {str(p): int(v) for p, v in offsets.items()}
    other = set(offsets) - {topic}
    if other:
        raise CheckpointMismatch(
            f"the checkpoint holds offsets of topic {', '.join(sorted(other))}, not {topic!r}: a query name and its"
            " checkpoint belong to one topic; run this topic under its own --name (or --checkpoint)"
        )
    return {str(p): int(v) for p, v in offsets.get(topic, {}).items()}


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


def check_data_loss(
    topic: str, start: dict[str, int], end: dict[str, int], fail: bool, begin: dict[str, int] | None = None
) -> dict[str, int]:
    """Compare checkpointed start offsets with the topic's log: ``begin`` (first offset still held,
    default 0) and ``end`` (next offset to be written) per partition.

    Returns the effective start offsets: unchanged when nothing is lost. Lost records are a start
    beyond the end (broker restarted, topic recreated), a start below the log start (retention), or
    a partition that disappeared. With ``fail`` true, raises DataLossError naming each; otherwise
    such partitions resume from the log start (a vanished partition is dropped).
    """
    begin = begin or {}
    lost = {}
    for p, off in start.items():
        if p not in end:
            lost[p] = f"partition {p}: checkpoint at {off}, the partition no longer exists"
        elif off > end[p]:
            lost[p] = f"partition {p}: checkpoint at {off}, topic ends at {end[p]}"
        elif off < begin.get(p, 0):
            lost[p] = (
                f"partition {p}: checkpoint at {off}, log starts at {begin[p]} (records {off}..{begin[p] - 1} gone)"
            )
    if not lost:
        return dict(start)
    if fail:
        raise DataLossError(
            f"topic {topic!r} no longer holds records this query has not processed yet ({'; '.join(lost.values())}). "
            "The broker may have restarted and lost its data (the local tansu broker keeps topics in memory), the "
            "topic was recreated, or retention deleted them. To resume from what the topic holds now, rerun with "
            "--no-fail-on-data-loss (option failOnDataLoss=false); to reprocess from scratch, delete the query's "
            "checkpoint folder and its rows in stream_batches, or run it under a new name."
        )
    return {p: begin.get(p, 0) if p in lost else off for p, off in start.items() if p in end}


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
            from kafka.errors import NoBrokersAvailable

            try:
                self._consumer = KafkaConsumer(
                    bootstrap_servers=self.bootstrap, enable_auto_commit=False, request_timeout_ms=BROKER_TIMEOUT_MS
                )
            except NoBrokersAvailable:
                raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None
        return self._consumer

    def _ask(self, question):
        """``question(consumer)``; a broker that does not answer is BrokerUnavailable (exit 4), whichever
        offset request it was (the broker can go away between two of them)."""
        from kafka.errors import KafkaError

        try:
            return question(self._client())
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(
                f"Kafka broker at {self.bootstrap} did not answer for {self.topic}: {exc}"
            ) from None

    def _ends(self) -> dict[str, int]:
        from streaming.topics import true_end_offsets

        ends = self._ask(lambda consumer: true_end_offsets(consumer, self.topic))
        return {str(p): off for p, off in ends.items()}

    def _begins(self, partitions) -> dict[str, int]:
        from kafka import TopicPartition

        tps = [TopicPartition(self.topic, int(p)) for p in partitions]
        begins = self._ask(lambda consumer: consumer.beginning_offsets(tps))
        return {str(tp.partition): off for tp, off in begins.items()}

    def initialOffset(self) -> dict:
        ends = self._ends()
        start = ends if self.starting == "latest" else self._begins(ends)
        return {self.topic: start}

    def getDefaultReadLimit(self):
        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._ends()

    def latestOffset(self, start: dict, limit) -> dict:
        start = topic_offsets(self.topic, start)
        ends = dict(self._target) if self._target is not None else self._ends()
        effective = check_data_loss(self.topic, start, ends, self.fail_on_data_loss, self._begins(ends))
        end = {p: ends[p] for p in ends}
        if isinstance(limit, ReadMaxRows):
            end = cap_offsets(effective, end, limit.max_rows)
        return {self.topic: end}

    def reportLatestOffset(self):
        return {self.topic: self._ends()}

    def partitions(self, start: dict, end: dict):
        start, end = topic_offsets(self.topic, start), topic_offsets(self.topic, end)
        begins = self._begins(end) if any(start.get(p, 0) > stop for p, stop in end.items()) else {}
        ranges = []
        for p, stop in sorted(end.items(), key=lambda kv: int(kv[0])):
            begin = start.get(p, 0)
            if begin > stop:  # only after a tolerated data loss (failOnDataLoss=false)
                begin = begins.get(p, 0)
            if stop > begin:
                ranges.append(KafkaPartitionRange(self.topic, int(p), begin, stop))
        return ranges

    def read(self, partition: KafkaPartitionRange):
        """Records [start, end) of one partition as Arrow batches, consumed by librdkafka."""
        import pyarrow as pa
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        broker_errors: list = []

        def on_error(error) -> None:  # librdkafka reports connection loss here, not through consume()
            if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT) or error.fatal():
                broker_errors.append(error)

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "error_cb": on_error,
                "group.id": "retail-pulse-source",  # required by the client; no group is joined (assign)
                "enable.auto.commit": False,
                "auto.offset.reset": "error",  # an offset that no longer exists is data loss, never a skip
                "enable.partition.eof": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
                "socket.timeout.ms": BROKER_TIMEOUT_MS,
            }
        )
        consumer.assign([TopicPartition(partition.topic, partition.partition, partition.start)])
        keys, values, offsets, stamps, kinds = [], [], [], [], []
        position, last_progress = partition.start, time.monotonic()
        where = f"{partition.topic}[{partition.partition}]"
        try:
            while position < partition.end:
                messages = consumer.consume(num_messages=min(10_000, partition.end - position), timeout=0.5)
                if not messages:
                    stalled = time.monotonic() - last_progress
                    if broker_errors and stalled > BROKER_GRACE_SECONDS:
                        lost = f"lost the broker at {self.bootstrap} reading {where}: {broker_errors[-1]}"
                        raise BrokerUnavailable(lost)
                    if stalled > READ_STALL_SECONDS:
                        raise BrokerUnavailable(
                            f"no records from {where} at offset {position} (wanted up to {partition.end}) for "
                            f"{READ_STALL_SECONDS:.0f}s: is the broker at {self.bootstrap} down?"
                        )
                    continue
                last_progress = time.monotonic()
                for m in messages:
                    error = m.error()
                    if error is not None:
                        if error.code() == KafkaError._AUTO_OFFSET_RESET:
                            raise DataLossError(f"offset {position} of {where} no longer exists: {error.str()}")
                        if error.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
                            raise BrokerUnavailable(f"lost the broker at {self.bootstrap} reading {where}: {error}")
                        raise RuntimeError(f"Kafka error reading {where}: {error}")
                    offset = m.offset()
                    if offset >= partition.end:
                        position = partition.end
                        break
                    kind, stamp = m.timestamp()
                    keys.append(m.key())
                    values.append(m.value())
                    offsets.append(offset)
                    stamps.append(stamp * 1000)
                    kinds.append(kind)
                    position = offset + 1
                if len(offsets) >= ARROW_CHUNK or (offsets and position >= partition.end):
                    yield self._batch(partition, keys, values, offsets, stamps, kinds, pa)
                    keys, values, offsets, stamps, kinds = [], [], [], [], []
        finally:
            consumer.close()

    @staticmethod
    def _batch(partition: KafkaPartitionRange, keys, values, offsets, stamps, kinds, pa):
        n = len(offsets)
        return pa.RecordBatch.from_arrays(
            [
                pa.array(keys, pa.binary()),
                pa.array(values, pa.binary()),
                pa.array([partition.topic] * n, pa.string()),
                pa.array([partition.partition] * n, pa.int32()),
                pa.array(offsets, pa.int64()),
                pa.array(stamps, pa.timestamp("us", tz="UTC")),
                pa.array(kinds, pa.int32()),
            ],
            names=[f.name for f in KAFKA_SCHEMA.fields],
        )

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
