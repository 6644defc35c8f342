"""Print what the pipeline has written to MySQL: raw table counts, quarantine reasons, recent
batches, daily sales, the newest forecast run (with its backtest accuracy and MLflow run), and the
reviews: scored documents, the sentiment model against VADER, the most negative products; and the
recommendations: interactions, the newest ALS evaluation against popularity, a visitor's list;
the product models: the riskiest store-items with their reasons and expected sales, the models
against their baselines and the newest drift check.

retail-pulse reporting text            # a readable summary
retail-pulse reporting text --json     # the same as JSON, for scripts
"""

from __future__ import annotations

import argparse
import json
import sys

import mysql.connector

from common.cli import job_parser
from common.db import query
from common.settings import load_settings
from streaming.contracts import CONTRACTS


def collect(settings) -> dict:
    tables = {c.table: query(settings, f"SELECT COUNT(*) FROM {c.table}")[0][0] for c in CONTRACTS.values()}
    reasons = dict(query(settings, "SELECT reason_code, COUNT(*) FROM v_quarantine_reasons GROUP BY reason_code"))
    batches = query(
        settings,
        "SELECT query_name, COUNT(*), SUM(rows_in), SUM(rows_written), SUM(rows_quarantined),"
        " SUM(late_rows), MAX(finished_at), AVG(duration_ms), MAX(latency_ms) FROM v_pipeline_health"
        " GROUP BY query_name ORDER BY MAX(finished_at) DESC LIMIT 10",
    )
    days, series, rows, units, first, last = query(
        settings,
        "SELECT COUNT(DISTINCT sale_date), COUNT(DISTINCT store_id, item_id), COUNT(*), SUM(units),"
        " MIN(sale_date), MAX(sale_date) FROM daily_sales",
    )[0]
    runs = query(
        settings,
        "SELECT r.run_key, r.as_of, r.series, r.fallback_series, r.smape_chosen, r.smape_seasonal_naive,"
        " r.coverage_95_chosen, r.mlflow_run_id, (SELECT COUNT(*) FROM sales_forecasts f WHERE f.run_key = r.run_key)"
        " FROM forecast_runs r ORDER BY r.as_of DESC, r.finished_at DESC LIMIT 1",
    )
    forecast = None
    if runs:
        keys = ("run_key", "as_of", "series", "fallback_series", "smape_chosen", "smape_seasonal_naive")
        forecast = dict(zip(keys + ("coverage_95_chosen", "mlflow_run_id", "forecast_rows"), runs[0], strict=True))
        forecast["as_of"] = str(forecast["as_of"])
    return {
        "database": settings.mysql_database,
        "reviews": reviews(settings),
        "recommendations": recommendations(settings),
        "product_models": product_models(settings),
        "sales": {
            "daily_rows": int(rows),
            "days": int(days),
            "series": int(series),
            "units": int(units or 0),
            "first_day": str(first) if first else None,
            "last_day": str(last) if last else None,
        },
        "forecast": forecast,
        "raw_tables": tables,
        "quarantined": {"total": sum(reasons.values()), "by_reason": reasons},
        "queries": [
            {
                "query_name": q,
                "batches": b,
                "rows_in": int(i or 0),
                "rows_written": int(w or 0),
                "rows_quarantined": int(x or 0),
                "late_rows": int(late or 0),
                "last_batch_at": str(t),
                "mean_batch_ms": None if ms is None else round(float(ms)),
                "max_latency_s": None if latency is None else round(float(latency) / 1000, 1),
            }
            for q, b, i, w, x, late, t, ms, latency in batches
        ],
    }


def reviews(settings, top: int = 5, min_documents: int = 10) -> dict:
    """Scored documents by type and class, the newest promoted sentiment model's holdout macro-F1
    next to VADER's, and the products with the highest negative share."""
    from common.report_queries import top_negative_products

    counts = query(settings, "SELECT doc_type, sentiment, COUNT(*) FROM review_sentiment GROUP BY doc_type, sentiment")
    scored: dict = {}
    for doc_type, label, n in counts:
        scored.setdefault(doc_type, {})[label] = int(n)
    model = query(
        settings,
        "SELECT model_name, model_version, metric, challenger_value, baseline_value FROM model_decisions"
        " WHERE promoted = 1 AND model_name = %s ORDER BY decided_at DESC LIMIT 1",
        (settings.sentiment_model,),
    )
    return {
        "scored": scored,
        "champion": dict(zip(("model", "version", "metric", "model_value", "vader_value"), model[0], strict=True))
        if model
        else None,
        "top_negative": top_negative_products(settings, top, min_documents),
    }


