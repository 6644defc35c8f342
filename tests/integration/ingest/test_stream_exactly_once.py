"""The stream job under crashes, poison records, a broker restart and lost data, on Apache Kafka
through Spark's own connector."""

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from itertools import islice

import pytest
from kafka import KafkaConsumer, TopicPartition

from common.db import query
from common.settings import load_settings
from streaming.sales.transaction_sources import generated_transactions
from streaming.topics import ensure_topics
from tests.integration.conftest import produce_transactions, run_stream, stream_command
from tests.support import one_error_line

pytestmark = pytest.mark.integration


def batches_done(settings, name):
    return query(settings, "SELECT COUNT(*) FROM stream_batches WHERE query_name = %s", (name,))[0][0]


@pytest.mark.slow
def test_kill_dash_nine_mid_batch_of_sales_aggregation_loses_and_doubles_nothing(private_db, topic, tmp_path):
    settings, total = private_db, 60_000
    assert produce_transactions(settings, topic, total).sent == total
    name, checkpoint = f"eo_{topic}", tmp_path / "ckpt"
    command = stream_command(topic, name, checkpoint, "--max-rows-per-trigger", "6000")
    command[command.index("raw_transactions")] = "sales_aggregation"  # the additive path
    rng = random.Random(1)
    for _ in range(3):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        seen = batches_done(settings, name)
        deadline = time.monotonic() + 120
        while batches_done(settings, name) == seen and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, "stream job ended before it could be killed"
        time.sleep(rng.uniform(0.3, 1.5))  # somewhere inside the next micro-batch
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert batches_done(settings, name) < total // 6000, "the job finished before the third kill"
    final = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]

    # a crash between the MySQL commit and Spark's commit log: the batch comes again, the ledger skips it
    commits = sorted((checkpoint / "commits").glob("[0-9]*"), key=lambda p: int(p.name))
    commits[-1].unlink()
    (commits[-1].parent / f".{commits[-1].name}.crc").unlink(missing_ok=True)  # as if never written
    replay = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert f"batch {commits[-1].name}: " in replay.stdout and "(replayed: already committed, skipped)" in replay.stdout

    events = list(islice(generated_transactions(seed=7), total))
    units = sum(e["quantity"] for e in events)
    revenue = sum(round(e["quantity"] * e["unit_price"], 2) for e in events)
    got_units, got_revenue, lines = query(
        settings, "SELECT SUM(units), SUM(revenue), SUM(sale_lines) FROM daily_sales"
    )[0]
    assert (int(got_units), int(lines)) == (units, total)  # 0 missing, 0 doubled
    assert abs(float(got_revenue) - revenue) < 0.01 * len(
        {(e["event_time"].date(), e["store_id"], e["item_id"]) for e in events}
    )
    written = query(settings, "SELECT SUM(rows_written) FROM stream_batches WHERE query_name = %s", (name,))
    assert int(written[0][0]) == total  # every batch counted once in the ledger


def test_poison_records_are_quarantined_with_reasons_and_good_rows_land(settings, topic, tmp_path):
    before = datetime.now(UTC).replace(tzinfo=None)
    summary = produce_transactions(settings, topic, 4000, seed=11, malformed=0.05)
    assert 100 < summary.malformed < 300
    name = f"poison_{topic}"
    result = run_stream(topic, name, tmp_path / "ckpt")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{summary.malformed:,} quarantined" in result.stdout

    good = query(settings, "SELECT COUNT(*) FROM raw_transactions WHERE kafka_topic = %s", (topic,))[0][0]
    assert good == summary.sent - summary.malformed
    reasons = dict(
        query(
            settings,
            "SELECT reason_code, COUNT(*) FROM v_quarantine_reasons WHERE source_topic = %s GROUP BY reason_code",
            (topic,),
        )
    )
    assert sum(reasons.values()) == summary.malformed
    assert set(reasons) == {"bad_json", "missing_field", "wrong_type", "out_of_range", "unknown_event_type"}
    empty = query(
        settings,
        "SELECT COUNT(*) FROM quarantined_events WHERE source_topic = %s AND (raw_value IS NULL OR reason = '')",
        (topic,),
        role="writer",  # raw payloads: not readable by the analysts' account
    )[0][0]
    assert empty == 0
    batch = query(
        settings, "SELECT SUM(rows_in), SUM(rows_quarantined) FROM stream_batches WHERE query_name = %s", (name,)
    )[0]
    assert (int(batch[0]), int(batch[1])) == (summary.sent, summary.malformed)
    assert dead_letters_for(settings, topic) == summary.malformed
    # latency: from the oldest record's append to the commit, so at least the batch's own duration
    # and at most the time since the first message was produced
    health = query(settings, "SELECT latency_ms, duration_ms FROM v_pipeline_health WHERE query_name = %s", (name,))
    wall_ms = (datetime.now(UTC).replace(tzinfo=None) - before).total_seconds() * 1000
    assert health and all(duration - 1 <= latency <= wall_ms for latency, duration in health), (health, wall_ms)


def dead_letters_for(settings, topic):
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    tps = [
        TopicPartition(settings.topic_dead_letter, p) for p in consumer.partitions_for_topic(settings.topic_dead_letter)
    ]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    keys = {m.key for m in consumer if m.key.decode().startswith(f"{topic}-")}
    consumer.close()
    return len(keys)


def raw_counts(settings, topic):
    """Rows landed from ``topic`` per producing seed (event ids ``txn-gen<seed>x...``)."""
    return dict(
        query(
            settings,
            "SELECT REGEXP_SUBSTR(event_id, '^txn-gen[0-9]+'), COUNT(*) FROM raw_transactions WHERE kafka_topic = %s"
            " GROUP BY 1",
            (topic,),
        )
    )


