"""Product models on small frames: outcome labels per snapshot window, the time split, reasons,
the promotion rule, SHAP contributions that add up, a calibrated volume interval."""

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from models.products import product_models as PM
from models.products.features import FEATURES

D = date(2025, 3, 1)


def test_labels_read_only_the_window_after_each_snapshot():
    snapshots = pd.DataFrame({"as_of": [D, D, D + timedelta(days=7)], "store_id": [1, 2, 1], "item_id": [1, 1, 1]})
    sales = pd.DataFrame(
        {
            "sale_date": [D - timedelta(days=1), D, D + timedelta(days=27), D + timedelta(days=28), D],
            "store_id": [1, 1, 1, 1, 2],
            "item_id": [1, 1, 1, 1, 1],
            "units": [100, 2, 3, 50, 7],
        }
    )
    at = datetime.combine(D, datetime.min.time())
    reviews = pd.DataFrame(
        {
            "created_at": [at - timedelta(hours=1), at, at + timedelta(days=3), at + timedelta(days=30)],
            "item_id": [1, 1, 1, 1],
            "sentiment": ["positive", "negative", "positive", "negative"],
        }
    )
    # the facts end on D + 30: the window of D + 7 ([D + 7, D + 35)) is not complete, so unlabelled
    got = PM.label_snapshots(snapshots, sales, reviews, last_day=D + timedelta(days=30))
    assert list(got["as_of"]) == [D, D]
    assert list(got["next_units"]) == [5.0, 7.0]  # before D and from D + 28 on: not counted
    assert list(got["negative"]) == [1.0, 1.0]  # one negative of two in [D, D + 28): half -> negative
    longer = PM.label_snapshots(snapshots, sales, reviews, last_day=D + timedelta(days=34))
    later = longer[longer["as_of"] == D + timedelta(days=7)]
    assert list(later["next_units"]) == [53.0] and list(later["negative"]) == [1.0]


def test_no_review_in_the_window_means_no_risk_label():
    snapshots = pd.DataFrame({"as_of": [D], "store_id": [1], "item_id": [9]})
    sales = pd.DataFrame({"sale_date": [D], "store_id": [1], "item_id": [9], "units": [1]})
    reviews = pd.DataFrame({"created_at": [], "item_id": [], "sentiment": []})
    got = PM.label_snapshots(snapshots, sales, reviews, last_day=D + timedelta(days=40))
    assert np.isnan(got["negative"].iloc[0]) and PM.risk_rows(got).empty


