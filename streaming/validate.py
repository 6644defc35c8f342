"""Parse and validate raw Kafka rows against a contract, as a pure DataFrame -> DataFrame function.

The contract's rules (``streaming/contracts.py``) are compiled into Spark column expressions over
the message parsed as a VARIANT, so validation runs vectorised in the JVM with no per-row Python,
and gives the same reason codes as ``Contract.validate`` (a test feeds both the same hostile
inputs). Every input row comes out: valid rows with typed contract columns and ``reason_code``
null; invalid rows with null contract columns, the first failing rule's code and reason (fields in
contract order, as in Python) and the raw key and payload for the quarantine.
"""

from __future__ import annotations

from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from streaming.contracts import ISO_TIMESTAMP, MAX_FUTURE_SKEW, YEARS, Contract, Field

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
INTEGRAL = ("TINYINT", "SMALLINT", "INT", "BIGINT")


def validated_schema(contract: Contract) -> T.StructType:
    # contract columns are nullable here: they are null on rejected rows
    fields = [T.StructField(f.name, f.dataType, True) for f in contract.spark_schema().fields]
    return T.StructType(fields + META_FIELDS)


class _FieldRules:
    """One field's checks as Spark columns over ``v`` (the parsed message)."""

    def __init__(self, field: Field, now: Column, skew: timedelta):
        self.f = field
        self.x = F.expr(f"variant_get(v, '$.{field.name}')")  # SQL NULL when absent
        self.t = F.expr(f"schema_of_variant(variant_get(v, '$.{field.name}'))")
        self.now, self.skew = now, skew

    def _get(self, sql_type: str) -> Column:
        return F.expr(f"try_variant_get(v, '$.{self.f.name}', '{sql_type}')")

    def _wrong_type(self, expected: str) -> tuple[str, Column]:
        detail = F.concat(F.lit(f"{self.f.name} expected {expected}, got "), _py_type(self.t))
        return "wrong_type", detail

    def value(self) -> Column:
        """The typed value (meaningful only where the checks pass)."""
        kind = self.f.kind
        if kind == "string":
            return self._get("string")
        if kind == "int":
            return self._get("bigint")
        if kind == "float":
            return self._get("double")
        # the session time zone is UTC (streaming.spark): a zone converts to UTC, none means UTC
        return F.expr(f"CAST(try_cast(try_variant_get(v, '$.{self.f.name}', 'string') AS TIMESTAMP) AS TIMESTAMP_NTZ)")

    def rules(self) -> list[tuple[Column, str, Column]]:
        """(failed?, code, detail) in the order Contract.validate checks them."""
        f, x, t, value = self.f, self.x, self.t, self.value()
        literal = F.expr(f"to_json(variant_get(v, '$.{f.name}'))")
        absent = x.isNull() | F.expr(f"is_variant_null(variant_get(v, '$.{f.name}'))")
        rules = []
        if f.required:
            rules.append((absent, "missing_field", F.lit(f.name)))
        present = ~absent
        if f.kind == "string":
            rules.append((present & (t != "STRING"), *self._wrong_type("string")))
            rules.append(
                (
                    present & (F.char_length(value) > f.max_len),
                    "out_of_range",
                    F.lit(f"{f.name} longer than {f.max_len} characters"),
                )
            )
            if f.required:
                rules.append((present & (F.trim(value) == ""), "missing_field", F.lit(f"{f.name} is empty")))
        elif f.kind == "int":
            rules.append((present & ~t.isin(*INTEGRAL), *self._wrong_type("64-bit integer")))
        elif f.kind == "float":
            numeric = t.isin(*INTEGRAL) | t.startswith("DECIMAL") | t.isin("DOUBLE", "FLOAT")
            rules.append((present & ~numeric, *self._wrong_type("number")))
            finite = ~(F.isnan(value) | value.isin(float("inf"), float("-inf")))
            rules.append((present & ~finite, "out_of_range", F.lit(f"{f.name} is not finite")))
        else:  # timestamp
            rules.append((present & (t != "STRING"), *self._wrong_type("ISO-8601 timestamp string")))
            text = self._get("string")
            parsed = ~text.rlike(ISO_TIMESTAMP) | value.isNull()
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(" is not an ISO-8601 timestamp"))
            rules.append((present & parsed, "wrong_type", detail))
            years = ~F.year(value).between(*YEARS)
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(f" outside years {YEARS[0]}-{YEARS[1]}"))
            rules.append((present & years, "out_of_range", detail))
            future = value > self.now + F.expr(f"INTERVAL {int(self.skew.total_seconds())} SECONDS")
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(f" is more than {self.skew} in the future"))
            rules.append((present & future, "out_of_range", detail))
        if f.min is not None or f.max is not None:
            low = -float("inf") if f.min is None else f.min
            high = float("inf") if f.max is None else f.max
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(f" not in [{f.min}, {f.max}]"))
            rules.append((present & ~value.between(low, high), "out_of_range", detail))
        if f.choices is not None:
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(f" not one of {list(f.choices)}"))
            rules.append((present & ~value.isin(*f.choices), "invalid_value", detail))
        return rules


