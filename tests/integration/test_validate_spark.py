"""validate_events as a pure DataFrame -> DataFrame function on the shared SparkSession."""

from datetime import datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from streaming.contracts import TRANSACTION
from streaming.kafka_source import KAFKA_SCHEMA
from streaming.raw_ingest import split_validated
from streaming.validate import validate_events

pytestmark = pytest.mark.integration

GOOD = (
    b'{"event_type":"transaction","event_id":"e1","txn_id":"r1","event_time":"2024-05-01T09:30:00Z",'
    b'"store_id":2,"item_id":9,"quantity":3,"unit_price":1.25}'
)


def kafka_rows(*values):
    ts = datetime(2024, 5, 1, 10)
    return [(b"k", v, "tx", 0, i, ts, 0) for i, v in enumerate(values)]


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
    assert good == [("e1", "r1", datetime(2024, 5, 1, 9, 30), 2, 9, 3, 1.25, None, "tx", 0, 0)]
    assert [(q["source_offset"], q["reason_code"]) for q in quarantined] == [(1, "bad_json"), (2, "out_of_range")]
