"""Negative-outcome risk on tabular data: LightGBM next to a logistic-regression baseline, with SHAP.

Columns become features by kind: numeric columns as they are; multi-valued tag columns (values such
as ``Action|Comedy``, ``red, large`` or ``tag1 tag2`` drawn from a small vocabulary, recombined into
more distinct values than tags) as one 0/1 indicator per tag; short text values (names, codes) as
categories (LightGBM's native categorical splits; one-hot for the baseline); free text (values of 5
words or more on average) as two statistics each (characters and words). The target is ``1``
(negative) when the target column is <= ``negative_max``; a column of sentiment labels counts as
stars (negative 1, neutral 3, positive 5). The split is by time when a time column is given (the
newest ``test_fraction`` of rows test), else stratified at random (seeded).

A validation part of the training rows (their newest / a random 20%), never the test rows, does
three things for each model: LightGBM stops early there (its number of trees is chosen there), the
probabilities are calibrated there (Platt scaling by default, or isotonic), and the decision
threshold is where F1 is highest there. The model is then refitted on every training row with that
size, and its probabilities mapped through that calibration. Metrics: ROC-AUC, PR-AUC, F1, Brier,
the expected calibration error and a reliability table (predicted vs observed rate per bin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

THREADS = 1  # 2-core machines: one LightGBM thread per process (see ARCHITECTURE.md)
LGBM_PARAMS = {
    "n_estimators": 300,  # the product models' size; the table evaluator stops early (MAX_TREES)
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "n_jobs": THREADS,
    "verbose": -1,
}


MAX_TREES = 2000  # early stopping on the validation part picks the size below this
STOPPING_ROUNDS = 50
TEXT_WORDS = 5  # a text column whose values average this many words or more is free text, not a category
MAX_TAGS = 60  # a tag column's vocabulary is at most this many tags ...
MIN_TAG_ROWS = 5  # ... and a tag becomes a feature when this many rows carry it
TAG_SEPARATORS = ("|", ",", ";", " ")
CALIBRATIONS = ("platt", "isotonic", "none")
LABEL_STARS = {"negative": 1, "neutral": 3, "positive": 5}  # a label target counts as these star ratings


class RiskDataError(ValueError):
    """A table the risk model cannot use; the message says why."""


@dataclass
class Table:
    """Features and target of one table, with how each source column was used."""

    features: pd.DataFrame
    target: pd.Series
    numeric: list[str]
    categorical: list[str]
    text: list[str]
    time: pd.Series | None = None
    tags: list[str] = field(default_factory=list)


def tag_lists(values: pd.Series) -> pd.Series | None:
    """Each value's tags when the column is a multi-valued tag column (see the module doc), else None."""
    strings = values.fillna("").astype(str).str.strip()
    for separator in TAG_SEPARATORS:
        if not strings.str.contains(separator, regex=False).any():
            continue
        lists = strings.str.split(separator, regex=False).map(lambda tags: [t.strip() for t in tags if t.strip()])
        vocabulary = {tag for tags in lists for tag in tags}
        several = (lists.str.len() > 1).mean()
        if len(vocabulary) <= MAX_TAGS and several >= 0.05 and strings.nunique() > len(vocabulary):
            return lists
    return None


def prepare(frame: pd.DataFrame, target_col: str, negative_max: float, time_col: str | None = None) -> Table:
    if target_col not in frame:
        raise RiskDataError(f"no target column {target_col!r} (columns: {', '.join(map(str, frame.columns))})")
    if time_col and time_col not in frame:
        raise RiskDataError(f"no time column {time_col!r}")
    target = pd.to_numeric(frame[target_col], errors="coerce")
    labels = frame[target_col].astype(str).str.strip().str.lower()
    if target.isna().all() and labels.isin(LABEL_STARS).all():  # sentiment labels: as 1 / 3 / 5 stars
        target = labels.map(LABEL_STARS)
    if target.isna().any():
        row = int(target.isna().to_numpy().argmax())
        raise RiskDataError(f"row {row + 1}: {target_col}={frame[target_col].iloc[row]!r} is not a number")
    y = (target <= negative_max).astype(int)
    if y.nunique() < 2:
        raise RiskDataError(
            f"every row is {'negative' if y.iloc[0] else 'not negative'} with --negative-max"
            f" {negative_max}: nothing to learn"
        )
    time = None
    if time_col:
        time = pd.to_datetime(frame[time_col], errors="coerce", format="mixed")
        if time.isna().any():
            row = int(time.isna().to_numpy().argmax())
            raise RiskDataError(f"row {row + 1}: {time_col}={frame[time_col].iloc[row]!r} is not a date or time")
    features, numeric, categorical, text, tags = {}, [], [], [], []
    for column in frame.columns:
        if column in (target_col, time_col) or str(column).startswith("Unnamed"):
            continue
        values = frame[column]
        as_number = pd.to_numeric(values, errors="coerce")
        lists = None if as_number.notna().mean() > 0.95 else tag_lists(values)
        if as_number.notna().mean() > 0.95:
            features[column] = as_number
            numeric.append(column)
        elif lists is not None:
            counts = pd.Series([tag for row in lists for tag in row]).value_counts()
            for tag in counts[counts >= MIN_TAG_ROWS].index:
                features[f"{column}={tag}"] = lists.map(lambda row, tag=tag: int(tag in row))
            tags.append(column)
        elif values.astype(str).str.split().str.len().mean() < TEXT_WORDS:
            features[column] = values.astype(str).astype("category")
            categorical.append(column)
        else:
            strings = values.fillna("").astype(str)
            features[f"{column}_chars"] = strings.str.len()
            features[f"{column}_words"] = strings.str.split().str.len()
            text.append(column)
    if not features:
        raise RiskDataError("no feature columns besides the target and time columns")
    return Table(pd.DataFrame(features, index=frame.index), y, numeric, categorical, text, time, tags)


