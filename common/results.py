"""Result topics' messages: each defined once, here, as ``streaming/contracts.py`` defines the inbound events
(here in ``common`` because every layer uses them: the forecasting code names its output columns with them).

From one :class:`ResultSchema` come the message a job publishes (:meth:`ResultSchema.message` refuses a
missing or an unexpected field, so code and docs cannot drift apart), the check a test or a consuming
service runs on a received message (:meth:`ResultSchema.problems`), and its entry in
docs/service-developer.md (:meth:`ResultSchema.markdown`; ``retail-pulse tools contracts --results`` prints
them, a unit test compares). The forecast table's columns are defined here too: the forecast job writes
them, ``retail-pulse sales publish`` reads them into the ``forecasts`` messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

SERIES_KEYS = ["store_id", "item_id"]  # a forecast series
INTERVAL_COLUMNS = ("yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95")  # of every forecast point
KINDS = ("int", "number", "string", "scalar", "date", "timestamp", "bool", "flag", "list")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ResultSchemaError(ValueError):
    """A result message built with a missing or an unexpected field: a bug in the publishing code."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # one of KINDS; "flag" is 0 or 1, "scalar" a number or a string, "date" YYYY-MM-DD, "timestamp" ISO 8601
    nullable: bool = False
    note: str = ""  # shown next to the field in the docs
    items: tuple[Field, ...] = ()  # a list's objects

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")

    def problem(self, value, where: str) -> list[str]:
        if value is None:
            return [] if self.nullable else [f"{where}{self.name} is null"]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "string": isinstance(value, str),
            "scalar": isinstance(value, int | float | str) and not isinstance(value, bool),
            "date": isinstance(value, str) and bool(DATE.match(value)),
            "timestamp": isinstance(value, str) and _is_timestamp(value),
            "bool": isinstance(value, bool),
            "flag": value in (0, 1) and not isinstance(value, bool),
            "list": isinstance(value, list),
        }[self.kind]
        if not ok:
            return [f"{where}{self.name}={value!r} is not a {self.kind}"]
        if self.kind == "list" and self.items:
            return [p for i, item in enumerate(value) for p in _object_problems(self.items, item, f"{self.name}[{i}].")]
        return []

    def doc(self) -> str:
        if self.kind == "list":
            inner = ", ".join(f.doc() for f in self.items)
            text = f'"{self.name}": [{{{inner}}}]'
        else:
            text = f'"{self.name}": {self.kind}{" or null" if self.nullable else ""}'
        return text + (f" ({self.note})" if self.note else "")


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value


def _object_problems(fields: tuple[Field, ...], value, where: str = "") -> list[str]:
    if not isinstance(value, dict):
        return [f"{where or 'message'} is not a JSON object"]
    names = [f.name for f in fields]
    problems = [f"{where}{n} is missing" for n in names if n not in value]
    problems += [f"{where}{n} is not in the schema" for n in value if n not in names]
    return problems + [p for f in fields if f.name in value for p in f.problem(value[f.name], where)]


@dataclass(frozen=True)
class ResultSchema:
    topic: str  # the key of Settings.topics (and the topic's default name)
    source: str  # what publishes it, for the docs
    key: str  # the message key's format
    fields: tuple[Field, ...]
    about: str  # what a message means and how to consume it
    names: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))

    def message(self, **values) -> dict:
        """The message value, in the documented field order; every field must be given, and nothing else."""
        if values.keys() != self.names:
            missing, extra = sorted(self.names - values.keys()), sorted(values.keys() - self.names)
            raise ResultSchemaError(
                f"{self.topic} message: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
            )
        return {f.name: values[f.name] for f in self.fields}

    def problems(self, value) -> list[str]:
        """What is wrong with a received message value (empty: it matches the schema)."""
        return _object_problems(self.fields, value)

    def markdown(self) -> str:
        value = ", ".join(f.doc() for f in self.fields)
        return f"* **`{self.topic}`** (from {self.source}): key `{self.key}`, value `{{{value}}}`. {self.about}"


def _numbers(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, "number") for n in names)


FORECAST_POINT = (Field("date", "date"), *_numbers("yhat", *INTERVAL_COLUMNS))
# the rows of sales_forecasts (migration 0003 and later): one per run, series and day
SALES_FORECAST_COLUMNS = (
    "run_key",
    "forecast_date",
    *SERIES_KEYS,
    "yhat",
    *INTERVAL_COLUMNS,
    "method",
    "fallback_reason",
)
FORECAST_POINT_COLUMNS = ("forecast_date", "yhat", *INTERVAL_COLUMNS)

