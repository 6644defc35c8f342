from datetime import datetime

from common.db import write_tsv
from streaming.spark import checkpoint_topics


def test_the_checkpoint_names_the_topics_of_its_newest_offsets(tmp_path):
    assert checkpoint_topics(tmp_path / "none") == set()
    offsets = tmp_path / "offsets"
    offsets.mkdir()
    metadata = '{"batchWatermarkMs":0,"batchTimestampMs":1,"conf":{}}'
    (offsets / "9").write_text(f'v1\n{metadata}\n{{"old":{{"0":5}}}}')
    (offsets / "10").write_text(f'v1\n{metadata}\n{{"tx":{{"1":7,"0":5}}}}')  # 10 after 9, not before
    (offsets / ".10.crc").write_text("ignored")
    assert checkpoint_topics(tmp_path) == {"tx"}


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


def test_the_connectors_data_loss_errors_become_one_line_with_the_way_out():
    from jobs.ingest.stream import data_loss_message

    # raised by an executor reading a batch (records deleted below the checkpoint)
    executor = (
        "Caused by: org.apache.spark.sql.kafka010.KafkaIllegalStateException: Some data may have been lost because"
        " they are not available in Kafka any more;\neither the data was aged out by Kafka or the topic may have been"
        " deleted before all the data in the\ntopic was processed.\nIf you don't want your streaming query to fail on"
        " such cases, set the source option failOnDataLoss to false.\nReason: Could not read records in offset"
        " [201, 402) for topic partition tx-1\nwith consumer group spark-kafka-source-d3a1-executor.\n\tat org.apache"
    )
    line = data_loss_message("tx", executor)
    assert "(Could not read records in offset [201, 402) for topic partition tx-1)" in line
    assert "consumer group" not in line and "\n" not in line and "--no-fail-on-data-loss" in line
    # raised on the driver when planning a batch (the topic was recreated)
    planner = (
        "[KAFKA_DATA_LOSS.PARTITION_OFFSET_CHANGED] Some data may have been lost because they are not available in"
        " Kafka any more; ... Reason: Partition tx-0 offset was changed from 300 to 25. This could be either 1) a user"
        " error ..., or 2) the kafka topic-partition is deleted and re-created. SQLSTATE: 22000"
    )
    assert "(Partition tx-0 offset was changed from 300 to 25. This could be" in data_loss_message("tx", planner)
    assert data_loss_message("tx", "java.lang.OutOfMemoryError: Java heap space") is None


def test_a_failed_querys_root_cause_is_its_innermost_exception_line():
    from jobs.ingest.stream import root_cause

    in_batch = (
        "[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: [FOREACH_BATCH_USER_FUNCTION_ERROR]"
        ' ... Return Message: Traceback (most recent call last):\n  File "/x/sinks.py", line 9, in publish\n'
        "    raise RuntimeError(\nRuntimeError: 3 of 3 messages to t not acknowledged (KafkaError{code=_MSG_TIMED_OUT,"
        "val=-192})\n\n\tat py4j.Protocol.getReturnValue(Protocol.java:1)\n"
    )
    assert root_cause(in_batch) == (
        "RuntimeError: 3 of 3 messages to t not acknowledged (KafkaError{code=_MSG_TIMED_OUT,val=-192})"
    )
    planning = (
        "[STREAM_FAILED] Query [id = 1] terminated with exception: org.apache.kafka.common.errors.TimeoutException:"
        " Timed out waiting for a node assignment. Call: listNodes\n\tat org.apache.spark.X.y(X.scala:1)\n"
        "Caused by: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment."
        " Call: listNodes\n"
    )
    assert root_cause(planning) == (
        "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. Call: listNodes"
    )
    assert root_cause("something odd\nmore") == "something odd"
