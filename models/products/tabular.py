"""Negative-outcome risk on tabular data: LightGBM next to a logistic-regression baseline, with SHAP.

Columns become features by kind: numeric columns as they are; short text values (names, codes) as
categories (LightGBM's native categorical splits; one-hot
for the baseline); free text (values of 5 words or more on average) as two statistics each
(characters and words). The target is
``1`` (negative) when the target column is <= ``negative_max``; a column of sentiment labels
counts as stars (negative 1, neutral 3, positive 5). The split is by time when a time
column is given (the newest ``test_fraction`` of rows test), else stratified at random (seeded).
The decision threshold is chosen where F1 is highest on a validation part of the training rows
(their newest / a random 20%), never on the test rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

THREADS = 1  # 2-core machines: one LightGBM thread per process (see ARCHITECTURE.md)
LGBM_PARAMS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "n_jobs": THREADS,
    "verbose": -1,
}


TEXT_WORDS = 5  # a text column whose values average this many words or more is free text, not a category
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
    features, numeric, categorical, text = {}, [], [], []
    for column in frame.columns:
        if column in (target_col, time_col) or str(column).startswith("Unnamed"):
            continue
        values = frame[column]
        as_number = pd.to_numeric(values, errors="coerce")
        if as_number.notna().mean() > 0.95:
            features[column] = as_number
            numeric.append(column)
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
    return Table(pd.DataFrame(features, index=frame.index), y, numeric, categorical, text, time)


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


def classification_metrics(y, proba, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, roc_auc_score

    return {
        "roc_auc": round(float(roc_auc_score(y, proba)), 6),
        "pr_auc": round(float(average_precision_score(y, proba)), 6),
        "f1": round(float(f1_score(y, (np.asarray(proba) >= threshold).astype(int), zero_division=0)), 6),
        "brier": round(float(brier_score_loss(y, proba)), 6),
        "threshold": round(float(threshold), 6),
    }


def _fit_with_threshold(make, X: pd.DataFrame, y: pd.Series, validation: np.ndarray, fit_part: np.ndarray):
    """Fit on the fit part to choose the F1 threshold on the validation part, then refit on all rows."""
    probe = make().fit(X.iloc[fit_part], y.iloc[fit_part])
    threshold = best_f1_threshold(y.iloc[validation], probe.predict_proba(X.iloc[validation])[:, 1])
    return make().fit(X, y), threshold


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


def evaluate(table: Table, test_fraction: float = 0.2, seed: int = 7) -> dict:
    """LightGBM and the baseline on the same split: {"lightgbm": ..., "baseline": ..., "shap_importance": ...}."""
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
    report = {}
    models = {"lightgbm": lambda: lightgbm_model(seed), "baseline": lambda: baseline_model(table)}
    fitted = {}
    for name, make in models.items():
        model, threshold = _fit_with_threshold(make, inner.features, inner.target, validation, fit_part)
        proba = model.predict_proba(X.iloc[test])[:, 1]
        report[name] = classification_metrics(y.iloc[test], proba, threshold)
        fitted[name] = model
    report["shap_importance"] = shap_importance(fitted["lightgbm"], X.iloc[test], seed=seed)
    report["data"] = {
        "rows": len(y),
        "train_rows": len(train),
        "test_rows": len(test),
        "negative_share": round(float(y.mean()), 4),
        "split": "time" if table.time is not None else "stratified random",
        "numeric": table.numeric,
        "categorical": table.categorical,
        "text": table.text,
    }
    return report
