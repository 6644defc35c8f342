"""Forecast metrics, the candidate methods, gaps, the choice per series and its intervals (no services)."""

import math

import numpy as np
import pandas as pd
import pytest

import models.sales.forecasting as fc
from models.sales import forecast_methods
from models.sales import forecast_metrics as metrics
from models.sales.forecasting import (
    CHOSEN,
    ForecastConfig,
    backtest_report,
    complete_series,
    fill_gaps,
    forecast_group,
    run_forecasts,
    series_output,
)


def test_metrics_against_hand_computed_values():
    y, f = [2.0, 0.0, 4.0, 6.0], [1.0, 0.0, 6.0, 6.0]
    assert metrics.mae(y, f) == pytest.approx(0.75)  # (1 + 0 + 2 + 0) / 4
    assert metrics.rmse(y, f) == pytest.approx(math.sqrt(5 / 4))
    assert metrics.r2(y, f) == pytest.approx(1 - 5 / 20)  # mean 3: SST = 1 + 9 + 1 + 9
    # SMAPE: 2|e|/(|y|+|f|) = 2/3, 0 (0/0 counts as 0), 4/10, 0 -> mean x 100
    assert metrics.smape(y, f) == pytest.approx(100 * (2 / 3 + 0.4) / 4)
    assert metrics.mase(y, f, scale=1.5) == pytest.approx(0.5)
    assert math.isnan(metrics.mase(y, f, scale=0.0))
    assert metrics.coverage(y, [1, 0, 5, 5], [3, 0, 6, 5]) == pytest.approx(0.5)
    assert math.isnan(metrics.r2([3, 3], [3, 4]))


def test_seasonal_scale_is_the_in_sample_seasonal_naive_mae_over_observed_pairs():
    y = np.array([1, 2, 3, 1, 2, 3, 2, 2, 3], dtype=float)
    assert metrics.seasonal_scale(y, 3) == pytest.approx((0 + 0 + 0 + 1 + 0 + 0) / 6)
    assert metrics.seasonal_scale(y[:2], 3) == pytest.approx(1.0)  # shorter than a season: lag 1
    gapped = y.copy()
    gapped[3] = np.nan  # drops the pairs (0, 3) and (3, 6)
    assert metrics.seasonal_scale(gapped, 3) == pytest.approx((0 + 0 + 0 + 0) / 4)


def test_simple_methods_by_hand():
    week = np.array([5, 1, 1, 1, 1, 1, 9], dtype=float)
    y = np.tile(week, 4)
    assert list(forecast_methods.seasonal_naive(y, 9, "D")) == [5, 1, 1, 1, 1, 1, 9, 5, 1]
    assert forecast_methods.window_average(y, 3, "D") == pytest.approx([19 / 7] * 3)
    assert list(forecast_methods.rolling_median(y, 2, "D")) == [1, 1]
    bumped = y + np.repeat([0, 0, 0, 4], 7)  # the last week is 4 higher: the weekday mean of 4 weeks moves by 1
    assert forecast_methods.seasonal_average(bumped, 7, "D") == pytest.approx(week + 1)


def test_weekly_seasonal_average_takes_last_years_shape_at_this_years_level():
    shape = 10 + 5 * np.sin(np.arange(52) / 52 * 2 * np.pi)
    y = np.r_[shape, shape * 1.5][: 52 + 40]  # this year runs 1.5x last year's level
    out = forecast_methods.seasonal_average(y, 8, "W")
    assert out == pytest.approx(shape[40:48] * 1.5)


def test_theta_and_the_combination():
    rng = np.random.default_rng(1)
    y = 20 + np.tile([0, 0, 0, 0, 0, 8, 8.0], 20) + rng.normal(0, 1, 140)
    out = forecast_methods.point_forecasts(("theta", "combination"), y, 14, "D")
    assert len(out["theta"]) == 14 and np.all(out["theta"] >= 0)
    assert out["theta"][5] > out["theta"][0] + 4  # it keeps the weekly season
    members = forecast_methods.point_forecasts(forecast_methods.COMBINED, y, 14, "D")
    assert out["combination"] == pytest.approx(np.mean(list(members.values()), axis=0))
    assert list(forecast_methods.point_forecasts(("theta",), np.full(30, 3.0), 2, "D")["theta"]) == [3, 3]


