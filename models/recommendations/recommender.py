"""Implicit-feedback recommendations: event weighting, a time-based split, ALS (Spark MLlib), a
popularity baseline, top-N with exclusions, the ranking metrics and the promotion rule. Pure code,
no service I/O.

Protocol (the same for training, evaluation and the CLI on users' files):

* events ``visitor_id, item_id, action, event_time`` -> one row per (visitor, item) whose implicit
  confidence is the weighted count of its events (default view 1, addtocart 3, transaction 5);
* the split is by time: every event before the cutoff trains, the ones at or after it test;
* a visitor's candidates are all items except those it already *consumed* in training (purchased;
  for rating files: rated, whatever the rating), which serving never recommends again;
* relevant items are those a visitor interacted with in the test window, minus the excluded ones
  (for rating files: rated at or above --min-rating); visitors with no training interactions are
  cold (every method falls back to popularity for them), so quality is measured over warm visitors
  with at least one relevant item;
* precision@k, recall@k (hits / relevant), MAP@k (average precision over min(k, relevant)) and
  NDCG@k (binary gains), averaged over those visitors, for every method on the same split
  (models/recommendations/selection.py chooses among them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ACTIONS = ("view", "addtocart", "transaction")
DEFAULT_WEIGHTS = {"view": 1.0, "addtocart": 3.0, "transaction": 5.0}
CONSUMED = "transaction"  # the action whose items are never recommended again
EVENT_COLUMNS = ["visitor_id", "item_id", "action", "event_time"]
METRIC_NAMES = ("precision", "recall", "map", "ndcg")


class DataError(ValueError):
    """Input the recommender cannot use; the message says why."""


# -- weighting ----------------------------------------------------------------------------------
def parse_weights(text: str) -> dict[str, float]:
    """'view=1,addtocart=3,transaction=5' -> weights; every action needs a non-negative weight."""
    weights = dict(DEFAULT_WEIGHTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        action, sep, value = part.partition("=")
        action = action.strip()
        if not sep or action not in ACTIONS:
            raise DataError(f"weights: {part!r} is not ACTION=NUMBER with ACTION one of {', '.join(ACTIONS)}")
        try:
            weights[action] = float(value)
        except ValueError:
            raise DataError(f"weights: {part!r}: {value!r} is not a number") from None
        if not math.isfinite(weights[action]) or weights[action] < 0:
            raise DataError(f"weights: {part!r}: the weight must be a finite number >= 0")
    return weights


def format_weights(weights: dict[str, float]) -> str:
    return ",".join(f"{a}={weights[a]:g}" for a in ACTIONS)


def interactions(events: pd.DataFrame, weights: dict[str, float] | None = None) -> pd.DataFrame:
    """Events -> one row per (visitor_id, item_id): counts per action, confidence (the weighted
    count), first and last event time. Rows whose confidence is 0 are dropped."""
    weights = weights or DEFAULT_WEIGHTS
    counts = pd.crosstab([events["visitor_id"], events["item_id"]], events["action"])
    counts = counts.reindex(columns=list(ACTIONS), fill_value=0)
    times = events.groupby(["visitor_id", "item_id"])["event_time"].agg(["min", "max"])
    out = pd.DataFrame(
        {
            "views": counts["view"],
            "carts": counts["addtocart"],
            "purchases": counts["transaction"],
            "first_seen": times["min"],
            "last_seen": times["max"],
        }
    )
    out["confidence"] = sum(
        out[col] * weights[a] for col, a in zip(("views", "carts", "purchases"), ACTIONS, strict=True)
    )
    return out[out["confidence"] > 0].reset_index()


# -- split --------------------------------------------------------------------------------------
def time_cutoff(times: pd.Series, test_fraction: float) -> pd.Timestamp:
    """The event time from which the last ``test_fraction`` of events fall in the test window."""
    if not 0 < test_fraction < 1:
        raise DataError(f"test fraction {test_fraction} must be between 0 and 1")
    cutoff = pd.Series(times).quantile(1 - test_fraction, interpolation="higher")
    if cutoff <= times.min():
        raise DataError("all events share one time: a time-based split needs events at different times")
    return cutoff


def time_split(events: pd.DataFrame, cutoff) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events strictly before the cutoff, events at or after it)."""
    before = events["event_time"] < cutoff
    return events[before], events[~before]


