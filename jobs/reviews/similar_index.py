"""Rebuild the similar-reviews index from the stored documents and register it as a model.

    retail-pulse reviews index                      # the newest 50,000 scored reviews and posts
    retail-pulse reviews index --max-documents 20000 --kind tfidf

The index (models/reviews/similar_index.py) holds the newest --max-documents rows of
``review_sentiment`` and a vector per document: the sentiment champion's e5 embeddings where it
has an encoder (read from the cache the scoring stream filled), TF-IDF otherwise (--kind forces
one). It is logged to MLflow (experiment retail_pulse/similar_reviews) and registered as
RP_SIMILAR_MODEL (retail_pulse_similar_reviews); a rebuild always becomes `@champion` (it is the
same documents' index, newer), recorded in `model_decisions`. Nothing new since the champion
(same documents, same kind) -> nothing is registered. `retail-pulse reviews similar` and
`make serve` answer from the champion.

Exit codes: 0 done (or nothing new), 1 nothing stored yet, 2 bad arguments, 4 MLflow or MySQL unreachable.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from common.cli import entry_point, fail, job_parser
from common.db import query
from common.registry import champion, client, settle
from common.settings import REPO_ROOT, Settings, load_settings
from common.tracking import run_url, start_run
from models.reviews import similar_index as SI
from models.reviews.e5 import REQUIREMENTS as E5_REQUIREMENTS

DOCUMENTS_SQL = (
    "SELECT doc_type, doc_id, item_id, sentiment, confidence, text FROM review_sentiment"
    " WHERE %s IS NULL OR doc_type = %s ORDER BY created_at DESC, doc_type, doc_id LIMIT %s"
)


def stored_documents(settings: Settings, max_documents: int, doc_type: str | None = None) -> pd.DataFrame:
    rows = query(settings, DOCUMENTS_SQL, (doc_type, doc_type, max_documents))
    return pd.DataFrame(rows, columns=SI.DOCUMENT_COLUMNS)


def chosen_kind(settings: Settings, forced: str | None) -> tuple[str, str]:
    """(kind, why): e5 when the sentiment champion embeds text and the encoder runs here, else tfidf."""
    if forced:
        return forced, "--kind"
    from common.registry import NoChampion
    from models.reviews.embeddings import EncoderMissing, encoder
    from models.reviews.sentiment import TRAIN_HINT, encoder_of
    from models.reviews.sentiment_serving import load_champion

    try:
        pipeline, version = load_champion(settings, settings.sentiment_model, TRAIN_HINT)
    except NoChampion:
        return "tfidf", "no sentiment champion"
    if encoder_of(pipeline) != "e5":
        return "tfidf", f"the sentiment champion {version} has no encoder"
    try:
        encoder()
    except EncoderMissing as exc:
        return "tfidf", str(exc)
    return "e5", f"the sentiment champion {version} embeds with e5"


def fingerprint(documents: pd.DataFrame, kind: str) -> str:
    """What an index covers: its kind, how many documents and the newest one."""
    newest = documents.iloc[0]
    return f"{kind}:{len(documents)}:{newest['doc_type']}/{newest['doc_id']}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reviews.similar_index", __doc__)
    parser.add_argument("--max-documents", type=int, default=50_000, help="index the newest N documents")
    parser.add_argument("--kind", choices=SI.KINDS, help="force the vectors (default: e5 where the champion has it)")
    args = parser.parse_args(argv)
    if args.max_documents < 1:
        parser.error("--max-documents must be at least 1")
    return args


def run(args: argparse.Namespace) -> int:
    import mlflow

    settings = load_settings()
    documents = stored_documents(settings, args.max_documents)
    if documents.empty:
        return fail("no scored reviews or posts stored yet: run the review_scoring stream first", 1)
    kind, why = chosen_kind(settings, args.kind)
    covers = fingerprint(documents, kind)
    name = settings.similar_model
    current = champion(settings, name)
    if current is not None and client(settings).get_run(current.run_id).data.tags.get("covers") == covers:
        print(f"{name} version {current.version} already covers these {len(documents):,} documents ({kind})")
        return 0
    print(f"indexing {len(documents):,} documents with {kind} ({why})", flush=True)
    index = SI.SimilarIndex.build(documents, kind)
    with start_run(settings, "similar_reviews", "index", {"covers": covers, "kind": kind}) as mlflow_run:
        mlflow.log_params({"kind": kind, "why": why[:500], "max_documents": args.max_documents})
        mlflow.log_metric("documents", len(documents))
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(
                name="index",
                python_model=SI.SimilarReviewsPyfunc(),
                artifacts={SI.ARTIFACT: str(index.save(Path(tmp, "index.pkl")))},
                registered_model_name=name,
                code_paths=[str(REPO_ROOT / "models")],
                signature=SI.signature(),
                input_example=SI.INPUT_EXAMPLE,
                pip_requirements=["numpy", "pandas", "scipy", "scikit-learn", "vaderSentiment==3.3.2"]
                + (E5_REQUIREMENTS if kind == "e5" else []),
            )
        print(
            settle(
                settings,
                name,
                str(info.registered_model_version),
                mlflow_run.info.run_id,
                (True, f"a rebuild replaces the index ({len(documents):,} documents, {kind})"),
                metric="documents",
                value=float(len(documents)),
                champion_value=None,
                baseline=None,
                champion_version=current.version if current else None,
            )
        )
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