def test_complete_series_zero_or_gap_and_weeks():
    ds, y = complete_series(["2024-01-01", "2024-01-03", "2024-01-03"], [1, 2, 3], "D", end="2024-01-05")
    assert list(y) == [1, 0, 5, 0, 0] and len(ds) == 5
    _, gapped = complete_series(["2024-01-01", "2024-01-03"], [1.5, 2.25], "D", end="2024-01-04", missing="gap")
    assert np.isnan(gapped[[1, 3]]).all() and list(gapped[[0, 2]]) == [1.5, 2.25]
    weeks, totals = complete_series(["2024-01-01", "2024-01-07", "2024-01-08", "2024-01-20"], [1, 2, 3, 4], "W")
    assert [str(d.date()) for d in weeks] == ["2024-01-01", "2024-01-08", "2024-01-15"] and list(totals) == [3, 3, 4]


def test_gaps_are_interpolated_for_fitting():
    assert list(fill_gaps(np.array([2.0, np.nan, 4.0, np.nan, np.nan]))) == [2, 3, 4, 4, 4]


def _panel(weeks: int = 80, missing: tuple = ()) -> pd.DataFrame:
    """One weekly series of 10 units, with the given weeks absent (as a period panel has them)."""
    ds = pd.date_range("2022-01-03", periods=weeks, freq="7D")
    keep = [i for i in range(weeks) if i not in missing]
    return pd.DataFrame({"store_id": 1, "item_id": 1, "ds": ds[keep], "y": 10.0})


def test_a_gap_is_neither_a_zero_sale_nor_scored():
    gaps = (30, 31, 40, 41, 75, 77)  # 75 and 77 fall in the 8-week holdout
    history = _panel(missing=gaps)
    gap = ForecastConfig(horizon=8, freq="W", missing="gap")
    output = run_forecasts(history, gap)
    forecast = output[output.kind == "forecast"]
    assert forecast["yhat"].to_numpy() == pytest.approx(10.0)  # gaps did not pull the forecast down
    report, _ = backtest_report(output, gap)
    assert report["gaps"] == {"periods": 6, "series_with_gaps": 1}
    assert report["overall"][CHOSEN]["n_points"] == 6 and report["overall"][CHOSEN]["mae"] == pytest.approx(0)
    zero = ForecastConfig(horizon=8, freq="W", missing="zero")
    zero_report, _ = backtest_report(run_forecasts(history, zero), zero)
    assert zero_report["gaps"]["periods"] == 0 and zero_report["overall"][CHOSEN]["n_points"] == 8
    assert zero_report["overall"][CHOSEN]["mae"] > 0  # the absent weeks scored as zero sales


def test_a_series_too_short_to_choose_gets_the_seasonal_naive_and_why():
    ds = pd.date_range("2024-01-01", periods=10)
    out = series_output(ds, np.arange(10.0), ForecastConfig(horizon=5))
    forecast = out[out.kind == "forecast"]
    assert set(forecast["method"]) == {"seasonal_naive"} and forecast["fallback_reason"].iloc[0].startswith("too_short")
    assert (out.kind == "backtest").sum() == 0  # nothing to hold out either


def _choice_before_holdout(y: np.ndarray, config: ForecastConfig):
    """What the backtest's choice made before the holdout: its methods and its forecast there."""
    out = series_output(pd.date_range("2024-01-01", periods=len(y)), y, config)
    chosen = out[(out.kind == "backtest") & (out.method == CHOSEN)]
    return chosen["method_used"].iloc[0], chosen["yhat"].to_numpy()


def test_the_choice_never_reads_the_holdout(monkeypatch):
    """Swap the holdout's actuals for anything: the choice and its forecast must not move. The
    same check catches a planted leak (selection windows that reach into the holdout)."""
    rng = np.random.default_rng(3)
    config = ForecastConfig(horizon=14, selection_folds=3)
    y = 30 + 10 * np.sin(np.arange(140) / 7 * 2 * np.pi) + rng.normal(0, 3, 140)
    poisoned = y.copy()
    poisoned[-14:] = rng.choice([0.0, 500.0], 14)  # wild actuals where only the backtest may look

    assert _choice_before_holdout(y, config)[0] == _choice_before_holdout(poisoned, config)[0]
    np.testing.assert_array_equal(_choice_before_holdout(y, config)[1], _choice_before_holdout(poisoned, config)[1])

    honest = fc.SeriesForecaster.windows
    monkeypatch.setattr(fc.SeriesForecaster, "windows", lambda self, end: honest(self, end + self.config.horizon))
    leaky, leaky_poisoned = _choice_before_holdout(y, config), _choice_before_holdout(poisoned, config)
    assert leaky[0] != leaky_poisoned[0] or not np.array_equal(leaky[1], leaky_poisoned[1])


