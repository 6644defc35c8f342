"""Stream query ``interactions``: shopper events -> implicit (visitor, item) interactions.

Per micro-batch (``foreachBatch``, exactly once through the ``stream_batches`` ledger):

* invalid events -> dead-letter topic and ``quarantined_events`` with their reason;
* valid events (the first record of each event id in the batch) are staged; those whose id is not
  yet in ``raw_shopper_events`` are *new*: they are added to ``interactions`` (counts per action,
  first / last seen, confidence = the weighted count under the configured weights, recomputed from
  the counts so a change of weights applies to every pair it touches) and then stored raw.

An event re-sent later (same id) is therefore counted once, whatever batch it arrives in; the
aggregate is a sum, a minimum and a maximum, so event-time order and lateness do not matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from common.settings import Settings
from models.recommendations.recommender import parse_weights
from streaming.contracts import SHOPPER_EVENT
from streaming.raw_ingest import first_per_document, split_validated
from streaming.sinks import (
    BatchCounts,
    BatchResult,
    MySQLBatchSink,
    TopicPublisher,
    arrow_source,
    dead_letter_messages,
)

QUERY = "interactions"
# the staged events whose id is not stored yet: the ones to count
NEW_EVENTS = (
    "SELECT e.* FROM rp_events e LEFT JOIN raw_shopper_events r ON r.event_id = e.event_id WHERE r.event_id IS NULL"
)


def upsert_sql(weights: dict[str, float]) -> tuple[str, tuple]:
    """The statement adding the new staged events to ``interactions``, with its weight parameters."""
    confidence = "views * %s + carts * %s + purchases * %s"
    sql = (
        "INSERT INTO interactions (visitor_id, item_id, views, carts, purchases, confidence, first_seen, last_seen)"
        " SELECT visitor_id, item_id, SUM(action = 'view'), SUM(action = 'addtocart'), SUM(action = 'transaction'),"
        " SUM(action = 'view') * %s + SUM(action = 'addtocart') * %s + SUM(action = 'transaction') * %s,"
        f" MIN(event_time), MAX(event_time) FROM ({NEW_EVENTS}) n GROUP BY visitor_id, item_id"
        " ON DUPLICATE KEY UPDATE views = views + VALUES(views), carts = carts + VALUES(carts),"
        " purchases = purchases + VALUES(purchases),"
        " first_seen = LEAST(first_seen, VALUES(first_seen)), last_seen = GREATEST(last_seen, VALUES(last_seen)),"
        f" confidence = {confidence}"
    )
    w = (weights["view"], weights["addtocart"], weights["transaction"])
    return sql, w + w


@dataclass
class Interactions:
    """foreachBatch body of ``interactions`` (see module doc)."""

    settings: Settings
    on_batch: Callable[[BatchResult], None] = lambda result: None
    query_name: str = QUERY

    def __post_init__(self):
        self.weights = parse_weights(self.settings.interaction_weights)
        self.sink = MySQLBatchSink(self.settings, self.query_name)
        self.publisher = TopicPublisher(self.settings)

    def __call__(self, batch_df, batch_id: int) -> None:
        started = time.time()
        table = batch_df.toArrow()
        good, quarantined, columns = split_validated(table)
        events = first_per_document(good.to_pylist(), "event_id")
        source = arrow_source(table)
        self.publisher.publish(
            self.settings.topic_dead_letter, dead_letter_messages(quarantined), self.query_name, batch_id
        )

        def work(cur) -> BatchCounts:
            new = 0
            if events:
                rows = [tuple(e[c] for c in columns) for e in events]
                self.sink.load_temporary(cur, "rp_events", SHOPPER_EVENT.table, columns, rows)
                cur.execute(f"SELECT COUNT(*) FROM ({NEW_EVENTS}) n")
                new = cur.fetchone()[0]
                sql, params = upsert_sql(self.weights)
                cur.execute(sql, params)
                cols = ", ".join(columns)
                cur.execute(f"INSERT IGNORE INTO {SHOPPER_EVENT.table} ({cols}) SELECT {cols} FROM rp_events")
                cur.execute("DROP TEMPORARY TABLE rp_events")
            self.sink.quarantine(cur, batch_id, quarantined)
            return BatchCounts(table.num_rows, new, len(quarantined))

        self.on_batch(self.sink.commit(batch_id, started, work, source))

    def close(self) -> None:
        self.sink.close()
        self.publisher.close()
