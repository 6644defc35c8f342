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

from streaming.contracts import ISO_TIMESTAMP, MAX_FUTURE_SKEW, YEARS, Contract, Field

INTEGRAL = ("TINYINT", "SMALLINT", "INT", "BIGINT")


class _FieldRules:
    """One field's checks as Spark columns. Each costly extraction from the parsed message runs
    once per row, in its own projection (``extract``, then ``typed``), and the rules refer to those
    columns."""

    def __init__(self, field: Field, now: Column, skew: timedelta):
        self.f, self.now, self.skew = field, now, skew
        self.name_x, self.name_t, self.name_v = (f"__{k}_{field.name}" for k in ("x", "t", "v"))
        self.x, self.t, self.value = F.col(self.name_x), F.col(self.name_t), F.col(self.name_v)

    def extract(self) -> Column:
        """Stage 1: the field's value as a VARIANT (SQL NULL when absent, variant null for JSON null)."""
        return F.expr(f"variant_get(v, '$.{self.f.name}')").alias(self.name_x)

    def _get(self, sql_type: str) -> Column:
        return F.expr(f"try_variant_get({self.name_x}, '$', '{sql_type}')")

    def typed(self) -> list[Column]:
        """Stage 2: the value's JSON type and its typed value (meaningful only where the rules pass)."""
        kind = self.f.kind
        if kind == "timestamp":
            # the session time zone is UTC (streaming.spark): a zone converts to UTC, none means UTC
            value = F.expr(
                f"CAST(try_cast(try_variant_get({self.name_x}, '$', 'string') AS TIMESTAMP) AS TIMESTAMP_NTZ)"
            )
        else:
            value = self._get({"string": "string", "int": "bigint", "float": "double"}[kind])
        return [F.expr(f"schema_of_variant({self.name_x})").alias(self.name_t), value.alias(self.name_v)]

    def _wrong_type(self, expected: str) -> tuple[str, Column]:
        detail = F.concat(F.lit(f"{self.f.name} expected {expected}, got "), _py_type(self.t))
        return "wrong_type", detail

    def rules(self) -> list[tuple[Column, str, Column]]:
        """Stage 3: (failed?, code, detail) in the order Contract.validate checks them."""
        f, t, value = self.f, self.t, self.value
        literal = F.expr(f"to_json({self.name_x})")
        absent = self.x.isNull() | F.expr(f"is_variant_null({self.name_x})")
        rules = []
        if f.required:
            rules.append((absent, "missing_field", F.lit(f.name)))
        present = ~absent
        if f.kind == "string":
            rules.append((present & (t != "STRING"), *self._wrong_type("string")))
            too_long = F.lit(f"{f.name} longer than {f.max_len} characters")
            rules.append((present & (F.char_length(value) > f.max_len), "out_of_range", too_long))
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
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(" is not an ISO-8601 timestamp"))
            rules.append((present & (~text.rlike(ISO_TIMESTAMP) | value.isNull()), "wrong_type", detail))
            detail = F.concat(F.lit(f"{f.name}="), literal, F.lit(f" outside years {YEARS[0]}-{YEARS[1]}"))
            rules.append((present & ~F.year(value).between(*YEARS), "out_of_range", detail))
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
    rules = [_FieldRules(f, now, max_future_skew) for f in contract.all_fields]
    kafka = [
        "key",
        "value",
        F.col("topic").alias("kafka_topic"),
        F.col("partition").cast("int").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").cast("timestamp_ntz").alias("kafka_timestamp"),
    ]
    parsed = df.select(
        *kafka, F.when(F.expr("is_valid_utf8(value)"), F.expr("try_parse_json(CAST(value AS STRING))")).alias("v")
    )
    carried = ["key", "value", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp", "v"]
    # a parsed JSON text that starts with '{' is an object: cheaper than asking the variant its schema
    is_object = F.ltrim(F.col("value").cast("string")).startswith("{")
    extracted = parsed.select(
        *carried,
        is_object.alias("__object"),
        F.expr("try_variant_get(v, '$.event_type', 'string')").alias("__event_type"),
        *[r.extract() for r in rules],
    )
    carried += ["__object", "__event_type"] + [r.name_x for r in rules]
    typed = extracted.select(*carried, *[c for r in rules for c in r.typed()])
    event_type = F.col("__event_type")
    checks: list[tuple[Column, str, Column]] = [
        (F.col("value").isNull(), "bad_json", F.lit("empty message value")),
        (F.col("v").isNull(), "bad_json", F.lit("not valid UTF-8 JSON")),
        (
            ~F.col("__object"),
            "bad_json",
            F.concat(F.lit("expected a JSON object, got "), _py_type(F.expr("schema_of_variant(v)"))),
        ),
        (
            event_type.isNull() | (event_type != contract.event_type),
            "unknown_event_type",
            F.concat(
                F.coalesce(F.expr("to_json(variant_get(v, '$.event_type'))"), F.lit("None")),
                F.lit(f" (expected '{contract.event_type}')"),
            ),
        ),
    ]
    for r in rules:
        checks.extend(r.rules())
    code = F.when(checks[0][0], F.lit(checks[0][1]))
    reason = F.when(checks[0][0], F.concat(F.lit(f"{checks[0][1]}: "), checks[0][2]))
    for failed, c, detail in checks[1:]:
        code = code.when(failed, F.lit(c))
        reason = reason.when(failed, F.concat(F.lit(f"{c}: "), detail))
    coded = typed.withColumn("reason_code", code)
    # the reason's text is built for rejected rows only (the conditions run again just for them)
    with_reason = coded.withColumn("reason", F.when(F.col("reason_code").isNotNull(), F.substring(reason, 1, 512)))
    ok = F.col("reason_code").isNull()
    schema = contract.spark_schema()
    columns = [
        F.when(ok, r.value).cast(field.dataType).alias(r.f.name) for r, field in zip(rules, schema.fields, strict=True)
    ]
    raw = [
        F.when(~ok, F.expr("make_valid_utf8(key)").cast("string")).alias("raw_key"),
        F.when(~ok, F.expr("make_valid_utf8(value)").cast("string")).alias("raw_value"),
    ]
    meta = ["reason_code", "reason", *raw, "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]
    return with_reason.select(*columns, *meta)
