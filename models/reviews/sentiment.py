"""Three-class sentiment (negative / neutral / positive): the models, the VADER baseline, the metrics.

Three kinds compete in every training run, on a validation slice of the training corpora:

* **e5**: multilingual-e5-small sentence embeddings (models/reviews/embeddings.py, 4-bit, cached by
  text hash) plus VADER's four scores, standardised, into a class-balanced logistic regression.
  Measured on held-out corpora (docs/benchmarks.md, "Reviews"), it beats VADER on product-review
  snippets by about 0.1 macro-F1, and loses to it on tweets.
* **lexicon** (the fallback and the baseline the others must beat): TF-IDF word 1-2-grams of the
  normalised text plus VADER's four scores, into a class-balanced logistic regression. Thousands of
  texts per second on one core, and no encoder needed.
* **blend** (:class:`Blend`): the two models' class probabilities averaged, the lexicon model's share
  chosen on the validation slice. They err differently (e5 reads product language; the lexicon model
  VADER's cues: case, "!!!", emoticons, slang), so the average beats either, on tweets too.

Every training corpus weighs the same in both fitted models (the blend refits nothing).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

LABELS = ("negative", "neutral", "positive")
TRUSTED_TYPES = [
    "models.reviews.sentiment.LexiconFeatures",
    "models.reviews.sentiment._normalise_all",
    "models.reviews.embeddings.E5Features",
    "models.reviews.sentiment.Blend",
]  # skops, on save
ENCODERS = ("e5", "lexicon")
E5_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # the e5 model's regularisation, chosen on the validation slice
BLEND_SHARES = (0.25, 0.5, 0.75)  # the lexicon model's share in a blend, chosen on the validation slice
TRAIN_HINT = "train one with `retail-pulse reviews train`"
VADER_THRESHOLD = 0.05  # VADER's documented cut on the compound score
_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{3,}")


def normalise(text: str) -> str:
    """Unicode NFKC, URLs and @users replaced by placeholders, runs of >3 equal characters cut to 3,
    whitespace collapsed. Case and punctuation stay: VADER reads both ("GREAT!!!" > "great")."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _URL.sub(" URL ", text)
    text = _USER.sub(" @user ", text)
    text = _REPEAT.sub(r"\1\1\1", text)
    return _SPACE.sub(" ", text).strip()


class LabelError(ValueError):
    """Values that cannot be mapped to the three classes; the message names the first bad one."""


def to_labels(values, scale: str, low: float = -0.05, high: float = 0.05) -> list[str]:
    """Map a label column to negative / neutral / positive.

    ``labels``: the words themselves (any case; also neg/neu/pos, 0/1/2 are not accepted: ambiguous);
    ``stars``: 1-5 ratings, 1-2 negative, 3 neutral, 4-5 positive; ``score``: a number, below
    ``low`` negative, above ``high`` positive, in between neutral."""
    out = []
    for value in values:
        if scale == "labels":
            word = str(value).strip().lower()
            word = {"neg": "negative", "neu": "neutral", "pos": "positive"}.get(word, word)
            if word not in LABELS:
                raise LabelError(f"label {value!r} is not one of negative, neutral, positive")
            out.append(word)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise LabelError(f"{scale} value {value!r} is not a number") from None
        if not np.isfinite(number):
            raise LabelError(f"{scale} value {value!r} is not a number")
        if scale == "stars":
            if number not in (1, 2, 3, 4, 5):
                raise LabelError(f"star rating {value!r} is not 1, 2, 3, 4 or 5")
            out.append("negative" if number <= 2 else "neutral" if number == 3 else "positive")
        elif scale == "score":
            out.append("negative" if number < low else "positive" if number > high else "neutral")
        else:
            raise ValueError(f"unknown scale {scale!r}")
    return out


def given_label(label: str | None, rating: int | None) -> str | None:
    """The class a review came with: its label if it has one, else its star rating mapped."""
    return label or (to_labels([rating], "stars")[0] if rating is not None else None)


