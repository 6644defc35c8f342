"""The candidate methods (recent popularity, item-kNN, the ALS blend), the served model's file, and the
choice with its guard, on hand-made interactions (no Spark: the ALS parts use fixed factors)."""

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from models.recommendations import recommender as R
from models.recommendations.methods import Recommender, build, fit_item_knn, recent_popularity
from models.recommendations.recommender_serving import ChosenRecommender, recommend
from models.recommendations.selection import Options, Trial, choose


def interactions(rows):
    """(visitor, item, day) -> interactions of one purchase each."""
    frame = pd.DataFrame(rows, columns=["visitor_id", "item_id", "day"])
    events = frame.assign(action="transaction", event_time=pd.Timestamp("2025-01-01") + pd.to_timedelta(frame.day, "D"))
    return R.interactions(events[R.EVENT_COLUMNS])


def test_recent_popularity_ranks_the_window_first_then_the_rest():
    train = interactions([(1, 10, 0), (2, 10, 1), (3, 10, 2), (4, 20, 28), (5, 20, 29), (6, 30, 29)])
    items, counts = recent_popularity(train, days=7)
    assert items.tolist() == [20, 30, 10] and counts.tolist() == [2, 1, 0]
    assert R.popular_items(train).tolist()[0] == 10  # all time, the old favourite leads


def test_item_knn_recommends_what_similar_visitors_bought_next():
    # 10 and 11 are bought together; 12 goes with 13
    train = interactions([(1, 10, 0), (1, 11, 0), (2, 10, 0), (2, 11, 0), (3, 12, 0), (3, 13, 0), (4, 10, 0)])
    knn = fit_item_knn(train, neighbours=5)
    top = knn.top_n([4, 3, 99], {4: {10}}, k=3)
    assert [i for i, _ in top[4]] == [11]  # only items similar to its history, never what it bought
    assert 99 not in top  # unknown: the caller's fallback
    assert knn.similarity[knn.item_index[10], knn.item_index[11]] == pytest.approx(2 / np.sqrt(3 * 2))


def test_the_blend_lets_recent_popularity_break_near_ties_of_als():
    train = interactions([(7, 100, 0), (8, 300, 29), (9, 300, 29)])
    factors = R.Factors(
        np.array([7]),
        np.array([[1.0, 0.0]], dtype="float32"),
        np.array([100, 200, 300]),
        np.array([[0.0, 0.0], [1.0, 0.0], [0.95, 0.0]], dtype="float32"),
    )
    params = {"rank": 2, "reg_param": 0.1, "alpha": 1.0, "max_iter": 1, "days": 7, "weight": 0.1}
    blend = build(None, train, "blend", params, factors=factors)
    assert [i for i, _ in factors.top_n([7], {}, 2)[7]] == [200, 300]
    assert [i for i, _ in blend.top_n([7], {}, 2)[7]] == [300, 200]  # 0.95 + 0.1 > 1.0


@pytest.mark.parametrize("method", ["popularity", "recent_popularity", "item_knn", "als"])
def test_the_served_model_round_trips_through_its_file_and_answers_one_list_per_visitor(tmp_path, method):
    train = interactions([(1, 10, 0), (1, 11, 1), (2, 10, 2), (2, 11, 3), (3, 12, 29), (4, 10, 29)])
    factors = R.Factors(
        np.array([1, 2, 3, 4]),
        np.eye(4, 3, dtype="float32"),
        np.array([10, 11, 12]),
        np.eye(3, dtype="float32"),
    )
    params = {"days": 7, "neighbours": 10, "rank": 3, "reg_param": 0.1, "alpha": 1.0, "max_iter": 1}
    model = build(None, train, method, params, factors=factors if method == "als" else None)
    loaded = Recommender.load(model.save(tmp_path / "model.npz"))
    assert (loaded.method, loaded.params) == (model.method, model.params)
    assert loaded.top_n([1, 4, 99], {1: {10}}, 2) == model.top_n([1, 4, 99], {1: {10}}, 2)

    served = ChosenRecommender()
    served.model = loaded
    lists = served.predict(None, pd.DataFrame({"visitor_id": [1, 99], "exclude": [[11], []]}), {"k": 2})
    assert set(lists["visitor_id"]) == {1, 99} and 11 not in lists[lists.visitor_id == 1]["item_id"].tolist()
    assert lists.groupby("visitor_id")["fallback"].first().to_dict() == {1: 0, 99: 1}
    without = served.predict(None, pd.DataFrame({"visitor_id": [99, 1]}), {"k": 2})  # no exclude column
    assert without["visitor_id"].tolist() == [99, 99, 1, 1]
    with pytest.raises(MlflowException) as caught:
        served.predict(None, pd.DataFrame({"visitor_id": [1]}), {"k": 0})
    assert caught.value.get_http_status_code() == 400 and "k=0" in caught.value.message


def test_a_file_from_before_the_choice_loads_as_als(tmp_path):
    path = tmp_path / "factors.npz"
    np.savez_compressed(
        path,
        visitor_ids=np.array([1]),
        user_factors=np.ones((1, 2), "float32"),
        item_ids=np.array([5, 6]),
        item_factors=np.array([[1, 0], [2, 0]], "float32"),
        popular=np.array([6, 5]),
        popular_visitors=np.array([2, 1]),
    )
    old = Recommender.load(path)
    assert old.method == "als" and recommend(old, old.popular, [1], {}, 2)["item_id"].tolist() == [6, 5]


# -- the choice and its guard ------------------------------------------------------------------------
def split_of(rows, relevant):
    return R.Split(interactions(rows), relevant, {})


def trial(method, params, value):
    metrics = {"map@2": value, "score": value}
    return Trial(method, params, metrics, 0.0)


# training: item 10 popular all along; item 20 hot in the last days. Guard window A: visitors buy
# 20 next (recent wins); guard window B: they buy 10 (the holiday was in validation, not the rule)
TRAIN = [(1, 10, 0), (2, 10, 1), (3, 10, 2), (4, 20, 28), (5, 20, 29), (6, 30, 29)]


@pytest.mark.parametrize(
    ("guard_item", "expected", "why"),
    [
        (20, "recent_popularity", "held on the earlier guard window"),
        (10, "popularity", "popularity stays"),
    ],
)
def test_the_choice_leaves_popularity_only_for_a_win_that_holds_on_the_guard_window(guard_item, expected, why):
    trials = [trial("popularity", {}, 0.10), trial("recent_popularity", {"days": 7}, 0.30)]
    guard = split_of(TRAIN, {7: {guard_item}})
    guard.train = pd.concat([guard.train, interactions([(7, 30, 29)])])  # visitor 7 is warm
    chosen, reason = choose(None, trials, guard, Options([], [7], [], k=2), log=lambda _: None)
    assert chosen.method == expected and why in reason


def test_a_win_inside_the_margin_keeps_popularity_without_asking_the_guard():
    trials = [trial("popularity", {}, 0.100), trial("recent_popularity", {"days": 7}, 0.104)]
    guard = split_of(TRAIN, {})  # an empty guard window would fail if it were scored
    chosen, reason = choose(None, trials, guard, Options([], [7], [], margin=0.05, k=2), log=print)
    assert chosen.method == "popularity" and "by 5%" in reason
