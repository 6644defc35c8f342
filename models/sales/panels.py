"""A sales panel made ready for a backtest: only whole periods, and the series that sell often enough."""

from __future__ import annotations

import pandas as pd

from common.results import SERIES_KEYS
from models.sales.forecast_methods import PERIOD
from models.sales.forecasting import period_start


def whole_periods(history, freq: str):
    """Daily rows summed into weeks: drop the days of a first or last week that the data covers only
    in part (a week ending three days into the file would look like a collapse in sales). Rows that
    are weekly already (at most one date per series and week) are kept as they are.
    Returns (rows, the days dropped as "first..last" strings)."""
    weeks = period_start(history["ds"], freq)
    if freq != "W" or history.groupby([*SERIES_KEYS, weeks]).size().max() <= 1:
        return history, []
    first, last = history["ds"].min(), history["ds"].max()
    start = first if first.dayofweek == 0 else first + pd.Timedelta(days=7 - first.dayofweek)
    stop = last if last.dayofweek == 6 else last - pd.Timedelta(days=last.dayofweek + 1)
    dropped = [
        f"{a.date()}..{b.date()}"
        for a, b in ((first, start - pd.Timedelta(days=1)), (stop + pd.Timedelta(days=1), last))
        if a <= b
    ]
    return history[(history["ds"] >= start) & (history["ds"] <= stop)], dropped


def select_series(history, freq: str, min_active: float, max_series: int | None):
    """Series active in at least ``min_active`` of the periods from the data's first to last period,
    the ``max_series`` biggest by units."""
    end = history["ds"].max()
    first, last = period_start([history["ds"].min(), end], freq)
    periods = len(pd.date_range(first, last, freq=PERIOD[freq]))
    selling = history[history["y"] > 0]
    selling = selling.assign(ds=period_start(selling["ds"], freq))
    stats = selling.groupby(SERIES_KEYS).agg(active=("ds", "nunique"), units=("y", "sum"))
    stats = stats[stats["active"] >= min_active * periods].sort_values("units", ascending=False)
    if max_series:
        stats = stats.head(max_series)
    return history.merge(stats.reset_index()[SERIES_KEYS], on=SERIES_KEYS), end
