"""The MySQL side on the real server: schema agreement, least privilege, exactly-once sink."""

import time
import uuid
from datetime import datetime

import mysql.connector
import pytest

from common.db import connect, query
from common.migrations import apply_migrations
from common.results import RESULTS, SALES_FORECAST_COLUMNS
from streaming.contracts import CONTRACTS, SOURCE_COLUMNS, TRANSACTION
from streaming.reviews.review_scoring import SENTIMENT_COLUMNS
from streaming.sinks import MySQLBatchSink

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("contract", list(CONTRACTS.values()), ids=list(CONTRACTS))
def test_database_columns_match_the_contract(settings, contract):
    rows = query(
        settings,
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = %s"
        " AND table_name = %s ORDER BY ordinal_position",
        (settings.mysql_database, contract.table),
    )
    # the first DDL's columns, then those later migrations added, in migration order
    first = [f.name for f in contract.all_fields if f.added_in is None] + [n for n, _ in SOURCE_COLUMNS]
    added = [f.name for f in sorted(contract.all_fields, key=lambda f: f.added_in or 0) if f.added_in]
    assert [r[0] for r in rows] == first + ["ingested_at"] + added
    assert set(first + added) == set(contract.table_columns)
    nullable = {f.name: f.nullable for f in contract.spark_schema().fields}
    assert {r[0]: r[1] == "YES" for r in rows if r[0] in nullable} == nullable


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("sales_forecasts", list(SALES_FORECAST_COLUMNS)),
        ("daily_sales", [f.name for f in RESULTS["retail_aggregated"].fields]),
        ("review_sentiment", SENTIMENT_COLUMNS),
    ],
)
def test_result_tables_hold_the_columns_the_result_schemas_write(settings, table, columns):
    """The result rows defined in common/results.py (and the review rows derived from them) are what the
    migrations created: the jobs write them by name, the messages carry the same fields."""
    rows = query(
        settings,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (settings.mysql_database, table),
    )
    assert set(columns) <= {r[0] for r in rows}, sorted(set(columns) - {r[0] for r in rows})


def test_migrations_rerun_is_a_no_op(settings):
    assert apply_migrations(settings, log=lambda m: None) == []


def test_powerbi_reader_can_only_read(settings):
    assert query(settings, "SELECT COUNT(*) FROM stream_batches", role="reader")[0][0] >= 0
    conn = connect(settings, "reader")
    try:
        with pytest.raises(mysql.connector.Error, match="denied"):
            conn.cursor().execute("DELETE FROM stream_batches")
    finally:
        conn.close()


def test_writer_cannot_change_the_schema(settings):
    conn = connect(settings, "writer")
    try:
        with pytest.raises(mysql.connector.Error, match="denied"):
            conn.cursor().execute("DROP TABLE raw_transactions")
    finally:
        conn.close()


def denied(settings, role: str, sql: str) -> bool:
    conn = connect(settings, role)
    try:
        conn.cursor().execute(sql)
        return False
    except mysql.connector.Error as exc:
        return exc.errno in (1142, 1143)  # command / column denied
    finally:
        conn.close()


def test_least_privilege_per_table_and_host(settings):
    # the writer keeps the migration ledger intact and cannot read the analysts' privilege out
    assert denied(settings, "writer", "DELETE FROM schema_migrations")
    assert denied(settings, "writer", "UPDATE schema_migrations SET checksum = ''")
    assert not denied(settings, "writer", "SELECT COUNT(*) FROM quarantined_events")
    # analysts read why records were rejected, never their raw payloads
    assert denied(settings, "reader", "SELECT raw_value FROM quarantined_events")
    assert query(settings, "SELECT COUNT(*) FROM v_quarantine_reasons", role="reader")[0][0] >= 0
    assert denied(settings, "reader", "INSERT INTO daily_sales VALUES ('2024-01-01', 1, 1, 1, 1, 1, DEFAULT)")
    hosts = query(
        settings,
        "SELECT user, host FROM mysql.user WHERE user IN (%s, %s)",
        (settings.mysql_writer_user, settings.mysql_reader_user),
        role="admin",
    )
    assert {h for _, h in hosts} == {settings.mysql_user_host} and len(hosts) == 2


