"""The registered product models (review risk, sales volume) as MLflow pyfunc models.

A service loads one without Spark (``mlflow.pyfunc.load_model("models:/retail_pulse_review_risk@champion")``)
and calls ``predict`` with a frame of the feature-store columns (models/products/features.py: FEATURES and
``category``); each row comes back with ``prediction`` (risk: P(next reviews negative); volume:
units over the next 28 days), ``lower`` / ``upper`` (volume's 80% interval), ``flagged`` (risk at
or above the chosen threshold), ``top_features`` (JSON: the largest SHAP contributions) and
``reason`` (plain language).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from common.serving import frame_of
from common.settings import Settings
from models.products.features import FEATURES
from models.products.product_models import ProductModel

OUTPUT_COLUMNS = ["prediction", "lower", "upper", "flagged", "top_features", "reason"]


def model_name(settings: Settings, kind: str) -> str:
    """The registered name of the ``risk`` or ``volume`` model."""
    return settings.risk_model if kind == "risk" else settings.volume_model


def load_champion(settings: Settings, kind: str) -> tuple[ProductModel, str, str] | None:
    """(model, version, its MLflow run id) of the kind's ``@champion``, or None."""
    from common.registry import champion

    version = champion(settings, model_name(settings, kind))
    if version is None:
        return None
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name(settings, kind)}/{version.version}")
    return loaded.unwrap_python_model().model, version.version, version.run_id


def save_model(path: Path, model: ProductModel) -> Path:
    model._explainer = model._codes = None  # rebuilt on first use after loading
    path.write_bytes(pickle.dumps(model))
    return path


def scored(model: ProductModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Predictions with their explanations (OUTPUT_COLUMNS), one per input row."""
    X = model.matrix(rows)
    values = model.shap(rows, X)
    out = model.predict(rows, explained=values.sum(axis=1) + model.base_value(), X=X)
    contributions = model.explain(rows, values=values, X=X)
    out["top_features"] = [json.dumps(c) for c in contributions]
    out["reason"] = [model.reason(c) for c in contributions]
    return out[OUTPUT_COLUMNS]


class ProductModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model: ProductModel = pickle.loads(Path(context.artifacts["model"]).read_bytes())

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """A missing feature column counts as unknown for every row (like a missing value)."""
        return scored(self.model, frame_of(model_input, [*FEATURES, "category"], ["category"]))


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("double", f, required=False) for f in FEATURES] + [ColSpec("string", "category")])
    outputs = Schema(
        [
            ColSpec("double", "prediction"),
            ColSpec("double", "lower", required=False),
            ColSpec("double", "upper", required=False),
            ColSpec("double", "flagged", required=False),
            ColSpec("string", "top_features"),
            ColSpec("string", "reason"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)
