"""Your own review and post files -> product_review / social_post records.

Formats (by the name's ending; ``.gz`` allowed): CSV with a header row (``.csv``) or JSON Lines
(``.jsonl``, ``.ndjson``: one JSON object per line, blank lines ignored). Columns:

* reviews: ``review_id``, ``product_id``, ``text``, ``created_at`` (required); ``store_id``,
  ``rating`` (1-5), ``label`` (negative / neutral / positive) optional;
* posts: ``post_id``, ``text``, ``created_at`` (required); ``platform`` (default ``own``),
  ``product_id``, ``store_id``, ``label`` optional.

``created_at`` is an ISO-8601 date or time (``2026-11-02`` or ``2026-11-02T14:05:00``, UTC unless
it has an offset). Other columns are ignored. Every value is checked by the event contract, the same
checks the stream applies; a file with bad lines is refused as a whole, each bad line named with its
file, line and column, so nothing is sent half or dropped silently. The event id is the record's
own id (``review-<review_id>``): producing a file again, or a corrected copy, never doubles a review.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from streaming.contracts import CONTRACTS, ContractError, Field
from streaming.files import DatasetError

KINDS = {"review_file": "product_review", "post_file": "social_post"}
ID_COLUMN = {"product_review": "review_id", "social_post": "post_id"}
DEFAULTS = {"social_post": {"platform": "own"}}
MAX_REPORTED = 20


def _lines(path: Path) -> io.TextIOBase:
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _rows(path: Path, required: list[str]) -> Iterator[tuple[int, dict | str]]:
    """(line number, the row as a dict of strings or values), or (line, an error message); a CSV header
    without the ``required`` columns is refused at once."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        with _lines(path) as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in [h.strip() for h in reader.fieldnames or ()]]
            if missing:
                raise DatasetError(
                    f"{path}: the header has no column(s) {', '.join(missing)} (needed: {', '.join(required)})"
                )
            line = 2
            for row in reader:
                if None in row:
                    yield line, f"{len(row[None])} more value(s) than the header has columns"
                else:
                    yield line, {k.strip(): v for k, v in row.items() if k}
                line = reader.line_num + 1
        return
    if not name.endswith((".jsonl", ".ndjson")):
        raise DatasetError(f"{path}: expected a .csv, .jsonl or .ndjson file (optionally .gz)")
    with _lines(path) as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                yield line, f"not valid JSON ({exc})"
                continue
            yield line, obj if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"


def _value(field: Field, raw):
    """A CSV string (or a JSON value) as the contract's type; the contract's check decides the rest."""
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
        if field.kind == "int" and raw.lstrip("-").isdigit():
            return int(raw)
        if field.kind == "float":
            try:
                return float(raw)
            except ValueError:
                return raw
    if field.kind == "timestamp" and isinstance(raw, str) and len(raw) == 10:
        try:
            return f"{date.fromisoformat(raw)}T00:00:00"  # a date is its midnight
        except ValueError:
            return raw  # the contract's check names it as it was written
    return raw


def read_text_file(path: str | Path, source: str) -> list[dict]:
    """The records of a review (``source`` review_file) or post (post_file) file; DatasetError naming
    every bad line (the first MAX_REPORTED) when there is one."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    event = KINDS[source]
    contract = CONTRACTS[event]
    id_column = ID_COLUMN[event]
    fields = [f for f in contract.fields if f.name != "source"]
    required = [f.name for f in fields if f.required and f.name not in DEFAULTS.get(event, {})]
    origin = {"source": path.name[:32]} if "source" in contract.field_names else {}  # reviews say which file
    records, errors, seen = [], [], {}
    try:
        for line, row in _rows(path, required):
            if isinstance(row, str):
                errors.append(f"{path}: line {line}: {row}")
                continue
            record = {**DEFAULTS.get(event, {})}
            for f in fields:
                if row.get(f.name) is not None:
                    record[f.name] = _value(f, row[f.name])
                try:
                    record[f.name] = f.check(record.get(f.name))
                except ContractError as exc:
                    errors.append(f"{path}: line {line}: column {f.name}: {exc}")
                    break
            else:
                key = record[id_column]
                if key in seen:
                    errors.append(f"{path}: line {line}: column {id_column}: {key!r} already on line {seen[key]}")
                    continue
                seen[key] = line
                records.append({**record, "event_id": f"{event.split('_')[-1]}-{key}", **origin})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: not readable ({exc})") from None
    if errors:
        more = f"\n  ... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise DatasetError(
            f"{path}: {len(errors)} bad line(s), nothing sent:\n  " + "\n  ".join(errors[:MAX_REPORTED]) + more
        )
    if not records:
        raise DatasetError(f"{path}: no data rows")
    return records
