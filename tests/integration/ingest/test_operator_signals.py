"""The operator signals on real services: each gate's SQL (dags/gates.py, the queries the DAGs'
gates run) on planted good and bad rows in a migrated MariaDB database, and the lag of a query
whose topic ran ahead of its ledger on the real Kafka broker."""

import json
import uuid
from datetime import datetime

from common.db import connect, query, transaction
from dags.gates import (
    DUPLICATE_SALE_LINES,
    FORECAST_COVERAGE,
    champion_margin,
    input_freshness,
    quarantine_share,
    stream_lag,
)

SINCE = "2026-12-01 02:00:00.000000"  # the DAG run's start
RUN = {"since": SINCE, "day_end": "2026-12-01"}


def plant(settings, sql: str, rows: list[tuple]) -> None:
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.executemany(sql, rows)
    finally:
        conn.close()


def judge(settings, check, limit=None):
    """(passed, line) of a check run as its gate runs it, at its default limit."""
    value, detail = query(settings, check.sql, {**RUN, **check.params})[0]
    return check.verdict(value, detail, check.default if limit is None else limit)


def batch(query_name, batch_id, rows_in, quarantined, finished, newest_event=None, offsets=None, late=0):
    """A stream_batches row (``late`` of the ``quarantined`` rows late sales)."""
    written = rows_in - quarantined
    offsets = json.dumps(offsets) if offsets else None
    return (query_name, batch_id, rows_in, written, quarantined, late, 10, finished, finished, newest_event, offsets)


