"""Lag arithmetic (streaming/lag.py): what a query's ledger says it committed, against the topic."""

import json
from datetime import datetime

from streaming.lag import PartitionLag, QueryLag, committed_next_offsets, partition_lags


def test_the_ledger_gives_one_past_the_newest_committed_offset_per_partition():
    ledger = [
        json.dumps({"t": {"0": [0, 9], "1": [0, 4]}}),
        json.dumps({"t": {"0": [10, 19]}, "other": {"0": [0, 99]}}),  # a topic the query read before
        None,  # a batch of the home-made source era, without offsets
    ]
    assert committed_next_offsets(ledger, "t") == {0: 20, 1: 5}
    assert committed_next_offsets([], "t") == {}


def test_a_partition_never_committed_counts_from_its_earliest_retained_offset():
    lags = partition_lags("t", ends={0: 25, 1: 7, 2: 3}, begins={0: 0, 1: 0, 2: 1}, committed={0: 20, 1: 7})
    assert [(p.partition, p.next_offset, p.lag) for p in lags] == [(0, 20, 5), (1, 7, 0), (2, 1, 2)]


def test_the_operators_line_names_the_unread_messages_and_the_newest_events_age():
    lag = QueryLag(
        "raw_transactions",
        "retail_transactions",
        datetime(2026, 12, 1, 6),
        [PartitionLag("retail_transactions", 0, 100, 40), PartitionLag("retail_transactions", 1, 50, 50)],
        datetime(2026, 11, 30, 21),
    )
    assert lag.line() == (
        "raw_transactions (retail_transactions): 60 message(s) unread over 2 partition(s) (p0 60, p1 0);"
        " newest event landed 2026-11-30 21:00:00 (9.0 h before the check)"
    )
    assert "no event landed yet" in QueryLag("q", "t", datetime(2026, 12, 1), [], None).line()
