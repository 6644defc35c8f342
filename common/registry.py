"""The MLflow model registry as the pipeline uses it: versions promoted by the ``champion`` alias, and every
challenger-vs-champion decision (promoted or not, and why) in ``model_decisions``."""

from __future__ import annotations

from datetime import UTC, datetime

from common.db import connect, transaction
from common.settings import Settings
from common.tracking import check_tracking

CHAMPION = "champion"


class NoChampion(RuntimeError):
    """No version of the model carries the champion alias yet."""


def client(settings: Settings):
    import mlflow

    check_tracking(settings)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return mlflow.MlflowClient()


def champion(settings: Settings, name: str):
    """The champion's ModelVersion, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client(settings).get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def record_decision(
    settings: Settings,
    model_name: str,
    version: str,
    run_id: str,
    metric: str,
    value: float,
    champion: float | None,
    baseline: float | None,
    promoted: bool,
    reason: str,
) -> None:
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
                ),
            )
    finally:
        conn.close()


def settle(
    settings: Settings,
    name: str,
    version: str,
    run_id: str,
    decision: tuple[bool, str],
    *,
    metric: str,
    value: float,
    champion_value: float | None,
    baseline: float | None,
    champion_version: str | None = None,
    note: str = "",
) -> str:
    """Act on a promotion decision, the same way for every model: the ``champion`` alias moves to the version if
    promoted, the MLflow run (active) is tagged with the decision, ``model_decisions`` gets its row (``note`` is
    appended to the recorded reason). Returns the line the training job prints."""
    import mlflow

    promoted, reason = decision
    if promoted:
        client(settings).set_registered_model_alias(name, CHAMPION, version)
    mlflow.set_tags({"decision": "promoted" if promoted else "kept_champion", "decision_reason": reason})
    record_decision(
        settings,
        name,
        version,
        run_id,
        metric,
        value,
        champion_value,
        baseline,
        promoted,
        f"{reason} ({note})" if note else reason,
    )
    was = f" (was version {champion_version})" if champion_version else ""
    return f"{name} version {version}: {'PROMOTED to @champion' if promoted else 'not promoted'}{was}: {reason}"
