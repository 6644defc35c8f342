"""The sales_aggregation stream job on the local stack with malformed, re-sent and late rows."""

import json
from datetime import date

import pytest
from kafka import KafkaConsumer, TopicPartition

from common.cli import stream_arguments
from common.db import query
from common.settings import load_settings
from streaming.contracts import TRANSACTION
from streaming.producer import produce
from streaming.sales.transaction_sources import generated_daily_sales, generated_transactions
from tests.support import run_job

pytestmark = pytest.mark.integration


def stream(topic, checkpoint):
    args = stream_arguments("sales_aggregation", topic, "sales_aggregation", checkpoint, "--lateness", "2d")
    return run_job(*args, ok=None, timeout=300)


def send(settings, topic, records, malformed=0.0):
    return produce(
        settings.kafka_bootstrap, topic, TRANSACTION, records, malformed_fraction=malformed, seed=5, progress=False
    )


def test_stream_adds_each_event_once_and_counts_late_rows(private_db, topic, tmp_path, monkeypatch):
    monkeypatch.setenv("RP_TOPIC_RETAIL_AGGREGATED", f"{topic}_aggregated")
    settings = load_settings()
    events = list(generated_transactions(seed=11, stores=2, items=3, days=20))
    sent = send(settings, topic, events, malformed=0.02)
    first = stream(topic, tmp_path / "ckpt")
    assert first.returncode == 0, first.stderr[-3000:]

    expected = generated_daily_sales(seed=11, stores=2, items=3, days=20)
    quarantined = query(settings, "SELECT reason_code FROM quarantined_events", role="writer")
    assert len(quarantined) == sent.malformed > 0 and "late_event" not in {r[0] for r in quarantined}
    rows = {
        (d, s, i): u for d, s, i, u in query(settings, "SELECT sale_date, store_id, item_id, units FROM daily_sales")
    }
    assert len(rows) + sent.malformed == len(events) == len(expected)
    bad_keys = set(expected.set_index(["date", "store_id", "item_id"]).index) - set(rows)
    assert len(bad_keys) == sent.malformed  # exactly the malformed events are missing
    for r in expected.itertuples():
        if (r.date, r.store_id, r.item_id) in rows:
            assert rows[(r.date, r.store_id, r.item_id)] == r.quantity

    # re-send counted events of the last 3 days, plus 2 new events 19 days older than the newest (late)
    resend = [e for e in events[-18:] if (e["event_time"].date(), e["store_id"], e["item_id"]) in rows]
    late = [dict(e, event_id=e["event_id"] + "-late", quantity=100) for e in events[:2]]
    send(settings, topic, resend + late)
    second = stream(topic, tmp_path / "ckpt")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "2 late" in second.stdout
    after = {
        (d, s, i): u for d, s, i, u in query(settings, "SELECT sale_date, store_id, item_id, units FROM daily_sales")
    }
    assert after == rows  # nothing doubled, late rows not added
    assert query(settings, "SELECT COUNT(*) FROM v_quarantine_reasons WHERE reason_code = 'late_event'")[0][0] == 2
    batches = query(
        settings, "SELECT SUM(rows_in), SUM(late_rows) FROM stream_batches WHERE query_name = 'sales_aggregation'"
    )
    assert [int(v) for v in batches[0]] == [len(events) + len(resend) + 2, 2]
    no_latency = "SELECT COUNT(*) FROM v_pipeline_health WHERE query_name = 'sales_aggregation' AND latency_ms IS NULL"
    assert query(settings, no_latency)[0][0] == 0  # every batch knows when its oldest record arrived

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, consumer_timeout_ms=3000)
    result_topic = settings.topic_retail_aggregated
    partitions = [TopicPartition(result_topic, p) for p in consumer.partitions_for_topic(result_topic)]
    assert len(partitions) == settings.kafka_partitions  # created by the job, as configured
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    latest = {}
    for message in consumer:  # per partition in offset order: the newest total per key wins
        value = json.loads(message.value)
        assert message.key.decode() == f"{value['store_id']}-{value['item_id']}"
        latest[(date.fromisoformat(value["sale_date"]), value["store_id"], value["item_id"])] = value["units"]
    consumer.close()
    assert latest == after


def test_hostile_input_aggregates_equal_a_pure_python_recomputation(private_db, topic, tmp_path, monkeypatch):
    """Hostile records among valid ones, duplicates with other payloads inside a batch and across
    batches: daily_sales must equal what the contract and the first-seen rule give in plain Python."""
    from datetime import UTC, datetime, timedelta

    from confluent_kafka import Producer

    monkeypatch.setenv("RP_TOPIC_RETAIL_AGGREGATED", f"{topic}_aggregated")
    settings = load_settings()
    events = list(generated_transactions(seed=13, stores=2, items=2, days=15))
    encode = lambda e: TRANSACTION.serialize(e)  # noqa: E731
    future = (datetime.now(UTC) + timedelta(days=3)).replace(tzinfo=None).isoformat()
    good = json.loads(encode(events[0]))
    hostile = [
        json.dumps({**good, "event_id": "future", "event_time": future}).encode(),
        json.dumps({**good, "event_id": "ancient", "event_time": "1899-12-31T00:00:00"}).encode(),
        encode(events[1]).replace(b'"quantity":', b'"quantity":NaN,"x":'),
        b"\xff\xfe" + encode(events[2]),
        json.dumps({**good, "event_id": "negative", "quantity": -4}).encode(),
        json.dumps({**good, "event_id": "float-qty", "quantity": 2.0}).encode(),
        json.dumps({**good, "event_id": "sql", "txn_id": "'; DROP TABLE daily_sales; --"}).encode(),
        json.dumps({**good, "event_id": "big", "note": "x" * 500_000}).encode(),
    ]
    # in-batch duplicates with other payloads come after the originals: the originals count
    in_batch = [dict(e, quantity=e["quantity"] + 50) for e in events[5:15]]
    first_run = [encode(e) for e in events] + hostile + [encode(e) for e in in_batch]
    across = [dict(e, quantity=999) for e in events[-8:-1]]  # re-sent later with other payloads, not late
    second_run = [encode(e) for e in across] + [encode(dict(events[-1], event_id="new-1"))]

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    for payloads in (first_run, second_run):
        for value in payloads:
            producer.produce(topic, value=value, key=None if value.startswith(b"\xff") else b"1-1")
        assert producer.flush(30) == 0
        run = stream(topic, tmp_path / "ckpt")
        assert run.returncode == 0, run.stderr[-3000:]

    expected, counted = {}, set()
    for value in first_run + second_run:  # one partition (one key): topic order is send order
        record, error = TRANSACTION.validate(value)
        if error or record["event_id"] in counted:
            continue
        counted.add(record["event_id"])
        key = (record["event_time"].date(), record["store_id"], record["item_id"])
        expected[key] = expected.get(key, 0) + record["quantity"]
    got = {
        (d, s, i): int(u)
        for d, s, i, u in query(settings, "SELECT sale_date, store_id, item_id, units FROM daily_sales")
    }
    assert got == expected
    reasons = dict(query(settings, "SELECT reason_code, COUNT(*) FROM v_quarantine_reasons GROUP BY reason_code"))
    assert reasons == {"out_of_range": 3, "bad_json": 2, "wrong_type": 1}
