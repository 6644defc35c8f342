"""Forecast accuracy metrics: pure numpy functions and a pandas summary (no I/O).

Conventions: SMAPE is in percent on the 0..200 scale with 0/0 counted as a perfect 0; MASE divides
the MAE by the in-sample MAE of the seasonal-naive forecast (``scale``); R2 is undefined (NaN) when
the actuals are constant; coverage is the share of actuals inside the interval, bounds included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("mae", "rmse", "r2", "smape", "mase", "coverage_80", "coverage_95")


def _arrays(*values) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def mae(y, f) -> float:
    y, f = _arrays(y, f)
    return float(np.mean(np.abs(y - f)))


def rmse(y, f) -> float:
    y, f = _arrays(y, f)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def r2(y, f) -> float:
    y, f = _arrays(y, f)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - f) ** 2) / total) if total > 0 else float("nan")


def smape(y, f) -> float:
    y, f = _arrays(y, f)
    denominator = np.abs(y) + np.abs(f)
    ratio = np.divide(2 * np.abs(y - f), denominator, out=np.zeros_like(y), where=denominator > 0)
    return float(100 * np.mean(ratio))


def mase(y, f, scale: float) -> float:
    return mae(y, f) / scale if scale and np.isfinite(scale) and scale > 0 else float("nan")


def coverage(y, lower, upper) -> float:
    y, lower, upper = _arrays(y, lower, upper)
    return float(np.mean((y >= lower) & (y <= upper)))


def seasonal_scale(y, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast: the MASE denominator (NaN if too short).
    Pairs with a gap (NaN) on either side are left out."""
    (y,) = _arrays(y)
    m = season if len(y) > season else 1
    diffs = np.abs(y[m:] - y[:-m])
    diffs = diffs[~np.isnan(diffs)]
    return float(np.mean(diffs)) if len(diffs) else float("nan")


def point_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """Metrics of one set of backtest points (columns y, yhat, yhat_lower_80/95, yhat_upper_80/95, scale).

    MASE here is the pooled MAE over the mean scale of the points; :func:`summarise` averages the
    per-series MASE instead for the overall figure.
    """
    y, f = frame["y"], frame["yhat"]
    return {
        "mae": mae(y, f),
        "rmse": rmse(y, f),
        "r2": r2(y, f),
        "smape": smape(y, f),
        "mase": mase(y, f, float(frame["scale"].mean())),
        "coverage_80": coverage(y, frame["yhat_lower_80"], frame["yhat_upper_80"]),
        "coverage_95": coverage(y, frame["yhat_lower_95"], frame["yhat_upper_95"]),
        "n_points": int(len(frame)),
    }


def summarise(backtest: pd.DataFrame, series_keys: list[str]) -> tuple[dict[str, dict], pd.DataFrame]:
    """Backtest points of several methods -> (overall metrics by method, per-series metrics table).

    Overall MAE, RMSE, R2, SMAPE and coverage pool every point of every series; overall MASE is the
    mean of the per-series MASE (series whose scale is zero are left out of it).
    """
    per_series = (
        backtest.groupby(series_keys + ["method"], sort=True)[list(backtest.columns)]
        .apply(lambda g: pd.Series(point_metrics(g)))
        .reset_index()
    )
    overall = {}
    for method, points in backtest.groupby("method", sort=True):
        metrics = point_metrics(points)
        series_mase = per_series.loc[per_series["method"] == method, "mase"].dropna()
        metrics["mase"] = float(series_mase.mean()) if len(series_mase) else float("nan")
        metrics["n_series"] = int((per_series["method"] == method).sum())
        overall[str(method)] = metrics
    return overall, per_series