# -- the evaluation split -------------------------------------------------------------------------
@dataclass
class Split:
    """Training interactions and, per warm test visitor, what it may be shown and what is relevant."""

    train: pd.DataFrame  # interactions() of the training events
    relevant: dict[int, set] = field(default_factory=dict)  # warm visitor -> relevant test items
    excluded: dict[int, set] = field(default_factory=dict)  # visitor -> items consumed in training
    cold_visitors: int = 0  # test visitors with no training interactions
    cutoff: object = None


def consumed_items(train_events: pd.DataFrame) -> dict[int, set]:
    """Visitor -> items it purchased in the given events (never recommended again)."""
    bought = train_events[train_events["action"] == CONSUMED]
    return {v: set(items) for v, items in bought.groupby("visitor_id")["item_id"]}


def make_split(events: pd.DataFrame, cutoff, weights: dict[str, float] | None = None) -> Split:
    train_events, test_events = time_split(events, cutoff)
    train = interactions(train_events, weights)
    if train.empty:
        raise DataError(f"no training interactions before {cutoff}")
    excluded = consumed_items(train_events)
    warm = set(train["visitor_id"].unique())
    # rating files mark the lines below --min-rating: consumed (excluded above) but never relevant
    test = interactions(test_events[test_events["relevant"]] if "relevant" in test_events else test_events, weights)
    relevant, cold = {}, set()
    for visitor, items in test.groupby("visitor_id")["item_id"]:
        if visitor not in warm:
            cold.add(visitor)
            continue
        wanted = set(items) - excluded.get(visitor, set())
        if wanted:
            relevant[visitor] = wanted
    return Split(train, relevant, excluded, len(cold), cutoff)


# -- metrics -------------------------------------------------------------------------------------
def precision_at_k(ranked, relevant: set, k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked, relevant: set, k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant) if relevant else 0.0


def average_precision_at_k(ranked, relevant: set, k: int) -> float:
    """Sum of precision@i at each hit i <= k, over min(k, |relevant|)."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / i
    return total / min(k, len(relevant))


def ndcg_at_k(ranked, relevant: set, k: int) -> float:
    """Binary-gain NDCG: DCG of the hits over the DCG of an ideal ranking of min(k, |relevant|)."""
    if not relevant:
        return 0.0
    dcg = sum(1 / math.log2(i + 1) for i, item in enumerate(ranked[:k], start=1) if item in relevant)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def ranking_metrics(recommended: dict, relevant: dict[int, set], k: int) -> dict[str, float]:
    """Mean precision/recall/MAP/NDCG @k over the visitors in ``relevant`` (a visitor without
    recommendations scores 0)."""
    if not relevant:
        raise DataError("no warm visitor has a relevant item in the test window: nothing to evaluate")
    functions = (precision_at_k, recall_at_k, average_precision_at_k, ndcg_at_k)
    sums = np.zeros(len(functions))
    for visitor, wanted in relevant.items():
        ranked = list(recommended.get(visitor, ()))
        sums += [f(ranked, wanted, k) for f in functions]
    means = sums / len(relevant)
    return {f"{name}@{k}": round(float(v), 6) for name, v in zip(METRIC_NAMES, means, strict=True)} | {
        "users": len(relevant)
    }


# -- models --------------------------------------------------------------------------------------
def popularity(train: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(items by the number of distinct visitors who interacted with them, ties by total confidence;
    those visitor counts)."""
    stats = train.groupby("item_id").agg(visitors=("visitor_id", "nunique"), confidence=("confidence", "sum"))
    ranked = stats.sort_values(["visitors", "confidence"], ascending=False)
    return ranked.index.to_numpy(), ranked["visitors"].to_numpy()


def popular_items(train: pd.DataFrame) -> np.ndarray:
    """The items of :func:`popularity`, most popular first."""
    return popularity(train)[0]


def top_popular(popular: np.ndarray, excluded: set, k: int) -> list:
    """The first k popular items the visitor has not consumed."""
    out = []
    for item in popular:
        if item not in excluded:
            out.append(item)
            if len(out) == k:
                break
    return out