def test_a_replayed_batch_id_with_other_offsets_is_an_error_not_a_skip(settings):
    from streaming.sinks import BatchSource, LedgerMismatch

    name, prefix = f"sink_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    sink = MySQLBatchSink(settings, name, TRANSACTION.table, TRANSACTION.table_columns, ["event_id"])
    covered = BatchSource({"tx": {"0": [0, 9], "1": [0, 4]}})
    sink.write(0, rows(prefix, 10), [], time.time(), covered)
    assert sink.write(0, rows(prefix, 10), [], time.time(), covered).replayed  # a true replay: skipped
    with pytest.raises(LedgerMismatch, match=r"committed for offsets .*'1': \[0, 4\].* now comes with"):
        sink.write(0, rows(prefix, 10), [], time.time(), BatchSource({"tx": {"0": [10, 19]}}))
    sink.close()


def rows(prefix, n):
    return [
        (f"{prefix}-{i}", f"r{i}", datetime(2024, 1, 1, 12), 1, i + 1, 2, 3.5, None, "sink_test", 0, i)
        for i in range(n)
    ]


@pytest.mark.parametrize("bulk", [True, False], ids=["load_data", "executemany"])
def test_sink_commits_a_batch_once_and_replay_is_a_no_op(settings, bulk):
    name, prefix = f"sink_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    sink = MySQLBatchSink(settings, name, TRANSACTION.table, TRANSACTION.table_columns, ["event_id"], bulk=bulk)
    bad = [
        {
            "source_topic": f"sink_{prefix}",
            "source_partition": 0,
            "source_offset": 99,
            "reason_code": "bad_json",
            "reason": "bad_json: x",
            "raw_key": None,
            "raw_value": "{",
            "kafka_timestamp": None,
        }
    ]
    batch = rows(prefix, 50) + rows(prefix, 5)  # a record seen twice in one batch lands once
    first = sink.write(0, batch, bad, time.time())
    again = sink.write(0, rows(prefix, 80), bad, time.time())
    sink.close()
    assert (first.replayed, first.rows_written, first.rows_quarantined) == (False, 50, 1)
    assert (again.replayed, again.rows_written) == (True, 50)
    count = query(settings, "SELECT COUNT(*) FROM raw_transactions WHERE event_id LIKE %s", (f"{prefix}-%",))[0][0]
    assert count == 50
    ledger = query(
        settings, "SELECT rows_in, rows_written, rows_quarantined FROM stream_batches WHERE query_name = %s", (name,)
    )
    assert ledger == [(56, 50, 1)]


def test_sink_rolls_back_everything_when_a_row_is_rejected(settings):
    name, prefix = f"sink_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    sink = MySQLBatchSink(settings, name, TRANSACTION.table, TRANSACTION.table_columns, ["event_id"], bulk=False)
    broken = rows(prefix, 3) + [(f"{prefix}-x", None, None, 1, 1, 1, 1.0, None, "t", 0, 1)]  # NOT NULL violated
    with pytest.raises(mysql.connector.Error):
        sink.write(0, broken, [], time.time())
    sink.close()
    assert query(settings, "SELECT COUNT(*) FROM raw_transactions WHERE event_id LIKE %s", (f"{prefix}-%",))[0][0] == 0
    assert query(settings, "SELECT COUNT(*) FROM stream_batches WHERE query_name = %s", (name,))[0][0] == 0


def test_dashboard_queries_run_as_the_powerbi_reader(settings):
    from pathlib import Path

    from common.migrations import Migration

    sql = (Path(__file__).resolve().parents[3] / "dashboards" / "queries.sql").read_text()
    statements = Migration(0, "queries.sql", sql).statements()
    assert len(statements) == 13
    for statement in statements:
        query(settings, statement, role="reader")  # raises if a view, column or grant is wrong


def test_a_batch_bigger_than_max_allowed_packet_is_quarantined_whole(settings):
    """A replay of old events makes a whole micro-batch late: 100,000 quarantine rows with their raw
    payloads are far more than one statement may carry; the sink must still commit them."""
    name, prefix = f"sink_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    packet = query(settings, "SELECT @@max_allowed_packet")[0][0]
    payload = "x" * 2000
    n = packet // len(payload) + 5000  # together well over one packet
    late = [
        {
            "source_topic": f"sink_{prefix}",
            "source_partition": 0,
            "source_offset": i,
            "reason_code": "late_event",
            "reason": "late",
            "raw_key": None,
            "raw_value": payload,
            "kafka_timestamp": None,
        }
        for i in range(n)
    ]
    sink = MySQLBatchSink(settings, name, TRANSACTION.table, TRANSACTION.table_columns, ["event_id"])
    result = sink.write(0, [], late, time.time())
    sink.close()
    assert result.rows_quarantined == n
    stored = query(settings, "SELECT COUNT(*) FROM quarantined_events WHERE query_name = %s", (name,), role="writer")
    assert stored == [(n,)]


