"""Event contracts: each event type is defined once, here.

From one :class:`Contract` come the JSON (de)serialisation with validation that returns a reason,
the Spark schema of the parsed record, the MySQL DDL of its raw table, and its table in
docs/service-developer.md (``retail-pulse tools contracts --markdown``). Every message on a raw topic is a
JSON object with an envelope (``event_id``, ``event_type``) and the contract's fields; unknown extra keys are ignored
so producers can add fields before consumers know them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

KINDS = ("string", "int", "float", "timestamp")
# The rules below are also compiled to Spark column expressions (streaming/validate.py); a test
# checks that both give every hostile input the same reason code.
# Timestamps: ISO-8601 extended form only; the zone (Z or +-HH:MM) converts to UTC, none means UTC.
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"
_ISO_TIMESTAMP = re.compile(ISO_TIMESTAMP)
YEARS = (1990, 2100)  # event times outside these years are out_of_range
MAX_FUTURE_SKEW = timedelta(days=1)  # event times later than now + this are out_of_range
INT64 = (-(2**63), 2**63 - 1)  # integers beyond 64 bits are wrong_type (no column can hold them)
# Columns every raw table carries besides the contract's fields: where the row came from.
SOURCE_COLUMNS = (
    ("kafka_topic", "VARCHAR(128) NOT NULL"),
    ("kafka_partition", "INT NOT NULL"),
    ("kafka_offset", "BIGINT NOT NULL"),
)


class ContractError(ValueError):
    """A record broke its contract. ``code`` is a short machine-readable reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = True
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    max_len: int = 64
    doc: str = ""
    added_in: int | None = None  # the migration that added the column; None: the raw table's first DDL

    def check(self, value: Any, now: datetime | None = None) -> Any:
        """Return the value converted to its Python type, or raise ContractError. ``now`` (naive
        UTC) bounds timestamps: later than now + MAX_FUTURE_SKEW is out_of_range."""
        if value is None:
            if self.required:
                raise ContractError("missing_field", self.name)
            return None
        converted = _CHECKERS[self.kind](self, value)
        if self.kind == "timestamp" and converted > (now or _utcnow()) + MAX_FUTURE_SKEW:
            raise ContractError("out_of_range", f"{self.name}={value!r} is more than {MAX_FUTURE_SKEW} in the future")
        if self.min is not None and converted < self.min or self.max is not None and converted > self.max:
            raise ContractError("out_of_range", f"{self.name}={value!r} not in [{self.min}, {self.max}]")
        if self.choices is not None and converted not in self.choices:
            raise ContractError("invalid_value", f"{self.name}={value!r} not one of {list(self.choices)}")
        return converted

    @property
    def sql_type(self) -> str:
        if self.kind == "string":
            base = "TEXT" if self.max_len > 1024 else f"VARCHAR({self.max_len})"
        else:
            base = {"int": "BIGINT", "float": "DOUBLE", "timestamp": "DATETIME(6)"}[self.kind]
        return f"{base} {'NOT NULL' if self.required else 'NULL'}"


def _wrong_type(f: Field, value: Any, expected: str) -> ContractError:
    return ContractError("wrong_type", f"{f.name} expected {expected}, got {type(value).__name__}")


