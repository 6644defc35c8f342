"""Parse and validate raw Kafka rows against a contract, as a pure DataFrame -> DataFrame function.

The same Python validation the producers use (``Contract.parse``) runs inside Spark through
``mapInArrow``, so there is one definition of what a valid record is. Every input row comes out:
valid rows with typed contract columns and ``reason_code`` null; invalid rows with null contract
columns, the reason, and the raw payload for the quarantine.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from streaming.contracts import Contract

META_FIELDS = [
    T.StructField("reason_code", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("raw_key", T.StringType()),
    T.StructField("raw_value", T.StringType()),
    T.StructField("kafka_topic", T.StringType()),
    T.StructField("kafka_partition", T.IntegerType()),
    T.StructField("kafka_offset", T.LongType()),
    T.StructField("kafka_timestamp", T.TimestampNTZType()),
]


def validated_schema(contract: Contract) -> T.StructType:
    # contract columns are nullable here: they are null on rejected rows
    fields = [T.StructField(f.name, f.dataType, True) for f in contract.spark_schema().fields]
    return T.StructType(fields + META_FIELDS)


def _decode(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def validate_batches(contract: Contract, batches):
    """Validate Arrow batches of Kafka rows (the mapInArrow body; also used directly in tests)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(validated_schema(contract))
    names = contract.field_names
    for batch in batches:
        cols = batch.to_pydict()
        out: dict[str, list] = {name: [] for name in schema.names}
        for i, value in enumerate(cols["value"]):
            record, error = contract.validate(value)
            for name in names:
                out[name].append(record[name] if record else None)
            out["reason_code"].append(error.code if error else None)
            out["reason"].append(str(error)[:512] if error else None)
            out["raw_key"].append(_decode(cols["key"][i]) if error else None)
            out["raw_value"].append(_decode(value) if error else None)
            ts = cols["timestamp"][i]
            out["kafka_timestamp"].append(ts.astimezone(UTC).replace(tzinfo=None) if isinstance(ts, datetime) else ts)
        out["kafka_topic"] = cols["topic"]
        out["kafka_partition"] = cols["partition"]
        out["kafka_offset"] = cols["offset"]
        yield pa.RecordBatch.from_pydict(out, schema=schema)


def validate_events(df: DataFrame, contract: Contract) -> DataFrame:
    """Kafka-shaped DataFrame -> validated DataFrame (see module doc)."""
    kafka_cols = df.select("key", "value", "topic", F.col("partition").cast("int"), "offset", "timestamp")
    return kafka_cols.mapInArrow(lambda batches: validate_batches(contract, batches), validated_schema(contract))