def test_intervals_are_calibrated_on_series_with_known_noise():
    rng = np.random.default_rng(11)
    days = pd.date_range("2023-01-01", periods=200)
    rows = [
        pd.DataFrame({"store_id": 1, "item_id": item, "ds": days, "y": np.maximum(level + rng.normal(0, sd, 200), 0)})
        for item, (level, sd) in enumerate(zip(rng.uniform(20, 200, 150), rng.uniform(1, 15, 150), strict=True))
    ]
    config = ForecastConfig(horizon=14, methods=("window_average", "rolling_median", "seasonal_naive"))
    report, _ = backtest_report(run_forecasts(pd.concat(rows), config), config)
    chosen = report["overall"][CHOSEN]
    assert abs(chosen["coverage_80"] - 0.80) <= 0.05 and abs(chosen["coverage_95"] - 0.95) <= 0.05
    baseline = report["overall"]["seasonal_naive"]
    assert abs(baseline["coverage_95"] - 0.95) <= 0.05  # every method gets intervals of the same kind


def test_report_layout_and_choice_counts():
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", periods=90)
    history = pd.concat(
        pd.DataFrame({"store_id": 1, "item_id": item, "ds": days, "y": rng.poisson(5 + item, 90).astype(float)})
        for item in range(3)
    )
    config = ForecastConfig(horizon=7)
    output = run_forecasts(history, config)
    forecast = output[output.kind == "forecast"]
    assert len(forecast) == 3 * 7 and str(forecast["ds"].min()) == "2024-03-31"
    assert (forecast["yhat_lower_95"] <= forecast["yhat_lower_80"]).all()
    assert (forecast["yhat_upper_80"] <= forecast["yhat_upper_95"]).all()
    report, per_series = backtest_report(output, config)
    assert list(report)[0] == "overall" and set(report["overall"]) == {CHOSEN, *config.methods}
    assert {"mae", "rmse", "r2", "smape", "mase", "coverage_80", "coverage_95"} <= set(report["overall"][CHOSEN])
    members = report["chosen_methods"]["forecast"]["member"]
    assert (
        sum(members.values()) == 3 * config.ensemble and sum(report["chosen_methods"]["backtest"]["best"].values()) == 3
    )
    assert report["comparison"]["smape_ratio"] == pytest.approx(
        report["overall"][CHOSEN]["smape"] / report["overall"]["seasonal_naive"]["smape"], rel=1e-4
    )
    assert set(per_series["method"]) == {CHOSEN, *config.methods} and per_series["method_used"].notna().all()
    series = report["series"][0]
    assert series["method"].count("+") == 2 and series["backtest_choice"].count("+") == 2


def test_forecast_group_keeps_the_spark_schema():
    history = _panel(weeks=40).assign(y=lambda f: 10.0 + np.arange(len(f)) % 3)
    out = forecast_group(history, ForecastConfig(horizon=4, freq="W"))
    assert list(out.columns) == fc.OUTPUT_COLUMNS and set(out["kind"]) == {"forecast", "backtest", "residual"}


def test_global_model_rows_learn_only_from_before_their_cutoff():
    from models.sales import global_model

    rng = np.random.default_rng(4)
    ds = pd.date_range("2024-01-01", periods=200)
    y = rng.poisson(20, 200).astype(float)
    poisoned = y.copy()
    poisoned[150:] = 1e6
    X, target = global_model.training_rows(y, ds, 150, 14, "D")
    X2, target2 = global_model.training_rows(poisoned, ds, 150, 14, "D")
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(target, target2)
    assert len(target) == global_model.ORIGINS * 14 and X.shape[1] == len(global_model.FEATURES)
    features, (level,) = global_model.origin_features(y, ds[0], [150], 14, "D")
    assert level == pytest.approx(y[122:150].mean()) and list(features[:, 0]) == list(range(1, 15))
    assert features[0, 1] == pytest.approx(y[149] / level)  # the last value over the level
    assert features[0, 6] == pytest.approx(y[143] / level) and features[8, 6] == pytest.approx(y[145] / level)
    assert features[0, 8] == ds[150].dayofweek and features[3, 8] == ds[153].dayofweek


def test_global_model_learns_a_shape_shared_by_all_series():
    """Short, noisy series of many sizes that share one weekly shape: one model over all of them
    beats the per-series window average."""
    rng = np.random.default_rng(8)
    days = pd.date_range("2024-01-01", periods=120)
    shape = np.array([0.6, 0.7, 0.8, 0.9, 1.0, 1.6, 1.4])
    frames = [
        pd.DataFrame({"store_id": 1, "item_id": i, "ds": days, "y": rng.poisson(size * np.tile(shape, 18)[:120])})
        for i, size in enumerate(rng.uniform(3, 60, 80))
    ]
    config = ForecastConfig(horizon=14, methods=("window_average", "lightgbm"))
    report, _ = backtest_report(run_forecasts(pd.concat(frames).astype({"y": float}), config), config)
    assert report["overall"]["lightgbm"]["mae"] < 0.85 * report["overall"]["window_average"]["mae"]
