"""The registered sentiment model as an MLflow pyfunc: texts in, one answer per text out.

    model = mlflow.pyfunc.load_model("models:/retail_pulse_sentiment@champion")
    model.predict(pd.DataFrame({"text": ["Arrived broken.", "Works as promised."]}))

Input: a frame with a ``text`` column (other columns, in any order, are ignored). Output, one row per
input row: ``label`` (negative / neutral / positive), ``confidence`` (the label's probability),
``p_negative`` / ``p_neutral`` / ``p_positive`` and ``model_version`` (``name/version`` in the registry).
An empty or non-text value is bad input (HTTP 400 through ``mlflow models serve``), named by its row.

The fitted scikit-learn pipeline (models/reviews/sentiment.py) is stored with skops, loaded with the
pipeline's own trusted types only.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from common.serving import bad_input, frame_of, registered_version
from models.reviews.sentiment import LABELS, TRUSTED_TYPES

OUTPUT_COLUMNS = ["label", "confidence", *(f"p_{label}" for label in LABELS), "model_version"]
ARTIFACT = "pipeline"


def save_pipeline(path: Path, pipeline) -> Path:
    import skops.io

    skops.io.dump(pipeline, path)
    return path


def load_pipeline(path: str | Path):
    import skops.io

    return skops.io.load(path, trusted=TRUSTED_TYPES)


def load_champion(settings, name: str, hint: str):
    """(the champion's fitted pipeline, "name/version"); NoChampion says ``hint`` if there is none. Reads
    both the pyfunc versions and the plain scikit-learn ones registered before them."""
    import mlflow

    from common.registry import CHAMPION, NoChampion, champion

    version = champion(settings, name)
    if version is None:
        raise NoChampion(f"no {name}@{CHAMPION} in the MLflow registry at {settings.mlflow_tracking_uri}; {hint}")
    uri = f"models:/{name}/{version.version}"
    if "sklearn" in mlflow.models.get_model_info(uri).flavors:
        return mlflow.sklearn.load_model(uri), f"{name}/{version.version}"
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().pipeline, f"{name}/{version.version}"


def texts_of(model_input) -> list[str]:
    """The texts to score: the ``text`` column of a frame."""
    texts = list(frame_of(model_input, ["text"], ["text"])["text"])
    for row, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise bad_input(f"row {row}: text must be a non-empty string, got {text!r}")
    return texts


def answer(pipeline, texts: list[str], version: str) -> pd.DataFrame:
    """OUTPUT_COLUMNS, one row per text."""
    proba = pipeline.predict_proba(texts)
    classes = list(pipeline.classes_)
    out = pd.DataFrame({f"p_{label}": proba[:, classes.index(label)].round(4) for label in LABELS})
    best = proba.argmax(axis=1)
    out.insert(0, "confidence", proba[np.arange(len(texts)), best].round(4))
    out.insert(0, "label", [classes[i] for i in best])
    out["model_version"] = version
    return out[OUTPUT_COLUMNS]


class SentimentPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.pipeline = load_pipeline(context.artifacts[ARTIFACT])
        self.version = registered_version(context, (context.model_config or {}).get("registered_name"))

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        return answer(self.pipeline, texts_of(model_input), self.version)


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    kinds = {"label": "string", "model_version": "string"}
    outputs = Schema([ColSpec(kinds.get(c, "double"), c) for c in OUTPUT_COLUMNS])
    return ModelSignature(inputs=Schema([ColSpec("string", "text")]), outputs=outputs)


INPUT_EXAMPLE = pd.DataFrame({"text": ["Arrived broken and support never answered.", "Does what it says."]})
