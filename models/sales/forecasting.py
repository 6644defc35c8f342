"""Demand forecasting per series: a method chosen per series, conformal intervals (no I/O).

A *series* is one (store, item) history of regular periods (``D`` daily or ``W`` weekly). A period
with no row is a 0 (``missing="zero"``: the input lists sales lines, so no line means no sale) or a
**gap** (``missing="gap"``: the input is a panel with one row per period, so an absent row is
unknown): gaps are interpolated for fitting and never scored.

Per series, every candidate of :mod:`models.sales.forecast_methods` forecasts ``selection_folds``
rolling-origin windows of ``horizon`` periods just before the forecast origin (inside the training
window: for a backtest, before its holdout), and the ``ensemble`` (3) with the lowest mean absolute
error on the observed periods are averaged (ties go to the earlier, simpler method); a series that sold nothing
in more than half of its last window gets the rolling median instead (zero: what minimises both the
absolute error and SMAPE where most periods sell nothing). Intervals are conformal: the
80%/95% quantiles of the candidates' window errors, each divided by its series' mean absolute error
there and pooled over all series of the run, then scaled back per series (:func:`calibrate`), so
every method, the chosen one included, gets intervals of the same kind and the holdout never sets
them. A series too short for one selection window gets the seasonal naive and the reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.results import SERIES_KEYS
from models.sales.forecast_methods import (
    ALL_METHODS,
    FAST_METHODS,
    GLOBAL,
    PERIOD,
    SEASON,
    WINDOW,
    fill_gaps,
    point_forecasts,
)
from models.sales.forecast_metrics import seasonal_scale
from models.sales.global_model import GlobalModels, fit_global

LEVELS = (80, 95)
MISSING = ("zero", "gap")
CHOSEN = "chosen"  # the method name of the per-series choice in backtests and reports
BASELINE = "seasonal_naive"
INTERMITTENT = "rolling_median"  # the choice for series that mostly sell nothing (see SeriesForecaster)


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = 30
    freq: str = "D"
    methods: tuple[str, ...] = FAST_METHODS  # candidates, chosen from per series
    compare: tuple[str, ...] = ()  # backtested and reported next to the choice, never chosen
    selection_folds: int = 2  # rolling-origin windows before the origin that choose the method
    ensemble: int = 3  # the choice averages the forecasts of this many best candidates (1: the best)
    missing: str = "zero"
    holidays: str | None = None  # country code for Prophet's built-in holidays, e.g. "US"
    folds: int = 1  # backtest (holdout) origins

    def __post_init__(self):
        if self.freq not in SEASON:
            raise ValueError(f"freq must be one of {sorted(SEASON)}, got {self.freq!r}")
        if self.horizon < 1:
            raise ValueError("horizon must be at least 1 period")
        if min(self.folds, self.selection_folds, self.ensemble) < 1:
            raise ValueError("folds, selection folds and the ensemble size must be at least 1")
        if self.missing not in MISSING:
            raise ValueError(f"missing must be one of {MISSING}, got {self.missing!r}")
        unknown = sorted((set(self.methods) | set(self.compare)) - set(ALL_METHODS))
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {unknown}: choose from {', '.join(ALL_METHODS)}")

    @property
    def season(self) -> int:
        return SEASON[self.freq]

    @property
    def reported(self) -> tuple[str, ...]:
        """Every method backtested: the candidates, the compared ones and the baseline."""
        return tuple(dict.fromkeys([*self.methods, *self.compare, BASELINE]))

    @property
    def earliest_origin(self) -> int:
        """The run's earliest forecast origin, in periods before the series' end: the first
        selection window of the first backtest origin."""
        return self.horizon * (self.folds + self.selection_folds)

    @property
    def min_origin(self) -> int:
        """The fewest periods a method is fitted on (half a window: 14 days, 6 weeks)."""
        return WINDOW[self.freq] // 2


def period_start(dates, freq: str = "D") -> pd.DatetimeIndex:
    """Dates -> the start of their period: the day itself, or the Monday of its week."""
    index = pd.DatetimeIndex(pd.to_datetime(dates))
    return index.to_period("W-SUN").start_time if freq == "W" else index


def complete_series(dates, values, freq: str = "D", end=None, missing: str = "zero"):
    """Sum values per period over the periods from the first to ``end`` (default: the last); a
    period with no row is 0 (``missing="zero"``) or NaN, a gap (``"gap"``)."""
    frame = pd.DataFrame({"ds": period_start(dates, freq), "y": np.asarray(values, dtype=float)})
    totals = frame.groupby("ds")["y"].sum()
    last = totals.index.max() if end is None else period_start([end], freq)[0]
    index = pd.date_range(totals.index.min(), last, freq=PERIOD[freq])
    return index, totals.reindex(index, fill_value=0.0 if missing == "zero" else np.nan).to_numpy()


@dataclass(frozen=True)
class Choice:
    members: tuple[str, ...]  # the candidates whose forecasts are averaged, best first
    reason: str | None = None  # why it is a fallback, when it is

    @property
    def name(self) -> str:
        return "+".join(self.members)


class SeriesForecaster:
    """One series' forecasts at any origin, each computed once (the windows overlap)."""

    def __init__(self, ds: pd.DatetimeIndex, y: np.ndarray, config: ForecastConfig, models: GlobalModels | None = None):
        if models is None and GLOBAL in config.reported:  # alone: a "global" model of this one series
            models = global_models_of([(ds, y)], config)
        self.ds, self.y, self.config, self.models = ds, y, config, models
        self.filled = fill_gaps(y)
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def at(self, origin: int, methods) -> dict[str, np.ndarray]:
        """Forecasts of ``horizon`` periods from the first ``origin`` periods (nothing after them;
        the global model of that origin learnt only from before it)."""
        cached = self._cache.setdefault(origin, {})
        missing = [m for m in methods if m not in cached]
        if GLOBAL in missing:
            missing.remove(GLOBAL)
            cached[GLOBAL] = self.models.forecast(self.filled, self.ds, origin)
        if missing:
            c = self.config
            cached.update(
                point_forecasts(missing, self.filled[:origin], c.horizon, c.freq, self.ds[:origin], c.holidays)
            )
        return {m: cached[m] for m in methods}

    def windows(self, end: int) -> list[int]:
        """Origins of the selection windows before ``end``: each window is observed up to ``end``."""
        h, c = self.config.horizon, self.config
        origins = [end - k * h for k in range(1, c.selection_folds + 1)]
        return sorted(o for o in origins if o >= c.min_origin)

    def errors(self, end: int, methods) -> tuple[dict[str, np.ndarray], list[int]]:
        """Per method, the errors (actual - forecast) on the observed periods of the selection
        windows before ``end``; and those windows' origins."""
        h = self.config.horizon
        origins = self.windows(end)
        out = {m: [] for m in methods}
        for origin in origins:
            actual = self.y[origin : origin + h]
            seen = ~np.isnan(actual)
            for method, yhat in self.at(origin, methods).items():
                out[method].append((actual - yhat[: len(actual)])[seen])
        return {m: np.concatenate(e) if e else np.array([]) for m, e in out.items()}, origins

    def choose(self, end: int, methods) -> tuple[Choice, dict[str, np.ndarray]]:
        """The choice for an origin at ``end`` -- the ``ensemble`` candidates with the lowest mean
        absolute error in the windows before ``end`` -- and the errors there of each of ``methods``
        and of the choice (under ``CHOSEN``: the mean of its members' errors, as its forecast is the
        mean of theirs)."""
        c = self.config
        found, _ = self.errors(end, dict.fromkeys([*methods, *c.methods]))
        scores = {m: float(np.mean(np.abs(found[m]))) for m in c.methods if len(found[m])}
        if not scores:
            fallback = BASELINE if BASELINE in c.methods else c.methods[0]
            return Choice((fallback,), f"too_short ({end} periods: no selection window)"), {}
        members = tuple(sorted(scores, key=lambda m: (scores[m], c.methods.index(m)))[: c.ensemble])
        if INTERMITTENT in c.methods and self.intermittent(end):
            members = (INTERMITTENT,)
        errors = {m: found[m] for m in methods}
        errors[CHOSEN] = np.mean([found[m] for m in members], axis=0)
        return Choice(members), errors

    def intermittent(self, end: int) -> bool:
        """More than half of the last window's observed periods before ``end`` sold nothing: the
        median (0) then minimises both the absolute error and SMAPE, and an average of methods
        would forecast small amounts on the many periods that sell nothing."""
        recent = self.y[max(end - WINDOW[self.config.freq], 0) : end]
        recent = recent[~np.isnan(recent)]
        return len(recent) > 0 and float(np.mean(recent == 0)) > 0.5

    def forecast(self, origin: int, choice: Choice) -> np.ndarray:
        return np.mean(list(self.at(origin, choice.members).values()), axis=0)


