"""Kafka topic administration and offset look-ups that work on Apache Kafka and on tansu."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from common.settings import Settings


def broker_reachable(bootstrap: str) -> bool:
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=3000, api_version_auto_timeout_ms=3000)
    except KafkaError:
        return False
    try:
        consumer.topics()
        return True
    except KafkaError:
        return False
    finally:
        consumer.close()


def ensure_topics(settings: Settings, names: list[str] | None = None, partitions: int | None = None) -> list[str]:
    """Create the given topics (default: all raw, dead-letter and result topics); return those created."""
    names = list(settings.topics.values()) if names is None else names
    partitions = partitions or settings.kafka_partitions
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        missing = [n for n in names if n not in consumer.topics()]
    finally:
        consumer.close()
    if not missing:
        return []
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    created = []
    try:
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created


def true_end_offsets(consumer: KafkaConsumer, topic: str, timeout_ms: int = 5000) -> dict[int, int]:
    """Per-partition end offsets (the next offset to be written).

    tansu answers ListOffsets(latest) with the base offset of the last record batch + 1, which is
    short of the true end; the high watermark in a fetch response is right. So seek one record
    before the reported end and fetch: the high watermark of that response is the end. On Apache
    Kafka the answer is the same as ``end_offsets``.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        return {}
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    reported = consumer.end_offsets(tps)
    ends = {}
    for tp in tps:
        if reported[tp] == 0:
            ends[tp.partition] = 0
            continue
        consumer.assign([tp])
        consumer.seek(tp, reported[tp] - 1)
        consumer.poll(timeout_ms=timeout_ms, max_records=1, update_offsets=False)
        highwater = consumer.highwater(tp)
        if highwater is None:
            raise TimeoutError(f"no fetch answer for {tp.topic}[{tp.partition}] within {timeout_ms} ms")
        ends[tp.partition] = max(highwater, reported[tp])
    consumer.assign([])
    return ends
