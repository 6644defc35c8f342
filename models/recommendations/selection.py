"""Choosing the recommendation method per data set, without ever looking at the holdout.

Three windows, all cut by time with the same ``test_fraction``:

* the **holdout**: the last events; scores the choice and both baselines at the end, chooses nothing;
* the **validation window**: the last events of the training window; every candidate is scored
  here (the ALS grid, recent popularity per window, the blend of the best ALS fit with recent
  popularity per weight, item-kNN) next to all-time popularity;
* the **guard window**: the last events before the validation window. A validation window can be
  unlike the rest (a holiday, a gap): a candidate that wins it by luck would switch the product
  away from popularity for nothing. So the choice leaves all-time popularity only for a candidate
  that beats it by ``margin`` (relative MAP@k) on the validation window *and* is not below it on
  the guard window; candidates are tried best first, and popularity stays when none passes.

The chosen method is then fitted on the training window and scored on the holdout beside ALS (its
best grid point), all-time popularity and recent popularity (its best window).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from models.recommendations import recommender as R
from models.recommendations.methods import USES_ALS, als_params, build


@dataclass
class Trial:
    method: str
    params: dict
    validation: dict  # ranking metrics on the validation window
    fit_seconds: float
    guard: dict | None = None  # on the guard window, for candidates the guard looked at

    def name(self) -> str:
        return f"{self.method} {self.params}" if self.params else self.method


@dataclass
class Outcome:
    """The candidates' trials, the choice and the holdout: {"chosen", "als", "popularity",
    "recent_popularity"} -> metrics."""

    trials: list[Trial]
    chosen: Trial
    reason: str
    holdout: dict
    split: R.Split
    validation_cutoff: object
    guard_cutoff: object
    train_events: int
    test_events: int

    @property
    def best(self) -> dict:
        """The chosen method and its parameters (what is fitted on every event and served)."""
        return {"method": self.chosen.method, **self.chosen.params}


@dataclass
class Options:
    grid: list[dict]  # ALS parameter sets
    windows: list[float]  # recent-popularity windows in days
    blend_weights: list[float]
    neighbours: int = 100
    margin: float = 0.05
    k: int = 10
    test_fraction: float = 0.2
    weights: dict | None = None
    seed: int = 7


def best(trials: list[Trial], method: str) -> Trial:
    """The trial of ``method`` with the highest validation score."""
    return max((t for t in trials if t.method == method), key=lambda t: t.validation["score"])


def score(model, split: R.Split, k: int) -> dict:
    """Ranking metrics of a fitted candidate on a split, plus ``score`` (MAP@k) for choosing."""
    metrics = R.ranking_metrics(model.ranked(list(split.relevant), split.excluded, k), split.relevant, k)
    return metrics | {"score": metrics[f"map@{k}"]}


def _strip(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if key != "score"}


def candidates_on(spark, split: R.Split, options: Options, log) -> list[Trial]:
    """Every candidate fitted on the split's training part and scored on its test part."""
    trials = []

    def trial(method: str, params: dict, factors=None, spent: float = 0.0) -> Trial:
        started = time.time()
        model = build(spark, split.train, method, params, options.seed, factors)
        fitted = time.time() - started + spent
        found = Trial(method, params, score(model, split, options.k), round(fitted, 2))
        trials.append(found)
        log(f"  {found.name()}: validation MAP@{options.k} {found.validation['score']:.4f}, fit {fitted:.1f}s")
        return found

    trial("popularity", {})
    for days in options.windows:
        trial("recent_popularity", {"days": days})
    best_window = best(trials, "recent_popularity")
    fits = {}
    for params in options.grid:
        started = time.time()
        fits[tuple(params.items())] = R.fit_als(spark, split.train, seed=options.seed, **params)
        trial("als", params, fits[tuple(params.items())], time.time() - started)
    best_als = best(trials, "als")
    for weight in options.blend_weights:
        params = best_als.params | {"days": best_window.params["days"], "weight": weight}
        trial("blend", params, fits[tuple(best_als.params.items())])
    trial("item_knn", {"neighbours": options.neighbours})
    return trials