def recommendations(settings) -> dict:
    """Interaction and list counts, the newest evaluation (ALS vs popularity) and one visitor's list."""
    visitors, items, pairs = query(
        settings, "SELECT COUNT(DISTINCT visitor_id), COUNT(DISTINCT item_id), COUNT(*) FROM interactions"
    )[0]
    listed, fallback, model = query(
        settings,
        "SELECT COUNT(DISTINCT visitor_id), COUNT(DISTINCT IF(fallback, visitor_id, NULL)),"
        " MAX(model_version) FROM recommendations",
    )[0]
    quality = query(
        settings,
        "SELECT model_version, k, users, als_map, popularity_map, map_lift, als_ndcg, popularity_ndcg"
        " FROM v_recommender_quality ORDER BY evaluated_at DESC LIMIT 1",
    )
    keys = ("model_version", "k", "users", "als_map", "popularity_map", "map_lift", "als_ndcg", "popularity_ndcg")
    example = query(
        settings,
        "SELECT visitor_id, GROUP_CONCAT(item_id ORDER BY rank_no) FROM recommendations"
        " WHERE visitor_id = (SELECT MIN(visitor_id) FROM recommendations WHERE fallback = 0) GROUP BY visitor_id",
    )
    return {
        "interactions": {"visitors": int(visitors), "items": int(items), "pairs": int(pairs)},
        "listed_visitors": int(listed),
        "fallback_visitors": int(fallback or 0),
        "model_version": model,
        "evaluation": dict(zip(keys, quality[0], strict=True)) if quality else None,
        "example": {"visitor_id": example[0][0], "items": example[0][1]} if example else None,
    }


