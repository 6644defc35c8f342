"""jobs.sales.forecast on a small multi-series set in a private database: intervals, keys, idempotent
re-run, fallback reasons, MLflow run contents."""

import json
from datetime import date, timedelta

import numpy as np
import pytest

from common.db import connect, query, transaction
from models.sales.forecast_methods import FAST_METHODS
from tests.support import run_job

pytestmark = pytest.mark.integration
AS_OF = date(2024, 4, 29)
FORECAST = ("--as-of", str(AS_OF), "--horizon", "14", "--name", "it", "--plots", "2")


def seed_daily_sales(settings):
    rng = np.random.default_rng(3)
    rows = []
    for item in (1, 2, 3):  # 120 days with a weekly pattern
        for k in range(120):
            day = AS_OF - timedelta(days=119 - k)
            rows.append((day, 1, item, int(rng.poisson(4 * item * (1.5 if day.weekday() >= 5 else 1))), 1.0, 1))
    rows += [(AS_OF - timedelta(days=k), 2, 1, 0, 0.0, 1) for k in range(60)]  # all zero
    rows += [(AS_OF - timedelta(days=k), 2, 2, 3, 3.0, 1) for k in range(10)]  # too short
    conn = connect(settings, "writer")
    with transaction(conn) as cur:
        cur.executemany("INSERT INTO daily_sales VALUES (%s, %s, %s, %s, %s, %s, DEFAULT)", rows)
    conn.close()


def test_forecast_run_is_complete_idempotent_and_tracked(private_db):
    settings = private_db
    seed_daily_sales(settings)
    out = run_job("sales", "forecast", *FORECAST).stdout
    assert "series: 5 (1 on the seasonal-naive fallback)" in out
    assert "chosen / seasonal_naive: SMAPE ratio" in out and "methods in the forecasts' choices:" in out
    columns = (
        "forecast_date, store_id, item_id, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, method"
    )
    first = query(settings, f"SELECT {columns}, fallback_reason FROM sales_forecasts ORDER BY 2, 3, 1")
    assert len(first) == 5 * 14
    assert len({(r[0], r[1], r[2]) for r in first}) == len(first)  # unique keys
    assert {r[0] for r in first} == {AS_OF + timedelta(days=k) for k in range(1, 15)}
    for r in first:
        assert r[6] <= r[4] <= r[3] <= r[5] <= r[7], r  # 95% contains 80% contains the point
    reasons = {(r[1], r[2]): (r[8], r[9]) for r in first}
    assert reasons[(1, 1)][0].count("+") == 2 and reasons[(1, 1)][1] is None  # the three best candidates
    assert set(reasons[(1, 1)][0].split("+")) <= set(FAST_METHODS)
    assert reasons[(2, 2)][0] == "seasonal_naive" and reasons[(2, 2)][1].startswith("too_short")
    assert {r[3] for r in first if (r[1], r[2]) == (2, 1)} == {0.0}  # all zero so far: zero, not a fallback
    assert reasons[(2, 1)] == ("rolling_median", None)

    run_job("sales", "forecast", *FORECAST)  # same run key: replaced, not appended
    again = query(settings, f"SELECT {columns}, fallback_reason FROM sales_forecasts ORDER BY 2, 3, 1")
    assert again == first  # seeded: identical
    runs = query(settings, "SELECT run_key, series, fallback_series, mlflow_run_id FROM forecast_runs")
    assert len(runs) == 1 and runs[0][:3] == ("2024-04-29-it", 5, 1)
    accuracy = query(settings, "SELECT method, COUNT(*) FROM forecast_accuracy GROUP BY method ORDER BY method")
    assert accuracy == sorted((m, 4) for m in ("chosen", *FAST_METHODS))  # the 10-day series cannot hold out 14
    used = dict(
        query(settings, "SELECT item_id + 10 * store_id, method_used FROM forecast_accuracy WHERE method = 'chosen'")
    )
    assert all(used[11 + k].count("+") == 2 for k in range(3))  # three averaged on the dense series
    assert used[21] == "rolling_median"  # a series that sold nothing: the rolling median (zero)
    ((smape_chosen, smape_naive, coverage_95, methods),) = query(
        settings, "SELECT smape_chosen, smape_seasonal_naive, coverage_95_chosen, methods_json FROM forecast_runs"
    )
    assert smape_chosen > 0 and smape_naive > 0 and 0 < coverage_95 <= 1
    assert sum(json.loads(methods)["forecast"]["member"].values()) == 3 * 3 + 2  # 3 choices of 3, 2 single

    from mlflow.tracking import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri)
    run = client.get_run(runs[0][3])
    assert {"chosen_smape", "seasonal_naive_smape", "smape_ratio", "chosen_coverage_95"} <= set(run.data.metrics)
    assert any(name.startswith("chosen_member_") for name in run.data.metrics)
    assert run.data.params["horizon"] == "14" and run.data.params["methods"] == ",".join(FAST_METHODS)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "per_series_metrics.csv", "plots"} <= artifacts
    assert len(client.list_artifacts(run.info.run_id, "plots")) == 2


def test_stale_input_stops_the_forecast_unless_overridden_and_then_it_is_recorded(private_db):
    settings = private_db
    seed_daily_sales(settings)
    late = AS_OF + timedelta(days=30)
    small = ["--as-of", str(late), "--horizon", "7", "--max-series", "1"]
    small += ["--sequential", "--plots", "0", "--name", "stale"]

    refused = run_job("sales", "forecast", *small, ok=None)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert refused.stderr.strip() == (
        "error: newest sales 2024-04-29 are 30 days older than as-of 2024-05-29 (limit 7 days): the input has"
        " stopped arriving or the as-of day is wrong; pass --allow-stale to run anyway with a recorded warning"
    )
    assert query(settings, "SELECT COUNT(*) FROM forecast_runs")[0][0] == 0

    # a wider limit: fresh enough
    assert run_job("sales", "forecast", *small, "--max-staleness-days", "30", ok=None).returncode == 0
    overridden = run_job("sales", "forecast", *small, "--allow-stale", ok=None)
    assert overridden.returncode == 0, overridden.stderr[-2000:]
    assert "warning: newest sales 2024-04-29 are 30 days older" in overridden.stdout
    ((newest, warning, run_id),) = query(settings, "SELECT newest_input, warning, mlflow_run_id FROM forecast_runs")
    assert newest == AS_OF and warning.startswith("newest sales 2024-04-29 are 30 days older")

    from mlflow.tracking import MlflowClient

    run = MlflowClient(settings.mlflow_tracking_uri).get_run(run_id)
    assert run.data.tags["warning"] == warning and run.data.metrics["input_age_days"] == 30
