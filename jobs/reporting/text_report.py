"""Print what the pipeline has written to MySQL: raw table counts, quarantine reasons, recent
batches, daily sales, the newest forecast run (with its backtest accuracy and MLflow run), and the
reviews: scored documents, the sentiment model against VADER, the most negative products; and the
recommendations: interactions, the newest evaluation (chosen method vs both popularities), a visitor's list;
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
import pandas as pd

from common import report_queries as Q
from common.cli import job_parser
from common.settings import load_settings
from streaming.contracts import CONTRACTS


def collect(settings) -> dict:
    """Everything the report prints, as JSON-ready values."""
    reasons = {reason: int(rows) for reason, rows in Q.quarantine_reasons(settings).itertuples(index=False)}
    health = Q.stream_health(settings).sort_values("last", ascending=False).head(10)
    alert_total, alerts = Q.recent_alerts(settings, 5)
    return {
        "database": settings.mysql_database,
        "reviews": {
            "scored": Q.scored_documents(settings),
            "champion": Q.sentiment_champion(settings),
            "top_negative": Q.top_negative_products(settings, 5, 10),
        },
        "recommendations": recommendations(settings),
        "product_models": {
            "riskiest": riskiest(settings),
            "champions": Q.product_champions(settings),
            "drift": Q.drift_verdicts(settings),
        },
        "sales": Q.sales_summary(settings),
        "forecast": Q.newest_forecast_run(settings),
        "raw_tables": Q.raw_table_counts(settings, [c.table for c in CONTRACTS.values()]),
        "quarantined": {"total": sum(reasons.values()), "by_reason": reasons},
        "queries": [
            {
                "query_name": q.query,
                "batches": int(q.batches),
                "rows_in": int(q["in"] or 0),
                "rows_written": int(q.written or 0),
                "rows_quarantined": int(q.quarantined or 0),
                "late_rows": int(q.late or 0),
                "last_batch_at": str(q["last"]),
                "mean_batch_ms": None if pd.isna(q.avg_ms) else round(float(q.avg_ms)),
                "max_latency_s": None if pd.isna(q.max_latency) else float(q.max_latency),
                "unread": None if pd.isna(q.unread) else int(q.unread),
                "newest_event_age_h": None if pd.isna(q.event_age_h) else float(q.event_age_h),
            }
            for _, q in health.iterrows()
        ],
        "alerts": {
            "total": alert_total,
            "newest": [
                {"raised_at": str(a.raised_at), "dag_id": a.dag, "task_id": a.task, "run_id": a.run, "reason": a.reason}
                for a in alerts.itertuples(index=False)
            ],
        },
    }


def recommendations(settings) -> dict:
    """Interaction and list counts, the newest evaluation (the chosen method vs both popularities and ALS)
    and one visitor's list."""
    evaluations = Q.recommender_evaluations(settings)
    newest = None
    if not evaluations.empty:
        e = evaluations.iloc[-1]
        newest = {
            "model_version": e.model_version,
            "k": int(e.k),
            "users": int(e.users),
            "method": e.method,
            "chosen_map": float(e.chosen),
            "als_map": float(e.als),
            "popularity_map": float(e.popularity),
            "recent_popularity_map": None if pd.isna(e.recent) else float(e.recent),
            "map_lift": None if pd.isna(e.map_lift) else float(e.map_lift),
            "recent_map_lift": None if pd.isna(e.recent_lift) else float(e.recent_lift),
            "chosen_ndcg": float(e.chosen_ndcg),
            "popularity_ndcg": float(e.popularity_ndcg),
        }
    return Q.recommendation_counts(settings) | {"evaluation": newest, "example": Q.example_list(settings)}


def riskiest(settings, top: int = 5) -> list[dict]:
    """The riskiest products (each at its riskiest store) with their reasons and expected sales."""
    names = {"reason": "reason", "units": "expected_units_28", "low": "units_lower_80", "high": "units_upper_80"}
    rows = Q.riskiest_products(settings, top).rename(columns=names)
    rows = rows.astype(object).where(rows.notna(), None)
    return [r | {"as_of": str(r["as_of"])} for r in rows.to_dict("records")]


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
            + (
                ""
                if item["unread"] is None
                else f"; {item['unread']:,} unread, newest event {item['newest_event_age_h']} h old at the last check"
            )
        )
    alerts = report["alerts"]
    print(f"  alerts: {alerts['total']:,} failed task(s)" + (", newest first:" if alerts["total"] else ""))
    for a in alerts["newest"]:
        print(f"    {a['raised_at'][:19]} {a['dag_id']}.{a['task_id']} ({a['run_id']}): {a['reason'][:200]}")
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
        recent = "n/a" if e["recent_popularity_map"] is None else f"{e['recent_popularity_map']:.4f}"
        print(
            f"  recommender {e['model_version']} ({e['method']}): holdout MAP@{e['k']} {e['chosen_map']:.4f} vs"
            f" popularity {e['popularity_map']:.4f} ({e['map_lift']}x) and recent popularity {recent}"
            f" ({e['recent_map_lift']}x); ALS {e['als_map']:.4f}; NDCG@{e['k']} {e['chosen_ndcg']:.4f} vs"
            f" {e['popularity_ndcg']:.4f}; {e['users']:,} test visitors"
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
