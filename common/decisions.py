"""The model promotion log: every challenger-vs-champion decision, promoted or not, and why."""

from __future__ import annotations

from datetime import UTC, datetime

from common.db import connect, transaction
from common.settings import Settings


def record_decision(settings: Settings, model_name: str, version: str, run_id: str, metric: str, value: float,
                    champion: float | None, baseline: float | None, promoted: bool, reason: str) -> None:  # fmt: skip
    """One row in ``model_decisions`` (baseline: the simple baseline's value of the same metric)."""
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.execute(
                "REPLACE INTO model_decisions (decided_at, model_name, model_version, mlflow_run_id, metric,"
                " challenger_value, champion_value, baseline_value, promoted, reason)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    datetime.now(UTC).replace(tzinfo=None),
                    model_name,
                    version,
                    run_id,
                    metric,
                    value,
                    champion,
                    baseline,
                    int(promoted),
                    reason[:512],
                ),  # fmt: skip
            )
    finally:
        conn.close()
