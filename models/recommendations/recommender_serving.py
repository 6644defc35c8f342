"""The registered recommender: ALS factors and the popular items as an MLflow pyfunc model.

A service can load it without Spark (``mlflow.pyfunc.load_model("models:/retail_pulse_recommender@champion")``)
and call ``predict`` with a frame of ``visitor_id`` (and optionally ``exclude``, a list of item ids
per visitor, e.g. what it bought since); ``params={"k": 10}``. Visitors without factors get the
popular items, flagged ``fallback = 1``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.recommendations.recommender import Factors, top_popular

OUTPUT_COLUMNS = ["visitor_id", "rank_no", "item_id", "score", "fallback"]


def save_factors(path: Path, factors: Factors, popular: np.ndarray, popular_visitors: np.ndarray) -> Path:
    np.savez_compressed(
        path,
        visitor_ids=factors.visitor_ids,
        user_factors=factors.user_factors,
        item_ids=factors.item_ids,
        item_factors=factors.item_factors,
        popular=popular,
        popular_visitors=popular_visitors,
    )
    return path


def load_factors(path: str | Path) -> tuple[Factors, np.ndarray, np.ndarray]:
    data = np.load(path)
    factors = Factors(data["visitor_ids"], data["user_factors"], data["item_ids"], data["item_factors"])
    return factors, data["popular"], data["popular_visitors"]


def recommend(factors: Factors | None, popular, visitors, excluded: dict, k: int) -> pd.DataFrame:
    """Top-k per visitor (OUTPUT_COLUMNS): ALS for visitors with factors, popular items otherwise
    (for everyone without a model)."""
    ranked = factors.top_n(visitors, excluded, k) if factors is not None else {}
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


class ALSRecommender(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.factors, self.popular, self.popular_visitors = load_factors(context.artifacts["factors"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        k = int((params or {}).get("k", 10))
        visitors = [int(v) for v in model_input["visitor_id"]]
        excluded = {}
        if "exclude" in model_input:
            excluded = {int(v): set(items or ()) for v, items in zip(visitors, model_input["exclude"], strict=True)}
        return recommend(self.factors, self.popular, visitors, excluded, k)