def choose(spark, trials: list[Trial], guard: R.Split, options: Options, log) -> tuple[Trial, str]:
    """The chosen trial and why (see the module doc)."""
    popular = next(t for t in trials if t.method == "popularity")
    floor = popular.validation["score"] * (1 + options.margin)
    won = (
        f"won validation with MAP@{options.k} {{value:.4f}} (all-time popularity {popular.validation['score']:.4f},"
        f" margin {options.margin:.0%})"
    )
    tried = set()
    for candidate in sorted(trials, key=lambda t: -t.validation["score"]):
        if candidate is popular or candidate.method in tried:
            continue
        value = candidate.validation["score"]
        if value < floor:
            break
        if not guard.relevant:  # too little history for an earlier window
            return candidate, f"{candidate.name()} {won.format(value=value)}; no guard window (too few events)"
        if popular.guard is None:
            popular.guard = score(build(spark, guard.train, "popularity", {}), guard, options.k)
        tried.add(candidate.method)  # the best of each method faces the guard
        model = build(spark, guard.train, candidate.method, candidate.params, options.seed)
        candidate.guard = score(model, guard, options.k)
        against = popular.guard["score"]
        if candidate.guard["score"] >= against:
            return candidate, (
                f"{candidate.name()} {won.format(value=value)} and held on the earlier guard window"
                f" ({candidate.guard['score']:.4f} >= {against:.4f})"
            )
        log(
            f"guard: {candidate.name()} won validation ({value:.4f}) but lost the earlier window"
            f" ({candidate.guard['score']:.4f} < popularity {against:.4f}): not chosen"
        )
    return popular, (
        f"no candidate beat all-time popularity ({popular.validation['score']:.4f}) by {options.margin:.0%} on"
        " validation and held on the guard window: popularity stays"
    )


def select_and_evaluate(spark, events: pd.DataFrame, options: Options, log=print) -> Outcome:
    if events.empty:
        raise R.DataError("no events to train on")
    k = options.k
    cutoff = R.time_cutoff(events["event_time"], options.test_fraction)
    split = R.make_split(events, cutoff, options.weights)
    train_events, test_events = R.time_split(events, cutoff)
    validation_cutoff = R.time_cutoff(train_events["event_time"], options.test_fraction)
    validation = R.make_split(train_events, validation_cutoff, options.weights)
    inner_events, _ = R.time_split(train_events, validation_cutoff)
    try:
        guard_cutoff = R.time_cutoff(inner_events["event_time"], options.test_fraction)
        guard = R.make_split(inner_events, guard_cutoff, options.weights)
    except R.DataError:  # too little history before validation: choose() says so
        guard_cutoff, guard = None, R.Split(pd.DataFrame())
    log(
        f"split at {cutoff}: {len(train_events):,} training events ({len(split.train):,} interactions),"
        f" {len(test_events):,} test events; {len(split.relevant):,} warm test visitors, {split.cold_visitors:,} cold;"
        f" validation from {validation_cutoff} ({len(validation.relevant):,} visitors), guard window from"
        f" {guard_cutoff} ({len(guard.relevant):,} visitors)"
    )
    trials = candidates_on(spark, validation, options, log)
    chosen, reason = choose(spark, trials, guard, options, log)
    log(f"chosen: {reason}")

    holdout, fits = {}, {}
    for label, trial in (
        ("chosen", chosen),
        ("als", best(trials, "als")),
        ("popularity", None),
        ("recent_popularity", best(trials, "recent_popularity")),
    ):
        method, params = (trial.method, trial.params) if trial else ("popularity", {})
        factors = None
        if method in USES_ALS:
            key = tuple(als_params(params).items())
            factors = fits.get(key) or R.fit_als(spark, split.train, seed=options.seed, **als_params(params))
            fits[key] = factors
        model = build(spark, split.train, method, params, options.seed, factors)
        holdout[label] = _strip(score(model, split, k))
    return Outcome(
        trials, chosen, reason, holdout, split, validation_cutoff, guard_cutoff, len(train_events), len(test_events)
    )
