"""The HTML report from a database holding one of every result: written as the read-only user, self-
contained, and drawn by a real browser (headless Chromium: every chart's image decoded); the
screenshot is kept under RP_ARTIFACT_DIR (CI) or the test's folder."""

import os
import re
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from common.db import connect, transaction
from jobs.reporting.html_report import CHARTS
from tests.support import run_job

pytestmark = pytest.mark.integration
DAY = date(2026, 1, 1)
NOW = datetime(2026, 1, 2, 3, 0)


def fill(settings):
    days = [DAY - timedelta(days=d) for d in range(1, 40)]
    rows = {
        "daily_sales (sale_date, store_id, item_id, units, revenue, sale_lines)": [
            (d, 1, 1, 10 + d.day % 7, 20.0, 1) for d in days
        ],
        "forecast_runs (run_key, as_of, horizon, series, fallback_series, params_json, finished_at)": [
            ("daily", DAY, 30, 1, 0, "{}", NOW),
            ("past", DAY - timedelta(days=10), 30, 1, 0, "{}", NOW),  # its days 1-9 have happened
        ],
        "sales_forecasts (run_key, forecast_date, store_id, item_id, yhat, yhat_lower_80, yhat_upper_80,"
        " yhat_lower_95, yhat_upper_95, method)": [
            *[("daily", DAY + timedelta(days=d), 1, 1, 12.0, 9.0, 15.0, 7.0, 17.0, "theta") for d in range(30)],
            *[("past", DAY - timedelta(days=d), 1, 1, 12.0, 9.0, 15.0, 7.0, 17.0, "theta") for d in range(1, 10)],
        ],
        "sentiment_sales_daily (day, store_id, item_id, documents, negative, neutral, positive, net_sentiment)": [
            (d, 1, i, 4, i % 3, 1, 3 - i % 3, 0.1) for d in days for i in (1, 2)
        ],
        "product_predictions (model_name, kind, model_version, as_of, store_id, item_id, prediction, lower_bound,"
        " upper_bound, flagged, top_features, reason, run_id, scored_at)": [
            ("risk_m", "risk", "1", DAY, 1, 1, 0.8, None, None, 1, "[]", "risk up: falling sales", "r1", NOW),
            (
                "volume_m",
                "volume",
                "1",
                DAY,
                1,
                1,
                300.0,
                250.0,
                350.0,
                None,
                "[]",
                "sales up: rising sales",
                "r1",
                NOW,
            ),
        ],
        "recommender_evaluations (mlflow_run_id, method, evaluated_at, model_version, k, precision_at_k,"
        " recall_at_k, map_at_k, ndcg_at_k, users, train_cutoff)": [
            ("run1", "als", NOW, "1", 10, 0.1, 0.2, 0.25, 0.3, 100, NOW),
            ("run1", "popularity", NOW, None, 10, 0.05, 0.1, 0.1, 0.15, 100, NOW),
        ],
        "drift_checks (model_name, model_version, current_as_of, reference_as_of, drifted_features,"
        " prediction_psi, decayed, retrain, reason, checked_at)": [
            ("risk_m", "1", DAY, "2025-12-01", 1, 0.02, 0, 1, "1 feature(s) drifted (price_28)", NOW)
        ],
        "model_drift (model_name, model_version, current_as_of, feature, test, statistic, p_value, psi, drift,"
        " psi_flag, checked_at)": [
            ("risk_m", "1", DAY, "price_28", "ks", 0.5, 0.001, 0.4, 1, 1, NOW),
            ("risk_m", "1", DAY, "units_7", "ks", 0.05, 0.6, 0.01, 0, 0, NOW),
        ],
        "stream_batches (query_name, batch_id, rows_in, rows_written, rows_quarantined, late_rows, duration_ms,"
        " started_at, finished_at, first_arrival)": [
            ("raw_transactions", 0, 1000, 990, 10, 0, 1200, NOW, NOW, NOW - timedelta(seconds=90))
        ],
        "recommendations (visitor_id, rank_no, item_id, score, fallback, model_version, run_id, generated_at)": [
            (7, 1, 1, 0.9, 0, "1", "run1", NOW)
        ],
        "product_catalogue (item_id, product_name, brand, category, source, updated_at)": [
            (1, "Acme Granola", "Acme", "Granola", "csv", NOW)
        ],
        "review_sentiment (doc_type, doc_id, item_id, store_id, created_at, sentiment, confidence, p_negative,"
        " p_neutral, p_positive, synthetic, text, model_version, scored_at)": [
            (
                "review",
                f"r{n}",
                1,
                1,
                NOW,
                "negative" if n < 7 else "positive",
                0.9,
                0.9,
                0.05,
                0.05,
                0,
                "meh",
                "m/1",
                NOW,
            )
            for n in range(10)
        ],
        "quarantined_events (source_topic, source_partition, source_offset, query_name, batch_id, reason_code,"
        " reason)": [("t", 0, n, "raw_transactions", 0, "bad_number", "units='x'") for n in range(10)],
    }
    conn = connect(settings)
    with transaction(conn) as cur:
        for table, values in rows.items():
            columns = table[table.index("(") :]
            marks = ", ".join(["%s"] * (columns.count(",") + 1))
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    conn.close()


def test_empty_database_says_what_fills_each_section(private_db, tmp_path):
    out = run_job("reporting", "html", "--out", tmp_path / "empty.html", timeout=300).stdout
    assert "0 of 6 charts" in out and "trigger model_monitoring" in out and "trigger retail_pipeline" in out


def test_every_chart_renders_in_a_headless_browser(private_db, tmp_path):
    fill(private_db)
    page = tmp_path / "report.html"
    assert "6 of 6 charts" in run_job("reporting", "html", "--out", page, timeout=300).stdout
    text = page.read_text()
    assert re.findall(r'data-chart="(\w+)" data-has-image="1"', text) == list(CHARTS)
    assert "http://" not in text and "https://" not in text  # self-contained: nothing to fetch
    assert "risk up: falling sales" in text and "1 feature(s) drifted (price_28)" in text
    # names from the product dimension; the top-products, most-criticised and latency tables
    assert "<td>Acme Granola (item 1)</td><td>1</td><td>360</td><td>" in text  # 30 days x 12 units forecast
    assert "<td>Acme Granola</td><td>10</td><td>70%</td><td>30%</td>" in text
    assert "<td>1,200</td><td>90</td><td>90</td>" in text  # batch ms, mean and max latency (s)
    assert "<td>Acme Granola (item 1)</td><td>1 of 1</td><td>1</td>" in text  # the most recommended
    # sales 10 + day % 7 against a forecast of 12 on the nine realised days of the past run
    errors = [abs(10 + (DAY - timedelta(days=d)).day % 7 - 12) for d in range(1, 10)]
    assert f"run past, 9 forecast days that have happened: mean absolute error {sum(errors) / 9:.2f} units" in text

    browser = ["chromium-headless-shell", "--no-sandbox", "--disable-gpu", "--window-size=1100,4200"]
    dom = subprocess.run(
        [*browser, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-rendered="6"' in dom.stdout, dom.stderr[-2000:]
    shots = Path(os.environ.get("RP_ARTIFACT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "report.png"
    subprocess.run([*browser, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