def _block(kind: str, method: str, used: str, ds, columns: dict, **constants) -> tuple[int, dict]:
    """Rows of one kind and method: (count, column -> array or one value for all of them)."""
    n = len(next(iter(columns.values())))
    return n, {"ds": ds, **columns, "kind": kind, "method": method, "method_used": used, **constants}


NUMERIC = ("y", "yhat", "scale", "spread")


def _assemble(blocks: list[tuple[int, dict]]) -> pd.DataFrame:
    """Blocks -> one frame (one constructor call: building a frame per block cost more than the
    fast methods themselves)."""
    names = dict.fromkeys(name for _, block in blocks for name in block)
    data = {}
    for name in names:
        parts = []
        for n, block in blocks:
            value = block.get(name, np.nan if name in NUMERIC else None)
            if name == "ratios":
                cells = np.empty(n, dtype=object)  # one array per cell (np.array would make a 2-D block)
                cells[:] = [None] * n if value is None else list(value)
                parts.append(cells)
            elif name in ("ds", "cutoff"):
                stamps = np.asarray(pd.DatetimeIndex(value), "datetime64[ns]") if np.ndim(value) else None
                parts.append(stamps if stamps is not None else np.full(n, np.datetime64(value, "ns")))
            elif np.ndim(value):
                parts.append(np.asarray(value, dtype=float))
            else:
                parts.append(np.full(n, value, dtype=float if name in NUMERIC else object))
        data[name] = np.concatenate(parts)
    return pd.DataFrame(data)


