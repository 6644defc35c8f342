"""The stored reviews and posts most similar to a text, with their sentiment.

    retail-pulse reviews similar "the blender broke after a week"
    retail-pulse reviews similar "great coffee" --top 10 --doc-type review --json

Similarity is the cosine of TF-IDF vectors (word 1-2-grams, fitted on the stored documents: the
newest --max-documents of ``review_sentiment``). Reads with the read-only account.
Exit codes: 0 found, 1 nothing stored yet, 2 bad arguments, 4 MySQL unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common.cli import entry_point, fail, job_parser
from common.db import query
from common.settings import load_settings
from models.reviews.sentiment import normalise


def most_similar(text: str, documents: list[str], top: int) -> list[tuple[int, float]]:
    """Pure: (index, cosine similarity) of the ``top`` documents closest to ``text``, best first;
    documents sharing no term with the text are left out."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    matrix = vectorizer.fit_transform([normalise(d) for d in documents])
    scores = (matrix @ vectorizer.transform([normalise(text)]).T).toarray().ravel()
    best = np.argsort(-scores, kind="stable")[:top]
    return [(int(i), round(float(scores[i]), 4)) for i in best if scores[i] > 0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reviews.similar_reviews", __doc__)
    parser.add_argument("text", help="the text to match")
    parser.add_argument("--top", type=int, default=5, help="how many to return (default 5)")
    parser.add_argument("--doc-type", choices=("review", "post"), help="only reviews or only posts")
    parser.add_argument("--max-documents", type=int, default=50_000, help="search the newest N documents")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args(argv)
    if not args.text.strip():
        parser.error("the text is empty")
    if args.top < 1 or args.max_documents < 1:
        parser.error("--top and --max-documents must be at least 1")
    return args


def run(args: argparse.Namespace) -> int:
    rows = query(
        load_settings(),
        "SELECT doc_type, doc_id, item_id, sentiment, confidence, text FROM review_sentiment"
        " WHERE %s IS NULL OR doc_type = %s ORDER BY created_at DESC LIMIT %s",
        (args.doc_type, args.doc_type, args.max_documents),
    )
    if not rows:
        return fail("no scored reviews or posts stored yet: run the review_scoring stream first", 1)
    for i, score in most_similar(args.text, [r[5] for r in rows], args.top):
        doc_type, doc_id, item, sentiment, confidence, text = rows[i]
        if args.json:
            print(
                json.dumps(
                    {
                        "similarity": score,
                        "doc_type": doc_type,
                        "doc_id": doc_id,
                        "item_id": item,
                        "sentiment": sentiment,
                        "confidence": confidence,
                        "text": text,
                    }
                )
            )
        else:
            short = text if len(text) <= 90 else text[:87] + "..."
            print(f"{score:.3f}  {sentiment:8} ({confidence:.2f})  {doc_type} {doc_id}: {short}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
