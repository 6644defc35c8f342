"""MLflow helpers shared by jobs: one place that knows the tracking URI and run URLs."""

from __future__ import annotations

import os
import urllib.request

from common.settings import Settings


class TrackingUnavailable(RuntimeError):
    pass


def check_tracking(settings: Settings) -> None:
    """Raise TrackingUnavailable (one clear line) unless the configured MLflow server answers."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # job logs, not a terminal
    uri = settings.mlflow_tracking_uri
    if uri.startswith("http"):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=5).close()
        except OSError as exc:
            raise TrackingUnavailable(
                f"MLflow tracking server {uri} is not reachable ({exc}); start it with `make up` "
                "or set RP_MLFLOW_TRACKING_URI"
            ) from None


def start_run(settings: Settings, experiment: str, run_name: str, tags: dict | None = None):
    """Point MLflow at the configured server, check it answers, and start a run."""
    import mlflow

    check_tracking(settings)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.mlflow_experiment(experiment))
    return mlflow.start_run(run_name=run_name, tags=tags or {})


def run_url(settings: Settings, run) -> str:
    base = settings.mlflow_tracking_uri.rstrip("/")
    return f"{base}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
