"""The data-quality gates' checks: one SQL query each, the limit it is held to, and the DAG param
that sets the limit.

Standard library only: the DAGs build Airflow tasks from these (pipeline_tasks.DataGate, in the
Airflow env) and the integration tests run the same SQL on planted rows (pipeline env). Each
query returns one row, ``(value, detail)``: the measured value (NULL: nothing to check in this run)
and a few words on what was measured. Named parameters: ``query`` (a stream query), ``since``
(the DAG run's start, naive UTC: what this run wrote), ``day_end`` (the end of the run's day) and
``metric_pattern`` (a regular expression on model_decisions.metric).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the value of the model serving as champion after a decision (the challenger if promoted, else the
# champion measured on the same holdout) and its margin over the baseline, positive = better
# (metrics where lower is better: mae, rmse, smape, mase)
CHAMPION_VALUE = "CASE WHEN promoted = 1 THEN challenger_value ELSE champion_value END"
CHAMPION_MARGIN = (
    f"CASE WHEN metric IN ('mae', 'rmse', 'smape', 'mase') THEN -1 ELSE 1 END * (({CHAMPION_VALUE}) - baseline_value)"
)


@dataclass(frozen=True)
class Check:
    """One gate check: ``value`` must stay at or below (``bound="max"``) or at or above
    (``bound="min"``) the DAG param ``limit_param`` (``default`` when the DAG does not set it)."""

    name: str
    what: str
    sql: str
    bound: str
    limit_param: str
    default: float
    params: dict = field(default_factory=dict)

    def verdict(self, value, detail, limit: float) -> tuple[bool, str]:
        """(passed, one line naming the check, the value and the limit)."""
        if value is None:
            return True, f"{self.name}: nothing to check ({detail or 'no rows'})"
        value = float(value)
        passed = value <= limit if self.bound == "max" else value >= limit
        sign = "<=" if self.bound == "max" else ">="
        shown = f"{value:.4g}"
        line = f"{self.name}: {self.what} = {shown}, limit {sign} {limit:g} (param {self.limit_param})"
        return passed, f"{line}; {detail}" if detail else line


def quarantine_share(query: str) -> Check:
    """Records that failed their contract; late sales are valid records (a re-sent day the stream
    counted before arrives late too), counted apart in the detail."""
    return Check(
        f"quarantine_share[{query}]",
        "share of this run's input quarantined",
        "SELECT SUM(rows_quarantined - late_rows) / SUM(rows_in),"
        " CONCAT(SUM(rows_quarantined - late_rows), ' of ', SUM(rows_in), ' records failed their contract',"
        " IF(SUM(late_rows) > 0, CONCAT(', ', SUM(late_rows), ' late ones not counted here'), ''))"
        " FROM stream_batches WHERE query_name = %(query)s AND finished_at >= %(since)s",
        "max",
        "max_quarantine_share",
        0.05,
        {"query": query},
    )


def stream_lag(query: str) -> Check:
    return Check(
        f"stream_lag[{query}]",
        "messages still unread after the run",
        "SELECT SUM(unread),"
        " CONCAT('checked ', CAST(MAX(checked_at) AS CHAR(19)), ' UTC over ', COUNT(*), ' partition(s)')"
        " FROM stream_lag WHERE query_name = %(query)s"
        " AND checked_at = (SELECT MAX(x.checked_at) FROM stream_lag x WHERE x.query_name = %(query)s)",
        "max",
        "max_stream_lag",
        100_000,
        {"query": query},
    )


def input_freshness(query: str) -> Check:
    return Check(
        f"input_freshness[{query}]",
        "hours from the newest event landed to the end of the run's day",
        "SELECT COALESCE(TIMESTAMPDIFF(MINUTE, MAX(max_event_time), %(day_end)s) / 60, 1e9),"
        " COALESCE(CONCAT('newest event ', CAST(MAX(max_event_time) AS CHAR(19))), 'no event landed yet')"
        " FROM stream_batches WHERE query_name = %(query)s",
        "max",
        "max_input_age_hours",
        48,
        {"query": query},
    )


DUPLICATE_SALE_LINES = Check(
    "duplicate_keys[raw_transactions]",
    "sale lines whose business key (txn_id, store_id, item_id, event_time) is stored more than once",
    "SELECT COUNT(*), CONCAT('e.g. ', MIN(CONCAT(txn_id, '/', store_id, '/', item_id))) FROM"
    " (SELECT txn_id, store_id, item_id FROM raw_transactions GROUP BY txn_id, store_id, item_id, event_time"
    " HAVING COUNT(*) > 1) d",
    "max",
    "max_duplicate_keys",
    0,
)

FORECAST_COVERAGE = Check(
    "forecast_coverage",
    "share of actual sales inside the 95% interval, newest forecast run that has met its actuals",
    "SELECT AVG(inside_95), CONCAT('run ', MAX(run_key), ', ', COUNT(*), ' forecast days with actuals')"
    " FROM v_forecast_vs_actual"
    " WHERE run_key = (SELECT v.run_key FROM v_forecast_vs_actual v ORDER BY v.as_of DESC LIMIT 1)",
    "min",
    "min_forecast_coverage",
    0.5,
)


def champion_margin(metric_pattern: str) -> Check:
    """The worst margin, in this run's training decisions, of the model serving as champion
    afterwards (the challenger if promoted, else the champion measured on the same holdout) over
    the simple baseline; signed so that positive is better for every metric."""
    return Check(
        "champion_vs_baseline",
        "champion's margin over its baseline on this run's holdout",
        # S608: the f-string parts are this module's constants; the values are bound parameters
        "SELECT MIN(margin), SUBSTRING_INDEX(GROUP_CONCAT(CONCAT(model_name,"  # noqa: S608
        " IF(promoted = 1, CONCAT(' v', model_version), ' champion'), ' ', metric, ' ', ROUND(v, 4), ' vs baseline ',"
        " ROUND(baseline_value, 4), IF(promoted = 1, '', CONCAT(' (challenger v', model_version, ' not promoted)')))"
        " ORDER BY margin SEPARATOR '; '), '; ', 1)"
        " FROM (SELECT model_name, model_version, metric, baseline_value, promoted,"
        f" {CHAMPION_VALUE} AS v, {CHAMPION_MARGIN} AS margin"
        " FROM model_decisions WHERE decided_at >= %(since)s AND baseline_value IS NOT NULL"
        " AND metric REGEXP %(metric_pattern)s) d WHERE v IS NOT NULL",
        "min",
        "min_champion_margin",
        0,
        {"metric_pattern": metric_pattern},
    )