def test_a_broker_restart_keeps_every_record_and_committed_offset(private_db, private_kafka, tmp_path):
    """Kafka keeps its log on disk: events produced before a restart (read or not yet read) and a
    consumer group's committed offsets are all there after it; the stream resumes exactly once."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as Partition

    env = {"RP_KAFKA_BOOTSTRAP": private_kafka.bootstrap}
    private = load_settings({**os.environ, **env})
    topic, name, checkpoint = "restart_me", "restart", tmp_path / "ckpt"
    ensure_topics(private, [topic])
    produce_transactions(private, topic, 1000, seed=21)
    first = run_stream(topic, name, checkpoint, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    produce_transactions(private, topic, 300, seed=22)  # not read before the restart
    group = {"bootstrap.servers": private.kafka_bootstrap, "group.id": "a-service", "enable.auto.commit": False}
    service = Consumer(group)
    service.commit(offsets=[Partition(topic, 0, 7), Partition(topic, 1, 11)], asynchronous=False)
    service.close()

    private_kafka.stop()
    private_kafka.start()
    produce_transactions(private, topic, 200, seed=23)
    resumed = run_stream(topic, name, checkpoint, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert raw_counts(private_db, topic) == {"txn-gen21": 1000, "txn-gen22": 300, "txn-gen23": 200}
    rows = query(private_db, "SELECT COUNT(*), SUM(rows_in) FROM stream_batches WHERE query_name = %s", (name,))[0]
    assert int(rows[1]) == 1500  # every record once in the ledger, none replayed
    service = Consumer(group)
    committed = service.committed([Partition(topic, 0), Partition(topic, 1)], timeout=10)
    service.close()
    assert [(p.partition, p.offset) for p in committed] == [(0, 7), (1, 11)]


def delete_records_below_the_end(settings, topic):
    """Delete every record of ``topic`` written so far (as retention would), with the admin API."""
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient

    from streaming.topics import end_offsets

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    ends = end_offsets(consumer, topic)
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.delete_records({TopicPartition(topic, p): end for p, end in ends.items()})
    admin.close()


def test_records_deleted_before_the_query_read_them_stop_it_or_are_skipped_on_request(private_db, topic, tmp_path):
    settings = private_db
    produce_transactions(settings, topic, 400, seed=61)
    name, checkpoint = f"deleted_{topic}", tmp_path / "ckpt"
    assert run_stream(topic, name, checkpoint).returncode == 0
    produce_transactions(settings, topic, 300, seed=62)
    delete_records_below_the_end(settings, topic)  # the 300 unread records are gone
    produce_transactions(settings, topic, 100, seed=63)

    stopped = run_stream(topic, name, checkpoint)
    assert stopped.returncode == 3, stopped.stderr[-3000:]
    error = one_error_line(stopped.stderr)
    assert f"topic '{topic}' no longer holds records this query has not processed yet" in error
    assert "--no-fail-on-data-loss" in error
    assert raw_counts(settings, topic) == {"txn-gen61": 400}  # nothing of the failed run landed

    resumed = run_stream(topic, name, checkpoint, "--no-fail-on-data-loss")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert raw_counts(settings, topic) == {"txn-gen61": 400, "txn-gen63": 100}


def test_a_topic_deleted_and_recreated_under_the_query_is_data_loss(private_db, topic, tmp_path):
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    settings = private_db
    produce_transactions(settings, topic, 600, seed=71)
    name, checkpoint = f"recreated_{topic}", tmp_path / "ckpt"
    assert run_stream(topic, name, checkpoint).returncode == 0
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.delete_topics([topic])
    admin.close()
    deadline = time.monotonic() + 60
    while True:  # deletion completes in the background
        try:
            if ensure_topics(settings, [topic]):
                break
        except TopicAlreadyExistsError:
            pass
        assert time.monotonic() < deadline, "the topic could not be recreated"
        time.sleep(0.5)
    produce_transactions(settings, topic, 50, seed=72)

    stopped = run_stream(topic, name, checkpoint)
    assert stopped.returncode == 3, stopped.stderr[-3000:]
    error = one_error_line(stopped.stderr)
    assert "no longer holds records this query has not processed yet" in error and "offset was changed" in error


def test_a_lost_checkpoint_with_committed_batches_refuses_to_start(settings, topic, tmp_path):
    import shutil

    produce_transactions(settings, topic, 200, seed=31)
    name, checkpoint = f"orphan_{topic}", tmp_path / "ckpt"
    first = run_stream(topic, name, checkpoint)
    assert first.returncode == 0, first.stderr[-2000:]
    shutil.rmtree(checkpoint)
    again = run_stream(topic, name, checkpoint)
    assert again.returncode == 3
    assert f"query {name} has 1 committed batch(es) in stream_batches but no checkpoint" in again.stderr


def test_a_checkpoint_of_another_topic_is_refused_in_one_line(settings, topic, tmp_path):
    other = f"{topic}_other"
    ensure_topics(settings, [other])
    produce_transactions(settings, topic, 50, seed=33)
    produce_transactions(settings, other, 50, seed=34)
    name, checkpoint = f"mixed_{topic}", tmp_path / "ckpt"
    assert run_stream(topic, name, checkpoint).returncode == 0
    refused = run_stream(other, name, checkpoint)
    assert refused.returncode == 3, refused.stderr[-2000:]
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"holds offsets of topic {topic}, not '{other}'" in errors[0]
