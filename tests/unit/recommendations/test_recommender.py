"""Recommender building blocks without services: weighting, the time split, metrics against hand
computations, exclusions and fallbacks, promotion, and the event sources."""

import math
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from models.recommendations import recommender as R
from models.recommendations.methods import Recommender
from models.recommendations.recommender_serving import recommend
from streaming.contracts import SHOPPER_EVENT
from streaming.files import DatasetError
from streaming.recommendations.event_sources import (
    generated_funnel,
    read_events,
    read_ratings,
    read_retailrocket,
    shopper_events,
)


def events(rows):
    frame = pd.DataFrame(rows, columns=R.EVENT_COLUMNS)
    frame["event_time"] = pd.to_datetime(frame["event_time"])
    return frame


EVENTS = events(
    [
        (1, 10, "view", "2025-01-01"),
        (1, 10, "view", "2025-01-02"),
        (1, 10, "addtocart", "2025-01-02"),
        (1, 10, "transaction", "2025-01-03"),
        (1, 11, "view", "2025-01-04"),
        (2, 10, "view", "2025-01-05"),
        (2, 12, "view", "2025-01-20"),  # test window
        (1, 12, "addtocart", "2025-01-21"),
        (1, 10, "view", "2025-01-22"),  # bought in training: never relevant
        (3, 12, "view", "2025-01-22"),  # cold visitor
    ]
)


def test_weights_parse_and_reject_what_they_cannot_use():
    assert R.parse_weights("view=2, transaction=10") == {"view": 2.0, "addtocart": 3.0, "transaction": 10.0}
    assert R.format_weights(R.DEFAULT_WEIGHTS) == "view=1,addtocart=3,transaction=5"
    for bad in ("click=1", "view", "view=x", "view=-1", "view=nan"):
        with pytest.raises(R.DataError, match="weights"):
            R.parse_weights(bad)


def test_interactions_are_weighted_counts_with_first_and_last_seen():
    found = R.interactions(EVENTS.iloc[:6]).set_index(["visitor_id", "item_id"])
    one = found.loc[(1, 10)]
    assert (one.views, one.carts, one.purchases, one.confidence) == (2, 1, 1, 2 * 1 + 3 + 5)
    assert one.first_seen == pd.Timestamp("2025-01-01") and one.last_seen == pd.Timestamp("2025-01-03")
    custom = R.interactions(EVENTS.iloc[:6], R.parse_weights("view=0")).set_index(["visitor_id", "item_id"])
    assert (1, 11) not in custom.index  # a view worth nothing is no interaction
    assert custom.loc[(1, 10)].confidence == 8


def test_the_split_never_trains_on_the_future():
    cutoff = R.time_cutoff(EVENTS["event_time"], 0.4)
    split = R.make_split(EVENTS, cutoff)
    assert cutoff == pd.Timestamp("2025-01-20")
    assert (split.train["last_seen"] < cutoff).all()
    assert set(split.train["item_id"]) == {10, 11}  # item 12 appears only after the cutoff
    assert split.relevant == {1: {12}, 2: {12}}  # visitor 1's item 10 was bought before: excluded
    assert split.excluded == {1: {10}} and split.cold_visitors == 1
    with pytest.raises(R.DataError, match="one time"):
        R.time_cutoff(pd.Series([pd.Timestamp("2025-01-01")] * 3), 0.2)


def test_metrics_match_hand_computed_rankings():
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d", "x"}
    assert R.precision_at_k(ranked, relevant, 4) == 0.5
    assert R.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert R.average_precision_at_k(ranked, relevant, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert R.ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / ideal)
    assert R.average_precision_at_k(["b"], {"b"}, 10) == 1.0 and R.ndcg_at_k(["b"], {"b"}, 10) == 1.0
    means = R.ranking_metrics({1: ranked, 2: []}, {1: relevant, 2: {"a"}}, 4)
    assert means["precision@4"] == 0.25 and means["users"] == 2  # a visitor without a list scores 0
    with pytest.raises(R.DataError, match="nothing to evaluate"):
        R.ranking_metrics({}, {}, 10)


def test_top_n_ranks_by_score_and_never_returns_excluded_items():
    factors = R.Factors(
        visitor_ids=np.array([7, 8]),
        user_factors=np.array([[1.0, 0.0], [0.0, 1.0]], dtype="float32"),
        item_ids=np.array([100, 200, 300]),
        item_factors=np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]], dtype="float32"),
    )
    top = factors.top_n([7, 8, 9], {7: {100}}, k=2)
    assert [i for i, _ in top[7]] == [200, 300] and [i for i, _ in top[8]] == [300, 200]
    assert 9 not in top  # unknown: left to the fallback
    everything_bought = factors.top_n([7], {7: {100, 200, 300}}, k=2)
    assert everything_bought[7] == []
    model = Recommender("als", np.array([300, 100, 200]), np.array([3, 2, 1]), factors=factors, known=frozenset({7, 8}))
    lists = recommend(model, model.popular, [7, 9], {7: {100}, 9: {300}}, k=2)
    assert lists[lists.visitor_id == 9][["item_id", "fallback"]].values.tolist() == [[100, 1], [200, 1]]
    assert lists[lists.visitor_id == 7]["fallback"].eq(0).all()
    nobody = recommend(None, np.array([300, 100]), [7], {}, k=2)
    assert nobody["item_id"].tolist() == [300, 100] and nobody["fallback"].eq(1).all()


