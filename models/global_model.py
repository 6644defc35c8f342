"""A global LightGBM forecaster: one model learnt over every series of a run (the lesson of the M5
competition), used as the ``lightgbm`` candidate of :mod:`models.forecasting` (no I/O).

Each row is one (series, origin, step ahead k): features of the history before the origin,
divided by the series' level (its mean over the last window) so that series of any size share one
model, and the calendar of the target period; the target is the value k periods after the origin
over the same level (an L1 objective: the median, as the choice is by absolute error). One model is
fitted per forecast origin the run needs, each only on targets before its origin, so a forecast
made at an origin never learnt from what came after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.forecast_methods import PERIOD, SEASON, WINDOW

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
    n_jobs=1,
    verbose=-1,
)


def origin_features(y: np.ndarray, ds: pd.DatetimeIndex, origin: int, horizon: int, freq: str):
    """(horizon x len(FEATURES) matrix, level) for forecasts from the first ``origin`` periods of
    the gap-free history ``y`` (dates ``ds``; the target dates are extrapolated past its end)."""
    window, short, m = WINDOW[freq], SHORT[freq], SEASON[freq]
    past = y[max(origin - window, 0) : origin]
    level = max(float(past.mean()), 1e-6)
    steps = np.arange(horizon)
    targets = pd.DatetimeIndex(ds[0] + PERIOD[freq] * (origin + steps))
    seasonal_lag = np.full(horizon, np.nan)
    if origin >= m:
        seasonal_lag = y[origin - m + steps % m]
    if freq == "D":  # the same weekday over the last four weeks
        lags = [origin - m * w + steps % m for w in range(1, 5) if origin - m * w >= 0]
        seasonal_mean = np.mean([y[lag] for lag in lags], axis=0) if lags else np.full(horizon, np.nan)
        calendar = targets.dayofweek.to_numpy()
    else:  # the same week in the earlier years
        years = [
            origin + steps - m * r for r in (1, 2) if origin + horizon - 1 - m * r < origin and origin - m * r >= 0
        ]
        seasonal_mean = np.mean([y[idx] for idx in years], axis=0) if years else np.full(horizon, np.nan)
        calendar = targets.isocalendar().week.to_numpy()
    columns = [
        steps + 1,
        np.full(horizon, y[origin - 1]),
        np.full(horizon, y[max(origin - short, 0) : origin].mean()),
        np.full(horizon, past.mean()),
        np.full(horizon, np.median(past)),
        np.full(horizon, past.std()),
        seasonal_lag,
        seasonal_mean,
    ]
    scaled = np.column_stack(columns).astype(float)
    scaled[:, 1:] /= level
    extra = np.column_stack([calendar, targets.month.to_numpy(), np.full(horizon, np.log1p(level))]).astype(float)
    return np.hstack([scaled, extra]), level


def training_rows(y: np.ndarray, ds: pd.DatetimeIndex, cutoff: int, horizon: int, freq: str):
    """Rows (X, target / level) of one series from origins whose targets all precede ``cutoff``;
    targets that are gaps (NaN in ``y``; the features read the filled history) are left out."""
    from models.forecasting import fill_gaps

    filled = fill_gaps(y)
    step = SEASON[freq] if freq == "D" else SHORT[freq]
    origins = [o for o in range(cutoff - horizon, WINDOW[freq] - 1, -step)][:ORIGINS]
    blocks, targets = [], []
    for origin in origins:
        X, level = origin_features(filled, ds, origin, horizon, freq)
        target = y[origin : origin + horizon] / level
        seen = ~np.isnan(target)
        blocks.append(X[seen])
        targets.append(target[seen])
    if not blocks:
        return np.empty((0, len(FEATURES))), np.empty(0)
    return np.vstack(blocks), np.concatenate(targets)


@dataclass
class GlobalModels:
    """The fitted models by origin, counted in periods before each series' end (0: the forecast)."""

    freq: str
    horizon: int
    models: dict[int, object] = field(default_factory=dict)

    def forecast(self, y_filled: np.ndarray, ds: pd.DatetimeIndex, origin: int) -> np.ndarray:
        model = self.models.get(len(y_filled) - origin)
        if model is None or origin < WINDOW[self.freq]:  # no model for this origin, or too little history
            return np.full(self.horizon, y_filled[max(origin - WINDOW[self.freq], 0) : origin].mean())
        X, level = origin_features(y_filled, ds, origin, self.horizon, self.freq)
        return np.maximum(model.predict(X), 0.0) * level


def _fit(X: np.ndarray, target: np.ndarray, seed: int):
    from lightgbm import LGBMRegressor

    if len(target) < 100:  # too little to learn from: the forecast falls back (see GlobalModels.forecast)
        return None
    return LGBMRegressor(**PARAMS, random_state=seed).fit(X, target)  # columns in FEATURES order


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