RESULTS: dict[str, ResultSchema] = {
    s.topic: s
    for s in (
        ResultSchema(
            "retail_aggregated",
            "`sales_aggregation`",
            "<store_id>-<item_id>",
            (
                Field("sale_date", "date"),
                Field("store_id", "int"),
                Field("item_id", "int"),
                Field("units", "int"),
                Field("revenue", "number"),
                Field("sale_lines", "int"),
            ),
            "The new running total of that day for every (day, store, item) a batch touched; the newest message"
            " per (key, sale_date) wins.",
        ),
        ResultSchema(
            "forecasts",
            "`retail-pulse sales publish`",
            "<store_id>-<item_id>",
            (
                Field("run_key", "string"),
                Field("as_of", "date"),
                Field("store_id", "int"),
                Field("item_id", "int"),
                Field("method", "string", note='the methods averaged, best first, e.g. "rolling_median+theta"'),
                Field("fallback_reason", "string", nullable=True),
                Field("points", "list", items=FORECAST_POINT),
            ),
            "One message per series and run, the daily points with 80% and 95% intervals; header"
            " `query_name=forecast:<run_key>`.",
        ),
        ResultSchema(
            "review_sentiment",
            "`review_scoring` / `post_scoring`",
            "<item_id>",
            (
                Field("doc_type", "string", note='"review" or "post"'),
                Field("doc_id", "string"),
                Field("item_id", "int", nullable=True),
                Field("store_id", "int", nullable=True),
                Field("created_at", "timestamp"),
                Field("sentiment", "string", note='"negative", "neutral" or "positive"'),
                *_numbers("confidence", "p_negative", "p_neutral", "p_positive"),
                Field("given_label", "string", nullable=True),
                Field("rating", "int", nullable=True),
                Field("synthetic", "flag"),
                Field("source", "string", nullable=True),
                Field("model_version", "string", note="<registered model>/<version>"),
                Field("scored_at", "timestamp"),
            ),
            "One message per document (keyed by the document id when it names no catalogue item).",
        ),
        ResultSchema(
            "ner_results",
            "`review_scoring` / `post_scoring`",
            "<doc_type>-<doc_id>",
            (
                Field("doc_type", "string"),
                Field("doc_id", "string"),
                Field("item_id", "int", nullable=True),
                Field(
                    "entities",
                    "list",
                    items=(
                        Field("text", "string"),
                        Field("label", "string", note='"PRODUCT", "STORE" or "BRAND"'),
                        Field("entity_id", "string", note='e.g. "item:12", "store:3", "brand:Solace"'),
                        Field("start", "int"),
                        Field("end", "int"),
                    ),
                ),
            ),
            "The entities of one document, with character offsets into its text.",
        ),
        ResultSchema(
            "recommendations",
            "`retail-pulse recommendations recommend`",
            "<visitor_id>",
            (
                Field("visitor_id", "int", nullable=True),
                Field(
                    "items",
                    "list",
                    items=(Field("rank", "int"), Field("item_id", "int"), Field("score", "number", nullable=True)),
                ),
                Field("fallback", "bool"),
                Field("model_version", "string"),
                Field("run_id", "string"),
                Field("generated_at", "timestamp"),
            ),
            "One message per visitor and run; `fallback: true` when the model did not know the visitor (popular"
            " items it has not bought). One more message, key `popular` (`visitor_id` and every `score` null),"
            " carries the list for visitors you have never seen. The newest message per key is the current list.",
        ),
        ResultSchema(
            "review_risk",
            "`retail-pulse products score`, daily in `model_monitoring`",
            "<store_id>:<item_id>",
            (
                Field("store_id", "int"),
                Field("item_id", "int"),
                Field("as_of", "date"),
                Field("risk", "number", note="P(at least half of the item's reviews in the next 28 days negative)"),
                Field("flagged", "bool"),
                Field("threshold", "number"),
                Field("reason", "string"),
                Field(
                    "top_features",
                    "list",
                    items=(
                        Field("feature", "string"),
                        Field("value", "scalar", nullable=True, note="a number, or a category's name"),
                        Field("contribution", "number", note="SHAP value in log-odds; > 0 pushes the risk up"),
                    ),
                ),
                Field("model_version", "string"),
                Field("run_id", "string"),
                Field("scored_at", "timestamp"),
            ),
            "One message per store-item and scoring run; the newest message per key is current.",
        ),
        ResultSchema(
            "dead_letter",
            "every stream query",
            "<source_topic>-<source_partition>-<source_offset>",
            (
                Field("source_topic", "string"),
                Field("source_partition", "int"),
                Field("source_offset", "int"),
                Field("reason_code", "string"),
                Field("reason", "string"),
                Field("raw_key", "string", nullable=True),
                Field("raw_value", "string", nullable=True),
                Field("kafka_timestamp", "timestamp", nullable=True),
            ),
            "A record that failed its contract (or came later than the watermark), with the reason and its raw"
            " bytes as text; the same row is in `quarantined_events`.",
        ),
    )
}


def results_markdown() -> str:
    """The result topics' entries of docs/service-developer.md, in one block."""
    return "\n".join(s.markdown() for s in RESULTS.values()) + "\n"