BATCH_SQL = (
    "INSERT INTO stream_batches (query_name, batch_id, rows_in, rows_written, rows_quarantined, late_rows,"
    " duration_ms, started_at, finished_at, max_event_time, offsets)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_every_gate_passes_good_rows_and_fails_bad_ones_with_the_value_and_limit(private_db):
    db = private_db
    for check in (quarantine_share("raw_transactions"), DUPLICATE_SALE_LINES, FORECAST_COVERAGE, champion_margin(".")):
        assert judge(db, check)[0], "an empty database has nothing to fail"
    assert not judge(db, input_freshness("raw_transactions"))[0]  # nothing ever landed is not fresh input

    before, during = datetime(2026, 12, 1, 1), datetime(2026, 12, 1, 2, 5)
    plant(
        db,
        BATCH_SQL,
        [
            batch("raw_transactions", 0, 1000, 0, before, datetime(2026, 11, 29, 21)),  # an earlier run's
            batch("raw_transactions", 1, 100, 30, during, datetime(2026, 11, 29, 21)),
            batch("raw_transactions", 2, 100, 30, during, datetime(2026, 11, 29, 21)),
            batch("clean_query", 0, 500, 5, during, datetime(2026, 11, 30, 21)),
            # a re-sent month of sales: valid records, late, all of them counted before
            batch("sales_aggregation", 0, 1000, 990, during, datetime(2026, 11, 30, 21), late=980),
        ],
    )
    passed, line = judge(db, quarantine_share("raw_transactions"))
    assert not passed
    assert line == (
        "quarantine_share[raw_transactions]: share of this run's input quarantined = 0.3, limit <= 0.05"
        " (param max_quarantine_share); 60 of 200 records failed their contract"
    )
    assert judge(db, quarantine_share("raw_transactions"), limit=0.5)[0]  # the param raised for one run
    assert judge(db, quarantine_share("clean_query"))[0]  # 1%
    passed, line = judge(db, quarantine_share("sales_aggregation"))
    assert passed and line.endswith(
        "= 0.01, limit <= 0.05 (param max_quarantine_share);"
        " 10 of 1000 records failed their contract, 980 late ones not counted here"
    )
    passed, line = judge(db, input_freshness("raw_transactions"))
    assert passed and "= 27, limit <= 48" in line and "newest event 2026-11-29 21:00:00" in line
    assert not judge(db, input_freshness("raw_transactions"), limit=24)[0]

    sale = "INSERT INTO raw_transactions (event_id, txn_id, event_time, store_id, item_id, quantity, unit_price,"
    sale += " kafka_topic, kafka_partition, kafka_offset) VALUES (%s, %s, %s, %s, %s, 1, 2.5, 't', 0, %s)"
    plant(db, sale, [("e1", "r1", before, 1, 7, 1), ("e2", "r1", before, 1, 8, 2)])
    assert judge(db, DUPLICATE_SALE_LINES)[0]  # two items of one receipt
    plant(db, sale, [("e3", "r1", before, 1, 7, 3)])  # the first line again, under another event id
    passed, line = judge(db, DUPLICATE_SALE_LINES)
    assert not passed and "= 1, limit <= 0 (param max_duplicate_keys); e.g. r1/1/7" in line

    plant(
        db,
        "INSERT INTO daily_sales (sale_date, store_id, item_id, units, revenue, sale_lines)"
        " VALUES (%s, 1, 1, %s, 0, 1)",
        [("2026-11-28", 10), ("2026-11-29", 10), ("2026-11-30", 40)],
    )
    plant(
        db,
        "INSERT INTO forecast_runs (run_key, as_of, horizon, series, fallback_series, params_json, finished_at)"
        " VALUES (%s, %s, 30, 1, 0, '{}', %s)",
        [("2026-11-27-daily", "2026-11-27", before), ("2026-11-30-daily", "2026-11-30", during)],
    )
    forecast = "INSERT INTO sales_forecasts (run_key, forecast_date, store_id, item_id, yhat, yhat_lower_80,"
    forecast += " yhat_upper_80, yhat_lower_95, yhat_upper_95, method) VALUES (%s, %s, 1, 1, 10, 8, 12, 5, 15, 'x')"
    # the newest run has not met its actuals yet; the one before met three days, one outside its interval
    plant(db, forecast, [("2026-11-27-daily", d) for d in ("2026-11-28", "2026-11-29", "2026-11-30")])
    plant(db, forecast, [("2026-11-30-daily", "2026-12-01")])
    passed, line = judge(db, FORECAST_COVERAGE)
    assert passed and "= 0.6667, limit >= 0.5" in line and "run 2026-11-27-daily, 3 forecast days" in line
    assert not judge(db, FORECAST_COVERAGE, limit=0.9)[0]

    decision = "INSERT INTO model_decisions (decided_at, model_name, model_version, mlflow_run_id, metric,"
    decision += " challenger_value, champion_value, baseline_value, promoted, reason) VALUES (%s, %s, %s, 'r', %s, %s,"
    decision += " %s, %s, %s, '')"
    plant(
        db,
        decision,
        [
            (before, "sentiment", "1", "holdout_macro_f1", 0.5, None, 0.6, 1),  # an earlier run's: not judged
            (during, "sentiment", "2", "holdout_macro_f1", 0.70, None, 0.63, 1),  # promoted: the challenger counts
            (during, "volume", "3", "mae", 30.0, 20.0, 25.0, 0),  # kept: the champion (MAE 20 < 25) counts
            (during, "sentiment_lexicon", "1", "holdout_macro_f1_lexicon", 0.60, None, 0.63, 1),
        ],
    )
    assert judge(db, champion_margin("^holdout_macro_f1$"))[0]
    passed, line = judge(db, champion_margin("^(roc_auc|mae)$"))
    assert passed and "= 5," in line  # the kept champion is named as such, not by the challenger's version
    assert "volume champion mae 20.0000 vs baseline 25.0000 (challenger v3 not promoted)" in line
    passed, line = judge(db, champion_margin("^holdout_macro_f1"))  # the lexicon fallback is behind VADER
    assert not passed and "= -0.03, limit >= 0" in line and "sentiment_lexicon v1" in line

    lag = "INSERT INTO stream_lag (query_name, checked_at, topic, kafka_partition, end_offset, next_offset, unread)"
    lag += " VALUES (%s, %s, 't', %s, %s, %s, %s)"
    plant(db, lag, [("raw_transactions", before, 0, 900_000, 0, 900_000), ("raw_transactions", during, 0, 90, 80, 10)])
    passed, line = judge(db, stream_lag("raw_transactions"))  # only the newest check counts
    assert passed and "= 10, limit <= 100000" in line
    assert not judge(db, stream_lag("raw_transactions"), limit=5)[0]
    assert query(db, "SELECT unread, is_latest FROM v_stream_lag ORDER BY checked_at") == [(900_000, 0), (10, 1)]


def test_a_query_whose_topic_ran_ahead_of_its_ledger_reports_its_lag(private_db, topic):
    from streaming.lag import measure_and_record
    from tests.integration.conftest import produce_transactions

    db, name = private_db, f"stalled_{uuid.uuid4().hex[:6]}"
    produce_transactions(db, topic, 40)  # the producer wrote 40 messages over both partitions
    plant(
        db, BATCH_SQL, [batch(name, 0, 5, 0, datetime(2026, 12, 1), datetime(2023, 1, 1, 21), {topic: {"0": [0, 4]}})]
    )
    (lag,) = measure_and_record(db, {name: topic})  # the query landed offsets 0-4 of partition 0, then stalled
    assert lag.lag == 40 - 5
    assert [p.next_offset for p in lag.partitions] == [5, 0]
    assert lag.line().startswith(f"{name} ({topic}): 35 message(s) unread over 2 partition(s) (p0 ")
    assert "newest event landed 2023-01-01 21:00:00" in lag.line()
    stored = query(db, "SELECT unread, partitions, newest_event_time FROM v_stream_lag WHERE query_name = %s", (name,))
    assert stored == [(35, 2, datetime(2023, 1, 1, 21))]


def test_the_lag_command_measures_the_configured_topic(private_db):
    from tests.support import run_job

    query_name = "raw_transactions"
    out = run_job("ingest", "lag", query_name).stdout
    assert out.startswith(f"{query_name} ({private_db.topic_transactions}): ")
    assert query(private_db, "SELECT COUNT(*) FROM v_stream_lag WHERE query_name = %s", (query_name,))[0][0] == 1
