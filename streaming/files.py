"""Users' and public data files every domain reads: the documented sales-line formats, CSV reading with
one-line errors, content ids for deterministic event ids, and the real Ta-Feng file `make setup` fetches.

File formats (header decides; ``.csv``, ``.csv.gz`` or a ``.zip`` holding one CSV):

* Kaggle store-item demand: ``date,store,item,sales`` (one row per day, store and item).
* Rich: ``date,store_id,item_id,quantity,unit_price[,customer_id,txn_id]`` (lines or daily totals).
* Ta-Feng grocery (one store): ``TRANSACTION_DT,CUSTOMER_ID,...,PRODUCT_ID,AMOUNT,ASSET,SALES_PRICE``,
  where ``SALES_PRICE`` is the line total. ``make setup`` fetches it into ``.data/`` (see the README, "Data").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from common.settings import REPO_ROOT

DATA_DIR = REPO_ROOT / ".data"
TA_FENG_PATH = DATA_DIR / "ta_feng.csv.zip"
SALES_COLUMNS = ["date", "store_id", "item_id", "quantity", "unit_price", "customer_id", "txn_id"]
FORMATS = {
    "kaggle": ["date", "store", "item", "sales"],
    "rich": ["date", "store_id", "item_id", "quantity", "unit_price"],
    "ta_feng": ["TRANSACTION_DT", "CUSTOMER_ID", "PRODUCT_ID", "AMOUNT", "SALES_PRICE"],
}


class DatasetError(ValueError):
    """A data file that cannot be read as one of the documented formats; the message says why."""


# -- files ----------------------------------------------------------------------------------------
def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [c.strip() for c in frame.columns]
    if frame.empty:
        raise DatasetError(f"{path}: no data rows")
    return frame


def detect_format(columns: list[str], path: Path | str = "data") -> str:
    for name, required in FORMATS.items():
        if set(required) <= set(columns):
            return name
    expected = "; ".join(f"{name}: {','.join(cols)}" for name, cols in FORMATS.items())
    raise DatasetError(f"{path}: unrecognised header {','.join(columns)} (expected one of: {expected})")


def _numbers(
    frame: pd.DataFrame, column: str, path: Path, integer: bool, names: dict | None = None, signed: bool = False
) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() | (~signed & (values < 0)) | (integer & (values % 1 != 0))
    if bad.any():
        row = int(bad.idxmax())
        kind = "a number" if signed else "a non-negative integer" if integer else "a non-negative number"
        label = (names or {}).get(column, column)  # the column name as the file spells it
        raise DatasetError(f"{path}: line {row + 2}: {label}={frame[column].iloc[row]!r} is not {kind}")
    return values.astype("int64") if integer else values.astype(float)


def read_sales_file(path: str | Path) -> pd.DataFrame:
    """Read any documented transaction format into ``SALES_COLUMNS`` (date is a datetime.date)."""
    path = Path(path)
    raw = _read_csv(path)
    fmt = detect_format(list(raw.columns), path)
    renames = {
        "kaggle": {"store": "store_id", "item": "item_id", "sales": "quantity"},
        "ta_feng": {
            "TRANSACTION_DT": "date",
            "CUSTOMER_ID": "customer_id",
            "PRODUCT_ID": "item_id",
            "AMOUNT": "quantity",
        },
    }.get(fmt, {})
    names = {new: old for old, new in renames.items()}
    raw = raw.rename(columns=renames)
    if fmt == "kaggle":
        raw = raw.assign(unit_price="0")
    elif fmt == "ta_feng":
        amount = _numbers(raw, "quantity", path, True, names)
        total = _numbers(raw, "SALES_PRICE", path, integer=False)
        raw = raw.assign(store_id="1", unit_price=(total / amount.clip(1)).round(2).astype(str))
    dates = pd.to_datetime(raw["date"].str.strip(), errors="coerce", format="mixed")
    if dates.isna().any():
        row = int(dates.isna().idxmax())
        raise DatasetError(
            f"{path}: line {row + 2}: {names.get('date', 'date')}={raw['date'].iloc[row]!r} is not a date"
        )
    out = pd.DataFrame(
        {
            "date": dates.dt.date,
            "store_id": _numbers(raw, "store_id", path, True, names),
            "item_id": _numbers(raw, "item_id", path, True, names),
            # units or currency; a period panel's net sales can be negative (returns exceeding sales)
            "quantity": _numbers(raw, "quantity", path, False, names, signed=fmt == "kaggle"),
            "unit_price": _numbers(raw, "unit_price", path, integer=False),
        }
    )
    for optional in ("customer_id", "txn_id"):
        out[optional] = raw[optional].str.strip().replace("", None) if optional in raw else None
    out.attrs["format"] = fmt
    return out


def content_id(path: Path) -> str:
    """A short hash of a file's bytes: the same data under any name or path gives the same id, two
    different files never share one."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