def _spread(errors: np.ndarray) -> float:
    """A series' error level in the selection windows: what its interval width scales with."""
    return float(np.mean(np.abs(errors))) if len(errors) else np.nan


def _residual_rows(errors: dict, cutoff) -> list[tuple[int, dict]]:
    """The selection windows' errors per method (and of the choice), each divided by the series'
    spread, as one row with an array: the inputs of the pooled conformal quantiles. A series
    without any error (spread 0) adds nothing."""
    return [
        _block("residual", method, method, cutoff, {"ratios": [e / _spread(e)]}, cutoff=cutoff)
        for method, e in errors.items()
        if len(e) and _spread(e) > 0
    ]


def series_output(
    ds: pd.DatetimeIndex, y: np.ndarray, config: ForecastConfig, models: GlobalModels | None = None
) -> pd.DataFrame:
    """All output rows of one series: the forecast from its end by its choice, each backtest
    origin's points of every reported method and of the choice made before that origin, and the
    selection windows' errors (``kind="residual"``) that :func:`calibrate` turns into intervals."""
    h, n = config.horizon, len(y)
    series = SeriesForecaster(ds, y, config, models)
    frames = []
    for origin in [n - h - k * h for k in reversed(range(config.folds))]:
        actual = y[origin : origin + h] if origin >= config.min_origin else np.array([])
        seen = ~np.isnan(actual)
        if not seen.any():
            continue
        choice, errors = series.choose(origin, config.reported)
        cutoff, scale = ds[origin - 1], seasonal_scale(y[:origin], config.season)
        forecasts = {**series.at(origin, config.reported), CHOSEN: series.forecast(origin, choice)}
        for method, yhat in forecasts.items():
            used = choice.name if method == CHOSEN else method
            columns = {"y": actual[seen], "yhat": yhat[: len(actual)][seen]}
            extra = {"scale": scale, "spread": _spread(errors.get(method, [])), "fallback_reason": choice.reason}
            points = ds[origin : origin + h][seen]
            frames.append(_block("backtest", method, used, points, columns, cutoff=cutoff, **extra))
        frames += _residual_rows(errors, cutoff)
    choice, errors = series.choose(n, ())
    future = ds[-1] + PERIOD[config.freq] * np.arange(1, h + 1)
    extra = {"spread": _spread(errors.get(CHOSEN, [])), "fallback_reason": choice.reason}
    columns = {"yhat": series.forecast(n, choice)}
    frames.insert(0, _block("forecast", choice.name, choice.name, future, columns, cutoff=ds[-1], **extra))
    frames += _residual_rows(errors, ds[-1])
    out = _assemble(frames)
    out["gaps"] = int(np.isnan(y).sum())
    return out


# One output schema for every kind of row: the forecast ("forecast"), the backtest points
# ("backtest") and per method and cutoff the selection windows' errors over the series' spread
# ("residual": ratios, an array: one row instead of one per error keeps the Spark map's output small).
OUTPUT_SCHEMA = (
    "kind string, store_id long, item_id long, method string, method_used string, fallback_reason string,"
    " cutoff date, ds date, y double, yhat double, yhat_lower_80 double, yhat_upper_80 double,"
    " yhat_lower_95 double, yhat_upper_95 double, scale double, spread double, gaps long, ratios array<double>"
)
OUTPUT_COLUMNS = [part.strip().split(" ")[0] for part in OUTPUT_SCHEMA.split(",")]