@dataclass
class Factors:
    """A fitted factorisation: visitor and item ids with their latent vectors."""

    visitor_ids: np.ndarray
    user_factors: np.ndarray  # (visitors, rank) float32
    item_ids: np.ndarray
    item_factors: np.ndarray  # (items, rank) float32
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.visitor_index = {v: i for i, v in enumerate(self.visitor_ids.tolist())}
        self.item_index = {v: i for i, v in enumerate(self.item_ids.tolist())}

    def top_n(self, visitors, excluded: dict[int, set], k: int, block: int = 2048, boost=None) -> dict:
        """Visitor -> its k best-scored items (highest first), without its excluded items. Visitors
        without factors are left out (the caller falls back to popularity). With ``boost`` (one
        value per item) each visitor's scores are first scaled to its best item (1.0), then the
        boost is added (the blend with recent popularity)."""
        known = [v for v in visitors if v in self.visitor_index]
        result = {}
        items_t = self.item_factors.T
        for start in range(0, len(known), block):
            chunk = known[start : start + block]
            scores = self.user_factors[[self.visitor_index[v] for v in chunk]] @ items_t
            if boost is not None:
                scores = scores / np.maximum(scores.max(axis=1, keepdims=True), 1e-9) + boost.astype("float32")
            result |= top_k_rows(scores, chunk, self.item_ids, self.item_index, excluded, k)
        return result


def top_k_rows(scores: np.ndarray, visitors: list, item_ids: np.ndarray, item_index: dict, excluded: dict, k: int):
    """One row of item scores per visitor -> visitor -> [(item, score)], best first, without the
    visitor's excluded items or items scored -inf."""
    for row, visitor in enumerate(visitors):
        drop = [item_index[i] for i in excluded.get(visitor, ()) if i in item_index]
        scores[row, drop] = -np.inf
    kk = min(k, len(item_ids))
    best = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    order = np.take_along_axis(scores, best, axis=1).argsort(axis=1)[:, ::-1]
    best = np.take_along_axis(best, order, axis=1)
    best_scores = np.take_along_axis(scores, best, axis=1)
    result = {}
    for row, visitor in enumerate(visitors):
        keep = np.isfinite(best_scores[row])
        result[visitor] = list(zip(item_ids[best[row][keep]].tolist(), best_scores[row][keep].tolist(), strict=True))
    return result


def fit_als(
    spark, train: pd.DataFrame, rank: int, reg_param: float, alpha: float, max_iter: int = 10, seed: int = 7
) -> Factors:
    """Spark MLlib ALS with implicit preferences on (visitor, item, confidence); ids of any size are
    mapped to dense integer indices for Spark and back."""
    from pyspark.ml.recommendation import ALS

    users, user_ids = pd.factorize(train["visitor_id"], sort=True)
    items, item_ids = pd.factorize(train["item_id"], sort=True)
    frame = pd.DataFrame(
        {"u": users.astype("int32"), "i": items.astype("int32"), "r": train["confidence"].astype("float32")}
    )
    ratings = spark.createDataFrame(frame)
    als = ALS(
        rank=rank,
        regParam=reg_param,
        alpha=alpha,
        maxIter=max_iter,
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="r",
        seed=seed,
        coldStartStrategy="drop",
        numUserBlocks=2,
        numItemBlocks=2,
    )
    model = als.fit(ratings)
    user_f = model.userFactors.toPandas().sort_values("id")
    item_f = model.itemFactors.toPandas().sort_values("id")
    return Factors(
        np.asarray(user_ids)[user_f["id"].to_numpy()],
        np.vstack(user_f["features"].to_numpy()).astype("float32"),
        np.asarray(item_ids)[item_f["id"].to_numpy()],
        np.vstack(item_f["features"].to_numpy()).astype("float32"),
        {"rank": rank, "reg_param": reg_param, "alpha": alpha, "max_iter": max_iter},
    )


# -- promotion -----------------------------------------------------------------------------------
def promote(challenger: float, baselines: dict[str, float], champion: float | None, tolerance: float = 0.1):
    """(promoted?, reason): a challenger becomes champion if its holdout MAP@k is not below any
    baseline's (all-time and recent popularity) on the same split and not more than ``tolerance``
    (relative) below the champion's recorded value (the champion was scored on an older split, so a
    small dip is noise, a large one a broken run)."""
    name, strongest = max(baselines.items(), key=lambda item: item[1])
    against = f"{name.replace('_', ' ')} {strongest:.4f}"
    if challenger < strongest:
        return False, f"MAP {challenger:.4f} is below {against} on the same split"
    if champion is None:
        return True, f"first version; MAP {challenger:.4f} >= {against}"
    floor = champion * (1 - tolerance)
    if challenger < floor:
        return False, (
            f"MAP {challenger:.4f} is more than {tolerance:.0%} below the champion's {champion:.4f} (floor {floor:.4f})"
        )
    return True, f"MAP {challenger:.4f} >= {against} and >= {floor:.4f} ({1 - tolerance:.0%} of the champion)"
