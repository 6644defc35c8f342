"""Per-product models on feature-store snapshots: review risk (classifier) and sales volume (regression).

A training row is one (store, item) of one snapshot ``as_of`` D (features from facts before D,
models/products/features.py) with its outcome over the ``HORIZON`` days from D:

- **risk**: 1 when at least ``NEGATIVE_SHARE`` of the item's reviews created in [D, D + horizon)
  are negative (no review in that window: no label, the row is not used for risk);
- **volume**: the units the store-item sells in [D, D + horizon).

A snapshot gets labels only when the facts cover its whole window. The split is by time: the
newest labelled snapshot is the holdout, the one before it the validation part of the training
snapshots, never the holdout: it chooses the risk model's number of trees (early stopping), calibrates
its probabilities (Platt, kept only when it beats the raw ones there) and chooses its threshold, and
it calibrates the volume interval.
Baselines: logistic regression (risk) and "the next four weeks sell what the last four did"
(``units_28``, volume). ``ProductModel`` is what is registered: the fitted LightGBM models, the
training medians (for plain-language reasons) and a cached SHAP TreeExplainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from models.products.features import FEATURE_SET, FEATURES, KEY
from models.products.tabular import (
    LGBM_PARAMS,
    MAX_TREES,
    THREADS,
    Calibration,
    classification_metrics,
    fit_calibrated,
)

HORIZON = 28
NEGATIVE_SHARE = 0.5
INTERVAL = (0.1, 0.9)  # the 80% interval of the volume model
CATEGORICAL = ["category"]
INPUTS = [*FEATURES, *CATEGORICAL]
KINDS = ("risk", "volume")
TOP = 3  # contributions stored with each prediction

# (phrase for a high value, phrase for a low one, the feature in words). A reason names the features
# that move the prediction most; its words follow the direction of each contribution and the way the
# feature acts in the model (``ProductModel.directions``): a contribution raising risk from a feature
# whose high values raise risk reads "high ...", from one whose low values raise it, "low ...".
PHRASES = {
    "units_7": ("strong sales this week", "weak sales this week", "units this week"),
    "units_28": ("high 4-week sales", "low 4-week sales", "units over 4 weeks"),
    "sales_trend": ("rising sales", "falling sales", "sales trend"),
    "price_28": ("high price", "low price", "price"),
    "discount_28": ("deep discount", "little discount", "discount"),
    "price_vs_category": ("high price vs category", "low price vs category", "price vs category"),
    "reviews_28": ("many recent reviews", "few recent reviews", "reviews in 28 days"),
    "reviews_90": ("many reviews in 90 days", "few reviews in 90 days", "reviews in 90 days"),
    "avg_rating_90": ("high average rating", "low average rating", "average rating"),
    "negative_share_28": ("many recent negative reviews", "few recent negative reviews", "negative share"),
    "positive_share_28": ("many recent positive reviews", "few recent positive reviews", "positive share"),
    "text_chars_28": ("long recent reviews", "short recent reviews", "review length"),
}
MONOTONE = 0.3  # |Spearman(value, SHAP)| from which a feature counts as acting one way


class ModelDataError(ValueError):
    """Too few labelled snapshots or rows to train and evaluate; the message says what is missing."""


def label_snapshots(
    snapshots: pd.DataFrame, sales: pd.DataFrame, reviews: pd.DataFrame, last_day, horizon: int = HORIZON
) -> pd.DataFrame:
    """The snapshot rows whose window [as_of, as_of + horizon) ends on or before ``last_day`` (the
    last day the facts cover), with ``next_units`` and ``negative`` (NaN without next reviews)."""
    out = []
    for as_of, rows in snapshots.groupby("as_of", sort=True):
        end = pd.Timestamp(as_of) + timedelta(days=horizon)
        if end - timedelta(days=1) > pd.Timestamp(last_day):
            continue
        start = pd.Timestamp(as_of)
        days = pd.to_datetime(sales["sale_date"])
        units = sales[(days >= start) & (days < end)].groupby(KEY)["units"].sum().rename("next_units")
        created = pd.to_datetime(reviews["created_at"])
        window = reviews[(created >= start) & (created < end)]
        negative = (window["sentiment"] == "negative").groupby(window["item_id"]).mean()
        labelled = rows.join(units, on=KEY).join(
            (negative >= NEGATIVE_SHARE).astype(float).rename("negative"), on="item_id"
        )
        out.append(labelled.fillna({"next_units": 0.0}))
    if not out:
        return snapshots.iloc[:0].assign(next_units=pd.Series(dtype=float), negative=pd.Series(dtype=float))
    return pd.concat(out, ignore_index=True)


@dataclass
class Split:
    train: pd.DataFrame  # every labelled snapshot before the holdout's
    fit: pd.DataFrame  # train without its newest snapshot
    validation: pd.DataFrame  # train's newest snapshot
    holdout: pd.DataFrame  # the newest labelled snapshot


def time_split(frame: pd.DataFrame) -> Split:
    days = sorted(frame["as_of"].unique())
    if len(days) < 3:
        raise ModelDataError(
            f"{len(days)} labelled snapshot(s): at least 3 are needed (fit, validation, holdout);"
            " build more with `retail-pulse products features` or wait for more facts"
        )
    train = frame[frame["as_of"] < days[-1]]
    return Split(
        train, train[train["as_of"] < days[-2]], train[train["as_of"] == days[-2]], frame[frame["as_of"] == days[-1]]
    )


def risk_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["negative"].notna()]


@dataclass
class ProductModel:
    """A fitted product model: ``models`` maps a role (risk: ``p``; volume: ``median``, ``lower``,
    ``upper``) to a LightGBM estimator; predictions explain the first role's."""

    kind: str
    models: dict
    categories: list[str]
    medians: dict[str, float]
    threshold: float | None = None  # risk: flagged at or above this probability
    margin: float = 0.0  # volume: conformal widening of the quantile interval
    calibration: Calibration | None = None  # risk: maps the model's log-odds to calibrated probabilities
    directions: dict[str, int] | None = None  # feature -> +1 / -1 (its high values push up / down), 0 mixed
    trained_on: list[str] = field(default_factory=list)  # snapshot days
    feature_set: str = FEATURE_SET
    _explainer: object = field(default=None, repr=False, compare=False)
    _codes: dict | None = field(default=None, repr=False, compare=False)  # category -> code, built on first use

    def current(self) -> bool:
        """Whether it reads the feature set this code computes (a model of another one must be retrained)."""
        return vars(self).get("feature_set", "product_v1") == FEATURE_SET

    def frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The training frame: FEATURES as floats, ``category`` as a pandas categorical (LightGBM's
        native categorical splits)."""
        X = rows[FEATURES].astype(float)
        return X.assign(category=pd.Categorical(rows["category"].astype(str), categories=self.categories))

    def matrix(self, rows: pd.DataFrame) -> np.ndarray:
        """The same as a float matrix (category as its code, unknown -> NaN): the fast scoring path."""
        if self._codes is None:
            self._codes = {c: float(i) for i, c in enumerate(self.categories)}
        category = [self._codes.get(str(v), np.nan) for v in rows["category"]]
        return np.column_stack([*(rows[f].to_numpy(dtype=float) for f in FEATURES), np.array(category, dtype=float)])

    def _raw(self, role: str, X: np.ndarray) -> np.ndarray:
        """The booster's raw output (risk: log-odds)."""
        return self.models[role].booster_.predict(X, raw_score=True)

    def probability(self, log_odds: np.ndarray) -> np.ndarray:
        """Risk: the calibrated probability (models from before calibration: the plain sigmoid)."""
        return (vars(self).get("calibration") or Calibration()).from_logit(log_odds)

    def predict(
        self, rows: pd.DataFrame, explained: np.ndarray | None = None, X: np.ndarray | None = None
    ) -> pd.DataFrame:
        """risk: ``prediction`` = P(next reviews negative), calibrated, ``flagged``; volume: ``prediction`` (units
        over the horizon) with ``lower`` / ``upper`` of the 80% interval. ``explained``: the
        explained model's raw output when already known (the sum of its SHAP values and the base
        value: exact, and it saves a model call per row when explaining anyway); ``X``: ``matrix(rows)``."""
        X = self.matrix(rows) if X is None else X
        if self.kind == "risk":
            p = self.probability(self._raw("p", X) if explained is None else explained)
            return pd.DataFrame(
                {"prediction": p, "lower": np.nan, "upper": np.nan, "flagged": (p >= self.threshold).astype(int)},
                index=rows.index,
            )
        median = np.maximum(self._raw("median", X) if explained is None else explained, 0)
        lower = np.maximum(np.minimum(self._raw("lower", X) - self.margin, median), 0)
        upper = np.maximum(self._raw("upper", X) + self.margin, median)
        return pd.DataFrame({"prediction": median, "lower": lower, "upper": upper, "flagged": np.nan}, index=rows.index)

    def shap(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """SHAP contributions (rows x INPUTS) of the explained model (risk: to the log-odds)."""
        from models.products.tabular import tree_explainer, tree_shap

        if self._explainer is None:
            self._explainer = tree_explainer(self.models["p" if self.kind == "risk" else "median"])
        return tree_shap(self._explainer, self.matrix(rows) if X is None else X)

    def base_value(self) -> float:
        """The explained model's raw output before any feature's contribution (after ``shap``)."""
        return float(np.ravel(self._explainer.expected_value)[-1])

    def explain(
        self, rows: pd.DataFrame, top: int = TOP, values: np.ndarray | None = None, X: np.ndarray | None = None
    ) -> list[list[dict]]:
        """Per row, the ``top`` largest contributions by size: feature, value, contribution."""
        X = self.matrix(rows) if X is None else X
        values = self.shap(rows, X) if values is None else values
        out = []
        for x, contributions in zip(X, values, strict=True):
            order = np.argsort(-np.abs(contributions))[:top]
            out.append(
                [
                    {
                        "feature": INPUTS[i],
                        "value": self._value(i, x[i]),
                        "contribution": round(float(contributions[i]), 4),
                    }
                    for i in order
                ]
            )
        return out

    def _value(self, i: int, x: float):
        """A matrix entry as the reader knows it: the category's name, a rounded number, None if missing."""
        if np.isnan(x):
            return None
        return self.categories[int(x)] if INPUTS[i] == "category" else round(float(x), 4)

    def reason(self, contributions: list[dict]) -> str:
        what = "risk" if self.kind == "risk" else "sales"
        return reason(contributions, self.medians, what, vars(self).get("directions"))

    def learn_directions(self, rows: pd.DataFrame, sample: int = 2000, seed: int = 7) -> None:
        """How each feature acts in the fitted model: the sign of the rank correlation of its values
        with its SHAP contributions on (a sample of) the training rows; 0 when it acts both ways."""
        rows = rows.sample(min(sample, len(rows)), random_state=seed)
        X = self.matrix(rows)
        values = self.shap(rows, X)
        self.directions = {}
        for i, feature in enumerate(FEATURES):
            known = ~np.isnan(X[:, i])
            rho = pd.Series(X[known, i]).corr(pd.Series(values[known, i]), method="spearman") if known.sum() > 2 else 0
            self.directions[feature] = int(np.sign(rho)) if abs(np.nan_to_num(rho)) >= MONOTONE else 0


def phrase(feature: str, value, medians: dict[str, float], contribution: float = 0.0, direction: int | None = None):
    """A feature's value in words. With the feature's direction in the model, high/low follow the
    contribution (so the words never contradict it); a feature acting both ways states its value;
    without directions (models from before them), the value is compared with the training median."""
    if feature == "category":
        return f"category {value}"
    if value is None:
        return f"no {feature.replace('_', ' ')} data"
    high, low, name = PHRASES[feature]
    if direction is None:
        return high if value > medians.get(feature, 0.0) else low
    if direction == 0:
        return f"{name} {value:g}"
    return high if contribution * direction > 0 else low


def reason(contributions: list[dict], medians: dict[str, float], what: str, directions: dict | None = None) -> str:
    """Plain language: 'risk up: many recent negative reviews, falling sales; down: low price'."""

    def words(c: dict) -> str:
        direction = None if directions is None else directions.get(c["feature"], 0)
        return phrase(c["feature"], c["value"], medians, c["contribution"], direction)

    up = [words(c) for c in contributions if c["contribution"] > 0]
    down = [words(c) for c in contributions if c["contribution"] < 0]
    parts = ([f"{what} up: {', '.join(up)}"] if up else []) + ([f"down: {', '.join(down)}"] if down else [])
    return "; ".join(parts) or "nothing stands out"


def _medians(frame: pd.DataFrame) -> dict[str, float]:
    return {f: float(v) for f, v in frame[FEATURES].median().items() if pd.notna(v)}


def _categories(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["category"].astype(str).unique().tolist())


def fit_risk(split: Split, seed: int = 7) -> ProductModel:
    """LightGBM on the fit part, stopped early on the validation part (its size is chosen there);
    its probabilities are calibrated (Platt, when that beats the raw ones there) and the F1
    threshold chosen on the validation part; then refitted on every training row with that size."""
    from lightgbm import LGBMClassifier

    fit, validation, train = risk_rows(split.fit), risk_rows(split.validation), risk_rows(split.train)
    for name, part in (("fit", fit), ("validation", validation)):
        if part["negative"].nunique() < 2:
            raise ModelDataError(f"the {name} snapshots hold only one risk class: more reviews or snapshots needed")
    model = ProductModel("risk", {}, _categories(split.train), _medians(train))

    def make(**size):
        return LGBMClassifier(random_state=seed, **(LGBM_PARAMS | {"n_estimators": MAX_TREES} | size))

    in_validation = train.index.isin(validation.index)
    fitted = fit_calibrated(
        make,
        model.frame(train),
        train["negative"].astype(int),
        np.flatnonzero(in_validation),
        np.flatnonzero(~in_validation),
        "platt",
        boosted=True,
    )
    model.models["p"], model.calibration, model.threshold = fitted.model, fitted.calibration, fitted.threshold
    model.learn_directions(train, seed=seed)
    model.trained_on = sorted(str(d) for d in split.train["as_of"].unique())
    return model


def fit_summary(model: ProductModel) -> dict:
    """What the validation part chose, for the run's parameters (risk: trees, calibration)."""
    if model.kind != "risk":
        return {}
    calibration = vars(model).get("calibration") or Calibration()
    return {"lgbm_trees_chosen": model.models["p"].n_estimators, "calibration": calibration.method}


def fit_volume(split: Split, seed: int = 7) -> ProductModel:
    """Quantile LightGBM (median, 10%, 90%); the interval is widened by the conformal margin of the
    validation part (split-conformal quantile regression), then every model refitted on all training rows."""
    from lightgbm import LGBMRegressor

    model = ProductModel("volume", {}, _categories(split.train), _medians(split.train))
    roles = {"median": 0.5, "lower": INTERVAL[0], "upper": INTERVAL[1]}

    def fitted(rows: pd.DataFrame) -> dict:
        params = LGBM_PARAMS | {"objective": "quantile"}
        return {
            role: LGBMRegressor(random_state=seed, alpha=alpha, **params).fit(model.frame(rows), rows["next_units"])
            for role, alpha in roles.items()
        }

    model.models = fitted(split.fit)
    y = split.validation["next_units"].to_numpy()
    interval = model.predict(split.validation)
    scores = np.maximum(interval["lower"].to_numpy() - y, y - interval["upper"].to_numpy())
    level = min(1.0, (1 - (INTERVAL[0] + 1 - INTERVAL[1])) * (1 + 1 / len(y)))
    model.margin = max(0.0, float(np.quantile(scores, level)))
    model.models = fitted(split.train)
    model.trained_on = sorted(str(d) for d in split.train["as_of"].unique())
    return model


def risk_baseline(split: Split):
    """Logistic regression on the same inputs (median-imputed, scaled; category one-hot)."""
    from models.products.tabular import Table, baseline_model

    train = risk_rows(split.train)
    table = Table(train[INPUTS], train["negative"].astype(int), FEATURES, CATEGORICAL, [])
    in_validation = train.index.isin(risk_rows(split.validation).index)
    fitted = fit_calibrated(
        lambda: baseline_model(table),
        train[INPUTS],
        table.target,
        np.flatnonzero(in_validation),
        np.flatnonzero(~in_validation),
        "none",
        boosted=False,
    )
    return fitted.model, fitted.threshold


def regression_metrics(y, prediction, lower=None, upper=None) -> dict:
    from sklearn.metrics import mean_absolute_error, r2_score

    out = {"mae": round(float(mean_absolute_error(y, prediction)), 6), "r2": round(float(r2_score(y, prediction)), 6)}
    if lower is not None:
        y = np.asarray(y)
        out["coverage_80"] = round(float(np.mean((y >= lower) & (y <= upper))), 6)
    return out


def holdout_metrics(model: ProductModel, holdout: pd.DataFrame) -> dict:
    """The model's metrics on the holdout rows (risk: only rows with a label)."""
    if model.kind == "risk":
        rows = risk_rows(holdout)
        if rows["negative"].nunique() < 2:
            raise ModelDataError("the holdout snapshot holds only one risk class: more reviews or snapshots needed")
        return classification_metrics(rows["negative"], model.predict(rows)["prediction"], model.threshold)
    p = model.predict(holdout)
    return regression_metrics(holdout["next_units"], p["prediction"], p["lower"], p["upper"])


def evaluate(split: Split, kind: str, seed: int = 7) -> tuple[ProductModel, dict]:
    """(the fitted model, {"lightgbm": metrics, "baseline": metrics}) on the holdout."""
    if kind == "risk":
        model = fit_risk(split, seed)
        baseline, threshold = risk_baseline(split)
        rows = risk_rows(split.holdout)
        base = classification_metrics(rows["negative"], baseline.predict_proba(rows[INPUTS])[:, 1], threshold)
    else:
        model = fit_volume(split, seed)
        base = regression_metrics(split.holdout["next_units"], split.holdout["units_28"].fillna(0.0))
    return model, {"lightgbm": holdout_metrics(model, split.holdout), "baseline": base}


# the metric each model is judged on, and whether higher is better
KEY_METRIC = {"risk": ("roc_auc", True), "volume": ("mae", False)}


def promote(kind: str, challenger: dict, baseline: dict, champion: dict | None) -> tuple[bool, str]:
    """Promote when the challenger beats the baseline and, if there is a champion, beats the
    champion's metrics on the same holdout."""
    name, higher = KEY_METRIC[kind]

    def better(a: float, b: float) -> bool:
        return a > b if higher else a < b

    value = challenger[name]
    if not better(value, baseline[name]):
        return False, f"{name} {value:.4f} does not beat the baseline's {baseline[name]:.4f}"
    if champion is None:
        return True, f"no comparable champion: {name} {value:.4f} beats the baseline's {baseline[name]:.4f}"
    if not better(value, champion[name]):
        return False, f"{name} {value:.4f} does not beat the champion's {champion[name]:.4f} on the same holdout"
    return True, f"{name} {value:.4f} beats the champion's {champion[name]:.4f} and the baseline's {baseline[name]:.4f}"


def shap_importance(model: ProductModel, rows: pd.DataFrame) -> dict[str, float]:
    mean = np.abs(model.shap(rows)).mean(axis=0)
    return {INPUTS[i]: round(float(mean[i]), 6) for i in np.argsort(-mean)}


def set_threads() -> None:
    """One BLAS / OpenMP thread per process (2-core machines, see ARCHITECTURE.md)."""
    import os

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(THREADS))
