"""The recommendation methods a training run chooses from, and the chosen model as it is served.

* ``popularity``: items by the number of distinct visitors who interacted with them (all time);
* ``recent_popularity``: the same over the last ``days`` of the training window, then the rest of
  the items in all-time order;
* ``als``: Spark MLlib ALS factors (implicit preferences);
* ``blend``: ALS scores scaled to each visitor's best item (0..1) plus ``weight`` times the item's
  share of recent visitors (0..1, the recent window of ``days``);
* ``item_knn``: item-to-item cosine similarity of who interacted with what, each item keeping its
  ``neighbours`` most similar items; a visitor's score for an item is the summed similarity to the
  items in its history.

:class:`Recommender` holds whichever was chosen and answers top-N for visitors with exclusions; it
saves to and loads from one ``.npz`` file (what the registered pyfunc carries). Pure code: ALS is
fitted by the caller's Spark session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from models.recommendations.recommender import Factors, fit_als, popularity, top_k_rows, top_popular

METHODS = ("popularity", "recent_popularity", "als", "blend", "item_knn")
USES_ALS = ("als", "blend")
USES_RECENT = ("recent_popularity", "blend")


def recent_popularity(train: pd.DataFrame, days: float) -> tuple[np.ndarray, np.ndarray]:
    """(items by distinct visitors whose last interaction falls in the window's last ``days``, then
    the other items in all-time order; those recent visitor counts, 0 for the rest)."""
    end = train["last_seen"].max()
    recent, counts = popularity(train[train["last_seen"] > end - pd.Timedelta(days=days)])
    everything, _ = popularity(train)
    rest = everything[~np.isin(everything, recent)]
    return np.concatenate([recent, rest]), np.concatenate([counts, np.zeros(len(rest), dtype=counts.dtype)])


@dataclass
class ItemKNN:
    """Visitors' histories (binary, visitors x items) and each item's nearest items (items x items)."""

    visitor_ids: np.ndarray
    item_ids: np.ndarray
    history: sparse.csr_matrix
    similarity: sparse.csr_matrix

    def __post_init__(self):
        self.visitor_index = {v: i for i, v in enumerate(self.visitor_ids.tolist())}
        self.item_index = {v: i for i, v in enumerate(self.item_ids.tolist())}

    def top_n(self, visitors, excluded: dict, k: int, block: int = 512) -> dict:
        known = [v for v in visitors if v in self.visitor_index]
        result = {}
        for start in range(0, len(known), block):
            chunk = known[start : start + block]
            rows = self.history[[self.visitor_index[v] for v in chunk]]
            scores = (rows @ self.similarity).toarray().astype("float32")
            scores[scores <= 0] = -np.inf  # no similar item in the history: nothing to say
            result |= top_k_rows(scores, chunk, self.item_ids, self.item_index, excluded, k)
        return result


def fit_item_knn(train: pd.DataFrame, neighbours: int = 100) -> ItemKNN:
    users, user_ids = pd.factorize(train["visitor_id"], sort=True)
    items, item_ids = pd.factorize(train["item_id"], sort=True)
    history = sparse.csr_matrix(
        (np.ones(len(train), dtype="float32"), (users, items)), shape=(len(user_ids), len(item_ids))
    )
    history.sum_duplicates()
    history.data[:] = 1.0
    counts = np.asarray(history.sum(axis=0)).ravel()
    scale = sparse.diags(1 / np.sqrt(np.maximum(counts, 1)).astype("float32"))
    cosine = (scale @ (history.T @ history) @ scale).tocsr()
    cosine.setdiag(0)
    cosine.eliminate_zeros()
    return ItemKNN(np.asarray(user_ids), np.asarray(item_ids), history, keep_top(cosine, neighbours))


def keep_top(matrix: sparse.csr_matrix, n: int) -> sparse.csr_matrix:
    """Each row's ``n`` largest entries."""
    indptr, indices, data = [0], [], []
    for row in range(matrix.shape[0]):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        values, columns = matrix.data[lo:hi], matrix.indices[lo:hi]
        if len(values) > n:
            best = np.argpartition(-values, n - 1)[:n]
            values, columns = values[best], columns[best]
        indices.append(columns)
        data.append(values)
        indptr.append(indptr[-1] + len(values))
    return sparse.csr_matrix(
        (np.concatenate(data or [[]]).astype("float32"), np.concatenate(indices or [[]]).astype("int32"), indptr),
        shape=matrix.shape,
    )


