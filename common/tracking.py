"""MLflow helpers shared by jobs: one place that knows the tracking URI and run URLs."""

from __future__ import annotations

import urllib.request

from common.settings import Settings


class TrackingUnavailable(RuntimeError):
    pass


def start_run(settings: Settings, experiment: str, run_name: str, tags: dict | None = None):
    """Point MLflow at the configured server, check it answers, and start a run."""
    import mlflow

    uri = settings.mlflow_tracking_uri
    if uri.startswith("http"):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=5).close()
        except OSError as exc:
            raise TrackingUnavailable(
                f"MLflow tracking server {uri} is not reachable ({exc}); start it with `make up` "
                "or set RP_MLFLOW_TRACKING_URI"
            ) from None
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(settings.mlflow_experiment(experiment))
    return mlflow.start_run(run_name=run_name, tags=tags or {})


def run_url(settings: Settings, run) -> str:
    base = settings.mlflow_tracking_uri.rstrip("/")
    return f"{base}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
