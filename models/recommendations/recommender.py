"""Implicit-feedback recommendations: event weighting, a time-based split, ALS (Spark MLlib), a
popularity baseline, top-N with exclusions, and the ranking metrics. Pure code, no service I/O.

Protocol (the same for training, evaluation and the CLI on users' files):

* events ``visitor_id, item_id, action, event_time`` -> one row per (visitor, item) whose implicit
  confidence is the weighted count of its events (default view 1, addtocart 3, transaction 5);
* the split is by time: every event before the cutoff trains, the ones at or after it test;
* a visitor's candidates are all items except those it already *consumed* in training (purchased;
  for rating files: rated), which serving never recommends again;
* relevant items are those a visitor interacted with in the test window, minus the excluded ones;
  visitors with no training interactions are cold (both methods fall back to popularity for them),
  so quality is measured over warm visitors with at least one relevant item;
* precision@k, recall@k (hits / relevant), MAP@k (average precision over min(k, relevant)) and
  NDCG@k (binary gains), averaged over those visitors, for ALS and popularity side by side.
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
    test = interactions(test_events, weights)
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

    def top_n(self, visitors, excluded: dict[int, set], k: int, block: int = 2048) -> dict:
        """Visitor -> its k best-scored items (highest first), without its excluded items. Visitors
        without factors are left out (the caller falls back to popularity)."""
        known = [v for v in visitors if v in self.visitor_index]
        result = {}
        items_t = self.item_factors.T
        n_items = len(self.item_ids)
        for start in range(0, len(known), block):
            chunk = known[start : start + block]
            scores = self.user_factors[[self.visitor_index[v] for v in chunk]] @ items_t
            for row, visitor in enumerate(chunk):
                drop = [self.item_index[i] for i in excluded.get(visitor, ()) if i in self.item_index]
                scores[row, drop] = -np.inf
            kk = min(k, n_items)
            best = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            order = np.take_along_axis(scores, best, axis=1).argsort(axis=1)[:, ::-1]
            best = np.take_along_axis(best, order, axis=1)
            best_scores = np.take_along_axis(scores, best, axis=1)
            for row, visitor in enumerate(chunk):
                keep = np.isfinite(best_scores[row])
                result[visitor] = list(
                    zip(self.item_ids[best[row][keep]].tolist(), best_scores[row][keep].tolist(), strict=True)
                )
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


def evaluate(factors: Factors | None, split: Split, k: int) -> dict[str, dict]:
    """ALS (if given) and popularity on one split: {"als": metrics, "popularity": metrics}."""
    popular = popular_items(split.train)
    visitors = list(split.relevant)
    pop = {v: top_popular(popular, split.excluded.get(v, set()), k) for v in visitors}
    report = {"popularity": ranking_metrics(pop, split.relevant, k)}
    if factors is not None:
        ranked = {v: [i for i, _ in items] for v, items in factors.top_n(visitors, split.excluded, k).items()}
        report["als"] = ranking_metrics({**pop, **ranked}, split.relevant, k)
    return report


# -- promotion -----------------------------------------------------------------------------------
def promote(challenger: float, baseline: float, champion: float | None, tolerance: float = 0.1) -> tuple[bool, str]:
    """A challenger becomes champion if its holdout MAP@k is not below the popularity baseline's on
    the same split and not more than ``tolerance`` (relative) below the champion's recorded value
    (the champion was scored on an older split, so a small dip is noise, a large one a broken run)."""
    if challenger < baseline:
        return False, f"MAP {challenger:.4f} is below the popularity baseline's {baseline:.4f} on the same split"
    if champion is None:
        return True, f"first version; MAP {challenger:.4f} >= popularity {baseline:.4f}"
    floor = champion * (1 - tolerance)
    if challenger < floor:
        return False, (
            f"MAP {challenger:.4f} is more than {tolerance:.0%} below the champion's {champion:.4f} (floor {floor:.4f})"
        )
    return (
        True,
        f"MAP {challenger:.4f} >= popularity {baseline:.4f} and >= {floor:.4f} ({1 - tolerance:.0%} of the champion)",
    )


# -- the whole protocol ----------------------------------------------------------------------------
@dataclass
class Trial:
    params: dict
    validation: dict  # ALS and popularity metrics on the validation split
    fit_seconds: float


@dataclass
class Outcome:
    """What :func:`select_and_evaluate` found: the grid's trials, the chosen parameters, and ALS vs
    popularity on the holdout (ALS fitted on the training window with the chosen parameters)."""

    trials: list[Trial]
    best: dict
    holdout: dict
    split: Split
    validation_cutoff: object
    train_events: int
    test_events: int


def grid(ranks, reg_params, alphas, max_iter: int = 10) -> list[dict]:
    return [
        {"rank": int(r), "reg_param": float(g), "alpha": float(a), "max_iter": int(max_iter)}
        for r in ranks
        for g in reg_params
        for a in alphas
    ]


def select_and_evaluate(
    spark,
    events: pd.DataFrame,
    params_grid: list[dict],
    k: int = 10,
    test_fraction: float = 0.2,
    weights: dict | None = None,
    seed: int = 7,
    log=print,
) -> Outcome:
    """Time-based split; the grid is scored on a validation split *inside* the training window (the
    last ``test_fraction`` of its events), so the holdout never chooses anything; the best
    parameters are then fitted on the whole training window and scored on the holdout."""
    import time

    if events.empty:
        raise DataError("no events to train on")
    cutoff = time_cutoff(events["event_time"], test_fraction)
    split = make_split(events, cutoff, weights)
    train_events, test_events = time_split(events, cutoff)
    validation_cutoff = time_cutoff(train_events["event_time"], test_fraction)
    validation = make_split(train_events, validation_cutoff, weights)
    log(
        f"split at {cutoff}: {len(train_events):,} training events ({len(split.train):,} interactions),"
        f" {len(test_events):,} test events; {len(split.relevant):,} warm test visitors, {split.cold_visitors:,} cold;"
        f" validation inside training from {validation_cutoff} ({len(validation.relevant):,} visitors)"
    )
    trials = []
    for n, params in enumerate(params_grid, start=1):
        started = time.time()
        factors = fit_als(spark, validation.train, seed=seed, **params)
        fitted = time.time() - started
        report = evaluate(factors, validation, k)
        trials.append(Trial(params, report, round(fitted, 2)))
        log(
            f"grid {n}/{len(params_grid)} {params}: validation MAP@{k} {report['als'][f'map@{k}']:.4f}"
            f" (popularity {report['popularity'][f'map@{k}']:.4f}), fit {fitted:.1f}s"
        )
    best = max(trials, key=lambda t: t.validation["als"][f"map@{k}"]).params
    factors = fit_als(spark, split.train, seed=seed, **best)
    holdout = evaluate(factors, split, k)
    return Outcome(trials, best, holdout, split, validation_cutoff, len(train_events), len(test_events))
