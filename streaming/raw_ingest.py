"""Raw ingestion queries: one per contract, topic -> validate -> raw table (+ dead letters)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from common.settings import Settings
from streaming.contracts import CONTRACTS, Contract
from streaming.sinks import BatchResult, MySQLBatchSink, TopicPublisher, arrow_source, dead_letter_messages

QUERIES: dict[str, Contract] = {c.table: c for c in CONTRACTS.values()}


def quarantine_records(
    rows: list[dict], contract: Contract | None = None, reason_code: str | None = None, reason: str = ""
) -> list[dict]:
    """Validated rows -> quarantine records. Rejected rows keep their reason and raw payload; rows
    rejected later for ``reason_code`` (e.g. late events) are re-encoded by ``contract``."""
    return [
        {
            "source_topic": r["kafka_topic"],
            "source_partition": r["kafka_partition"],
            "source_offset": r["kafka_offset"],
            "reason_code": reason_code or r["reason_code"],
            "reason": reason[:512] if reason_code else r["reason"],
            "raw_key": contract.key(r).decode() if reason_code else r["raw_key"],
            "raw_value": contract.serialize(r).decode() if reason_code else r["raw_value"],
            "kafka_timestamp": r["kafka_timestamp"],
        }
        for r in rows
    ]


def split_validated(table) -> tuple[object, list[dict], list[str]]:
    """Arrow table from validate_events -> (good rows as an Arrow table of the contract's table
    columns, quarantine records, those columns)."""
    import pyarrow.compute as pc

    contract_columns = [
        c for c in table.column_names if c not in ("reason_code", "reason", "raw_key", "raw_value", "kafka_timestamp")
    ]
    good = table.filter(pc.is_null(table.column("reason_code"))).select(contract_columns)
    bad = table.filter(pc.is_valid(table.column("reason_code")))
    quarantined = quarantine_records(
        bad.select(
            ["kafka_topic", "kafka_partition", "kafka_offset", "reason_code", "reason", "raw_key", "raw_value"]
            + ["kafka_timestamp"]
        ).to_pylist()
    )
    return good, quarantined, contract_columns


@dataclass
class RawIngest:
    """foreachBatch body for one raw query."""

    settings: Settings
    contract: Contract
    on_batch: Callable[[BatchResult], None] = lambda result: None
    query_name: str = ""  # ledger key in stream_batches; defaults to the raw table's name

    def __post_init__(self):
        self.query_name = self.query_name or self.contract.table
        self.sink = MySQLBatchSink(
            self.settings, self.query_name, self.contract.table, self.contract.table_columns, ["event_id"]
        )
        self.publisher = TopicPublisher(self.settings)

    def __call__(self, batch_df, batch_id: int) -> None:
        started = time.time()
        table = batch_df.toArrow()
        rows, quarantined, _ = split_validated(table)
        source = arrow_source(table)
        # dead letters go out on every attempt (consumers dedupe by key); then the one transaction
        self.publisher.publish(
            self.settings.topic_dead_letter, dead_letter_messages(quarantined), self.query_name, batch_id
        )
        self.on_batch(self.sink.write(batch_id, rows, quarantined, started, source))

    def close(self) -> None:
        self.sink.close()
        self.publisher.close()


def first_per_document(records: list[dict], id_field: str) -> list[dict]:
    """One record per document id: the first in the topic (lowest partition, then offset)."""
    chosen: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: (r["kafka_partition"], r["kafka_offset"])):
        chosen.setdefault(r[id_field], r)
    return list(chosen.values())
