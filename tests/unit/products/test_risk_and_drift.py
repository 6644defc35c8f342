"""Drift statistics against scipy and hand computations; the risk table preparation, split,
threshold and evaluation on small frames; the evaluate_risk CLI's errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jobs.products import evaluate_risk
from models.products import drift
from models.products import tabular as risk


def test_psi_by_hand():
    reference, current = [0.5, 0.5], [0.25, 0.75]
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert drift.psi_from_shares(reference, current) == pytest.approx(expected)
    assert drift.categorical_psi(["a", "b"] * 50, ["a"] * 25 + ["b"] * 75) == pytest.approx(expected)
    assert drift.psi_from_shares([1.0, 0.0], [1.0, 0.0]) == 0.0  # empty bins floored, not infinite


def test_numeric_drift_matches_scipy_and_flags_a_shift():
    rng = np.random.default_rng(1)
    reference, same, shifted = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000), rng.normal(0.5, 1, 2000)
    result = drift.feature_drift(reference, shifted, categorical=False)
    ks = stats.ks_2samp(reference, shifted)
    assert result["test"] == "ks" and result["statistic"] == pytest.approx(ks.statistic)
    assert result["p_value"] == pytest.approx(ks.pvalue) and result["drift"] and result["psi_flag"]
    calm = drift.feature_drift(reference, same, categorical=False)
    assert not calm["drift"] and not calm["psi_flag"] and calm["psi"] < 0.05


def test_categorical_drift_matches_scipy():
    reference = ["a"] * 60 + ["b"] * 40
    current = ["a"] * 30 + ["b"] * 60 + ["c"] * 10
    result = drift.feature_drift(reference, current, categorical=True)
    chi2, p = stats.chi2_contingency(np.array([[60, 40, 0], [30, 60, 10]]))[:2]
    assert result["test"] == "chi_square" and result["statistic"] == pytest.approx(chi2)
    assert result["p_value"] == pytest.approx(p) and result["drift"]
    report = drift.drift_report(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current, "y": 1}), ["x"])
    assert report["feature"].tolist() == ["x"]  # only shared columns


def table_frame(n=600, seed=3):
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 100, n)
    category = rng.choice(["tools", "food", "toys"], n)
    # negative when price is extreme (a non-linear signal a linear baseline misses) or toys
    risky = (np.abs(price - 50) > 35) | ((category == "toys") & (rng.random(n) < 0.5))
    rating = np.where(risky, rng.integers(1, 3, n), rng.integers(3, 6, n))
    return pd.DataFrame(
        {
            "price": price,
            "category": category,
            "review": ["this is a long enough review text"] * n,
            "rating": rating,
            "day": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
        }
    )


def test_prepare_uses_each_column_by_kind_and_rejects_what_it_cannot_use():
    table = risk.prepare(table_frame(), "rating", 2, "day")
    assert table.numeric == ["price"] and table.categorical == ["category"] and table.text == ["review"]
    assert list(table.features.columns) == ["price", "category", "review_chars", "review_words"]
    labels = risk.prepare(pd.DataFrame({"label": ["negative", "positive", "neutral"], "x": [1, 2, 3]}), "label", 2)
    assert labels.target.tolist() == [1, 0, 0]
    with pytest.raises(risk.RiskDataError, match="no target column 'stars'"):
        risk.prepare(table_frame(), "stars", 2)
    with pytest.raises(risk.RiskDataError, match="nothing to learn"):
        risk.prepare(table_frame(), "rating", 10)
    bad = table_frame().assign(rating="x")
    with pytest.raises(risk.RiskDataError, match="row 1: rating='x' is not a number"):
        risk.prepare(bad, "rating", 2)


def test_tag_columns_become_one_indicator_per_tag():
    rng = np.random.default_rng(4)
    genres = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi"]
    rows = [sorted(rng.choice(genres, int(rng.integers(1, 4)), replace=False)) for _ in range(300)]
    frame = pd.DataFrame(
        {
            "genres": ["|".join(r) for r in rows],
            "colours": [", ".join(r[:2]).lower() for r in rows],
            "city": rng.choice(["New York", "Los Angeles", "Boston"], 300),  # words, but not tags
            "rating": [1 if "Horror" in r else 4 for r in rows],
        }
    )
    table = risk.prepare(frame, "rating", 2)
    assert table.tags == ["genres", "colours"] and table.categorical == ["city"]
    assert table.features["genres=Horror"].tolist() == [int("Horror" in r) for r in rows]
    assert "colours=sci-fi" in table.features and "genres" not in table.features
    report = risk.evaluate(table)
    assert report["lightgbm"]["roc_auc"] == pytest.approx(1.0) and report["data"]["tags"] == ["genres", "colours"]


def test_calibration_maps_overconfident_scores_to_observed_rates():
    rng = np.random.default_rng(5)
    truth = rng.uniform(0.2, 0.8, 4000)
    y = (rng.random(4000) < truth).astype(int)
    overconfident = 1 / (1 + np.exp(-4 * np.log(truth / (1 - truth))))  # right order, far too sure
    for method in ("platt", "isotonic"):
        mapping = risk.Calibration.choose(method, overconfident, y)
        assert mapping.method == method
        before = risk.classification_metrics(y, overconfident, 0.5)
        after = risk.classification_metrics(y, mapping(overconfident), 0.5)
        assert after["brier"] < before["brier"] and after["ece"] < 0.03 < before["ece"]
        assert after["roc_auc"] == pytest.approx(before["roc_auc"], abs=0.01)  # monotone: ranking kept
    honest = risk.Calibration.choose("platt", truth, y)  # nothing to fix: a no-op or near one
    assert np.abs(honest(truth) - truth).max() < 0.05
    assert risk.Calibration.choose("none", truth, y).method == "none"


def test_time_split_tests_the_newest_rows():
    table = risk.prepare(table_frame(100), "rating", 2, "day")
    train, test = risk.split_index(table, 0.2)
    assert table.time.iloc[train].max() < table.time.iloc[test].min() and len(test) == 20


def test_threshold_maximises_f1():
    y = [0, 0, 1, 1]
    assert risk.best_f1_threshold(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.35)


def test_evaluate_puts_lightgbm_next_to_the_baseline_with_shap():
    report = risk.evaluate(risk.prepare(table_frame(), "rating", 2, "day"))
    for name in ("lightgbm", "baseline"):
        assert {"roc_auc", "pr_auc", "f1", "brier", "ece", "threshold", "calibration", "reliability"} <= set(
            report[name]
        )
        bins = report[name]["reliability"]
        assert sum(b["rows"] for b in bins) == report["data"]["test_rows"]
    assert 1 <= report["lightgbm"]["trees"] < risk.MAX_TREES  # stopped early on the validation part
    assert report["lightgbm"]["roc_auc"] > report["baseline"]["roc_auc"] + 0.1  # the non-linear signal
    assert next(iter(report["shap_importance"])) == "price"
    assert report["shap_importance"]["review_chars"] == 0.0  # a constant column explains nothing


def test_cli_writes_metrics_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    path = tmp_path / "table.csv"
    table_frame().to_csv(path, index=False)
    out = tmp_path / "metrics.json"
    assert (
        evaluate_risk.main(["--data", str(path), "--target-col", "rating", "--time-col", "day", "--out", str(out)]) == 0
    )
    metrics = json.loads(out.read_text())
    assert {"lightgbm", "baseline", "shap_importance"} <= set(metrics)
    assert evaluate_risk.main(["--data", str(tmp_path / "nope.csv"), "--target-col", "rating", "--out", str(out)]) == 2
    assert evaluate_risk.main(["--data", str(path), "--target-col", "stars", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nope.csv'}: no such file", err[1]] and "no target column 'stars'" in err[1]
