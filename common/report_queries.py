"""Every query the reports read from MySQL, defined once: the text report (`retail-pulse reporting text`), the
HTML report (`retail-pulse reporting html`) and `retail-pulse reviews insight` format what these return.

Each function returns a DataFrame with named columns, or plain values where a report prints them as they are;
everything is read as the analysts' read-only account.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from common.db import query
from common.settings import Settings


def frame(settings: Settings, sql: str, columns: list[str], params: tuple = (), role: str = "reader") -> pd.DataFrame:
    """A query's rows as a DataFrame; SUM() and ROUND() results (Decimal) as floats."""
    out = pd.DataFrame(query(settings, sql, params, role=role), columns=columns)
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, Decimal)).any():
            out[column] = out[column].astype(float)
    return out


def product_names(settings: Settings) -> dict[int, str]:
    """item_id -> product name, from the product dimension the analysts use."""
    names = frame(settings, "SELECT item_id, product_name FROM v_dim_product", ["item_id", "name"])
    return dict(zip(names["item_id"], names["name"], strict=True))


# --- ingest and stream health -----------------------------------------------------------------------------


def raw_table_counts(settings: Settings, tables: list[str]) -> dict[str, int]:
    return {t: int(query(settings, f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}


def quarantine_reasons(settings: Settings) -> pd.DataFrame:
    """Quarantined rows by reason code, most frequent first."""
    return frame(
        settings,
        "SELECT reason_code, COUNT(*) FROM v_quarantine_reasons GROUP BY reason_code ORDER BY COUNT(*) DESC",
        ["reason", "rows"],
    )


def stream_health(settings: Settings) -> pd.DataFrame:
    """Per stream query: batches, rows in / written / quarantined / late, mean batch ms, mean and max latency
    in seconds, the last batch's time; then, from its newest lag check, the messages it had not landed
    and the age in hours of the newest event it had."""
    batches = frame(
        settings,
        "SELECT query_name, COUNT(*), SUM(rows_in), SUM(rows_written), SUM(rows_quarantined),"
        " SUM(late_rows), ROUND(AVG(duration_ms)), ROUND(AVG(latency_ms) / 1000, 1),"
        " ROUND(MAX(latency_ms) / 1000, 1), MAX(finished_at) FROM v_pipeline_health GROUP BY query_name"
        " ORDER BY query_name",
        ["query", "batches", "in", "written", "quarantined", "late", "avg_ms", "latency", "max_latency", "last"],
    )
    lag = frame(
        settings,
        "SELECT query_name, SUM(unread), MAX(newest_event_age_hours) FROM v_stream_lag WHERE is_latest = 1"
        " GROUP BY query_name",
        ["query", "unread", "event_age_h"],
    )
    return batches.merge(lag, on="query", how="left")


def recent_alerts(settings: Settings, limit: int = 10) -> tuple[int, pd.DataFrame]:
    """How many alerts were raised in all, and the newest ``limit`` (failed tasks: when, where, why)."""
    total = int(query(settings, "SELECT COUNT(*) FROM v_pipeline_alerts")[0][0])
    newest = frame(
        settings,
        "SELECT raised_at, dag_id, task_id, run_id, reason FROM v_pipeline_alerts ORDER BY raised_at DESC LIMIT %s",
        ["raised_at", "dag", "task", "run", "reason"],
        (limit,),
    )
    return total, newest


# --- sales and forecasts ----------------------------------------------------------------------------------


def sales_summary(settings: Settings) -> dict:
    days, series, rows, units, first, last = query(
        settings,
        "SELECT COUNT(DISTINCT sale_date), COUNT(DISTINCT store_id, item_id), COUNT(*), SUM(units),"
        " MIN(sale_date), MAX(sale_date) FROM daily_sales",
    )[0]
    return {
        "daily_rows": int(rows),
        "days": int(days),
        "series": int(series),
        "units": int(units or 0),
        "first_day": str(first) if first else None,
        "last_day": str(last) if last else None,
    }


def newest_forecast_run(settings: Settings) -> dict | None:
    runs = query(
        settings,
        "SELECT r.run_key, r.as_of, r.series, r.fallback_series, r.smape_chosen, r.smape_seasonal_naive,"
        " r.coverage_95_chosen, r.mlflow_run_id, (SELECT COUNT(*) FROM sales_forecasts f WHERE f.run_key = r.run_key)"
        " FROM forecast_runs r ORDER BY r.as_of DESC, r.finished_at DESC LIMIT 1",
    )
    if not runs:
        return None
    keys = ("run_key", "as_of", "series", "fallback_series", "smape_chosen", "smape_seasonal_naive")
    run = dict(zip(keys + ("coverage_95_chosen", "mlflow_run_id", "forecast_rows"), runs[0], strict=True))
    return run | {"as_of": str(run["as_of"])}


def busiest_forecast_series(settings: Settings) -> pd.DataFrame:
    """The store-item the newest forecasts expect to sell most of."""
    return frame(
        settings,
        "SELECT store_id, item_id, SUM(yhat) FROM v_latest_forecasts GROUP BY store_id, item_id"
        " ORDER BY SUM(yhat) DESC LIMIT 1",
        ["store_id", "item_id", "total"],
    )


def series_forecast(settings: Settings, store: int, item: int) -> pd.DataFrame:
    return frame(
        settings,
        "SELECT forecast_date, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95,"
        " as_of FROM v_latest_forecasts WHERE store_id = %s AND item_id = %s ORDER BY forecast_date",
        ["day", "yhat", "lo80", "hi80", "lo95", "hi95", "as_of"],
        (store, item),
    )


def series_sales(settings: Settings, store: int, item: int, until, days: int) -> pd.DataFrame:
    return frame(
        settings,
        "SELECT sale_date, units FROM daily_sales WHERE store_id = %s AND item_id = %s"
        " AND sale_date >= %s - INTERVAL %s DAY ORDER BY sale_date",
        ["day", "units"],
        (store, item, until, days),
    )


def series_past_forecast(settings: Settings, store: int, item: int) -> pd.DataFrame:
    """The newest earlier run whose forecast days have happened, for one series."""
    return frame(
        settings,
        "SELECT forecast_date, yhat, yhat_lower_95, yhat_upper_95, as_of FROM v_forecast_vs_actual"
        " WHERE store_id = %s AND item_id = %s AND as_of = (SELECT MAX(as_of) FROM v_forecast_vs_actual"
        " WHERE store_id = %s AND item_id = %s) ORDER BY forecast_date",
        ["day", "yhat", "lo95", "hi95", "as_of"],
        (store, item, store, item),
    )


def realised_accuracy(settings: Settings) -> pd.DataFrame:
    """The newest run that has met its actual sales: forecast days that happened, MAE, share inside 95%."""
    return frame(
        settings,
        "SELECT run_key, COUNT(*), AVG(abs_error), AVG(inside_95) FROM v_forecast_vs_actual"
        " GROUP BY run_key, as_of ORDER BY as_of DESC LIMIT 1",
        ["run", "points", "mae", "inside"],
    )


def top_forecast_products(settings: Settings, as_of, horizon: int, top: int) -> pd.DataFrame:
    """The products forecast to sell most over the newest run's horizon (all stores), next to what they sold
    over the same number of days before it."""
    return frame(
        settings,
        "SELECT f.item_id, p.product_name, COUNT(DISTINCT f.store_id), SUM(f.yhat),"
        " (SELECT COALESCE(SUM(s.units), 0) FROM v_daily_sales s WHERE s.item_id = f.item_id"
        "  AND s.sale_date > %s - INTERVAL %s DAY AND s.sale_date <= %s)"
        " FROM v_latest_forecasts f JOIN v_dim_product p ON p.item_id = f.item_id"
        " GROUP BY f.item_id, p.product_name ORDER BY SUM(f.yhat) DESC, f.item_id LIMIT %s",
        ["item", "name", "stores", "forecast", "before"],
        (as_of, horizon, as_of, top),
    )


# --- reviews ----------------------------------------------------------------------------------------------


def scored_documents(settings: Settings) -> dict[str, dict[str, int]]:
    """Scored documents by type and class."""
    counts = query(settings, "SELECT doc_type, sentiment, COUNT(*) FROM review_sentiment GROUP BY doc_type, sentiment")
    scored: dict = {}
    for doc_type, label, n in counts:
        scored.setdefault(doc_type, {})[label] = int(n)
    return scored


def sentiment_champion(settings: Settings) -> dict | None:
    """The newest promoted sentiment model's holdout metric next to VADER's."""
    model = query(
        settings,
        "SELECT model_name, model_version, metric, challenger_value, baseline_value FROM model_decisions"
        " WHERE promoted = 1 AND model_name = %s ORDER BY decided_at DESC LIMIT 1",
        (settings.sentiment_model,),
    )
    keys = ("model", "version", "metric", "model_value", "vader_value")
    return dict(zip(keys, model[0], strict=True)) if model else None


def top_negative_products(settings: Settings, top: int, min_documents: int) -> list[dict]:
    """The items with the highest share of negative reviews and posts (all stores), named by the
    product dimension."""
    rows = query(
        settings,
        "SELECT s.item_id, p.product_name, SUM(s.documents), SUM(s.negative) / SUM(s.documents) AS share,"
        " SUM(s.positive) / SUM(s.documents) FROM v_product_sentiment s JOIN v_dim_product p ON p.item_id = s.item_id"
        " GROUP BY s.item_id, p.product_name HAVING SUM(s.documents) >= %s ORDER BY share DESC, s.item_id LIMIT %s",
        (min_documents, top),
    )
    return [
        {"item_id": i, "product": name, "documents": int(d), "negative_share": float(neg), "positive_share": float(pos)}
        for i, name, d, neg, pos in rows
    ]


def daily_item_sentiment(settings: Settings) -> pd.DataFrame:
    """Per day and item (all stores): documents and positive minus negative ones."""
    return frame(
        settings,
        "SELECT day, item_id, SUM(documents), SUM(positive) - SUM(negative) FROM"
        " sentiment_sales_daily GROUP BY day, item_id",
        ["day", "item_id", "documents", "net"],
    )


# --- recommendations --------------------------------------------------------------------------------------


def recommendation_counts(settings: Settings) -> dict:
    """Interaction and list counts and the model that made the lists."""
    visitors, items, pairs = query(
        settings, "SELECT COUNT(DISTINCT visitor_id), COUNT(DISTINCT item_id), COUNT(*) FROM interactions"
    )[0]
    listed, fallback, model = query(
        settings,
        "SELECT COUNT(DISTINCT visitor_id), COUNT(DISTINCT IF(fallback, visitor_id, NULL)),"
        " MAX(model_version) FROM recommendations",
    )[0]
    return {
        "interactions": {"visitors": int(visitors), "items": int(items), "pairs": int(pairs)},
        "listed_visitors": int(listed),
        "fallback_visitors": int(fallback or 0),
        "model_version": model,
    }


def recommender_evaluations(settings: Settings) -> pd.DataFrame:
    """Every training's holdout evaluation, oldest first: the chosen method against ALS, all-time and recent
    popularity."""
    return frame(
        settings,
        "SELECT evaluated_at, model_version, k, users, chosen_method, chosen_map, als_map, popularity_map,"
        " recent_popularity_map, map_lift, recent_map_lift, chosen_ndcg, popularity_ndcg"
        " FROM v_recommender_quality ORDER BY evaluated_at",
        [
            "at",
            "model_version",
            "k",
            "users",
            "method",
            "chosen",
            "als",
            "popularity",
            "recent",
            "map_lift",
            "recent_lift",
            "chosen_ndcg",
            "popularity_ndcg",
        ],
    )


def example_list(settings: Settings) -> dict | None:
    """One visitor's list (the lowest id the model knew)."""
    example = query(
        settings,
        "SELECT visitor_id, GROUP_CONCAT(item_id ORDER BY rank_no) FROM recommendations"
        " WHERE visitor_id = (SELECT MIN(visitor_id) FROM recommendations WHERE fallback = 0) GROUP BY visitor_id",
    )
    return {"visitor_id": example[0][0], "items": example[0][1]} if example else None


def most_recommended(settings: Settings, top: int = 10) -> pd.DataFrame:
    return frame(
        settings,
        "SELECT p.product_name, r.item_id, COUNT(*), SUM(r.rank_no = 1), MAX(r.item_visitors),"
        " (SELECT COUNT(DISTINCT visitor_id) FROM v_recommendations) FROM v_recommendations r"
        " JOIN v_dim_product p ON p.item_id = r.item_id GROUP BY p.product_name, r.item_id"
        " ORDER BY COUNT(*) DESC, r.item_id LIMIT %s",
        ["name", "item", "lists", "first", "visitors", "all"],
        (top,),
    )


# --- product models ---------------------------------------------------------------------------------------


def riskiest_products(settings: Settings, top: int) -> pd.DataFrame:
    """The riskiest products of the latest scoring run, each at its riskiest store, named by the product
    dimension, with the expected units of the next 28 days and their 80% interval."""
    risky = frame(
        settings,
        "SELECT r.item_id, r.store_id, r.risk, r.risk_reason, r.expected_units_28, r.units_lower_80,"
        " r.units_upper_80, r.as_of, p.product_name FROM v_product_risk r JOIN v_dim_product p"
        " ON p.item_id = r.item_id ORDER BY r.risk DESC, r.store_id, r.item_id",
        ["item_id", "store_id", "risk", "reason", "units", "low", "high", "as_of", "product"],
    )
    return risky.drop_duplicates("item_id").head(top).reset_index(drop=True)


def product_champions(settings: Settings) -> list[dict]:
    """Each product model's newest promoted version against its baseline on the holdout."""
    models = query(
        settings,
        "SELECT d.model_name, d.model_version, d.metric, d.challenger_value, d.baseline_value FROM model_decisions d"
        " WHERE d.promoted = 1 AND d.model_name IN (%s, %s) AND d.decided_at = (SELECT MAX(x.decided_at)"
        " FROM model_decisions x WHERE x.model_name = d.model_name AND x.promoted = 1) ORDER BY d.model_name",
        (settings.risk_model, settings.volume_model),
    )
    return [dict(zip(("model", "version", "metric", "value", "baseline"), m, strict=True)) for m in models]


def drift_verdicts(settings: Settings) -> list[dict]:
    """The newest drift check of each model: retrain or not, and why."""
    drift = query(
        settings,
        "SELECT model_name, current_as_of, retrain, reason FROM drift_checks c WHERE current_as_of ="
        " (SELECT MAX(x.current_as_of) FROM drift_checks x WHERE x.model_name = c.model_name) ORDER BY model_name",
    )
    return [{"model": m, "as_of": str(d), "retrain": bool(r), "reason": why} for m, d, r, why in drift]


def feature_drift(settings: Settings) -> pd.DataFrame:
    """PSI and the test's verdict per feature of each model's newest check."""
    return frame(
        settings,
        "SELECT model_name, current_as_of, reason, feature, psi, drift, psi_flag FROM v_model_drift"
        " ORDER BY model_name, feature",
        ["model", "as_of", "reason", "feature", "psi", "drift", "psi_flag"],
    )