def forecast_group(history: pd.DataFrame, config: ForecastConfig, end=None, models=None) -> pd.DataFrame:
    """All output rows of one series (columns store_id, item_id, ds, y), forecast from ``end``
    (default: its last period), intervals not yet set. The body of the grouped Spark map."""
    ds, y = complete_series(history["ds"], history["y"], config.freq, end, config.missing)
    out = series_output(ds, y, config, models)
    if "ratios" not in out:  # no residuals at all (too short, or never an error): nulls, not NaN, for Arrow
        out["ratios"] = None
    out = out.reindex(columns=OUTPUT_COLUMNS)
    for key in SERIES_KEYS:
        out[key] = int(history[key].iloc[0])
    for column in ("ds", "cutoff"):
        out[column] = pd.to_datetime(out[column]).dt.date
    return out


TAILS = {level: ((100 - level) / 200, 1 - (100 - level) / 200) for level in LEVELS}
QUANTILES = [q for level in LEVELS for q in TAILS[level]]  # lower 80, upper 80, lower 95, upper 95


def residual_quantiles(residuals: pd.DataFrame) -> pd.DataFrame:
    """Residual rows -> per (method, cutoff), the pooled quantiles of their ``ratios`` (errors over
    their series' spread) in ``QUANTILES`` order (list column ``q``)."""
    pools = residuals.groupby(["method", "cutoff"])["ratios"].agg(lambda arrays: np.concatenate(list(arrays)))
    return pools.apply(lambda values: list(np.quantile(values, QUANTILES))).rename("q").reset_index()


def calibrate(rows: pd.DataFrame, quantiles: pd.DataFrame) -> pd.DataFrame:
    """Set the 80%/95% intervals of the forecast and backtest rows: each row's point plus its
    pool's quantiles of error / spread (per method and cutoff; a forecast row takes the pool of the
    choice) times its own spread. A row without a pool or a spread gets a zero-width interval."""
    rows = rows.reset_index(drop=True)
    pool = pd.DataFrame(
        {"method": np.where(rows["kind"] == "forecast", CHOSEN, rows["method"]), "cutoff": rows["cutoff"]}
    )
    q = pool.merge(quantiles, on=["method", "cutoff"], how="left")["q"]
    q = np.array([v if isinstance(v, list | tuple | np.ndarray) else [0.0] * len(QUANTILES) for v in q], dtype=float)
    spread = rows["spread"].fillna(0.0).to_numpy()[:, None]
    bounds = rows["yhat"].to_numpy()[:, None] + q.reshape(len(rows), len(QUANTILES)) * spread
    for k, level in enumerate(LEVELS):
        rows[f"yhat_lower_{level}"] = np.maximum(bounds[:, 2 * k], 0.0)
        rows[f"yhat_upper_{level}"] = np.maximum(bounds[:, 2 * k + 1], rows["yhat"])
    return rows


def spark_cores(spark) -> int:
    return max(int(spark.sparkContext.defaultParallelism), 1)


def global_models(history: pd.DataFrame, config: ForecastConfig, end=None, threads: int = 1) -> GlobalModels | None:
    """The global model of every origin the run forecasts from, when it is among the methods."""
    if GLOBAL not in config.reported:
        return None
    series = (
        complete_series(group["ds"], group["y"], config.freq, end, config.missing)
        for _, group in history.groupby(SERIES_KEYS, sort=True)
    )
    return global_models_of(series, config, threads)


def global_models_of(series, config: ForecastConfig, threads: int = 1) -> GlobalModels:
    """Two global models over ``series`` (ds, y): one for the run's earliest origin, which serves
    every backtest and selection origin after it, and one for the forecast."""
    return fit_global(series, [0, config.earliest_origin], config.horizon, config.freq, threads)


def forecast_partition(history: pd.DataFrame, config: ForecastConfig, end=None, models=None) -> pd.DataFrame:
    """:func:`forecast_group` for every series in ``history``: the body of the Spark map."""
    groups = [forecast_group(group, config, end, models) for _, group in history.groupby(SERIES_KEYS, sort=True)]
    return pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(columns=OUTPUT_COLUMNS)