class Vader:
    """The lexicon baseline (vaderSentiment), and the source of the model's lexicon features."""

    def __init__(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def scores(self, texts) -> np.ndarray:
        rows = (self.analyzer.polarity_scores(t) for t in texts)
        return np.array([[s["compound"], s["pos"], s["neg"], s["neu"]] for s in rows], dtype=float).reshape(-1, 4)

    def predict(self, texts) -> list[str]:
        compound = self.scores(texts)[:, 0]
        return [
            "positive" if c >= VADER_THRESHOLD else "negative" if c <= -VADER_THRESHOLD else "neutral" for c in compound
        ]


class LexiconFeatures:
    """sklearn transformer: texts -> sparse [VADER scores x weight]. Stateless (fit does nothing)."""

    def __init__(self, weight: float = 3.0):
        self.weight = weight

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        from scipy import sparse

        if not hasattr(self, "_vader"):
            self._vader = Vader()
        return sparse.csr_matrix(self._vader.scores(texts) * self.weight)

    def get_params(self, deep=True):
        return {"weight": self.weight}

    def set_params(self, **params):
        self.weight = params.get("weight", self.weight)
        return self

    def __getstate__(self):  # the analyzer is rebuilt after unpickling
        return {"weight": self.weight}


def build_model(c: float = 2.0, lexicon_weight: float = 3.0, seed: int = 7, encoder: str = "lexicon"):
    """The unfitted pipeline: normalise -> features -> class-balanced logistic regression; features
    ``lexicon``: [TF-IDF 1-2-grams | VADER scores]; ``e5``: [e5 embedding | VADER scores], standardised."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    classifier = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
    if encoder == "e5":
        from models.reviews.embeddings import E5Features

        features = FeatureUnion([("e5", E5Features()), ("lexicon", LexiconFeatures(1.0))])
        steps = [("features", features), ("scale", StandardScaler(with_mean=False)), ("classifier", classifier)]
        return Pipeline([("normalise", FunctionTransformer(_normalise_all)), *steps])
    if encoder != "lexicon":
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODERS)}")
    features = FeatureUnion(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode")),
            ("lexicon", LexiconFeatures(lexicon_weight)),
        ]
    )
    return Pipeline(
        [
            ("normalise", FunctionTransformer(_normalise_all)),
            ("features", features),
            ("classifier", classifier),
        ]
    )


def _normalise_all(texts):
    return [normalise(t) for t in texts]


def corpus_weights(corpora) -> np.ndarray:
    """Sample weights that give every training corpus the same total weight."""
    corpora = np.asarray(corpora)
    names, counts = np.unique(corpora, return_counts=True)
    per = dict(zip(names, len(corpora) / (len(names) * counts), strict=True))
    return np.array([per[c] for c in corpora])


def fit(texts, labels, corpora, **params):
    model = build_model(**params)
    model.fit(list(texts), list(labels), classifier__sample_weight=corpus_weights(corpora))
    return model


class Blend:
    """A fitted e5 pipeline and a fitted lexicon pipeline as one model: their class probabilities
    averaged, the lexicon model's share ``share``. Answers ``predict_proba`` / ``predict`` /
    ``classes_`` like either pipeline."""

    def __init__(self, e5, lexicon, share: float):
        if list(e5.classes_) != list(lexicon.classes_):
            raise ValueError(f"the models' classes differ: {list(e5.classes_)} vs {list(lexicon.classes_)}")
        if not 0 < share < 1:
            raise ValueError(f"the lexicon model's share must be between 0 and 1, got {share}")
        self.e5, self.lexicon, self.share = e5, lexicon, share

    @property
    def classes_(self):
        return self.e5.classes_

    def predict_proba(self, texts) -> np.ndarray:
        texts = list(texts)
        return (1 - self.share) * self.e5.predict_proba(texts) + self.share * self.lexicon.predict_proba(texts)

    def predict(self, texts) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


def kind_of(model) -> str:
    """``e5``, ``lexicon`` or ``blend``: which kind a fitted model is."""
    if isinstance(model, Blend):
        return "blend"
    return "e5" if "scale" in getattr(model, "named_steps", {}) else "lexicon"


def encoder_of(model) -> str:
    """``e5`` when scoring with the model embeds text (an e5 pipeline or a blend with one), else ``lexicon``."""
    if isinstance(model, Blend):
        return encoder_of(model.e5)
    return "e5" if kind_of(model) == "e5" else "lexicon"


def predict_with_confidence(model, texts) -> tuple[list[str], np.ndarray]:
    """Labels and the probability of each chosen label."""
    proba = model.predict_proba(list(texts))
    classes = list(model.classes_)
    best = proba.argmax(1)
    return [classes[i] for i in best], proba[np.arange(len(best)), best]


# -- metrics -------------------------------------------------------------------------------------
def metrics(truth, predicted) -> dict:
    """Accuracy, macro-F1 (over the classes present in the truth: a 2-class corpus is scored on its
    two classes, a predicted neutral counts as a miss), per-class F1 and the confusion matrix
    (rows truth, columns predicted, order negative / neutral / positive)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    truth, predicted = list(truth), list(predicted)
    present = [c for c in LABELS if c in set(truth)]
    per_class = f1_score(truth, predicted, labels=present, average=None, zero_division=0)
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(np.mean(per_class)), 4),
        "per_class": {c: round(float(f), 4) for c, f in zip(present, per_class, strict=True)},
        "confusion": {"labels": list(LABELS), "matrix": confusion_matrix(truth, predicted, labels=LABELS).tolist()},
    }


def promote(challenger_f1: float, champion_f1: float | None) -> tuple[bool, str]:
    """The promotion rule: the challenger replaces the champion unless its macro-F1 on the fixed
    real holdout is lower. Returns the decision and its reason."""
    if champion_f1 is None:
        return True, f"no champion yet; challenger macro-F1 {challenger_f1:.4f}"
    if challenger_f1 >= champion_f1:
        return True, f"challenger macro-F1 {challenger_f1:.4f} >= champion {champion_f1:.4f}"
    return False, f"challenger macro-F1 {challenger_f1:.4f} < champion {champion_f1:.4f}: champion kept"


# -- robustness ----------------------------------------------------------------------------------
NEUTRAL_EMOJI = " 🤔"


@dataclass(frozen=True)
class Perturbation:
    name: str
    doc: str


PERTURBATIONS = (
    Perturbation("typos", "one in ten words gets two neighbouring letters swapped"),
    Perturbation("truncation", "only the first half of the words"),
    Perturbation("lowercase", "all lower case"),
    Perturbation("uppercase", "all upper case"),
    Perturbation("no_punctuation", "punctuation removed"),
    Perturbation("emoji", "a neutral emoji appended (🤔): should not move the label"),
)


def perturb(text: str, name: str, rng: random.Random) -> str:
    if name == "typos":
        words = text.split()
        for i, w in enumerate(words):
            if len(w) > 3 and rng.random() < 0.1:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        return " ".join(words)
    if name == "truncation":
        words = text.split()
        return " ".join(words[: max(1, len(words) // 2)])
    if name == "lowercase":
        return text.lower()
    if name == "uppercase":
        return text.upper()
    if name == "no_punctuation":
        return "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if name == "emoji":
        return text + NEUTRAL_EMOJI
    raise ValueError(f"unknown perturbation {name!r}")
