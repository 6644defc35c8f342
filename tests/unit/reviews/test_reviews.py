"""Reviews and posts without services: normalisation, label mapping, metrics, the promotion rule,
perturbations, the entity ruler on a hand-labelled set, the generators, and the pure transforms of
scoring, insight and similarity."""

import json
import random
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.catalogue import catalogue
from models.reviews import sentiment as S
from models.reviews.entities import EntityTagger, detection_report, ruler_patterns
from streaming.reviews import review_sources as R

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_normalise_keeps_case_and_punctuation_but_tames_noise():
    text = "  GREAT!!!!!! see https://x.io/a?b=1 @shop_bot   sooooo good "
    assert S.normalise(text) == "GREAT!!! see URL @user sooo good"
    assert S.normalise("ｆｕｌｌ width") == "full width"  # NFKC
    assert S.normalise(None) == ""


@pytest.mark.parametrize(
    ("values", "scale", "expected"),
    [
        (["Positive", "neg", " NEUTRAL "], "labels", ["positive", "negative", "neutral"]),
        ([1, 2, 3, 4, 5, "5"], "stars", ["negative", "negative", "neutral", "positive", "positive", "positive"]),
        ([-0.6, -0.05, 0, 0.05, 0.5], "score", ["negative", "neutral", "neutral", "neutral", "positive"]),
    ],
)
def test_label_mapping(values, scale, expected):
    assert S.to_labels(values, scale) == expected


