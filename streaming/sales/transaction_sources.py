"""Transaction sources for the producers and the forecast backtests: a seeded multi-store generator (daily sales
with trend, weekly and yearly seasonality, holidays, promotions) and transaction lines from a sales file in a
documented format (streaming/files.py); every source yields transaction-contract dicts with deterministic
``event_id`` values, so replaying the same source produces records downstream tables recognise."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from streaming.files import DatasetError, content_id, read_sales_file


# -- the generator --------------------------------------------------------------------------------
def _holiday_effects(days: pd.DatetimeIndex) -> np.ndarray:
    """Multiplier per day: US holidays lift sales, Black Friday doubles them, Christmas Day closes early."""
    import holidays

    calendar = holidays.country_holidays("US", years=sorted(set(days.year)))
    effect = np.ones(len(days))
    for i, day in enumerate(days.date):
        name = calendar.get(day)
        if name:
            effect[i] = 0.3 if "Christmas" in name else 1.4
        if day - timedelta(days=1) in calendar and "Thanksgiving" in calendar.get(day - timedelta(days=1)):
            effect[i] = 2.0  # Black Friday
    return effect


def generated_daily_sales(
    seed: int = 7, stores: int = 10, items: int = 50, start: date = date(2023, 1, 1), days: int = 800
) -> pd.DataFrame:
    """Daily units and price per (day, store, item) with real structure: store and item scale,
    per-item trend and yearly seasonality, a store-specific weekly profile, US holidays, promotions
    (price cut, units up by the item's price elasticity) and Poisson noise."""
    rng = np.random.default_rng(seed)
    calendar = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)[:, None, None]
    store_scale = rng.lognormal(0.0, 0.35, stores)[None, :, None]
    item_scale = rng.lognormal(1.3, 0.7, items)[None, None, :]
    trend = 1 + rng.normal(0.25, 0.3, items)[None, None, :] * t / 365
    amplitude, phase = rng.uniform(0.05, 0.45, items), rng.uniform(0, 2 * math.pi, items)
    yearly = 1 + amplitude[None, None, :] * np.sin(2 * math.pi * t / 365.25 + phase[None, None, :])
    weekly_profile = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.2])[:, None] * rng.uniform(0.9, 1.1, (7, stores))
    weekly = weekly_profile[calendar.dayofweek.to_numpy()][:, :, None]
    holiday = _holiday_effects(calendar)[:, None, None]
    base_price = np.round(rng.uniform(1.0, 40.0, items), 2)
    elasticity = rng.uniform(1.0, 3.0, items)
    promo = rng.random((days, stores, items)) < 0.04
    discount = np.where(promo, rng.uniform(0.1, 0.35, (days, stores, items)), 0.0)
    price_effect = (1 - discount) ** -elasticity[None, None, :]
    rate = store_scale * item_scale * trend.clip(0.2) * yearly * weekly * holiday * price_effect
    units = rng.poisson(rate)
    d, s, i = np.indices(units.shape)
    return pd.DataFrame(
        {
            "date": calendar.date[d.ravel()],
            "store_id": s.ravel() + 1,
            "item_id": i.ravel() + 1,
            "quantity": units.ravel(),
            "unit_price": np.round(base_price[i.ravel()] * (1 - discount.ravel()), 2),
        }
    )


def generated_transactions(
    seed: int = 7, stores: int = 10, items: int = 50, start: date = date(2023, 1, 1), days: int = 800
) -> Iterator[dict]:
    """The generator's daily totals as transaction events, day by day (event-time order)."""
    frame = generated_daily_sales(seed, stores, items, start, days)
    for row in frame.itertuples(index=False):
        # the same sale of the same generator: one event id and one receipt; another generator's differ
        sale = f"gen{seed}x{stores}x{items}-{row.date:%Y%m%d}-{row.store_id}-{row.item_id}"
        yield {
            "event_id": f"txn-{sale}",
            "txn_id": f"daily-{sale}",
            "event_time": datetime.combine(row.date, time(21, 0)),
            "store_id": int(row.store_id),
            "item_id": int(row.item_id),
            "quantity": int(row.quantity),
            "unit_price": float(row.unit_price),
            "customer_id": None,
        }


def missing_default(sales: pd.DataFrame) -> str:
    """How a period with no row counts for a file read by :func:`read_sales_file`: a panel with one
    row per period (``kaggle``: date,store,item,sales) lists every period it knows, so an absent row
    is a gap; sales lines list sales, so a day without any is a zero."""
    return "gap" if sales.attrs.get("format") == "kaggle" else "zero"


def file_transactions(path: str | Path) -> Iterator[dict]:
    """Rows of a sales file as transaction events; ids are the file's content hash and the row
    (a replay of the same file matches, rows of different files never collide)."""
    path = Path(path)
    file_id = content_id(path)
    sales = read_sales_file(path)
    not_units = (sales["quantity"] % 1 != 0) | (sales["quantity"] < 0)
    if not_units.any():
        row = int(not_units.idxmax())
        raise DatasetError(
            f"{path}: line {row + 2}: quantity {sales['quantity'].iloc[row]} is not a whole, non-negative number of"
            " units; the transaction stream counts units sold (net or currency sales can be backtested with"
            " retail-pulse sales backtest)"
        )
    for n, row in enumerate(sales.itertuples(index=False)):
        yield {
            "event_id": f"txn-f{file_id}-{n:09d}",
            "txn_id": row.txn_id or f"f{file_id}-{n}",
            "event_time": datetime.combine(row.date, time(12, 0)),
            "store_id": int(row.store_id),
            "item_id": int(row.item_id),
            "quantity": int(row.quantity),
            "unit_price": float(row.unit_price),
            "customer_id": row.customer_id,
        }


def daily_series(sales: pd.DataFrame) -> pd.DataFrame:
    """Sales lines -> (store_id, item_id, ds, y) units per day, the forecasters' input."""
    grouped = sales.groupby(["store_id", "item_id", "date"], as_index=False)["quantity"].sum()
    return grouped.rename(columns={"date": "ds", "quantity": "y"}).assign(ds=lambda f: pd.to_datetime(f["ds"]))
