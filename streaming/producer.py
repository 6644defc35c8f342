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
    sent: int
    malformed: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def line(self) -> str:
        return (
            f"{self.topic}: sent {self.sent:,} messages ({self.malformed:,} deliberately malformed) "
            f"in {self.elapsed_s:.1f}s, {self.rate:,.0f} msg/s"
        )


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
) -> ProduceSummary:
    """Send records (at most ``limit``) to ``topic``; ``rate`` in messages/s, None = as fast as possible."""
    from kafka import KafkaProducer
    from tqdm import tqdm

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=256 * 1024,
        acks="all",
        retries=5,
        max_in_flight_requests_per_connection=1,
    )
    chooser = random.Random(seed)
    bar = tqdm(total=limit, unit="msg", disable=not progress, file=sys.stderr, mininterval=0.5)
    sent = malformed = 0
    started = time.monotonic()
    try:
        for record in records:
            if limit is not None and sent >= limit:
                break
            if malformed_fraction and chooser.random() < malformed_fraction:
                value = malform(contract, record, MALFORMED_KINDS[malformed % len(MALFORMED_KINDS)])
                malformed += 1
            else:
                value = contract.serialize(record)
            producer.send(topic, key=contract.key(record), value=value)
            sent += 1
            bar.update(1)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
    finally:
        producer.close()
        bar.close()
    return ProduceSummary(topic, sent, malformed, time.monotonic() - started)
