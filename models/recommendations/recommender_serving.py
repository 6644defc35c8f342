"""The registered recommender: the chosen method (models/recommendations/methods.py) as an MLflow pyfunc model.

A service can load it without Spark (``mlflow.pyfunc.load_model("models:/retail_pulse_recommender@champion")``)
and call ``predict`` with a frame of ``visitor_id`` (and optionally ``exclude``, a list of item ids
per visitor, e.g. what it bought since); ``params={"k": 10}``. Visitors the method cannot place
(unknown at training) get the popular items, flagged ``fallback = 1``.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from common.serving import bad_input, frame_of
from models.recommendations.methods import Recommender
from models.recommendations.recommender import top_popular

OUTPUT_COLUMNS = ["visitor_id", "rank_no", "item_id", "score", "fallback"]
MAX_K = 1000
INPUT_EXAMPLE = pd.DataFrame({"visitor_id": [1, 2], "exclude": [[], [3]]})


def recommend(model: Recommender | None, popular, visitors, excluded: dict, k: int) -> pd.DataFrame:
    """Top-k per visitor (OUTPUT_COLUMNS): the model's lists for visitors it places, ``popular``
    otherwise (for everyone without a model), flagged ``fallback = 1``."""
    ranked = model.top_n(visitors, excluded, k) if model is not None else {}
    rows = []
    for visitor in visitors:
        items = ranked.get(visitor)
        if items is None:
            fallback = top_popular(popular, excluded.get(visitor, set()), k)
            rows += [(visitor, n, item, 0.0, 1) for n, item in enumerate(fallback, start=1)]
        else:
            rows += [(visitor, n, item, round(score, 6), 0) for n, (item, score) in enumerate(items, start=1)]
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def signature():
    """Input ``visitor_id`` (and optional ``exclude``: item ids per visitor), param ``k``, output OUTPUT_COLUMNS."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array

    inputs = Schema([ColSpec("long", "visitor_id"), ColSpec(Array("long"), "exclude", required=False)])
    kinds = {"visitor_id": "long", "rank_no": "long", "item_id": "long", "score": "double", "fallback": "long"}
    outputs = Schema([ColSpec(kinds[c], c) for c in OUTPUT_COLUMNS])
    return ModelSignature(inputs, outputs, ParamSchema([ParamSpec("k", "long", 10)]))


class ChosenRecommender(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = Recommender.load(context.artifacts["factors"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        k = int((params or {}).get("k", 10))
        if not 1 <= k <= MAX_K:
            raise bad_input(f"k={k}: ask for 1 to {MAX_K} items per visitor")
        model_input = frame_of(model_input, ["visitor_id", "exclude"], ["visitor_id"])
        visitors = [int(v) for v in model_input["visitor_id"]]
        excluded = {}
        for visitor, items in zip(visitors, model_input["exclude"], strict=True):
            if isinstance(items, list | tuple | np.ndarray):
                excluded[visitor] = {int(i) for i in items}
        return recommend(self.model, self.model.popular, visitors, excluded, k)


ALSRecommender = ChosenRecommender  # the name versions registered before methods were chosen were pickled under
