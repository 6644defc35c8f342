"""Forecast metrics, backtest windowing and the fallback path (pure functions, no services)."""

import math

import numpy as np
import pandas as pd
import pytest

from models import metrics
from models.forecasting import (
    ForecastConfig,
    backtest_report,
    backtest_series,
    backtest_windows,
    complete_series,
    forecast_group,
    forecast_series,
    seasonal_naive,
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


def test_seasonal_scale_is_the_in_sample_seasonal_naive_mae():
    y = np.array([1, 2, 3, 1, 2, 3, 2, 2, 3], dtype=float)
    assert metrics.seasonal_scale(y, 3) == pytest.approx((0 + 0 + 0 + 1 + 0 + 0) / 6)
    assert metrics.seasonal_scale(y[:2], 3) == pytest.approx(1.0)  # shorter than a season: lag 1


def test_backtest_windows_roll_back_from_the_end():
    assert backtest_windows(100, 10) == [(90, 100)]
    assert backtest_windows(100, 10, folds=3) == [(70, 80), (80, 90), (90, 100)]
    assert backtest_windows(100, 10, folds=2, step=5) == [(85, 95), (90, 100)]
    with pytest.raises(ValueError, match="cannot hold"):
        backtest_windows(20, 10, folds=2)


def test_seasonal_naive_repeats_the_last_season_and_widens_by_season():
    y = np.array([5, 1, 1, 1, 1, 1, 9, 5, 1, 1, 1, 1, 1, 9], dtype=float)
    out = seasonal_naive(y, 10, 7)
    assert list(out["yhat"]) == [5, 1, 1, 1, 1, 1, 9, 5, 1, 1]
    assert np.all(out["yhat_lower_95"] == out["yhat"]) and np.all(out["yhat_upper_80"] == out["yhat"])  # no error
    noisy = seasonal_naive(y + np.r_[np.zeros(7), np.ones(7)], 14, 7)
    width = noisy["yhat_upper_95"] - noisy["yhat"]
    assert width[7] == pytest.approx(width[0] * math.sqrt(2))  # second season ahead
    assert np.all(noisy["yhat_lower_95"] >= 0) and np.all(noisy["yhat_upper_95"] > noisy["yhat_upper_80"])


@pytest.mark.parametrize(
    ("values", "reason"),
    [(np.ones(10), "too_short"), (np.zeros(60), "all_zero"), (np.full(60, 4.0), "constant")],
)
def test_fallback_is_seasonal_naive_with_a_reason(values, reason):
    ds = pd.date_range("2024-01-01", periods=len(values))
    columns, method, why = forecast_series(ds, values, ForecastConfig(horizon=5))
    assert method == "seasonal_naive" and why.startswith(reason)
    assert len(columns["yhat"]) == 5 and np.all(columns["yhat_lower_95"] <= columns["yhat"])


def test_prophet_failure_falls_back_instead_of_crashing(monkeypatch):
    import models.forecasting as fc

    def broken(*args):
        raise RuntimeError("stan exploded")

    monkeypatch.setattr(fc, "prophet_forecast", broken)
    ds = pd.date_range("2024-01-01", periods=60)
    _, method, why = forecast_series(ds, np.arange(60.0) % 7, ForecastConfig(horizon=5))
    assert method == "seasonal_naive" and why.startswith("prophet_failed") and "stan exploded" in why


def test_complete_series_fills_missing_days_and_sums_weeks():
    ds, y = complete_series(["2024-01-01", "2024-01-03", "2024-01-03"], [1, 2, 3], "D", end="2024-01-05")
    assert list(y) == [1, 0, 5, 0, 0] and len(ds) == 5
    weeks, totals = complete_series(["2024-01-01", "2024-01-07", "2024-01-08", "2024-01-20"], [1, 2, 3, 4], "W")
    assert [str(d.date()) for d in weeks] == ["2024-01-01", "2024-01-08", "2024-01-15"] and list(totals) == [3, 3, 4]


def test_backtest_scores_both_methods_on_the_same_points():
    ds = pd.date_range("2024-01-01", periods=40)
    y = np.zeros(40)  # all zero: the production path falls back, the baseline is the baseline
    points = backtest_series(ds, y, ForecastConfig(horizon=7, folds=2, min_history=10))
    assert set(points["method"]) == {"prophet", "seasonal_naive"}
    assert len(points) == 2 * 2 * 7
    by_method = points.groupby("method")["ds"].apply(tuple)
    assert by_method["prophet"] == by_method["seasonal_naive"]  # identical held-out points
    assert set(points["cutoff"].astype(str)) == {"2024-01-26", "2024-02-02"}
    assert set(points.loc[points.method == "prophet", "fallback_reason"]) == {"all_zero"}


def test_report_has_overall_by_method_then_series():
    history = pd.DataFrame({"store_id": 1, "item_id": 2, "ds": pd.date_range("2024-01-01", periods=30), "y": 0.0})
    config = ForecastConfig(horizon=5)
    output = forecast_group(history, config)
    forecast = output[output.kind == "forecast"]
    assert list(forecast["ds"].astype(str))[:2] == ["2024-01-31", "2024-02-01"] and len(forecast) == 5
    report, per_series = backtest_report(output, config)
    assert set(report["overall"]) == {"prophet", "seasonal_naive"}
    assert {"mae", "rmse", "r2", "smape", "mase", "coverage_95"} <= set(report["overall"]["prophet"])
    assert report["overall"]["prophet"]["mae"] == 0 and report["overall"]["prophet"]["r2"] is None  # NaN -> null
    assert report["series"][0]["fallback_reason"] == "all_zero" and report["fallback_series"] == 1
    assert len(per_series) == 2
