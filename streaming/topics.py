"""Kafka topic administration and offset look-ups (kafka-python's admin and consumer clients)."""

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


def end_offsets(consumer: KafkaConsumer, topic: str) -> dict[int, int]:
    """Per-partition end offsets (the next offset to be written); {} for an unknown topic."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        return {}
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