def test_latest_forecasts_show_only_the_newest_run_of_the_newest_day(private_db):
    from common.db import connect, transaction

    conn = connect(private_db)
    with transaction(conn) as cur:
        runs = [
            ("old", "2026-01-01", "2026-01-01 03:00"),
            ("first", "2026-01-02", "2026-01-02 03:00"),
            ("rerun", "2026-01-02", "2026-01-02 09:00"),
        ]  # two runs of one day: the later one shows
        for key, as_of, finished in runs:
            cur.execute(
                "INSERT INTO forecast_runs (run_key, as_of, horizon, series, fallback_series, params_json,"
                " finished_at) VALUES (%s, %s, 30, 1, 0, '{}', %s)",
                (key, as_of, finished),
            )
            cur.execute(
                "INSERT INTO sales_forecasts (run_key, forecast_date, store_id, item_id, yhat, yhat_lower_80,"
                " yhat_upper_80, yhat_lower_95, yhat_upper_95, method) VALUES (%s, '2026-01-03', 1, 1, 1, 0, 2,"
                " 0, 3, 'prophet')",
                (key,),
            )
    conn.close()
    assert query(private_db, "SELECT run_key FROM v_latest_forecasts", role="reader") == [("rerun",)]


def test_dimensions_name_what_the_master_data_knows_and_cover_every_fact(private_db, tmp_path):
    """The product and store dimensions list every id of any fact (named from master data, else
    "item <id>"); the date dimension spans the facts' days; a re-load updates, never duplicates."""
    from common.db import transaction
    from jobs.ingest import load_catalogue as catalogue

    assert catalogue.main(["demo", "--items", "3", "--stores", "2"]) == 0
    products = tmp_path / "products.csv"
    products.write_text("item_id,product_name,brand,category\n2,Acme Oats,Acme,Cereal\n")
    assert catalogue.main(["csv", "--products", str(products)]) == 0  # master data of your own wins
    conn = connect(private_db)
    with transaction(conn) as cur:
        cur.executemany(
            "INSERT INTO daily_sales (sale_date, store_id, item_id, units, revenue, sale_lines)"
            " VALUES (%s, %s, %s, 1, 1.0, 1)",
            [("2026-01-05", 1, 1), ("2026-01-09", 7, 99)],
        )
        cur.execute(
            "INSERT INTO interactions (visitor_id, item_id, views, carts, purchases, confidence, first_seen,"
            " last_seen) VALUES (1, 500, 1, 0, 0, 1, '2026-01-02 10:00', '2026-01-03 10:00')"
        )
    conn.close()
    dim = {row[0]: row[1:] for row in query(private_db, "SELECT * FROM v_dim_product", role="reader")}
    assert set(dim) == {1, 2, 3, 99, 500}
    assert dim[2] == ("Acme Oats", "Acme", "Cereal", 1) and dim[99] == ("item 99", "unknown", "unknown", 0)
    stores = dict(query(private_db, "SELECT store_id, in_catalogue FROM v_dim_store", role="reader"))
    assert stores == {1: 1, 2: 1, 7: 0}
    days = query(
        private_db, "SELECT MIN(date_key), MAX(date_key), COUNT(*), SUM(is_weekend) FROM v_dim_date", role="reader"
    )
    assert [tuple(map(str, d)) for d in days] == [("2026-01-02", "2026-01-09", "8", "2")]  # Jan 3, 4 weekend
    with pytest.raises(mysql.connector.Error, match="denied"):
        conn = connect(private_db, "reader")
        try:
            conn.cursor().execute("DELETE FROM product_catalogue")
        finally:
            conn.close()


def documented_view_columns() -> dict[str, list[str]]:
    """dashboards/README.md: each `#### \\`view\\`` heading and the first column of its table."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "dashboards" / "README.md").read_text()
    views = {}
    for block in re.split(r"^#### ", text, flags=re.M)[1:]:
        name = re.match(r"`(\w+)`", block).group(1)
        views[name] = re.findall(r"^\| `(\w+)` \|", block.split("\n### ")[0].split("\n## ")[0], flags=re.M)
    return views


def test_every_view_is_documented_column_by_column_for_the_analysts(settings):
    rows = query(
        settings,
        "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN"
        " information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = %s AND t.table_type = 'VIEW' ORDER BY c.table_name, c.ordinal_position",
        (settings.mysql_database,),
        role="admin",
    )
    actual: dict[str, list[str]] = {}
    for view, column in rows:
        actual.setdefault(view, []).append(column)
    assert documented_view_columns() == actual