def product_models(settings, top: int = 5) -> dict:
    """The riskiest products of the latest scoring run (v_product_risk, named by v_dim_product; each
    at its riskiest store), each model's newest promoted version against its baseline, and the
    newest drift verdicts."""
    risky = query(
        settings,
        "SELECT r.as_of, r.store_id, r.item_id, r.risk, r.risk_reason, r.expected_units_28, r.units_lower_80,"
        " r.units_upper_80, p.product_name FROM v_product_risk r JOIN v_dim_product p ON p.item_id = r.item_id"
        " ORDER BY r.risk DESC, r.store_id, r.item_id",
    )
    keys = (
        "as_of",
        "store_id",
        "item_id",
        "risk",
        "reason",
        "expected_units_28",
        "units_lower_80",
        "units_upper_80",
        "product",
    )
    first = {}  # item -> its riskiest store's row
    for r in risky:
        first.setdefault(r[2], r)
    rows = [dict(zip(keys, r, strict=True)) for r in first.values()][:top]
    models = query(
        settings,
        "SELECT d.model_name, d.model_version, d.metric, d.challenger_value, d.baseline_value FROM model_decisions d"
        " WHERE d.promoted = 1 AND d.model_name IN (%s, %s) AND d.decided_at = (SELECT MAX(x.decided_at)"
        " FROM model_decisions x WHERE x.model_name = d.model_name AND x.promoted = 1) ORDER BY d.model_name",
        (settings.risk_model, settings.volume_model),
    )
    drift = query(
        settings,
        "SELECT model_name, current_as_of, retrain, reason FROM drift_checks c WHERE current_as_of ="
        " (SELECT MAX(x.current_as_of) FROM drift_checks x WHERE x.model_name = c.model_name) ORDER BY model_name",
    )
    return {
        "riskiest": [r | {"as_of": str(r["as_of"])} for r in rows],
        "champions": [dict(zip(("model", "version", "metric", "value", "baseline"), m, strict=True)) for m in models],
        "drift": [{"model": m, "as_of": str(d), "retrain": bool(r), "reason": why} for m, d, r, why in drift],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reporting.text_report", __doc__)
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    try:
        report = collect(settings)
    except mysql.connector.Error as exc:
        print(
            f"error: cannot read {settings.mysql_database} at {settings.mysql_host}:{settings.mysql_port}: {exc}",
            file=sys.stderr,
        )
        return 4
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"database {report['database']}")
    for table, count in report["raw_tables"].items():
        print(f"  {table:<22} {count:>10,} rows")
    q = report["quarantined"]
    detail = ", ".join(f"{k} {v:,}" for k, v in sorted(q["by_reason"].items()))
    print(f"  {'quarantined_events':<22} {q['total']:>10,} rows" + (f"  ({detail})" if detail else ""))
    for item in report["queries"]:
        print(
            f"  query {item['query_name']}: {item['batches']} batches, {item['rows_written']:,} written, "
            f"{item['rows_quarantined']:,} quarantined ({item['late_rows']:,} late), last at {item['last_batch_at']}"
            f", mean batch {item['mean_batch_ms']} ms, max latency {item['max_latency_s']} s"
        )
    r = report["reviews"]
    for doc_type, labels in sorted(r["scored"].items()):
        shares = ", ".join(f"{k} {v:,}" for k, v in sorted(labels.items()))
        print(f"  scored {doc_type}s: {sum(labels.values()):,} ({shares})")
    if r["champion"]:
        c = r["champion"]
        print(
            f"  sentiment model {c['model']} v{c['version']} (@champion): {c['metric']} {c['model_value']:.3f}"
            f" vs VADER {c['vader_value']:.3f} on the held-out real corpora"
        )
    if r["top_negative"]:
        print("  most negative products (share of negative reviews and posts):")
        for p in r["top_negative"]:
            print(f"    {p['product']:30} (item {p['item_id']}): {p['negative_share']:.0%} of {p['documents']:,}")
    rec = report["recommendations"]
    if rec["interactions"]["pairs"]:
        i = rec["interactions"]
        print(
            f"  interactions: {i['pairs']:,} (visitor, item) pairs, {i['visitors']:,} visitors, {i['items']:,} items;"
            f" {rec['listed_visitors']:,} visitors have lists ({rec['fallback_visitors']:,} on the popular fallback)"
            f" from {rec['model_version']}"
        )
    e = rec["evaluation"]
    if e:
        print(
            f"  recommender {e['model_version']}: holdout MAP@{e['k']} ALS {e['als_map']:.4f} vs popularity"
            f" {e['popularity_map']:.4f} ({e['map_lift']}x), NDCG@{e['k']} {e['als_ndcg']:.4f} vs"
            f" {e['popularity_ndcg']:.4f}, {e['users']:,} test visitors"
        )
    if rec["example"]:
        print(f"  visitor {rec['example']['visitor_id']}'s list: items {rec['example']['items']}")
    pm = report["product_models"]
    for c in pm["champions"]:
        print(
            f"  {c['model']} v{c['version']} (@champion): holdout {c['metric']} {c['value']:.4f}"
            f" vs baseline {c['baseline']:.4f}"
        )
    for d in pm["drift"]:
        print(f"  drift check {d['as_of']} of {d['model']}: {'RETRAIN' if d['retrain'] else 'ok'} ({d['reason']})")
    if pm["riskiest"]:
        print(f"  riskiest products (P(next reviews mostly negative)), snapshot {pm['riskiest'][0]['as_of']}:")
        for r in pm["riskiest"]:
            units = ""
            if r["expected_units_28"] is not None:
                units = (
                    f"; next 28 days {r['expected_units_28']:.0f} units"
                    f" ({r['units_lower_80']:.0f}-{r['units_upper_80']:.0f})"
                )
            print(f"    {r['product']:28} store {r['store_id']:>2}: risk {r['risk']:.2f}: {r['reason']}{units}")
    sales = report["sales"]
    print(
        f"  {'daily_sales':<22} {sales['daily_rows']:>10,} rows: {sales['series']} store-items x {sales['days']} days"
        f" ({sales['first_day']} .. {sales['last_day']}), {sales['units']:,} units"
    )
    f = report["forecast"]
    if f:
        print(
            f"  newest forecast run {f['run_key']}: {f['series']} series ({f['fallback_series']} fallback),"
            f" {f['forecast_rows']:,} rows; backtest SMAPE of the chosen methods {f['smape_chosen']:.2f}"
            f" vs seasonal-naive {f['smape_seasonal_naive']:.2f}, 95% coverage {f['coverage_95_chosen']:.1%}"
        )
        if f["mlflow_run_id"]:
            print(f"  MLflow run: {settings.mlflow_tracking_uri.rstrip('/')}/#/runs/{f['mlflow_run_id']}")
        print(
            "  try in MySQL: SELECT forecast_date, store_id, item_id, yhat, yhat_lower_95, yhat_upper_95"
            " FROM v_latest_forecasts WHERE store_id = 1 AND item_id = 1 ORDER BY forecast_date;"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
