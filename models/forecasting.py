"""Demand forecasting per series: Prophet with a seasonal-naive fallback and baseline (no I/O).

A *series* is one (store, item) history of regular periods (``D`` daily or ``W`` weekly) with no
gaps: a period without sales is a 0, filled in by :func:`complete_series` before anything else.
Every forecast carries 80% and 95% intervals. Prophet's come from its predictive samples
(``uncertainty_samples`` of them, one draw for both levels); the seasonal-naive ones from the
in-sample seasonal errors, widened with the square root of the number of seasons ahead.

Series Prophet should not be trusted with (too short, all zero, constant) or on which it fails
get the seasonal-naive forecast and the reason, never an exception: see :func:`forecast_series`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.metrics import seasonal_scale

SEASON = {"D": 7, "W": 52}
PERIOD = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}
Z = {80: 1.2815515655446004, 95: 1.959963984540054}
INTERVAL_COLUMNS = ("yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95")
# Prophet's yearly terms need two full years of history to be identified
YEARLY_MIN_PERIODS = {"D": 731, "W": 105}


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = 30
    freq: str = "D"
    uncertainty_samples: int = 500
    holidays: str | None = None  # country code for Prophet's built-in holidays, e.g. "US"
    min_history: int | None = None  # periods; default four seasons (28 days / ... weeks, capped at 2 years)
    folds: int = 1  # backtest origins
    seed: int = 7

    def __post_init__(self):
        if self.freq not in SEASON:
            raise ValueError(f"freq must be one of {sorted(SEASON)}, got {self.freq!r}")
        if self.horizon < 1:
            raise ValueError("horizon must be at least 1 period")
        if self.uncertainty_samples < 50:
            raise ValueError("uncertainty_samples must be at least 50 for stable 95% intervals")
        if self.folds < 1:
            raise ValueError("folds must be at least 1")

    @property
    def season(self) -> int:
        return SEASON[self.freq]

    @property
    def minimum(self) -> int:
        return self.min_history or min(4 * self.season, 104)


def period_start(dates, freq: str = "D") -> pd.DatetimeIndex:
    """Dates -> the start of their period: the day itself, or the Monday of its week."""
    index = pd.DatetimeIndex(pd.to_datetime(dates))
    return index.to_period("W-SUN").start_time if freq == "W" else index


def complete_series(dates, values, freq: str = "D", end=None) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Sum values per period and fill missing periods with 0, from the first period to ``end``."""
    frame = pd.DataFrame({"ds": period_start(dates, freq), "y": np.asarray(values, dtype=float)})
    totals = frame.groupby("ds")["y"].sum()
    last = totals.index.max() if end is None else period_start([end], freq)[0]
    index = pd.date_range(totals.index.min(), last, freq=PERIOD[freq])
    return index, totals.reindex(index, fill_value=0.0).to_numpy()


def fallback_reason(y: np.ndarray, config: ForecastConfig) -> str | None:
    """Why Prophet is not used for this history, or None."""
    if len(y) < config.minimum:
        return f"too_short ({len(y)} < {config.minimum} periods)"
    if not np.any(y):
        return "all_zero"
    if np.all(y == y[0]):
        return "constant"
    return None