@dataclass
class Recommender:
    """The chosen method with what it needs. ``popular`` (with its visitor counts) ranks items for
    visitors the method cannot place (cold), and for everyone when the method is a popularity."""

    method: str
    popular: np.ndarray
    popular_visitors: np.ndarray
    params: dict = field(default_factory=dict)
    factors: Factors | None = None
    knn: ItemKNN | None = None
    boost: np.ndarray | None = None  # blend: recent share per item of ``factors``
    known: frozenset = frozenset()  # visitors seen in training

    def top_n(self, visitors, excluded: dict, k: int) -> dict:
        """Visitor -> [(item, score)] for the visitors this method places; the caller falls back to
        ``popular`` for the rest."""
        if self.method in ("popularity", "recent_popularity"):
            share = dict(zip(self.popular.tolist(), self.popular_visitors.tolist(), strict=True))
            return {
                v: [(i, float(share[i])) for i in top_popular(self.popular, excluded.get(v, set()), k)]
                for v in visitors
                if v in self.known
            }
        if self.method == "item_knn":
            return self.knn.top_n(visitors, excluded, k)
        return self.factors.top_n(visitors, excluded, k, boost=self.boost)

    def ranked(self, visitors, excluded: dict, k: int) -> dict:
        """Visitor -> item ids, the popular fallback filled in (what the metrics score)."""
        lists = {v: [i for i, _ in items] for v, items in self.top_n(visitors, excluded, k).items()}
        return {v: lists.get(v) or top_popular(self.popular, excluded.get(v, set()), k) for v in visitors}

    # -- one .npz file -----------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        arrays = {
            "method": np.array(self.method),
            "params": np.array(json.dumps(self.params)),
            "popular": self.popular,
            "popular_visitors": self.popular_visitors,
            "known": np.array(sorted(self.known), dtype="int64"),
        }
        if self.factors is not None:
            f = self.factors
            arrays |= dict(visitor_ids=f.visitor_ids, user_factors=f.user_factors, item_ids=f.item_ids)
            arrays |= dict(item_factors=f.item_factors)
        if self.boost is not None:
            arrays["boost"] = self.boost
        if self.knn is not None:
            n = self.knn
            arrays |= {"knn_visitor_ids": n.visitor_ids, "knn_item_ids": n.item_ids}
            for name, matrix in (("history", n.history), ("similarity", n.similarity)):
                arrays |= {f"{name}_{part}": getattr(matrix, part) for part in ("data", "indices", "indptr")}
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """A saved model; files written before methods were chosen hold ALS factors only."""
        data = np.load(path)
        method = str(data["method"]) if "method" in data else "als"
        factors = knn = None
        if "user_factors" in data:
            factors = Factors(data["visitor_ids"], data["user_factors"], data["item_ids"], data["item_factors"])
        if "knn_item_ids" in data:
            shape = (len(data["knn_visitor_ids"]), len(data["knn_item_ids"]))
            history, similarity = (
                sparse.csr_matrix(
                    (data[f"{name}_data"], data[f"{name}_indices"], data[f"{name}_indptr"]),
                    shape=(shape[0] if name == "history" else shape[1], shape[1]),
                )
                for name in ("history", "similarity")
            )
            knn = ItemKNN(data["knn_visitor_ids"], data["knn_item_ids"], history, similarity)
        known = data["known"] if "known" in data else (factors.visitor_ids if factors is not None else [])
        return cls(
            method,
            data["popular"],
            data["popular_visitors"],
            json.loads(str(data["params"])) if "params" in data else {},
            factors,
            knn,
            data["boost"] if "boost" in data else None,
            frozenset(np.asarray(known).tolist()),
        )


# -- fitting one candidate ---------------------------------------------------------------------------
ALS_KEYS = ("rank", "reg_param", "alpha", "max_iter")


def als_params(params: dict) -> dict:
    return {key: params[key] for key in ALS_KEYS}


def build(spark, train: pd.DataFrame, method: str, params: dict, seed: int = 7, factors: Factors | None = None):
    """The candidate ``method`` with ``params`` fitted on training interactions (``factors``: an
    ALS fit with the same ALS parameters, reused instead of refitting)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    known = frozenset(train["visitor_id"].unique().tolist())
    if method in USES_RECENT:
        popular, counts = recent_popularity(train, params["days"])
    else:
        popular, counts = popularity(train)
    model = Recommender(method, popular, counts, dict(params), known=known)
    if method in USES_ALS:
        model.factors = factors or fit_als(spark, train, seed=seed, **als_params(params))
    if method == "blend":
        share = dict(zip(popular.tolist(), (counts / max(counts.max(), 1)).tolist(), strict=True))
        model.boost = params["weight"] * np.array([share.get(i, 0.0) for i in model.factors.item_ids.tolist()])
    if method == "item_knn":
        model.knn = fit_item_knn(train, params["neighbours"])
    return model
