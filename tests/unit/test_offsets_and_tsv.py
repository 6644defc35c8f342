from datetime import datetime

import pytest

from streaming.kafka_source import CheckpointMismatch, DataLossError, cap_offsets, check_data_loss, topic_offsets
from streaming.sinks import write_tsv


def test_cap_offsets_returns_end_when_under_the_limit():
    assert cap_offsets({"0": 0, "1": 5}, {"0": 10, "1": 10}, 100) == {"0": 10, "1": 10}


def test_cap_offsets_shares_budget_in_proportion_and_never_exceeds_it():
    capped = cap_offsets({"0": 0, "1": 0}, {"0": 900, "1": 100}, 100)
    assert capped == {"0": 90, "1": 10}
    odd = cap_offsets({"0": 0, "1": 0, "2": 0}, {"0": 7, "1": 7, "2": 7}, 10)
    assert sum(odd.values()) == 10 and all(v >= 3 for v in odd.values())


def test_cap_offsets_always_progresses_with_tiny_budget():
    capped = cap_offsets({"0": 0, "1": 0}, {"0": 1000, "1": 1000}, 1)
    assert sum(capped.values()) == 1


def test_new_partition_missing_from_start_reads_from_zero():
    assert cap_offsets({"0": 10}, {"0": 20, "1": 30}, 1000) == {"0": 20, "1": 30}


def test_offsets_use_sparks_layout_and_refuse_another_topics_checkpoint():
    assert topic_offsets("tx", {"tx": {"0": 5, "1": 7}}) == {"0": 5, "1": 7}
    assert topic_offsets("tx", {"0": 5}) == {"0": 5}  # checkpoints of earlier versions
    with pytest.raises(CheckpointMismatch, match="offsets of topic other, not 'tx'"):
        topic_offsets("tx", {"other": {"0": 5}})


def test_records_below_the_log_start_and_vanished_partitions_are_data_loss():
    with pytest.raises(DataLossError, match=r"partition 0: checkpoint at 3, log starts at 10 \(records 3..9 gone\)"):
        check_data_loss("t", {"0": 3}, {"0": 50}, fail=True, begin={"0": 10})
    with pytest.raises(DataLossError, match="partition 1: checkpoint at 4, the partition no longer exists"):
        check_data_loss("t", {"0": 3, "1": 4}, {"0": 50}, fail=True)
    # tolerated: resume from the log start; a vanished partition is dropped
    assert check_data_loss("t", {"0": 3, "1": 4}, {"0": 50}, fail=False, begin={"0": 10}) == {"0": 10}


def test_data_loss_is_reported_with_how_to_resume():
    with pytest.raises(DataLossError, match="partition 0: checkpoint at 500, topic ends at 20.*--no-fail-on-data-loss"):
        check_data_loss("t", {"0": 500, "1": 10}, {"0": 20, "1": 10}, fail=True)


def test_data_loss_tolerated_resets_only_lost_partitions():
    assert check_data_loss("t", {"0": 500, "1": 10}, {"0": 20, "1": 10}, fail=False) == {"0": 0, "1": 10}
    assert check_data_loss("t", {"0": 5}, {"0": 20}, fail=True) == {"0": 5}


def test_tsv_escapes_special_characters_and_nulls(tmp_path):
    path = tmp_path / "rows.tsv"
    write_tsv([("a\tb", None, 3, 1.5, datetime(2024, 1, 2, 3, 4, 5, 6)), ("line\nbreak\\", "x", 0, 0.0, None)], path)
    assert path.read_text().splitlines() == [
        "a\\tb\t\\N\t3\t1.5\t2024-01-02 03:04:05.000006",
        "line\\nbreak\\\\\tx\t0\t0.0\t\\N",
    ]


def test_arrow_tsv_escapes_like_the_tuple_path(tmp_path):
    import pyarrow as pa

    table = pa.table(
        {
            "s": ["a\tb", "line\nbreak\\", None],
            "i": pa.array([3, None, 0], pa.int64()),
            "f": [1.5, 0.0, None],
            "t": pa.array([datetime(2024, 1, 2, 3, 4, 5, 6), None, datetime(2024, 1, 2)], pa.timestamp("us")),
        }
    )
    path = tmp_path / "rows.tsv"
    write_tsv(table, path)
    assert path.read_text().splitlines() == [
        "a\\tb\t3\t1.5\t2024-01-02 03:04:05.000006",
        "line\\nbreak\\\\\t\\N\t0\t\\N",
        "\\N\t0\t\\N\t2024-01-02 00:00:00.000000",
    ]


def test_a_broker_lost_between_two_offset_requests_is_broker_unavailable():
    """latestOffset asks for the end offsets, then the log starts: the broker can vanish in between,
    and either failure must be the one-line exit 4, not a crash."""
    from kafka.errors import KafkaTimeoutError

    from streaming.kafka_source import BrokerUnavailable, KafkaStreamReader

    class LostAfterEnds:
        def beginning_offsets(self, tps):
            raise KafkaTimeoutError("Failed to get offsets by times in 5000 ms")

    reader = KafkaStreamReader({"kafka.bootstrap.servers": "127.0.0.1:1", "subscribe": "tx"})
    reader._consumer = LostAfterEnds()
    with pytest.raises(BrokerUnavailable, match="did not answer for tx: .*Failed to get offsets"):
        reader._begins(["0", "1"])


def test_batch_source_keeps_each_partitions_range_and_the_oldest_arrival():
    import pyarrow as pa

    from streaming.sinks import arrow_source

    early, late = datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 9)
    table = pa.table(
        {
            "kafka_topic": ["tx", "tx", "tx", "tx"],
            "kafka_partition": [0, 0, 1, 1],
            "kafka_offset": [5, 7, 2, 3],
            "kafka_timestamp": pa.array([late, late, early, None], pa.timestamp("us")),
        }
    )
    source = arrow_source(table)
    assert source.offsets == {"tx": {"0": [5, 7], "1": [2, 3]}}
    assert source.first_arrival == early
    assert arrow_source(table.slice(3)).first_arrival is None  # no timestamp: no latency, not an error