@pytest.mark.parametrize(
    ("values", "scale", "message"),
    [
        (["great"], "labels", "label 'great' is not one of negative, neutral, positive"),
        ([6], "stars", "star rating 6 is not 1, 2, 3, 4 or 5"),
        (["3.5"], "stars", "star rating '3.5' is not 1, 2, 3, 4 or 5"),
        (["n/a"], "score", "score value 'n/a' is not a number"),
        ([float("nan")], "score", "is not a number"),
    ],
)
def test_label_mapping_names_the_bad_value(values, scale, message):
    with pytest.raises(S.LabelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        S.to_labels(values, scale)


def test_score_thresholds_are_configurable():
    assert S.to_labels([-0.4, 0.4, 0.6], "score", low=-0.5, high=0.5) == ["neutral", "neutral", "positive"]


def test_metrics_against_a_hand_computed_confusion():
    truth = ["negative", "negative", "neutral", "positive", "positive", "positive"]
    pred = ["negative", "neutral", "neutral", "positive", "positive", "negative"]
    m = S.metrics(truth, pred)
    assert m["accuracy"] == round(4 / 6, 4)
    # negative: P 1/2 R 1/2 -> 0.5; neutral: P 1/2 R 1 -> 2/3; positive: P 1 R 2/3 -> 0.8
    assert m["per_class"] == {"negative": 0.5, "neutral": 0.6667, "positive": 0.8}
    assert m["macro_f1"] == round((0.5 + 2 / 3 + 0.8) / 3, 4)
    assert m["confusion"]["matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_two_class_truth_is_scored_on_its_two_classes():
    m = S.metrics(["negative", "positive"], ["neutral", "positive"])
    assert set(m["per_class"]) == {"negative", "positive"}
    assert m["per_class"]["negative"] == 0.0 and m["per_class"]["positive"] == 1.0


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted"),
    [(0.70, None, True), (0.70, 0.70, True), (0.71, 0.70, True), (0.6999, 0.70, False)],
)
def test_promotion_rule_not_lower_wins(challenger, champion, promoted):
    decision, reason = S.promote(challenger, champion)
    assert decision is promoted
    assert f"{challenger:.4f}" in reason


def test_corpus_weights_give_each_corpus_the_same_total():
    weights = S.corpus_weights(["a"] * 9 + ["b"])
    assert weights[:9].sum() == pytest.approx(weights[9:].sum())
    assert weights.sum() == pytest.approx(10)


@pytest.mark.parametrize("name", [p.name for p in S.PERTURBATIONS])
def test_each_perturbation_changes_text_as_documented(name):
    text = "This Blender works really well, honestly."
    out = S.perturb(text, name, random.Random(1))
    expected = {
        "truncation": "This Blender works",
        "lowercase": text.lower(),
        "uppercase": text.upper(),
        "no_punctuation": "This Blender works really well honestly",
        "emoji": text + " 🤔",
    }
    if name == "typos":  # one word in ten: over 60 words some change, letters swapped, none lost
        long = " ".join([text] * 10)
        out = S.perturb(long, name, random.Random(1))
        changed = sum(a != b for a, b in zip(out.split(), long.split(), strict=True))
        assert 1 <= changed <= 15 and sorted(out) == sorted(long)
    else:
        assert out == expected[name]


def test_model_learns_and_predicts_with_confidence():
    texts = ["I love it, great", "awful, broke, hate it", "it is a box", "excellent quality", "terrible smell"] * 4
    labels = ["positive", "negative", "neutral", "positive", "negative"] * 4
    model = S.fit(texts, labels, ["toy"] * len(texts))
    predicted, confidence = S.predict_with_confidence(model, ["great, I love it", "it broke, awful"])
    assert predicted == ["positive", "negative"]
    assert all(0.34 < c <= 1 for c in confidence)


def test_a_blend_averages_its_models_and_survives_the_registry_format(tmp_path):
    from jobs.reviews.train_sentiment import chosen_kind
    from models.reviews.sentiment_serving import load_pipeline, save_pipeline

    texts = ["I love it, great", "awful, broke, hate it", "it is a box", "excellent quality", "terrible smell"] * 4
    labels = ["positive", "negative", "neutral", "positive", "negative"] * 4
    first = S.fit(texts, labels, ["toy"] * len(texts), c=0.05)
    second = S.fit(texts, labels, ["toy"] * len(texts), c=50.0)
    blend = S.Blend(first, second, 0.25)
    probe = ["great, I love it", "it broke, awful", "a box"]
    expected = 0.75 * first.predict_proba(probe) + 0.25 * second.predict_proba(probe)
    assert np.allclose(blend.predict_proba(probe), expected) and not np.allclose(expected, first.predict_proba(probe))
    assert list(blend.predict(probe)[:2]) == ["positive", "negative"]
    loaded = load_pipeline(save_pipeline(tmp_path / "blend.skops", blend))  # skops, with the trusted types only
    assert np.allclose(loaded.predict_proba(probe), expected) and S.kind_of(loaded) == "blend"
    assert S.encoder_of(loaded) == "lexicon"  # no e5 part here: scoring it needs no encoder
    with pytest.raises(ValueError, match="share must be between 0 and 1"):
        S.Blend(first, second, 1.0)
    other = S.fit(texts[:4], ["positive", "negative", "positive", "negative"], ["toy"] * 4)
    with pytest.raises(ValueError, match="classes differ"):
        S.Blend(first, other, 0.5)
    # the choice: the best validation score, a tie going to the simpler kind
    assert chosen_kind({"lexicon": (0, 0.6, 0), "e5": (0, 0.7, 0), "blend": (0, 0.7, 0)}) == "e5"
    assert chosen_kind({"lexicon": (0, 0.6, 0), "e5": (0, 0.6, 0), "blend": (0, 0.61, 0)}) == "blend"
    assert chosen_kind({"lexicon": (0, 0.6, 0)}) == "lexicon"


# -- entities ---------------------------------------------------------------------------------------
def test_ruler_patterns_cover_catalogue_longest_first():
    cat = catalogue(items=5, stores=2)
    patterns = ruler_patterns(cat)
    ids = {p["id"] for p in patterns}
    assert {f"item:{i}" for i in range(1, 6)} <= ids and {"store:1", "store:2"} <= ids
    assert {f"brand:{p.brand}" for p in cat.products} <= ids
    lengths = [len(p["pattern"]) for p in patterns]
    assert lengths == sorted(lengths, reverse=True)
    assert all(
        all(
            set(token) == {"LOWER"} and token["LOWER"].islower() or not token["LOWER"].isalpha()
            for token in p["pattern"]
        )
        for p in patterns
    )


def test_entity_detection_rate_on_the_hand_labelled_set():
    examples = [json.loads(line) for line in (FIXTURES / "ner_labelled.jsonl").read_text().splitlines()]
    report = detection_report(EntityTagger(catalogue(), pretrained=None), examples)
    print(f"entity detection on {len(examples)} hand-labelled texts: {report}")
    assert report["expected"] == 37
    assert report["detection_rate"] >= 0.95 and report["unlabelled_finds"] == 0


def test_tagger_offsets_and_ids_point_at_the_catalogue():
    [entities] = EntityTagger(catalogue(), pretrained=None).tag(["Got the Solace Olive Oil at the Riverside store"])
    assert [(e.label, e.entity_id) for e in entities] == [("PRODUCT", "item:6"), ("STORE", "store:1")]
    assert "Got the Solace Olive Oil at the Riverside store"[entities[0].start : entities[0].end] == "Solace Olive Oil"


def test_the_tagger_takes_new_master_data_without_the_old():
    from common.catalogue import Catalogue, Product, Store

    tagger = EntityTagger(catalogue(), pretrained=None)
    own = Catalogue(
        (Product(9001, "Zephyr Espresso Grinder", "Zephyr", "Kitchen", float("nan")),),
        (Store(77, "Corner Shop Harbour", "Harbour"),),
    )
    tagger.use(own)
    [found] = tagger.tag(["The Zephyr Espresso Grinder from the Harbour store beats any Solace Olive Oil"])
    assert [(e.label, e.entity_id) for e in found] == [("PRODUCT", "item:9001"), ("STORE", "store:77")]


# -- generators -------------------------------------------------------------------------------------
def test_offline_posts_hold_the_class_balance_within_two_points():
    posts = list(R.offline_posts(catalogue(), seed=3, n=2000, since=date(2025, 1, 1), days=30))
    shares = {k: v / len(posts) for k, v in Counter(p["label"] for p in posts).items()}
    for label, share in R.POST_BALANCE.items():
        assert abs(shares[label] - share) <= 0.02, (label, shares)
    assert all(p["synthetic"] == 1 and p["product_id"] and p["store_id"] for p in posts)
    assert len({p["event_id"] for p in posts}) == len(posts)


def test_generated_ratings_follow_product_quality():
    cat = catalogue()
    rows = list(R.generated_reviews(cat, seed=5, since=date(2025, 1, 1), days=60, per_day=100))
    frame = pd.DataFrame(
        {"quality": [cat.product(int(r["product_id"])).quality for r in rows], "rating": [r["rating"] for r in rows]}
    )
    assert frame["quality"].corr(frame["rating"]) > 0.6
    named = np.mean([cat.product(int(r["product_id"])).name in r["text"] for r in rows])
    assert 0.2 < named < 0.9  # many reviews name their product, not all


def test_corpus_reviews_attach_positive_text_to_better_products():
    cat = catalogue()
    frame = pd.DataFrame(
        {"text": ["good"] * 500 + ["bad"] * 500, "label": ["positive"] * 500 + ["negative"] * 500, "corpus": "toy"}
    )
    rows = list(R.corpus_reviews(cat, frame, seed=1, since=date(2025, 1, 1), days=10))
    quality = {
        lab: np.mean([cat.product(int(r["product_id"])).quality for r in rows if r["label"] == lab])
        for lab in ("positive", "negative")
    }
    assert quality["positive"] > quality["negative"] + 0.1


class FakeCompletions:
    """A groq client's chat.completions: fails ``failures`` times, then answers with one post per id."""

    def __init__(self, failures=0):
        self.failures, self.calls = failures, 0

    def create(self, model, messages, **kwargs):
        import groq

        self.calls += 1
        if self.calls <= self.failures:
            raise groq.APIConnectionError(request=None)
        asks = json.loads(messages[0]["content"].split("\n", 1)[1])
        content = json.dumps(
            {"posts": [{"id": a["id"], "text": f"{a['sentiment']} about {a['product']}"} for a in asks]}
        )

        class Reply:
            choices = [type("C", (), {"message": type("M", (), {"content": content})})]

        return Reply


def test_llm_posts_retry_and_keep_the_balance():
    completions = FakeCompletions(failures=1)
    client = type("Client", (), {"chat": type("Chat", (), {"completions": completions})})
    posts = list(
        R.llm_posts(
            catalogue(), 1, 40, date(2025, 1, 1), 5, "key", per_request=10, min_interval_s=0, retries=2, client=client
        )
    )
    assert len(posts) == 40 and completions.calls == 5  # one retry, then four chunks
    assert Counter(p["label"] for p in posts) == {"positive": 14, "neutral": 14, "negative": 12}
    assert all(p["text"].startswith(p["label"]) for p in posts)


def test_llm_posts_unreachable_raises_for_the_fallback():
    client = type("Client", (), {"chat": type("Chat", (), {"completions": FakeCompletions(failures=99)})})
    with pytest.raises(R.LLMUnavailable):
        list(R.llm_posts(catalogue(), 1, 10, date(2025, 1, 1), 5, "key", min_interval_s=0, retries=1, client=client))


# -- scoring, insight, similarity -------------------------------------------------------------------
def _record(doc_id, partition, offset, **extra):
    return {
        "review_id": doc_id,
        "kafka_partition": partition,
        "kafka_offset": offset,
        "product_id": "7",
        "store_id": 2,
        "text": f"text {doc_id}",
        "created_at": datetime(2025, 1, 1),
        **extra,
    }


def test_first_record_per_document_wins():
    from streaming.raw_ingest import first_per_document

    records = [_record("a", 1, 5, rating=1), _record("a", 0, 9, rating=5), _record("b", 0, 1)]
    chosen = {r["review_id"]: r for r in first_per_document(records, "review_id")}
    assert chosen["a"]["rating"] == 5 and set(chosen) == {"a", "b"}


def test_scored_rows_map_probabilities_labels_and_entities():
    from models.reviews.entities import Entity
    from streaming.reviews.review_scoring import ENTITY_COLUMNS, SENTIMENT_COLUMNS, scored_rows

    records = [
        _record("a", 0, 1, rating=2, label=None, source="generator"),
        _record("b", 0, 2, rating=None, label="positive", product_id="x1"),
        _record("c", 0, 3, product_id=None, store_id=None),  # a post naming a product and a store
    ]
    classes = ["negative", "neutral", "positive"][::-1]  # the model's own order need not be ours
    proba = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])  # in `classes` order: a negative
    named = [Entity("Solace", "BRAND", "brand:Solace", 0, 6), Entity("Lakeview", "STORE", "store:3", 7, 15)]
    named += [
        Entity("Solace Toaster", "PRODUCT", "item:12", 16, 30),
        Entity("Kestrel Tea", "PRODUCT", "item:4", 31, 42),
    ]
    entities = [[Entity("Solace", "BRAND", "brand:Solace", 0, 6)], [], named]
    rows, found = scored_rows(records, "review", "review_id", proba, classes, entities, "m/3", datetime(2025, 2, 1))
    a, b, c = (dict(zip(SENTIMENT_COLUMNS, r, strict=True)) for r in rows)
    assert (c["item_id"], c["store_id"]) == (12, 3)  # the first product and store it names
    assert (a["sentiment"], a["confidence"], a["p_negative"], a["given_label"]) == ("negative", 0.7, 0.7, "negative")
    assert (b["sentiment"], b["given_label"], b["item_id"]) == ("positive", "positive", None)
    assert a["item_id"] == 7 and a["model_version"] == "m/3" and a["synthetic"] == 0
    assert [dict(zip(ENTITY_COLUMNS, f, strict=True))["entity_id"] for f in found][:2] == ["brand:Solace"] * 2


