"""validate_events (Spark column expressions) against Contract.validate (Python) on hostile input:
the two are compiled from one contract, so every record must get the same verdict and reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from streaming.contracts import CONTRACTS, TRANSACTION
from streaming.raw_ingest import split_validated
from streaming.validate import validate_events

pytestmark = pytest.mark.integration
# the columns Spark's Kafka connector gives every record
KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset bigint, timestamp timestamp, timestampType int"
)

GOOD = (
    b'{"event_type":"transaction","event_id":"e1","txn_id":"r1","event_time":"2024-05-01T09:30:00Z",'
    b'"store_id":2,"item_id":9,"quantity":3,"unit_price":1.25}'
)
NOW = datetime.now(UTC).replace(tzinfo=None)
FIELD_VARIANTS = {  # values any field may be given by a hostile producer
    "string": ["", "   ", "x" * 65, "x" * 5001, "'; DROP TABLE raw_transactions; --", "Ünïcødé ✓ 🛒", 7, None, True],
    "int": [-1, 0, 1.0, 2.5, "3", True, None, 2**63, 2**63 - 1, -(2**64), [1], {"a": 1}, 10**20],
    "float": [-0.01, 0, 1, 1e400, -1e400, "1.5", None, False, 12345678901234567890],
    "timestamp": [
        "2024-05-01T09:30:00+02:00",
        "2024-05-01 09:30",
        "2024-05-01",
        "20240501",
        "2024-13-01T00:00:00",
        "1899-12-31T00:00:00",
        "2099-01-01T00:00:00",
        (NOW + timedelta(hours=12)).isoformat(),
        (NOW + timedelta(days=2)).isoformat(),
        "yesterday",
        1714555800,
        None,
        "2024-05-01T09:30:00.1234567",
    ],
}


def kafka_rows(*values):
    ts = datetime(2024, 5, 1, 10)
    return [(b"k", v, "tx", 0, i, ts, 0) for i, v in enumerate(values)]


def hostile_payloads(contract) -> list[bytes]:
    good = {"event_type": contract.event_type}
    for f in contract.all_fields:
        sample = {"string": "abc", "int": 5, "float": 2.5, "timestamp": "2024-05-01T09:30:00"}[f.kind]
        good[f.name] = f.choices[0] if f.choices else sample
    payloads = [json.dumps(good).encode()]
    for f in contract.all_fields:
        for value in FIELD_VARIANTS[f.kind] + list(f.choices or ()) + ["not-a-choice"] * bool(f.choices):
            payloads.append(json.dumps({**good, f.name: value}).encode())
        payloads.append(json.dumps({k: v for k, v in good.items() if k != f.name}).encode())
    text = json.dumps(good)
    payloads += [
        b"",
        b"{oops",
        b"[1, 2]",
        b'"just a string"',
        b"null",
        b"\xff\xfe" + text.encode(),
        text.replace("}", ', "extra": NaN}').encode(),
        text.replace("}", ', "extra": Infinity}').encode(),
        json.dumps({**good, "event_type": "mystery"}).encode(),
        json.dumps({**good, "event_type": 5}).encode(),
        text[:-1].encode() + b', "event_id": "dup-last"}',  # duplicate key: the last wins
        json.dumps({**good, "note": "x" * 1_000_000}).encode(),  # a 1 MB value: unknown keys are ignored
    ]
    return payloads


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_spark_and_python_give_every_hostile_record_the_same_verdict(spark, event_type):
    contract = CONTRACTS[event_type]
    payloads = hostile_payloads(contract)
    out = validate_events(spark.createDataFrame(kafka_rows(*payloads), KAFKA_SCHEMA), contract)
    rows = sorted(out.collect(), key=lambda r: r["kafka_offset"])
    assert len(rows) == len(payloads)
    valid = 0
    for payload, row in zip(payloads, rows, strict=True):
        record, error = contract.validate(payload)
        assert row["reason_code"] == (error.code if error else None), (payload[:200], row["reason"], error)
        if record:
            valid += 1
            assert {name: row[name] for name in contract.field_names} == record, payload[:200]
        else:
            assert row["reason"].startswith(error.code) and row["event_id"] is None
    assert 3 <= valid < len(payloads) // 2  # both outcomes are exercised


def test_valid_and_invalid_rows_are_split_with_reasons(spark):
    df = spark.createDataFrame(
        kafka_rows(GOOD, b"{oops", GOOD.replace(b'"quantity":3', b'"quantity":-3')), KAFKA_SCHEMA
    )
    out = validate_events(df, TRANSACTION)
    expected = spark.createDataFrame(
        [
            ("e1", None, None),
            (None, "bad_json", "{oops"),
            (None, "out_of_range", GOOD.decode().replace('"quantity":3', '"quantity":-3')),
        ],
        "event_id string, reason_code string, raw_value string",
    )
    assertDataFrameEqual(out.select("event_id", "reason_code", "raw_value"), expected)
    good, quarantined, columns = split_validated(out.toArrow())
    assert columns == TRANSACTION.table_columns
    assert [tuple(r.values()) for r in good.to_pylist()] == [
        ("e1", "r1", datetime(2024, 5, 1, 9, 30), 2, 9, 3, 1.25, None, "tx", 0, 0)
    ]
    assert [(q["source_offset"], q["reason_code"]) for q in quarantined] == [(1, "bad_json"), (2, "out_of_range")]


def test_the_future_skew_is_configurable(spark):
    soon = (datetime.now(UTC) + timedelta(hours=12)).replace(tzinfo=None).isoformat()
    df = spark.createDataFrame(kafka_rows(GOOD.replace(b"2024-05-01T09:30:00Z", soon.encode())), KAFKA_SCHEMA)
    assert validate_events(df, TRANSACTION).first()["reason_code"] is None  # within the default day
    strict = validate_events(df, TRANSACTION, max_future_skew=timedelta(hours=6)).first()
    assert strict["reason_code"] == "out_of_range" and "in the future" in strict["reason"]