def frame(days=5, items=60, seed=3):
    """Snapshots where risk follows an interaction (overpriced and poorly rated) and next sales
    revert to a store-item's mean after a promotion."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(days):
        for item in range(items):
            r = {f: rng.normal() for f in FEATURES}
            base = 20 + item
            promo = rng.random() < 0.3
            r.update(
                as_of=D + timedelta(days=7 * k),
                store_id=1,
                item_id=item,
                category=f"c{item % 3}",
                units_28=base * (2 if promo else 1) + rng.normal(0, 2),
                discount_28=0.3 if promo else 0.0,
                next_units=base + rng.normal(0, 2),
            )
            bad = r["price_vs_category"] > 0 and r["avg_rating_90"] < 0
            r["negative"] = float(rng.random() < (0.85 if bad else 0.1))
            rows.append(r)
    return pd.DataFrame(rows)


def test_time_split_holds_out_the_newest_snapshot_and_validates_on_the_one_before():
    split = PM.time_split(frame())
    assert split.holdout["as_of"].nunique() == 1 and split.holdout["as_of"].iloc[0] == D + timedelta(days=28)
    assert split.validation["as_of"].iloc[0] == D + timedelta(days=21)
    assert split.train["as_of"].max() < split.holdout["as_of"].min()
    assert len(split.fit) + len(split.validation) == len(split.train)
    with pytest.raises(PM.ModelDataError, match="at least 3"):
        PM.time_split(frame(days=2))


def test_lightgbm_beats_its_baselines_where_the_signal_is_nonlinear():
    split = PM.time_split(frame(days=6, items=150))
    risk, risk_metrics = PM.evaluate(split, "risk")
    assert risk_metrics["lightgbm"]["roc_auc"] > risk_metrics["baseline"]["roc_auc"]
    # risk rises with price vs category and falls with the rating: the reasons' words know it
    assert risk.directions["price_vs_category"] == 1 and risk.directions["avg_rating_90"] == -1
    assert risk.predict(split.holdout)["prediction"].max() < 0.99  # calibrated, not a wall of 1.00
    volume, volume_metrics = PM.evaluate(split, "volume")
    assert volume_metrics["lightgbm"]["mae"] < volume_metrics["baseline"]["mae"]
    assert 0.7 <= volume_metrics["lightgbm"]["coverage_80"] <= 0.95


def test_shap_contributions_add_up_to_the_prediction():
    split = PM.time_split(frame())
    model = PM.fit_risk(split)
    rows = split.holdout.head(5)
    values = model.shap(rows)
    margin = model.models["p"].booster_.predict(model.matrix(rows), raw_score=True)
    assert np.allclose(values.sum(axis=1) + model.base_value(), margin, atol=1e-6)
    from models.products.product_serving import scored  # which predicts from the SHAP values: the same numbers

    assert np.allclose(scored(model, rows)["prediction"], model.predict(rows)["prediction"], atol=1e-9)
    shuffled = rows[list(reversed(rows.columns))]  # a caller's frame in any column order: the same answers
    pd.testing.assert_frame_equal(scored(model, shuffled), scored(model, rows))
    from models.products.product_serving import ProductModelPyfunc

    served = ProductModelPyfunc()
    served.model = model
    partial = served.predict(None, rows[["units_28", "category"]])  # the other features unknown
    assert len(partial) == len(rows) and partial["prediction"].between(0, 1).all()
    explained = model.explain(rows, top=3)
    assert all(len(e) == 3 for e in explained)
    first = explained[0]
    assert [abs(c["contribution"]) for c in first] == sorted((abs(c["contribution"]) for c in first), reverse=True)


def test_reasons_in_plain_language():
    medians = {"sales_trend": 1.0, "negative_share_28": 0.2, "price_vs_category": 1.0}
    contributions = [
        {"feature": "negative_share_28", "value": 0.6, "contribution": 1.2},
        {"feature": "sales_trend", "value": 0.5, "contribution": 0.4},
        {"feature": "price_vs_category", "value": 0.8, "contribution": -0.3},
    ]
    assert PM.reason(contributions, medians, "risk") == (
        "risk up: many recent negative reviews, falling sales; down: low price vs category"
    )
    assert PM.reason([{"feature": "category", "value": "Coffee", "contribution": 0.1}], {}, "sales") == (
        "sales up: category Coffee"
    )
    assert PM.phrase("avg_rating_90", None, {}) == "no avg rating 90 data"
    # with the model's directions the words follow the contribution: a rating that lowers risk in a
    # model where high ratings lower it is a high rating, whatever the median says
    rating = [{"feature": "avg_rating_90", "value": 3.9, "contribution": -0.5}]
    assert PM.reason(rating, {"avg_rating_90": 4.2}, "risk") == "down: low average rating"  # the old contradiction
    assert PM.reason(rating, {"avg_rating_90": 4.2}, "risk", {"avg_rating_90": -1}) == "down: high average rating"
    raising = [{"feature": "avg_rating_90", "value": 4.5, "contribution": 0.5}]
    assert PM.reason(raising, {"avg_rating_90": 4.2}, "risk", {"avg_rating_90": -1}) == "risk up: low average rating"
    assert PM.reason(raising, {}, "risk", {"avg_rating_90": 0}) == "risk up: average rating 4.5"
    assert PM.reason([], medians, "risk") == "nothing stands out"


@pytest.mark.parametrize(
    ("kind", "challenger", "baseline", "champion", "promoted"),
    [
        ("risk", 0.80, 0.70, None, True),
        ("risk", 0.65, 0.70, None, False),  # below the baseline: never
        ("risk", 0.80, 0.70, 0.82, False),  # below the champion on the same holdout
        ("risk", 0.80, 0.70, 0.80, False),  # a tie does not replace the champion
        ("risk", 0.85, 0.70, 0.80, True),
        ("volume", 10.0, 12.0, None, True),  # MAE: lower is better
        ("volume", 10.0, 12.0, 9.5, False),
        ("volume", 13.0, 12.0, None, False),
    ],
)
def test_promotion_rule(kind, challenger, baseline, champion, promoted):
    metric = PM.KEY_METRIC[kind][0]
    result, reason = PM.promote(
        kind, {metric: challenger}, {metric: baseline}, None if champion is None else {metric: champion}
    )
    assert result is promoted and metric in reason


def test_unknown_category_scores_as_missing():
    split = PM.time_split(frame())
    model = PM.fit_volume(split)
    row = split.holdout.head(1).assign(category="never seen")
    assert np.isnan(model.matrix(row)[0, -1])
    out = model.predict(row)
    assert (out["lower"] <= out["prediction"]).all() and (out["prediction"] <= out["upper"]).all()


def drift_rows(*flagged):
    """A drift table where the named features fail both the test and the PSI rule."""
    names = [*PM.INPUTS, "prediction"]
    hit = [n in flagged for n in names]
    return pd.DataFrame({"feature": names, "psi": [0.5 if h else 0.01 for h in hit], "drift": hit, "psi_flag": hit})


def test_drift_verdict_needs_both_the_test_and_the_psi_or_decay():
    from jobs.products.check_drift import verdict

    assert verdict("risk", drift_rows(), 0.80, 0.78) == (False, "no feature or prediction drift, no decay")
    only_test = drift_rows().assign(drift=True)  # significant but tiny shifts (large samples): no alarm
    assert verdict("risk", only_test, None, None)[0] is False
    retrain, why = verdict("risk", drift_rows("price_28", "prediction"), 0.80, 0.79)
    assert retrain and "1 feature(s) drifted (price_28)" in why and "predictions drifted (PSI 0.500)" in why
    assert verdict("risk", drift_rows(), 0.80, 0.74) == (True, "roc_auc decayed from 0.8000 to 0.7400")
    assert verdict("volume", drift_rows(), 10.0, 11.9)[0] is False  # MAE up 19%: within the 20% allowed
    assert verdict("volume", drift_rows(), 10.0, 12.1)[0] is True


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("models.product_models", "models.products.product_models", "ProductModel"),
        ("models.product_serving", "models.products.product_serving", "ProductModelPyfunc"),
        ("models.recommender_serving", "models.recommendations.recommender_serving", "ALSRecommender"),
    ],
)
def test_models_pickled_under_their_old_module_names_still_load(old, new, name):
    """A champion registered before the code was grouped by domain names its classes by the old modules."""
    import importlib
    import pickle

    cls = getattr(importlib.import_module(new), name)
    legacy = pickle.dumps(cls, protocol=0).replace(new.encode(), old.encode())
    assert old.encode() in legacy and pickle.loads(legacy) is cls