def run_forecasts(history: pd.DataFrame, config: ForecastConfig, spark=None, end=None) -> pd.DataFrame:
    """Forecast and backtest every series of ``history`` (store_id, item_id, ds, y), with intervals.

    With a SparkSession the series are fitted in parallel (hash-partitioned by series, one pandas
    frame per partition: a grouped map's per-series hand-over cost more than the fast methods) and
    their rows come back through Parquet files (a big panel's rows outgrow the JVM heap); without
    one, in this process. The intervals are set here from every series' residuals: same output.
    """
    models = global_models(history, config, end, threads=1 if spark is None else spark_cores(spark))
    if spark is None:
        output = forecast_partition(history, config, end, models)
    else:
        shared = spark.sparkContext.broadcast(models)

        def partition(batches):
            frames = list(batches)
            if frames:
                yield forecast_partition(pd.concat(frames, ignore_index=True), config, end, shared.value)[
                    OUTPUT_COLUMNS
                ]

        frame = spark.createDataFrame(history[SERIES_KEYS + ["ds", "y"]])
        with tempfile.TemporaryDirectory() as folder:
            # many small tasks: the two cores finish together however unevenly the series hash
            mapped = frame.repartition(spark_cores(spark) * 16, *SERIES_KEYS).mapInPandas(partition, OUTPUT_SCHEMA)
            mapped.write.parquet(f"{folder}/rows")
            output = pd.read_parquet(f"{folder}/rows")
        shared.unpersist()
    residual = output["kind"] == "residual"
    return calibrate(output[~residual].drop(columns="ratios"), residual_quantiles(output[residual]))


def _clean(value):
    """JSON-safe number: NaN/inf -> None, numpy scalars -> Python."""
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def choice_counts(names: pd.Series) -> dict[str, dict[str, int]]:
    """How often each method was in a series' choice (``member``) and ranked first in it (``best``)."""
    members = names.str.split("+")
    count = lambda values: {str(k): int(v) for k, v in values.value_counts().items()}  # noqa: E731
    return {"member": count(members.explode()), "best": count(members.str[0])}


def backtest_report(output: pd.DataFrame, config: ForecastConfig) -> tuple[dict, pd.DataFrame]:
    """Output rows of :func:`run_forecasts` -> (the metrics.json document, per-series metrics table).

    The document holds ``overall`` keyed by method (``chosen``: the per-series choice; every
    candidate; ``seasonal_naive``; the compared ones such as ``prophet``), each keyed by metric name;
    ``comparison`` (the choice over the seasonal naive); how often each method was chosen, for the
    forecast and in the backtest; the gaps; ``config``; and per-series detail under ``series``.
    """
    from models.sales.forecast_metrics import METRICS, summarise

    backtest = output[output["kind"] == "backtest"]
    forecasts = output[output["kind"] == "forecast"].drop_duplicates(SERIES_KEYS).set_index(SERIES_KEYS)
    if backtest.empty:
        overall, per_series = {}, pd.DataFrame(columns=SERIES_KEYS + ["method", *METRICS, "n_points"])
    else:
        overall, per_series = summarise(backtest, SERIES_KEYS)
        used = backtest.groupby([*SERIES_KEYS, "method"])["method_used"].last().reset_index()
        per_series = per_series.merge(used, on=[*SERIES_KEYS, "method"], how="left")
    picks = backtest[backtest["method"] == CHOSEN].drop_duplicates([*SERIES_KEYS, "cutoff"])
    document = {
        "overall": {m: {k: _clean(v) for k, v in metrics.items()} for m, metrics in overall.items()},
        "comparison": {},
        "chosen_methods": {
            "forecast": choice_counts(forecasts["method"]),
            "backtest": choice_counts(picks["method_used"]),
        },
        "gaps": {"periods": int(forecasts["gaps"].sum()), "series_with_gaps": int((forecasts["gaps"] > 0).sum())},
        "config": {
            "freq": config.freq,
            "horizon": config.horizon,
            "folds": config.folds,
            "methods": list(config.methods),
            "compare": list(config.compare),
            "selection_folds": config.selection_folds,
            "missing": config.missing,
            "holidays": config.holidays,
        },
        "series_count": int(len(forecasts)),
        "fallback_series": int(forecasts["fallback_reason"].notna().sum()),
        "series": [],
    }
    if {CHOSEN, BASELINE} <= set(overall):
        p, b = overall[CHOSEN], overall[BASELINE]
        document["comparison"] = {
            f"{metric}_ratio": _clean(p[metric] / b[metric]) if b[metric] else None
            for metric in ("mae", "smape", "mase")
        }
    by_series = {key: group for key, group in per_series.groupby(SERIES_KEYS)}
    backtest_pick = picks.groupby(SERIES_KEYS)["method_used"].last().to_dict()
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
                "backtest_choice": backtest_pick.get(key),
                "fallback_reason": row["fallback_reason"],
                "gaps": int(row["gaps"]),
                "backtest": methods,
            }
        )
    return document, per_series
