"""Drift statistics between a reference sample (the training snapshot) and a current one.

Per feature: numeric -> two-sample Kolmogorov-Smirnov test; categorical -> chi-square test of the
category counts (a 2 x categories contingency table). Both flag drift at p < ``ALPHA``. The
population stability index (PSI) is computed for every feature: numeric values are binned at the
reference's deciles, categories are their own bins; shares are floored at ``EPSILON`` so an empty
bin does not make it infinite; PSI >= ``PSI_FLAG`` is flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALPHA = 0.05
PSI_FLAG = 0.1
EPSILON = 1e-4
BINS = 10


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """sum((c - r) * ln(c / r)) over bins, shares floored at EPSILON."""
    r = np.maximum(np.asarray(reference, dtype=float), EPSILON)
    c = np.maximum(np.asarray(current, dtype=float), EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_psi(reference, current, bins: int = BINS) -> float:
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: one bin for it, one for everything else
        same = np.isclose(current, edges[0])
        return psi_from_shares([1.0, 0.0], [same.mean(), 1 - same.mean()])
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, edges)[0] / len(current)
    return psi_from_shares(r, c)


def category_shares(reference, current) -> tuple[np.ndarray, np.ndarray, list]:
    ref = pd.Series(reference).astype(str).value_counts()
    cur = pd.Series(current).astype(str).value_counts()
    categories = sorted(set(ref.index) | set(cur.index))
    return (
        ref.reindex(categories, fill_value=0).to_numpy(),
        cur.reindex(categories, fill_value=0).to_numpy(),
        categories,
    )


def categorical_psi(reference, current) -> float:
    r, c, _ = category_shares(reference, current)
    return psi_from_shares(r / r.sum(), c / c.sum())


def feature_drift(reference, current, categorical: bool) -> dict:
    """Test, statistic, p-value, PSI and the two flags of one feature."""
    from scipy import stats

    if categorical:
        r, c, categories = category_shares(reference, current)
        if len(categories) < 2:
            statistic, p_value = 0.0, 1.0
        else:
            statistic, p_value = stats.chi2_contingency(np.vstack([r, c]))[:2]
        psi, test = categorical_psi(reference, current), "chi_square"
    else:
        reference = pd.to_numeric(pd.Series(reference), errors="coerce").dropna().to_numpy()
        current = pd.to_numeric(pd.Series(current), errors="coerce").dropna().to_numpy()
        statistic, p_value = stats.ks_2samp(reference, current)
        psi, test = numeric_psi(reference, current), "ks"
    return {
        "test": test,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "psi": round(psi, 6),
        "drift": bool(p_value < ALPHA),
        "psi_flag": bool(psi >= PSI_FLAG),
    }


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str] = ()) -> pd.DataFrame:
    """One row per column the two frames share (feature, test, statistic, p_value, psi, drift, psi_flag)."""
    rows = []
    for column in [c for c in reference.columns if c in current.columns]:
        rows.append({"feature": column, **feature_drift(reference[column], current[column], column in categorical)})
    return pd.DataFrame(rows)
