"""retail-pulse sales backtest on users' files: metrics.json layout, weekly data, one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

from jobs.sales import backtest


@pytest.fixture
def kaggle_csv(tmp_path):
    rng = np.random.default_rng(0)
    days = pd.date_range("2017-01-01", periods=140)
    rows = [
        (d.date(), store, item, rng.poisson(3 * item * (1.4 if d.dayofweek >= 5 else 1)))
        for store in (1, 2)
        for item in (1, 2)
        for d in days
    ]
    path = tmp_path / "train.csv"
    pd.DataFrame(rows, columns=["date", "store", "item", "sales"]).to_csv(path, index=False)
    return path


def test_metrics_json_has_overall_by_method_then_series(kaggle_csv, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    args = ["--data", str(kaggle_csv), "--horizon", "14", "--folds", "2", "--out", str(out), "--sequential"]
    assert backtest.main(args) == 0
    report = json.loads(out.read_text())
    assert list(report)[0] == "overall"
    assert {"chosen", "prophet", "seasonal_naive", "theta", "rolling_median"} <= set(report["overall"])
    for method in ("chosen", "prophet", "seasonal_naive"):
        metrics = report["overall"][method]
        assert {"mae", "rmse", "r2", "smape", "mase", "coverage_80", "coverage_95"} <= set(metrics)
        assert metrics["n_points"] == 4 * 2 * 14 and 0 <= metrics["coverage_95"] <= 1
    assert len(report["series"]) == 4 and {"chosen", "prophet"} <= set(report["series"][0]["backtest"])
    assert "prophet" not in report["chosen_methods"]["backtest"]["member"]  # compared, never chosen
    assert report["config"]["horizon"] == 14 and report["data"]["last"] == "2017-05-20"
    assert report["config"]["missing"] == "gap"  # a period panel: an absent row is a gap
    assert "chosen / seasonal_naive: SMAPE ratio" in capsys.readouterr().out


def test_weekly_frequency_sums_days_into_weeks(kaggle_csv, tmp_path):
    out = tmp_path / "weekly.json"
    args = ["--data", str(kaggle_csv), "--freq", "W", "--horizon", "4", "--out", str(out), "--sequential"]
    assert backtest.main(args + ["--compare", ""]) == 0
    report = json.loads(out.read_text())
    assert report["config"]["freq"] == "W" and report["overall"]["chosen"]["n_points"] == 4 * 4


def test_decimal_sales_and_absent_weeks_of_a_weekly_panel(tmp_path, capsys):
    """Currency amounts per store x department and week, some weeks absent (as real panels have)."""
    rng = np.random.default_rng(2)
    weeks = pd.date_range("2010-02-05", periods=120, freq="7D")
    rows = [
        (d.date(), store, dept, round(24924.5 * dept + rng.normal(0, 900), 2))
        for store in (1, 2)
        for dept in (1, 3)
        for i, d in enumerate(weeks)
        if (i + dept) % 17  # every 17th week missing
    ]
    path = tmp_path / "weekly_sales.csv"
    pd.DataFrame(rows, columns=["date", "store", "item", "sales"]).to_csv(path, index=False)
    out = tmp_path / "m.json"
    argv = ["--data", str(path), "--freq", "W", "--horizon", "8", "--compare", "", "--sequential", "--out", str(out)]
    assert backtest.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["gaps"]["periods"] == 4 * 120 - len(rows) and report["config"]["missing"] == "gap"
    assert report["overall"]["chosen"]["n_points"] == sum(1 for r in rows if r[0] >= weeks[-8].date())
    assert report["overall"]["chosen"]["mae"] < 2000  # the gaps were not read as zero sales
    assert "gaps:" in capsys.readouterr().out
    zero = tmp_path / "zero.json"
    assert backtest.main([*argv[:-1], str(zero), "--missing", "zero"]) == 0
    assert json.loads(zero.read_text())["overall"]["chosen"]["n_points"] == 4 * 8


@pytest.mark.parametrize(
    ("content", "message"),
    [("x,y\n1,2\n", "unrecognised header x,y"), ("date,store,item,sales\n2017-01-01,1,1,two\n", "sales='two'")],
)
def test_a_bad_file_is_one_clear_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert backtest.main(["--data", str(path), "--out", str(tmp_path / "m.json"), "--sequential"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "m.json").exists()