def seasonal_naive(y: np.ndarray, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Repeat the last season; intervals from the in-sample seasonal errors (sqrt of seasons ahead)."""
    y = np.asarray(y, dtype=float)
    m = season if len(y) > season else 1
    steps = np.arange(horizon)
    yhat = y[len(y) - m + steps % m] if len(y) >= m else np.full(horizon, y[-1])
    residuals = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0
    spread = sigma * np.sqrt(steps // m + 1)
    out = {"yhat": yhat}
    for level, z in Z.items():
        out[f"yhat_lower_{level}"] = np.maximum(yhat - z * spread, 0.0)
        out[f"yhat_upper_{level}"] = yhat + z * spread
    return out


def prophet_forecast(ds: pd.DatetimeIndex, y: np.ndarray, config: ForecastConfig) -> dict[str, np.ndarray]:
    """Fit Prophet on the history and forecast ``horizon`` periods; demand is clipped at 0."""
    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    get_logger().setLevel(logging.WARNING)  # it sets itself to DEBUG when first asked for
    logging.getLogger("prophet").setLevel(logging.WARNING)

    model = Prophet(
        yearly_seasonality=len(y) >= YEARLY_MIN_PERIODS[config.freq],
        weekly_seasonality=config.freq == "D",
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    if config.holidays:
        model.add_country_holidays(country_name=config.holidays)
    model.fit(pd.DataFrame({"ds": ds, "y": y}))
    future = pd.DataFrame({"ds": ds[-1] + PERIOD[config.freq] * np.arange(1, config.horizon + 1)})
    yhat = model.predict(future)["yhat"].to_numpy()
    model.uncertainty_samples = config.uncertainty_samples
    np.random.seed(config.seed)  # Prophet samples with numpy's global generator
    samples = model.predictive_samples(future)["yhat"]
    out = {"yhat": np.maximum(yhat, 0.0)}
    for level in Z:
        tail = (100 - level) / 200
        lower, upper = np.quantile(samples, [tail, 1 - tail], axis=1)
        out[f"yhat_lower_{level}"] = np.maximum(lower, 0.0)
        out[f"yhat_upper_{level}"] = np.maximum(upper, 0.0)
    return out


def forecast_series(ds: pd.DatetimeIndex, y: np.ndarray, config: ForecastConfig) -> tuple[dict, str, str | None]:
    """Forecast one series: (columns, method used, fallback reason or None). Never raises on data."""
    reason = fallback_reason(y, config)
    if reason is None:
        try:
            return prophet_forecast(ds, y, config), "prophet", None
        except Exception as exc:  # a Stan failure on odd data must not stop the other series
            reason = f"prophet_failed ({type(exc).__name__}: {str(exc)[:80]})"
    return seasonal_naive(y, config.horizon, config.season), "seasonal_naive", reason


def backtest_windows(n: int, horizon: int, folds: int = 1, step: int | None = None) -> list[tuple[int, int]]:
    """Rolling-origin holdout over the last periods: ``folds`` (train_end, test_end) index pairs.

    The last fold tests the final ``horizon`` periods; each earlier fold moves the origin back by
    ``step`` (default: the horizon). Raises ValueError if the series cannot hold them.
    """
    step = step or horizon
    windows = [(n - horizon - k * step, n - k * step) for k in reversed(range(folds))]
    if windows[0][0] < 1:
        raise ValueError(f"{n} periods cannot hold {folds} fold(s) of horizon {horizon} (step {step})")
    return windows


def backtest_series(ds: pd.DatetimeIndex, y: np.ndarray, config: ForecastConfig) -> pd.DataFrame:
    """Backtest points of the production forecaster (``prophet``, with its fallback) and of the
    ``seasonal_naive`` baseline on the same rolling-origin windows. Empty if the series is too short."""
    try:
        windows = backtest_windows(len(y), config.horizon, config.folds)
    except ValueError:
        return pd.DataFrame()
    frames = []
    for train_end, test_end in windows:
        history = y[:train_end]
        scale = seasonal_scale(history, config.season)
        test = slice(train_end, test_end)
        candidates = {
            "prophet": forecast_series(ds[:train_end], history, config),
            "seasonal_naive": (seasonal_naive(history, config.horizon, config.season), "seasonal_naive", None),
        }
        for method, (columns, used, reason) in candidates.items():
            frame = pd.DataFrame({k: v[: test_end - train_end] for k, v in columns.items()})
            frame.insert(0, "y", y[test])
            frame.insert(0, "ds", ds[test])
            frame.insert(0, "cutoff", ds[train_end - 1])
            frame.insert(0, "method", method)
            frame["method_used"], frame["fallback_reason"], frame["scale"] = used, reason, scale
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


SERIES_KEYS = ["store_id", "item_id"]
# One output schema for both kinds of rows: the forecast ("forecast") and the backtest points ("backtest").
OUTPUT_SCHEMA = (
    "kind string, store_id long, item_id long, method string, method_used string, fallback_reason string,"
    " cutoff date, ds date, y double, yhat double, yhat_lower_80 double, yhat_upper_80 double,"
    " yhat_lower_95 double, yhat_upper_95 double, scale double"
)
OUTPUT_COLUMNS = [part.strip().split(" ")[0] for part in OUTPUT_SCHEMA.split(",")]


def forecast_group(history: pd.DataFrame, config: ForecastConfig, end=None) -> pd.DataFrame:
    """All output rows of one series (columns store_id, item_id, ds, y): its forecast from ``end``
    (default: its last period) and its backtest points. The body of the grouped Spark map."""
    ds, y = complete_series(history["ds"], history["y"], config.freq, end)
    columns, method, reason = forecast_series(ds, y, config)
    future = ds[-1] + PERIOD[config.freq] * np.arange(1, config.horizon + 1)
    forecast = pd.DataFrame({"kind": "forecast", "method": method, "method_used": method, "ds": future, **columns})
    forecast["fallback_reason"], forecast["cutoff"], forecast["y"], forecast["scale"] = reason, ds[-1], np.nan, np.nan
    backtest = backtest_series(ds, y, config).assign(kind="backtest")
    out = pd.concat([forecast, backtest], ignore_index=True) if len(backtest) else forecast
    for key in SERIES_KEYS:
        out[key] = int(history[key].iloc[0])
    for column in ("ds", "cutoff"):
        out[column] = pd.to_datetime(out[column]).dt.date
    return out[OUTPUT_COLUMNS]


def run_forecasts(history: pd.DataFrame, config: ForecastConfig, spark=None, end=None) -> pd.DataFrame:
    """Forecast and backtest every series of ``history`` (store_id, item_id, ds, y).

    With a SparkSession the series are fitted in parallel (grouped ``applyInPandas``, one task per
    partition); without one, sequentially in this process. Same function, same output either way.
    """
    if spark is None:
        groups = [forecast_group(group, config, end) for _, group in history.groupby(SERIES_KEYS, sort=True)]
        return pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(columns=OUTPUT_COLUMNS)
    frame = spark.createDataFrame(history[SERIES_KEYS + ["ds", "y"]])
    # one partition per core-ish slot keeps Prophet's per-series work spread evenly
    partitions = max(int(spark.sparkContext.defaultParallelism) * 4, 1)
    result = (
        frame.repartition(partitions, *SERIES_KEYS)
        .groupBy(*SERIES_KEYS)
        .applyInPandas(lambda pdf: forecast_group(pdf, config, end), OUTPUT_SCHEMA)
    )
    return result.toPandas()


def _clean(value):
    """JSON-safe number: NaN/inf -> None, numpy scalars -> Python."""
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def backtest_report(output: pd.DataFrame, config: ForecastConfig) -> tuple[dict, pd.DataFrame]:
    """Output rows of :func:`run_forecasts` -> (the metrics.json document, per-series metrics table).

    The document holds ``overall`` keyed by method (``prophet``, ``seasonal_naive``), each keyed by
    metric name, then ``comparison``, ``config`` and per-series detail under ``series``.
    """
    from models.metrics import METRICS, summarise

    backtest = output[output["kind"] == "backtest"]
    forecasts = output[output["kind"] == "forecast"].drop_duplicates(SERIES_KEYS).set_index(SERIES_KEYS)
    if backtest.empty:
        overall, per_series = {}, pd.DataFrame(columns=SERIES_KEYS + ["method", *METRICS, "n_points"])
    else:
        overall, per_series = summarise(backtest, SERIES_KEYS)
    document = {
        "overall": {m: {k: _clean(v) for k, v in metrics.items()} for m, metrics in overall.items()},
        "comparison": {},
        "config": {
            "freq": config.freq,
            "horizon": config.horizon,
            "folds": config.folds,
            "uncertainty_samples": config.uncertainty_samples,
            "holidays": config.holidays,
            "min_history": config.minimum,
        },
        "series_count": int(len(forecasts)),
        "fallback_series": int(forecasts["fallback_reason"].notna().sum()),
        "series": [],
    }
    if {"prophet", "seasonal_naive"} <= set(overall):
        p, b = overall["prophet"], overall["seasonal_naive"]
        document["comparison"] = {
            f"{metric}_ratio": _clean(p[metric] / b[metric]) if b[metric] else None
            for metric in ("mae", "smape", "mase")
        }
    by_series = {key: group for key, group in per_series.groupby(SERIES_KEYS)}
    for key, row in forecasts.iterrows():
        group = by_series.get(key)
        methods = (
            {}
            if group is None
            else {r["method"]: {m: _clean(r[m]) for m in (*METRICS, "n_points")} for _, r in group.iterrows()}
        )
        document["series"].append(
            {
                "store_id": int(key[0]),
                "item_id": int(key[1]),
                "method": row["method"],
                "fallback_reason": row["fallback_reason"],
                "backtest": methods,
            }
        )
    return document, per_series
