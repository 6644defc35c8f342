"""python -m jobs.backtest on users' files: metrics.json layout, weekly data, one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

from jobs import backtest


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
    assert backtest.main(args + ["--uncertainty-samples", "100"]) == 0
    report = json.loads(out.read_text())
    assert list(report)[0] == "overall"
    for method in ("prophet", "seasonal_naive"):
        metrics = report["overall"][method]
        assert {"mae", "rmse", "r2", "smape", "mase", "coverage_95"} <= set(metrics)
        assert metrics["n_points"] == 4 * 2 * 14 and 0 <= metrics["coverage_95"] <= 1
    assert len(report["series"]) == 4 and set(report["series"][0]["backtest"]) == {"prophet", "seasonal_naive"}
    assert report["config"]["horizon"] == 14 and report["data"]["last"] == "2017-05-20"
    assert "SMAPE ratio prophet / seasonal_naive" in capsys.readouterr().out


def test_weekly_frequency_sums_days_into_weeks(kaggle_csv, tmp_path):
    out = tmp_path / "weekly.json"
    args = ["--data", str(kaggle_csv), "--freq", "W", "--horizon", "4", "--out", str(out), "--sequential"]
    assert backtest.main(args + ["--min-history", "8", "--uncertainty-samples", "100"]) == 0
    report = json.loads(out.read_text())
    assert report["config"]["freq"] == "W" and report["overall"]["prophet"]["n_points"] == 4 * 4


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
