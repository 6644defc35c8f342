"""A global LightGBM forecaster: one model learnt over every series of a run (the lesson of the M5
competition), used as the ``lightgbm`` candidate of :mod:`models.sales.forecasting` (no I/O).

Each row is one (series, origin, step ahead k): features of the history before the origin,
divided by the series' level (its mean over the last window) so that series of any size share one
model, and the calendar of the target period; the target is the value k periods after the origin
over the same level (an L1 objective: the median, as the choice is by absolute error). One model is
fitted for the earliest origin a run backtests from and one for the forecast, each only on
targets before its origin; a forecast from an origin uses the freshest model fitted before it, so
it never learnt from what came after it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.sales.forecast_methods import PERIOD, SEASON, WINDOW, fill_gaps

FEATURES = (
    "step",
    "last",
    "mean_short",
    "mean_window",
    "median_window",
    "std_window",
    "seasonal_lag",
    "seasonal_mean",
    "calendar",
    "month",
    "log_level",
)
SHORT = {"D": 7, "W": 4}
ORIGINS = 13  # training origins per series and model, one season-step apart (a quarter of a year daily)
MAX_ROWS = 200_000  # training rows per model: series are sampled beyond it
PARAMS = dict(
    objective="l1",
    n_estimators=120,
    learning_rate=0.08,
    num_leaves=31,
    min_child_samples=50,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.9,
    max_bin=63,
    n_jobs=1,
    verbose=-1,
)


def origin_features(y: np.ndarray, start: pd.Timestamp, origins, horizon: int, freq: str):
    """Features of forecasts from each of ``origins`` (a forecast from origin o reads ``y[:o]``, the
    gap-free history whose first period is ``start``): (len(origins) * horizon rows in origin-major
    order, len(FEATURES) columns) and each origin's level. Every origin needs a window of history."""
    window, short, m = WINDOW[freq], SHORT[freq], SEASON[freq]
    origins = np.asarray(origins, dtype=int)
    steps = np.arange(horizon)
    past = y[origins[:, None] - window + np.arange(window)]  # (origins, window)
    levels = np.maximum(past.mean(axis=1), 1e-6)
    target = origins[:, None] + steps  # index of each target period, (origins, horizon)

    def lagged(back):  # y at target - back, NaN where that is before the start or not yet observed
        index = target - back
        ok = (index >= 0) & (index < origins[:, None])
        return np.where(ok, y[np.clip(index, 0, len(y) - 1)], np.nan)

    seasonal_lag = lagged(m * (steps // m + 1))  # the last observed season
    with warnings.catch_warnings():  # no earlier season at all: NaN, which LightGBM takes as missing
        warnings.simplefilter("ignore", RuntimeWarning)
        if freq == "D":  # the same weekday over the last four weeks
            seasonal_mean = np.nanmean([lagged(m * (steps // m + w)) for w in range(1, 5)], axis=0)
        else:  # the same week of the earlier years
            seasonal_mean = np.nanmean([lagged(m * r) for r in (1, 2)], axis=0)

    def repeat(values):  # one value per origin -> one per row
        return np.repeat(values, horizon)

    scaled = np.column_stack(
        [
            y[origins - 1],
            past[:, -short:].mean(axis=1),
            past.mean(axis=1),
            np.median(past, axis=1),
            past.std(axis=1),
        ]
    )
    dates = pd.DatetimeIndex(start + PERIOD[freq] * target.ravel())
    calendar = dates.dayofweek.to_numpy() if freq == "D" else dates.isocalendar().week.to_numpy()
    features = np.column_stack(
        [
            np.tile(steps + 1, len(origins)),
            *(repeat(column / levels) for column in scaled.T),
            (seasonal_lag / levels[:, None]).ravel(),
            (seasonal_mean / levels[:, None]).ravel(),
            calendar,
            dates.month.to_numpy(),
            repeat(np.log1p(levels)),
        ]
    ).astype(float)
    return features, levels


def training_rows(y: np.ndarray, ds: pd.DatetimeIndex, cutoff: int, horizon: int, freq: str):
    """Rows (X, target / level) of one series from origins whose targets all precede ``cutoff``;
    targets that are gaps (NaN in ``y``; the features read the filled history) are left out."""

    step = SEASON[freq] if freq == "D" else SHORT[freq]
    origins = np.arange(cutoff - horizon, WINDOW[freq] - 1, -step)[:ORIGINS]
    if not len(origins):
        return np.empty((0, len(FEATURES))), np.empty(0)
    X, levels = origin_features(fill_gaps(y), ds[0], origins, horizon, freq)
    target = (y[origins[:, None] + np.arange(horizon)] / levels[:, None]).ravel()
    seen = ~np.isnan(target)
    return X[seen], target[seen]


@dataclass
class GlobalModels:
    """The fitted models by their origin, counted in periods before each series' end (0: the
    forecast's)."""

    freq: str
    horizon: int
    models: dict[int, object] = field(default_factory=dict)

    def forecast(self, y_filled: np.ndarray, ds: pd.DatetimeIndex, origin: int) -> np.ndarray:
        """From ``origin`` with the freshest model that learnt only from before it."""
        usable = [offset for offset in self.models if offset >= len(y_filled) - origin]
        model = self.models[min(usable)] if usable else None
        if model is None or origin < WINDOW[self.freq]:  # no model for this origin, or too little history
            return np.full(self.horizon, y_filled[max(origin - WINDOW[self.freq], 0) : origin].mean())
        X, levels = origin_features(y_filled, ds[0], [origin], self.horizon, self.freq)
        return np.maximum(model.predict(X, num_threads=1), 0.0) * levels[0]


def _fit(X: np.ndarray, target: np.ndarray, seed: int):
    from lightgbm import LGBMRegressor

    if len(target) < 100:  # too little to learn from: the forecast falls back (see GlobalModels.forecast)
        return None
    # the booster alone: predicting through the scikit-learn wrapper re-validates its parameters every call
    return LGBMRegressor(**PARAMS, random_state=seed).fit(X, target).booster_  # columns in FEATURES order


def fit_global(
    series: Iterable[tuple[pd.DatetimeIndex, np.ndarray]],
    offsets,
    horizon: int,
    freq: str,
    threads: int = 1,
    seed: int = 7,
) -> GlobalModels:
    """One model per origin ``offset`` (periods before each series' end), each on the rows of every
    series whose targets precede that origin; ``threads`` models are fitted at a time."""
    series = list(series)
    rng = np.random.default_rng(seed)
    data = {}
    for offset in offsets:
        rows = [training_rows(y, ds, len(y) - offset, horizon, freq) for ds, y in series]
        X, target = np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
        if len(target) > MAX_ROWS:
            keep = np.sort(rng.choice(len(target), MAX_ROWS, replace=False))
            X, target = X[keep], target[keep]
        data[offset] = (X, target)
    with ThreadPoolExecutor(max(threads, 1)) as pool:  # LightGBM releases the GIL while it trains
        fitted = dict(zip(data, pool.map(lambda d: _fit(*d, seed), data.values()), strict=True))
    return GlobalModels(freq, horizon, {k: v for k, v in fitted.items() if v is not None})