def split_index(table: Table, test_fraction: float = 0.2, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, test positions): by time when there is a time column, else stratified."""
    n = len(table.target)
    if table.time is not None:
        order = np.argsort(table.time.to_numpy(), kind="stable")
        cut = int(round(n * (1 - test_fraction)))
        return order[:cut], order[cut:]
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(n), test_size=test_fraction, random_state=seed, stratify=table.target)


def baseline_model(table: Table):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in table.features.columns if c not in table.categorical]
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), table.categorical),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=2000))


def lightgbm_model(seed: int = 7, **overrides):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(random_state=seed, **(LGBM_PARAMS | overrides))


def best_f1_threshold(y, proba) -> float:
    """The probability threshold with the highest F1 (ties: the lower threshold)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, proba)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
    )
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def reliability(y, proba, bins: int = 10) -> list[dict]:
    """Per equal-width bin of predicted probability: rows, mean predicted, observed negative rate."""
    y, proba = np.asarray(y, dtype=float), np.asarray(proba, dtype=float)
    which = np.minimum((proba * bins).astype(int), bins - 1)
    return [
        {
            "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
            "rows": int((which == b).sum()),
            "predicted": round(float(proba[which == b].mean()), 4),
            "observed": round(float(y[which == b].mean()), 4),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def classification_metrics(y, proba, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, roc_auc_score

    table = reliability(y, proba)
    ece = sum(row["rows"] * abs(row["predicted"] - row["observed"]) for row in table) / max(len(np.asarray(y)), 1)
    return {
        "roc_auc": round(float(roc_auc_score(y, proba)), 6),
        "pr_auc": round(float(average_precision_score(y, proba)), 6),
        "f1": round(float(f1_score(y, (np.asarray(proba) >= threshold).astype(int), zero_division=0)), 6),
        "brier": round(float(brier_score_loss(y, proba)), 6),
        "ece": round(float(ece), 6),
        "threshold": round(float(threshold), 6),
        "reliability": table,
    }


def logit(proba) -> np.ndarray:
    p = np.clip(np.asarray(proba, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class Calibration:
    """A monotone map of a model's probabilities fitted on the validation part: Platt scaling
    (``sigmoid(a * logit(p) + b)``), isotonic regression, or none."""

    method: str = "none"
    a: float = 1.0
    b: float = 0.0
    isotonic: object = None

    @classmethod
    def fit(cls, method: str, proba, y) -> Calibration:
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6).fit(logit(proba).reshape(-1, 1), np.asarray(y))
            return cls("platt", float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            return cls("isotonic", isotonic=IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(proba, y))
        return cls()

    @classmethod
    def choose(cls, method: str, proba, y) -> Calibration:
        """``method`` fitted on the validation rows if it earns its place there: cross-fitted on two
        halves (fit on one, Brier on the other, both ways), it must beat the raw probabilities;
        otherwise none (a small or shifted validation part can make calibration worse)."""
        proba, y = np.asarray(proba, dtype=float), np.asarray(y)
        halves = [np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1]
        if method == "none" or any(np.unique(y[h]).size < 2 for h in halves):
            return cls()
        calibrated = raw = 0.0
        for fit, score in (halves, halves[::-1]):
            mapping = cls.fit(method, proba[fit], y[fit])
            calibrated += np.mean((mapping(proba[score]) - y[score]) ** 2)
            raw += np.mean((proba[score] - y[score]) ** 2)
        return cls.fit(method, proba, y) if calibrated < raw else cls()

    def from_logit(self, z) -> np.ndarray:
        """Calibrated probabilities from raw log-odds (the fast path of the product models)."""
        if self.method == "isotonic":
            return self.isotonic.predict(1 / (1 + np.exp(-np.asarray(z))))
        return 1 / (1 + np.exp(-(self.a * np.asarray(z) + self.b)))

    def __call__(self, proba) -> np.ndarray:
        return np.asarray(proba, dtype=float) if self.method == "none" else self.from_logit(logit(proba))


def fit_lightgbm(make, X_fit, y_fit, X_validation, y_validation):
    """LightGBM on the fit part, stopped early on the validation part: (model, number of trees)."""
    import lightgbm

    model = make().fit(
        X_fit,
        y_fit,
        eval_X=(X_validation,),
        eval_y=(y_validation,),
        callbacks=[lightgbm.early_stopping(STOPPING_ROUNDS, verbose=False)],
    )
    return model, max(int(model.best_iteration_ or model.n_estimators), 1)


@dataclass
class Fitted:
    model: object
    calibration: Calibration
    threshold: float
    trees: int | None = None

    def predict_proba(self, X) -> np.ndarray:
        return self.calibration(self.model.predict_proba(X)[:, 1])


def fit_calibrated(make, X: pd.DataFrame, y: pd.Series, validation, fit_part, calibration: str, boosted: bool):
    """Fit on the fit part (boosted: stopping early on the validation part), calibrate and choose the
    F1 threshold on the validation part, then refit on every row (boosted: with the chosen size)."""
    X_fit, y_fit, X_val, y_val = X.iloc[fit_part], y.iloc[fit_part], X.iloc[validation], y.iloc[validation]
    trees = None
    if boosted:
        probe, trees = fit_lightgbm(make, X_fit, y_fit, X_val, y_val)
    else:
        probe = make().fit(X_fit, y_fit)
    raw = probe.predict_proba(X_val)[:, 1]
    mapping = Calibration.choose(calibration, raw, y_val)
    threshold = best_f1_threshold(y_val, mapping(raw))
    final = make(n_estimators=trees) if boosted else make()
    return Fitted(final.fit(X, y), mapping, threshold, trees)


def tree_explainer(model):
    import shap

    return shap.TreeExplainer(model)


def tree_shap(explainer, X) -> np.ndarray:
    """Contributions (rows x features); for a binary classifier, to the log-odds of the positive class."""
    import warnings

    with warnings.catch_warnings():  # the list-vs-array note of LightGBM binary output, handled below
        warnings.simplefilter("ignore", UserWarning)
        values = explainer.shap_values(X)
    return values[1] if isinstance(values, list) else values


def shap_values(model, X: pd.DataFrame) -> np.ndarray:
    """TreeExplainer contributions (rows x features) to the log-odds of the negative class."""
    return tree_shap(tree_explainer(model), X)


def shap_importance(model, X: pd.DataFrame, sample: int = 2000, seed: int = 7) -> dict[str, float]:
    """Mean |SHAP| per feature, largest first."""
    X = X.sample(min(sample, len(X)), random_state=seed)
    mean = np.abs(shap_values(model, X)).mean(axis=0)
    order = np.argsort(-mean)
    return {str(X.columns[i]): round(float(mean[i]), 6) for i in order}


def evaluate(table: Table, test_fraction: float = 0.2, seed: int = 7, calibration: str = "platt") -> dict:
    """LightGBM and the baseline on the same split: {"lightgbm": ..., "baseline": ..., "shap_importance": ...}."""
    if calibration not in CALIBRATIONS:
        raise RiskDataError(f"calibration {calibration!r}: expected one of {', '.join(CALIBRATIONS)}")
    train, test = split_index(table, test_fraction, seed)
    X, y = table.features, table.target
    X_train, y_train = X.iloc[train], y.iloc[train]
    if y_train.nunique() < 2 or y.iloc[test].nunique() < 2:
        raise RiskDataError("the training or the test part holds only one class: more rows or another split needed")
    time = None if table.time is None else table.time.iloc[train].reset_index(drop=True)
    inner = Table(
        X_train.reset_index(drop=True),
        y_train.reset_index(drop=True),
        table.numeric,
        table.categorical,
        table.text,
        time,
    )
    fit_part, validation = split_index(inner, test_fraction, seed)
    if inner.target.iloc[validation].nunique() < 2:
        raise RiskDataError("the validation part holds only one class: more rows needed")
    report = {}
    models = {
        "lightgbm": (lambda **size: lightgbm_model(seed, **({"n_estimators": MAX_TREES} | size)), True),
        "baseline": (lambda **_: baseline_model(table), False),
    }
    fitted = {}
    for name, (make, boosted) in models.items():
        found = fit_calibrated(make, inner.features, inner.target, validation, fit_part, calibration, boosted)
        report[name] = classification_metrics(y.iloc[test], found.predict_proba(X.iloc[test]), found.threshold)
        report[name] |= {"calibration": found.calibration.method} | ({"trees": found.trees} if boosted else {})
        fitted[name] = found.model
    report["shap_importance"] = shap_importance(fitted["lightgbm"], X.iloc[test], seed=seed)
    report["data"] = {
        "rows": len(y),
        "train_rows": len(train),
        "test_rows": len(test),
        "negative_share": round(float(y.mean()), 4),
        "split": "time" if table.time is not None else "stratified random",
        "numeric": table.numeric,
        "categorical": table.categorical,
        "tags": table.tags,
        "text": table.text,
    }
    return report