def _py_type(t: Column) -> Column:
    integral = t.isin(*INTEGRAL)
    return (
        F.when(t == "STRING", "str")
        .when(t == "BOOLEAN", "bool")
        .when(integral, "int")
        .when(t.startswith("OBJECT"), "dict")
        .when(t.startswith("ARRAY"), "list")
        .otherwise("float")
    )


def validate_events(df: DataFrame, contract: Contract, max_future_skew: timedelta = MAX_FUTURE_SKEW) -> DataFrame:
    """Kafka-shaped DataFrame -> validated DataFrame (see module doc). Event times later than the
    micro-batch's time plus ``max_future_skew`` are out_of_range."""
    now = F.current_timestamp().cast("timestamp_ntz")
    parsed = df.select(
        "key",
        "value",
        F.col("topic").alias("kafka_topic"),
        F.col("partition").cast("int").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").cast("timestamp_ntz").alias("kafka_timestamp"),
        F.when(F.expr("is_valid_utf8(value)"), F.expr("try_parse_json(CAST(value AS STRING))")).alias("v"),
    )
    top = F.expr("schema_of_variant(v)")
    event_type = F.expr("try_variant_get(v, '$.event_type', 'string')")
    checks: list[tuple[Column, str, Column]] = [
        (F.col("value").isNull(), "bad_json", F.lit("empty message value")),
        (F.col("v").isNull(), "bad_json", F.lit("not valid UTF-8 JSON")),
        (~top.startswith("OBJECT"), "bad_json", F.concat(F.lit("expected a JSON object, got "), _py_type(top))),
        (
            event_type.isNull() | (event_type != contract.event_type),
            "unknown_event_type",
            F.concat(
                F.coalesce(F.expr("to_json(variant_get(v, '$.event_type'))"), F.lit("None")),
                F.lit(f" (expected '{contract.event_type}')"),
            ),
        ),
    ]
    rules = [_FieldRules(f, now, max_future_skew) for f in contract.all_fields]
    for r in rules:
        checks.extend(r.rules())
    code = F.when(checks[0][0], F.lit(checks[0][1]))
    reason = F.when(checks[0][0], F.concat(F.lit(f"{checks[0][1]}: "), checks[0][2]))
    for failed, c, detail in checks[1:]:
        code = code.when(failed, F.lit(c))
        reason = reason.when(failed, F.concat(F.lit(f"{c}: "), detail))
    with_reason = parsed.withColumn("reason_code", code).withColumn("reason", F.substring(reason, 1, 512))
    ok = F.col("reason_code").isNull()
    schema = contract.spark_schema()
    columns = [
        F.when(ok, r.value()).cast(field.dataType).alias(r.f.name)
        for r, field in zip(rules, schema.fields, strict=True)
    ]
    raw = [
        F.when(~ok, F.expr("make_valid_utf8(key)").cast("string")).alias("raw_key"),
        F.when(~ok, F.expr("make_valid_utf8(value)").cast("string")).alias("raw_value"),
    ]
    meta = ["reason_code", "reason", *raw, "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]
    return with_reason.select(*columns, *meta)