def _check_string(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong_type(f, value, "string")
    if len(value) > f.max_len:
        raise ContractError("out_of_range", f"{f.name} longer than {f.max_len} characters")
    if f.required and not value.strip():
        raise ContractError("missing_field", f"{f.name} is empty")
    return value


def _check_int(f: Field, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not INT64[0] <= value <= INT64[1]:
        raise _wrong_type(f, value, "64-bit integer")
    return value


def _check_float(f: Field, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(f, value, "number")
    if not math.isfinite(value):
        raise ContractError("out_of_range", f"{f.name} is not finite")
    return float(value)


def _check_timestamp(f: Field, value: Any) -> datetime:
    if not isinstance(value, str):
        raise _wrong_type(f, value, "ISO-8601 timestamp string")
    try:
        if not _ISO_TIMESTAMP.match(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ContractError("wrong_type", f"{f.name}={value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ContractError("out_of_range", f"{f.name}={value!r} outside years {YEARS[0]}-{YEARS[1]}")
    return parsed


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


_CHECKERS = {"string": _check_string, "int": _check_int, "float": _check_float, "timestamp": _check_timestamp}

ENVELOPE = (Field("event_id", "string", doc="Deterministic id: a replay of the same source record has the same id."),)


@dataclass(frozen=True)
class Contract:
    event_type: str
    topic: str  # logical topic name, a key of Settings.topics
    table: str  # raw MySQL table
    key_fields: tuple[str, ...]  # Kafka message key
    fields: tuple[Field, ...]
    doc: str = ""

    @property
    def all_fields(self) -> tuple[Field, ...]:
        return ENVELOPE + self.fields

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.all_fields]

    # -- JSON -------------------------------------------------------------------------------------
    def parse(self, payload: bytes | str | None, now: datetime | None = None) -> dict:
        """Decode and validate one message value; raise ContractError with the reason."""
        if payload is None:
            raise ContractError("bad_json", "empty message value")
        try:
            obj = json.loads(payload, parse_constant=_reject_constant)  # NaN / Infinity are not JSON
        except (ValueError, UnicodeDecodeError) as exc:
            raise ContractError("bad_json", str(exc)[:200]) from None
        if not isinstance(obj, dict):
            raise ContractError("bad_json", f"expected a JSON object, got {type(obj).__name__}")
        event_type = obj.get("event_type")
        if event_type != self.event_type:
            raise ContractError("unknown_event_type", f"{event_type!r} (expected {self.event_type!r})")
        now = now or _utcnow()
        return {f.name: f.check(obj.get(f.name), now) for f in self.all_fields}

    def validate(
        self, payload: bytes | str | None, now: datetime | None = None
    ) -> tuple[dict | None, ContractError | None]:
        """Like parse, but return ``(record, None)`` or ``(None, error)`` instead of raising."""
        try:
            return self.parse(payload, now), None
        except ContractError as exc:
            return None, exc

    def serialize(self, record: dict) -> bytes:
        """Validate a record and encode it as the JSON message value."""
        obj = {"event_type": self.event_type}
        for f in self.all_fields:
            value = record.get(f.name)
            obj[f.name] = value.isoformat() if isinstance(value, datetime) else value
        encoded = json.dumps(obj, separators=(",", ":")).encode()
        self.parse(encoded)
        return encoded

    def key(self, record: dict) -> bytes:
        return "-".join(str(record[k]) for k in self.key_fields).encode()

    # -- Spark ------------------------------------------------------------------------------------
    def spark_schema(self):
        from pyspark.sql import types as T

        spark_types = {
            "string": T.StringType(),
            "int": T.LongType(),
            "float": T.DoubleType(),
            "timestamp": T.TimestampNTZType(),
        }
        return T.StructType([T.StructField(f.name, spark_types[f.kind], not f.required) for f in self.all_fields])

    # -- SQL --------------------------------------------------------------------------------------
    def ddl(self) -> str:
        """The raw table as first created (migration 0002); later fields come by :meth:`alter_ddl`."""
        columns = [f"  {f.name} {f.sql_type}" for f in self.all_fields if f.added_in is None]
        columns += [f"  {name} {sql_type}" for name, sql_type in SOURCE_COLUMNS]
        columns += ["  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)", "  PRIMARY KEY (event_id)"]
        body = ",\n".join(columns)
        return f"CREATE TABLE IF NOT EXISTS {self.table} (\n{body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"

    def alter_ddl(self, migration: int) -> str | None:
        """The columns migration ``migration`` adds to the raw table (None if it adds none)."""
        added = [f"ADD COLUMN {f.name} {f.sql_type}" for f in self.all_fields if f.added_in == migration]
        return f"ALTER TABLE {self.table}\n  " + ",\n  ".join(added) + ";" if added else None

    @property
    def table_columns(self) -> list[str]:
        """Columns the sink writes, in order (ingested_at is filled by the server)."""
        return self.field_names + [name for name, _ in SOURCE_COLUMNS]

    def markdown(self) -> str:
        rows = [f"### `{self.event_type}` (topic `{self.topic}`, table `{self.table}`)", "", self.doc, ""]
        rows += ["| field | type | required | constraint | meaning |", "|---|---|---|---|---|"]
        for f in self.all_fields:
            constraint = []
            if f.min is not None or f.max is not None:
                constraint.append(f"[{f.min}, {f.max}]")
            if f.choices:
                constraint.append(" / ".join(f.choices))
            if f.kind == "string":
                constraint.append(f"<= {f.max_len} chars")
            rows.append(f"| {f.name} | {f.kind} | {'yes' if f.required else 'no'} | {' '.join(constraint)} | {f.doc} |")
        return "\n".join(rows)


TRANSACTION = Contract(
    event_type="transaction",
    topic="transactions",
    table="raw_transactions",
    key_fields=("store_id", "item_id"),
    doc="One sale line: a quantity of one item sold in one store at one time.",
    fields=(
        Field("txn_id", "string", doc="Receipt / basket id; several lines may share it."),
        Field("event_time", "timestamp", doc="When the sale happened (UTC)."),
        Field("store_id", "int", min=1, max=1_000_000),
        Field("item_id", "int", min=1, max=99_999_999_999_999, doc="Up to 14 digits: GTIN/EAN codes fit."),
        Field("quantity", "int", min=0, max=10_000, doc="Units sold (0 allowed for daily-aggregate feeds)."),
        Field("unit_price", "float", min=0, max=100_000, doc="Price per unit in the store's currency."),
        Field("customer_id", "string", required=False),
    ),
)

PRODUCT_REVIEW = Contract(
    event_type="product_review",
    topic="reviews",
    table="raw_product_reviews",
    key_fields=("product_id",),
    doc="A customer's review of a product; rating and/or a sentiment label.",
    fields=(
        Field("review_id", "string"),
        Field("product_id", "string"),
        Field("text", "string", max_len=5000),
        Field("rating", "int", required=False, min=1, max=5),
        Field("label", "string", required=False, choices=("negative", "neutral", "positive")),
        Field("created_at", "timestamp"),
        Field(
            "store_id",
            "int",
            required=False,
            min=1,
            max=1_000_000,
            doc="The store it was bought in, if known.",
            added_in=7,
        ),
        Field(
            "source",
            "string",
            required=False,
            max_len=32,
            doc="Where it came from: corpus name or generator.",
            added_in=7,
        ),
    ),
)

SOCIAL_POST = Contract(
    event_type="social_post",
    topic="social",
    table="raw_social_posts",
    key_fields=("platform",),
    doc="A public post mentioning the brand or a product.",
    fields=(
        Field("post_id", "string"),
        Field("platform", "string", max_len=32),
        Field("product_id", "string", required=False),
        Field("text", "string", max_len=5000),
        Field("created_at", "timestamp"),
        Field("store_id", "int", required=False, min=1, max=1_000_000, doc="A store the post mentions.", added_in=7),
        Field(
            "label",
            "string",
            required=False,
            choices=("negative", "neutral", "positive"),
            doc="Generated posts: the sentiment the generator intended.",
            added_in=7,
        ),
        Field("synthetic", "int", required=False, min=0, max=1, doc="1 for generated posts.", added_in=7),
    ),
)

SHOPPER_EVENT = Contract(
    event_type="shopper_event",
    topic="shopper_events",
    table="raw_shopper_events",
    key_fields=("visitor_id",),
    doc="A shopper's interaction with an item (Retailrocket's view / addtocart / transaction funnel).",
    fields=(
        Field("event_time", "timestamp"),
        Field("visitor_id", "int", min=0, max=10_000_000_000),
        Field("action", "string", max_len=16, choices=("view", "addtocart", "transaction")),
        Field("item_id", "int", min=0, max=99_999_999_999_999, doc="Up to 14 digits: GTIN/EAN codes fit."),
        Field("transaction_id", "string", required=False),
    ),
)

CONTRACTS: dict[str, Contract] = {c.event_type: c for c in (TRANSACTION, PRODUCT_REVIEW, SOCIAL_POST, SHOPPER_EVENT)}


DDL_HEADER = "-- Raw event tables, generated from streaming/contracts.py by `retail-pulse tools contracts --ddl`.\n"


def render_ddl(migration: int | None = None) -> str:
    """The raw tables' first DDL, or the ALTER statements of fields a later migration added."""
    if migration is None:
        return DDL_HEADER + "\n" + "\n\n".join(c.ddl() for c in CONTRACTS.values()) + "\n"
    alters = [a for c in CONTRACTS.values() if (a := c.alter_ddl(migration))]
    return "\n\n".join(alters) + "\n" if alters else ""


def render_markdown() -> str:
    return "\n\n".join(c.markdown() for c in CONTRACTS.values()) + "\n"