def test_popularity_counts_visitors_and_skips_what_was_bought():
    train = R.interactions(EVENTS.iloc[:6])
    popular = R.popular_items(train)
    assert list(popular) == [10, 11]  # two visitors vs one
    assert R.top_popular(popular, {10}, 5) == [11]


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted", "why"),
    [
        (0.20, None, True, "first version; MAP 0.2000 >= recent popularity 0.1200"),
        (0.11, None, False, "below recent popularity 0.1200"),  # beats all-time popularity only
        (0.19, 0.20, True, ">= 0.1800"),
        (0.17, 0.20, False, "more than 10% below"),
    ],
)
def test_promotion_needs_both_popularities_and_the_champion(challenger, champion, promoted, why):
    baselines = {"popularity": 0.10, "recent_popularity": 0.12}
    decided, reason = R.promote(challenger, baselines, champion, tolerance=0.1)
    assert decided is promoted and why in reason


def test_retailrocket_files_are_read_and_bad_lines_named(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n"
        "1433224214164,992329,transaction,248676,4000\n"
    )
    frame = read_retailrocket(path)
    assert frame["action"].tolist() == ["view", "transaction"]
    assert frame["event_time"].iloc[0] == pd.Timestamp("2015-06-02 05:02:12.117")
    assert frame["transaction_id"].tolist() == [None, "4000"]
    records = list(shopper_events(frame, "ev-x"))
    assert [SHOPPER_EVENT.parse(SHOPPER_EVENT.serialize(r))["item_id"] for r in records] == [355908, 248676]
    path.write_text("timestamp,visitorid,event,itemid\n1433221332117,1,click,2\n")
    with pytest.raises(DatasetError, match="line 2: event='click'"):
        read_retailrocket(path)
    path.write_text("time,visitor,item\n1,2,3\n")
    with pytest.raises(DatasetError, match="missing column"):
        read_events(path, "retailrocket")


def test_every_rated_item_is_seen_and_only_high_ratings_are_relevant(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n1,10,5,964982703\n1,11,2,964982704\n2,10,4.5,964982705\n")
    frame = read_ratings(path, 4)
    assert frame[["visitor_id", "item_id", "relevant"]].values.tolist() == [
        [1, 10, True],
        [1, 11, False],
        [2, 10, True],
    ]
    assert (frame["action"] == "transaction").all() and frame["event_time"].iloc[0] == datetime(2000, 7, 30, 18, 45, 3)
    dat = tmp_path / "ratings.dat"
    dat.write_text("1::10::5::964982703\n")
    assert len(read_ratings(dat, 4)) == 1
    path.write_text("user,item,rating,timestamp\n1,10,good,964982703\n")
    with pytest.raises(DatasetError, match="rating='good' is not a number"):
        read_ratings(path, 4)


def test_a_low_rating_is_excluded_from_candidates_and_never_relevant():
    ratings = events(
        [
            (1, 10, "transaction", "2025-01-01"),  # rated 2 in training: seen, never recommended again
            (2, 10, "transaction", "2025-01-02"),
            (1, 11, "transaction", "2025-01-20"),  # rated 1 in the test window: not a hit
            (1, 12, "transaction", "2025-01-21"),  # rated 5 in the test window: the one hit
        ]
    ).assign(relevant=[False, True, False, True])
    split = R.make_split(ratings, pd.Timestamp("2025-01-10"))
    assert split.excluded[1] == {10} and split.relevant == {1: {12}}
    assert set(split.train["visitor_id"]) == {1, 2}  # a low rating is still an interaction


def test_the_funnel_converts_like_real_shops_and_is_seeded():
    frame = generated_funnel(seed=3, visitors=300, items=200, start=date(2025, 1, 1), days=30)
    counts = frame["action"].value_counts()
    assert 0.02 <= counts["addtocart"] / counts["view"] <= 0.10  # carts per view
    assert 0.2 <= counts["transaction"] / counts["addtocart"] <= 0.5  # purchases per cart
    assert frame["event_time"].is_monotonic_increasing
    popular_share = frame["item_id"].value_counts().iloc[:20].sum() / len(frame)
    assert popular_share > 0.3  # a long tail: 10% of the items draw a large share
    assert frame.equals(generated_funnel(seed=3, visitors=300, items=200, start=date(2025, 1, 1), days=30))
