"""Producer framework: replay records into a topic with keys, rate control, progress and a summary.

Records are validated and encoded by their contract. A deliberate fraction can be malformed (for
demos and tests); which records and how is decided by the seed, so a replay is identical.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from streaming.contracts import Contract

MALFORMED_KINDS = ("bad_json", "missing_field", "wrong_type", "out_of_range", "unknown_event_type")


def malform(contract: Contract, record: dict, kind: str) -> bytes:
    """Encode a record broken in one way whose reason code is ``kind``."""
    obj = json.loads(contract.serialize(record))
    if kind == "bad_json":
        text = json.dumps(obj)
        return text[: len(text) // 2].encode()
    if kind == "missing_field":
        obj.pop(next(f.name for f in contract.fields if f.required))
    elif kind == "wrong_type":
        field = next((f for f in contract.fields if f.kind in ("int", "float")), contract.fields[0])
        obj[field.name] = "not-a-number" if field.kind != "string" else 12345
    elif kind == "out_of_range":
        field = next((f for f in contract.fields if f.min is not None), None)
        if field is not None:
            obj[field.name] = int(field.min) - 1
        else:
            obj[next(f.name for f in contract.fields if f.kind == "timestamp")] = "1900-01-01T00:00:00"
    elif kind == "unknown_event_type":
        obj["event_type"] = "mystery_event"
    else:
        raise ValueError(f"unknown malformation {kind!r}; choose from {MALFORMED_KINDS}")
    return json.dumps(obj).encode()


@dataclass
class ProduceSummary:
    topic: str
    sent: int  # acknowledged by the broker (acks=all)
    malformed: int
    elapsed_s: float
    failed: int = 0  # not acknowledged: never counted as sent
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def line(self) -> str:
        text = (
            f"{self.topic}: sent {self.sent:,} messages ({self.malformed:,} deliberately malformed) "
            f"in {self.elapsed_s:.1f}s, {self.rate:,.0f} msg/s"
        )
        if self.failed:
            text += f"; {self.failed:,} FAILED (first error: {self.first_error})"
        return text


class Deliveries:
    """Delivery reports of librdkafka: every message is acknowledged or counted as failed."""

    def __init__(self):
        self.ok = self.failed = 0
        self.first_error = ""

    def __call__(self, error, message) -> None:
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            self.first_error = self.first_error or str(error)


def new_producer(bootstrap: str, timeout_s: float = 60.0):
    """A librdkafka producer: acks=all, batched, a message not acknowledged within ``timeout_s`` fails."""
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 200_000,
            "message.timeout.ms": int(timeout_s * 1000),
            "retries": 5,
        }
    )


def send(producer, topic: str, value: bytes, key: bytes | None, deliveries: Deliveries, headers=None) -> None:
    """Queue one message; when the local queue is full, let librdkafka deliver some first."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, headers=headers, on_delivery=deliveries)
            return
        except BufferError:
            producer.poll(0.1)


def produce(
    bootstrap: str,
    topic: str,
    contract: Contract,
    records: Iterable[dict],
    limit: int | None = None,
    rate: float | None = None,
    malformed_fraction: float = 0.0,
    seed: int = 7,
    progress: bool = True,
    timeout_s: float = 60.0,
) -> ProduceSummary:
    """Send records (at most ``limit``) to ``topic``; ``rate`` in messages/s, None = as fast as
    possible. librdkafka batches and sends; each message counts as sent only once the broker has
    acknowledged it (acks=all), otherwise as failed with its error (after ``timeout_s``)."""
    from tqdm import tqdm

    deliveries = Deliveries()
    producer = new_producer(bootstrap, timeout_s)
    chooser = random.Random(seed)
    bar = tqdm(total=limit, unit="msg", disable=not progress, file=sys.stderr, mininterval=0.5)
    queued = malformed = 0
    started = time.monotonic()
    try:
        for record in records:
            if limit is not None and queued >= limit:
                break
            if malformed_fraction and chooser.random() < malformed_fraction:
                value = malform(contract, record, MALFORMED_KINDS[malformed % len(MALFORMED_KINDS)])
                malformed += 1
            else:
                value = contract.serialize(record)
            send(producer, topic, value, contract.key(record), deliveries)
            queued += 1
            if queued % 1000 == 0:
                producer.poll(0)
                bar.update(1000)
            if rate:
                ahead = queued / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        undelivered = producer.flush(timeout_s)
    finally:
        bar.update(queued % 1000)
        bar.close()
    deliveries.failed += undelivered
    if undelivered and not deliveries.first_error:
        deliveries.first_error = f"{undelivered} message(s) not acknowledged within {timeout_s:.0f}s"
    return ProduceSummary(
        topic, deliveries.ok, malformed, time.monotonic() - started, deliveries.failed, deliveries.first_error
    )
