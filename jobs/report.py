"""Print what the pipeline has written to MySQL: raw table counts, quarantine reasons, recent batches.

python -m jobs.report            # a readable summary
python -m jobs.report --json     # the same as JSON, for scripts
"""

from __future__ import annotations

import argparse
import json
import sys

import mysql.connector

from common.db import query
from common.settings import load_settings
from streaming.contracts import CONTRACTS


def collect(settings) -> dict:
    tables = {c.table: query(settings, f"SELECT COUNT(*) FROM {c.table}")[0][0] for c in CONTRACTS.values()}
    reasons = dict(query(settings, "SELECT reason_code, COUNT(*) FROM quarantined_events GROUP BY reason_code"))
    batches = query(
        settings,
        "SELECT query_name, COUNT(*), SUM(rows_in), SUM(rows_written), SUM(rows_quarantined),"
        " MAX(finished_at) FROM stream_batches GROUP BY query_name ORDER BY MAX(finished_at) DESC"
        " LIMIT 10",
    )
    return {
        "database": settings.mysql_database,
        "raw_tables": tables,
        "quarantined": {"total": sum(reasons.values()), "by_reason": reasons},
        "queries": [
            {
                "query_name": q,
                "batches": b,
                "rows_in": int(i or 0),
                "rows_written": int(w or 0),
                "rows_quarantined": int(x or 0),
                "last_batch_at": str(t),
            }
            for q, b, i, w, x, t in batches
        ],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
            f"{item['rows_quarantined']:,} quarantined, last at {item['last_batch_at']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
