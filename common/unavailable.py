"""The stand-in `make serve` runs for a model with no champion yet (imported only where it is used: defining a
pyfunc class makes MLflow print warnings)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc


class Unavailable(mlflow.pyfunc.PythonModel):
    """Stands in for a model with no champion yet, so its endpoint answers every request with HTTP 404
    and what to do (``reason``) instead of refusing the connection."""

    def __init__(self, reason: str):
        self.reason = reason

    def predict(self, context, model_input, params=None):
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

        raise MlflowException(self.reason, error_code=RESOURCE_DOES_NOT_EXIST)


def save_unavailable(path: Path, reason: str) -> Path:
    """An MLflow model folder at ``path`` whose every prediction is the 404 ``reason``."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    mlflow.pyfunc.save_model(path, python_model=Unavailable(reason))
    return path