def test_lagged_correlation_finds_a_lead():
    from jobs.reviews.review_insight import lagged_correlations

    days = pd.date_range("2025-01-01", periods=40)
    rng = np.random.default_rng(0)
    sentiment = rng.normal(size=40)
    units = np.r_[np.zeros(3), sentiment[:-3] * 10 + 50]  # units follow sentiment three days later
    daily = pd.DataFrame({"item_id": 1, "day": days.date, "net_sentiment": sentiment, "units": units})
    corr = lagged_correlations(daily, lags=(0, 3), min_days=10).set_index("lag_days")["correlation"]
    assert corr[3] == pytest.approx(1.0, abs=1e-6) and abs(corr[0]) < 0.5
    few = lagged_correlations(daily.head(5), lags=(0,), min_days=10)
    assert few["correlation"].isna().all() and few["days"].tolist() == [5]


def test_the_similar_reviews_index_ranks_by_shared_terms_and_filters_by_type():
    from models.reviews.similar_index import OUTPUT_COLUMNS, SimilarIndex

    texts = ["the blender broke", "lovely olive oil", "blender works well", "nothing in common here"]
    documents = pd.DataFrame(
        {
            "doc_type": ["review", "review", "post", "review"],
            "doc_id": ["r1", "r2", "p1", "r3"],
            "item_id": [3, None, 3, 4],
            "sentiment": ["negative", "positive", "positive", "neutral"],
            "confidence": [0.9, 0.8, 0.7, 0.6],
            "text": texts,
        }
    )
    index = SimilarIndex.build(documents, "tfidf")
    found = index.query(["my blender broke today", "olive oil"], k=3)
    assert list(found.columns) == OUTPUT_COLUMNS
    first = found[found.query_row == 0]
    assert first["doc_id"].tolist() == ["r1", "p1"] and first["similarity"].is_monotonic_decreasing
    assert first["rank_no"].tolist() == [1, 2] and first["item_id"].tolist() == [3, 3]
    assert found[found.query_row == 1][["doc_id", "item_id"]].values.tolist() == [["r2", None]]
    assert index.query(["blender"], k=3, doc_type="review")["doc_id"].tolist() == ["r1"]
