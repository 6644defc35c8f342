"""The MLflow model registry as the pipeline uses it: versions promoted by the ``champion`` alias."""

from __future__ import annotations

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


def load_champion(settings: Settings, name: str, hint: str):
    """(the champion as an sklearn model, "name/version"); NoChampion says ``hint`` if there is none."""
    import mlflow

    version = champion(settings, name)
    if version is None:
        raise NoChampion(f"no {name}@{CHAMPION} in the MLflow registry at {settings.mlflow_tracking_uri}; {hint}")
    return mlflow.sklearn.load_model(f"models:/{name}/{version.version}"), f"{name}/{version.version}"
