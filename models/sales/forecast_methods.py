"""Point forecasters that a series can be given, each ``f(y, horizon, freq) -> yhat`` (no I/O).

``y`` is one series of regular periods with no missing value (gaps are filled before, see
:func:`fill_gaps`), oldest first; the result is ``horizon`` non-negative values.
They are chosen per series by a rolling-origin backtest inside the training window
(:mod:`models.sales.forecasting`); intervals are added afterwards, the same way for every method.

- ``seasonal_naive``: the last season again (7 days, or 52 weeks when there are 52): the baseline.
- ``window_average``: the mean of the last 28 days / 13 weeks.
- ``rolling_median``: the median of the same window: robust to promotion spikes.
- ``seasonal_average``: daily: the mean of the same weekday over the last 4 weeks; weekly: the mean
  of the same week in every earlier year, scaled to this year's level.
- ``theta``: statsforecast's Theta (the M3 winner) with a classical seasonal decomposition.
- ``combination``: the mean of ``rolling_median``, ``seasonal_average`` and ``theta`` (a fixed
  combination, nothing fitted: combinations of simple methods won the M4 competition).
- ``lightgbm``: a global LightGBM model over every series of the run (``models.sales.global_model``).
- ``prophet``: Prophet with yearly terms from two years of history (about 0.14 s of CPU per fit,
  10x the others together: a candidate only when asked for).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

SEASON = {"D": 7, "W": 52}
WINDOW = {"D": 28, "W": 13}
THETA_HISTORY = {"D": 364, "W": 156}
PERIOD = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}
# Prophet's yearly terms need two full years of history to be identified
YEARLY_MIN_PERIODS = {"D": 731, "W": 105}


def season_of(n: int, freq: str) -> int:
    """The seasonal period usable with ``n`` periods of history (1 when shorter than a season)."""
    return SEASON[freq] if n > SEASON[freq] else 1


def seasonal_naive(y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    m = season_of(len(y), freq)
    return y[len(y) - m + np.arange(horizon) % m]


def window_average(y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    return np.full(horizon, y[-WINDOW[freq] :].mean())


def rolling_median(y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    return np.full(horizon, np.median(y[-WINDOW[freq] :]))


def seasonal_average(y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    m = season_of(len(y), freq)
    if m == 1:
        return window_average(y, horizon, freq)
    steps = np.arange(horizon)
    if freq == "D":  # same weekday, last four weeks
        weeks = min(len(y) // m, 4)
        lags = [len(y) - m * k + steps % m for k in range(1, weeks + 1)]
        return np.mean([y[lag] for lag in lags], axis=0)
    # weekly: the same week of every earlier year, times this year's level over theirs
    window = WINDOW[freq]
    paths, levels = [], []
    for years in range(1, len(y) // m + 1):
        start = len(y) - m * years
        future = start + steps % m  # a horizon past one season reads the year after (still observed)
        if start < window or future.max() >= len(y):
            break
        paths.append(y[future])
        levels.append(y[start - window : start].mean())
    if not paths:
        return seasonal_naive(y, horizon, freq)
    recent = y[-window:].mean()
    ratio = recent / np.mean(levels) if np.mean(levels) > 0 else 1.0
    return np.mean(paths, axis=0) * float(np.clip(ratio, 0.5, 2.0))


def theta(y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    from statsforecast.models import Theta

    m = season_of(len(y), freq)
    if len(y) < 2 * m:
        m = 1
    if np.all(y == y[0]):  # constant: nothing to decompose or fit
        return np.full(horizon, y[0])
    try:  # the last three seasons or a year are plenty to fit it, and fitting costs per period
        return Theta(season_length=m).forecast(y=y[-THETA_HISTORY[freq] :].astype(float), h=horizon)["mean"]
    except Exception:  # a degenerate series (e.g. zeros in a multiplicative season): fall back
        return window_average(y, horizon, freq)


def prophet(y: np.ndarray, horizon: int, freq: str, ds: pd.DatetimeIndex, holidays: str | None = None) -> np.ndarray:
    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    get_logger().setLevel(logging.WARNING)  # it sets itself to DEBUG when first asked for
    logging.getLogger("prophet").setLevel(logging.WARNING)
    if np.all(y == y[0]):
        return np.full(horizon, y[0])
    model = Prophet(
        yearly_seasonality=len(y) >= YEARLY_MIN_PERIODS[freq],
        weekly_seasonality=freq == "D",
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    if holidays:
        model.add_country_holidays(country_name=holidays)
    model.fit(pd.DataFrame({"ds": ds, "y": y}))
    future = pd.DataFrame({"ds": ds[-1] + PERIOD[freq] * np.arange(1, horizon + 1)})
    return model.predict(future)["yhat"].to_numpy()


METHODS: dict[str, Callable] = {
    "seasonal_naive": seasonal_naive,
    "window_average": window_average,
    "rolling_median": rolling_median,
    "seasonal_average": seasonal_average,
    "theta": theta,
    "prophet": prophet,
}
COMBINED = ("rolling_median", "seasonal_average", "theta")  # the members of "combination"
GLOBAL = "lightgbm"  # one model over all series: see models/sales/global_model.py
FAST_METHODS = (
    "seasonal_naive",
    "window_average",
    "rolling_median",
    "seasonal_average",
    "theta",
    "combination",
    GLOBAL,
)
ALL_METHODS = (*FAST_METHODS, "prophet")


def point_forecasts(methods, y: np.ndarray, horizon: int, freq: str, ds=None, holidays=None) -> dict[str, np.ndarray]:
    """``horizon`` non-negative values of each method after history ``y`` (dates ``ds``: Prophet
    only), each base method computed once (``combination`` averages its members)."""
    needed = dict.fromkeys([*methods, *(COMBINED if "combination" in methods else ())])
    out = {}
    for method in needed:
        if method == "combination":
            continue
        yhat = prophet(y, horizon, freq, ds, holidays) if method == "prophet" else METHODS[method](y, horizon, freq)
        out[method] = np.maximum(np.asarray(yhat, dtype=float), 0.0)
    if "combination" in methods:
        out["combination"] = np.mean([out[m] for m in COMBINED], axis=0)
    return {m: out[m] for m in methods}


def fill_gaps(y: np.ndarray) -> np.ndarray:
    """Gaps (NaN) -> linear interpolation between the observed neighbours; after the last observed
    period, its value. The series starts observed (see :func:`complete_series`)."""
    y = np.asarray(y, dtype=float)
    observed = ~np.isnan(y)
    if observed.all():
        return y
    positions = np.arange(len(y))
    return np.interp(positions, positions[observed], y[observed])
