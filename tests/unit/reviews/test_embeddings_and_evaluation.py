"""The e5 encoder with its cache, the e5 sentiment pipeline, and the evaluate CLI on a user's file."""

import json

import numpy as np
import pytest

from jobs.reviews import evaluate_sentiment
from models.reviews import sentiment as S
from models.reviews.embeddings import DIM, E5Features, EmbeddingCache, Encoder, text_key

TEXTS = ["I love it, works great", "awful, it broke after a day", "It arrived on Tuesday."]


def test_the_cache_keeps_vectors_by_text_hash(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    vector = np.arange(DIM, dtype=np.float32)
    cache.put({text_key("a"): vector})
    again = EmbeddingCache(tmp_path / "e.sqlite")  # another process opening the same file
    found = again.get([text_key("a"), text_key("b")])
    assert list(found) == [text_key("a")] and np.array_equal(found[text_key("a")], vector) and len(again) == 1


def test_the_encoder_embeds_each_text_once_and_answers_from_the_cache(tmp_path):
    first = Encoder(tmp_path / "e.sqlite", threads=1)
    vectors = first.encode([*TEXTS, TEXTS[0]])
    assert vectors.shape == (4, DIM) and first.computed == 3  # the repeated text embedded once
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3) and np.allclose(vectors[0], vectors[3])
    later = Encoder(tmp_path / "e.sqlite", threads=1)  # a retrain: nothing embedded again
    assert np.allclose(later.encode(TEXTS), vectors[:3]) and later.computed == 0
    similar = vectors[:2] @ first.encode(["I really love it, it works well"])[0]
    assert similar[0] > similar[1]  # the embedding carries meaning


def test_the_e5_pipeline_learns_sentiment_and_pickles_without_its_encoder(tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("RP_EMBEDDING_CACHE", str(tmp_path / "e.sqlite"))
    positive = ["great product, love it", "excellent, works perfectly", "really happy with this", "superb value"]
    negative = ["terrible, broke at once", "awful quality, refund please", "very disappointed", "worst purchase ever"]
    texts, labels = positive + negative, ["positive"] * 4 + ["negative"] * 4
    model = S.fit(texts, labels, ["a"] * 8, encoder="e5", c=1.0)
    assert S.encoder_of(model) == "e5" and E5Features().transform(["x"]).shape == (1, DIM)
    assert (
        S.encoder_of(S.Blend(model, S.fit(texts * 2, labels * 2, ["a"] * 16), 0.5)) == "e5"
    )  # a blend needs the encoder
    copy = pickle.loads(pickle.dumps(model))
    assert list(copy.predict(["I love how well it works", "it broke, awful"])) == ["positive", "negative"]


@pytest.mark.parametrize("encoder", ["lexicon", "e5"])
def test_evaluate_cli_scores_a_users_file_next_to_vader(tmp_path, capsys, encoder):
    data = tmp_path / "mine.csv"
    rows = [("Absolutely love it, best blender ever", 5), ("Broke after two days, terrible", 1)] * 10
    rows += [("It is a blender. It came in a box", 3)] * 4
    data.write_text("body,stars\n" + "".join(f'"{t}",{s}\n' for t, s in rows))
    out = tmp_path / "metrics.json"
    argv = ["--data", str(data), "--text-col", "body", "--label-col", "stars", "--scale", "stars", "--out", str(out)]
    assert evaluate_sentiment.main([*argv, "--train-fresh", "--encoder", encoder]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"model", "vader", "data"} and report["data"]["rows"] == 24
    assert report["model"]["name"].startswith(f"{encoder} model trained here on")
    assert report["model"]["macro_f1"] >= 0.6 and report["model"]["confusion"]["labels"] == list(S.LABELS)
    assert "model - VADER macro-F1" in capsys.readouterr().out
    data.write_text("body,stars\nfine,7\n")
    assert evaluate_sentiment.main([*argv, "--train-fresh"]) == 2
    assert "star rating '7' is not 1, 2, 3, 4 or 5" in capsys.readouterr().err
