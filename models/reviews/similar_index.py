"""The stored reviews and posts most similar to a text: an index the review DAG rebuilds and registers.

The index holds the newest scored documents (``review_sentiment``: type, id, product, sentiment, text)
and one unit vector per document; a query's similarity to a document is the cosine of their vectors.

* **e5** where the sentiment champion embeds text (the same multilingual-e5-small vectors, read from the
  embedding cache the scoring stream filled, so a rebuild embeds only what was never scored);
* **tfidf** otherwise: TF-IDF word 1-2-grams fitted on the stored documents.

:class:`SimilarReviewsPyfunc` serves it (``mlflow models serve``): a ``text`` column in, ``k`` rows per
text out (param ``k``, default 5; param ``doc_type`` = review or post to search only those), best first.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from common.serving import bad_input
from models.reviews.sentiment import normalise
from models.reviews.sentiment_serving import texts_of

KINDS = ("e5", "tfidf")
DOCUMENT_COLUMNS = ["doc_type", "doc_id", "item_id", "sentiment", "confidence", "text"]
OUTPUT_COLUMNS = ["query_row", "rank_no", "similarity", *DOCUMENT_COLUMNS]
MAX_K = 100
ARTIFACT = "index"


def _e5(texts: list[str]) -> np.ndarray:
    from models.reviews.embeddings import encoder

    return encoder().encode([normalise(t) for t in texts])


@dataclass
class SimilarIndex:
    kind: str
    documents: pd.DataFrame  # DOCUMENT_COLUMNS, one row per indexed document
    vectors: object  # (documents, dims): a dense float32 array (e5) or a sparse TF-IDF matrix, rows unit length
    vectorizer: object | None = None  # tfidf: the fitted TfidfVectorizer

    @classmethod
    def build(cls, documents: pd.DataFrame, kind: str) -> SimilarIndex:
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; expected one of {', '.join(KINDS)}")
        documents = documents[DOCUMENT_COLUMNS].reset_index(drop=True)
        texts = documents["text"].tolist()
        if kind == "e5":
            return cls(kind, documents, _e5(texts))
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
        return cls(kind, documents, vectorizer.fit_transform([normalise(t) for t in texts]), vectorizer)

    def _vectors(self, texts: list[str]):
        if self.kind == "e5":
            return _e5(texts)
        return self.vectorizer.transform([normalise(t) for t in texts])

    def query(self, texts: list[str], k: int = 5, doc_type: str | None = None) -> pd.DataFrame:
        """OUTPUT_COLUMNS: the ``k`` most similar documents per text, best first (fewer where fewer
        documents share anything with it); ``query_row`` is the text's position in ``texts``."""
        scores = self.vectors @ self._vectors(texts).T
        scores = np.asarray(scores.toarray() if hasattr(scores, "toarray") else scores).T  # (texts, documents)
        if doc_type:
            scores[:, (self.documents["doc_type"] != doc_type).to_numpy()] = -np.inf
        parts = []
        for row, line in enumerate(scores):
            best = np.argsort(-line, kind="stable")[:k]
            best = best[line[best] > 0]
            found = self.documents.iloc[best].assign(
                query_row=row, rank_no=np.arange(1, len(best) + 1), similarity=line[best].astype(float).round(4)
            )
            parts.append(found)
        out = pd.concat(parts, ignore_index=True)[OUTPUT_COLUMNS]
        out["item_id"] = pd.Series([int(v) if pd.notna(v) else None for v in out["item_id"]], dtype=object)
        return out

    def save(self, path: Path) -> Path:
        path.write_bytes(pickle.dumps(self))
        return path

    @staticmethod
    def load(path: str | Path) -> SimilarIndex:
        return pickle.loads(Path(path).read_bytes())


class SimilarReviewsPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.index = SimilarIndex.load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        params = params or {}
        k, doc_type = int(params.get("k", 5)), params.get("doc_type") or None
        if not 1 <= k <= MAX_K:
            raise bad_input(f"k={k}: ask for 1 to {MAX_K} similar documents per text")
        if doc_type not in (None, "review", "post"):
            raise bad_input(f"doc_type={doc_type!r}: review, post, or leave it out for both")
        return self.index.query(texts_of(model_input), k, doc_type)


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    kinds = {"query_row": "long", "rank_no": "long", "similarity": "double", "item_id": "long", "confidence": "double"}
    outputs = Schema([ColSpec(kinds.get(c, "string"), c, required=c != "item_id") for c in OUTPUT_COLUMNS])
    params = ParamSchema([ParamSpec("k", "long", 5), ParamSpec("doc_type", "string", "")])
    return ModelSignature(Schema([ColSpec("string", "text")]), outputs, params)


INPUT_EXAMPLE = pd.DataFrame({"text": ["the blender broke after a week"]})
