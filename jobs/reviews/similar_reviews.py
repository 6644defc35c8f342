"""The stored reviews and posts most similar to a text, with their sentiment.

    retail-pulse reviews similar "the blender broke after a week"
    retail-pulse reviews similar "great coffee" --top 10 --doc-type review --json

Answers from the registered similar-reviews index (RP_SIMILAR_MODEL @champion, which `retail-pulse
reviews index` rebuilds after each scoring run of review_analysis_pipeline): cosine similarity of e5
embeddings where the sentiment champion has them, of TF-IDF vectors otherwise. The same index
answers over HTTP (`make serve`). Exit codes: 0 found, 1 no index yet, 2 bad arguments, 4 MLflow
unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys

from common.cli import entry_point, fail, job_parser
from common.settings import load_settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from models.reviews.similar_index import MAX_K

    parser = job_parser("jobs.reviews.similar_reviews", __doc__)
    parser.add_argument("text", help="the text to match")
    parser.add_argument("--top", type=int, default=5, help=f"how many to return (default 5, at most {MAX_K})")
    parser.add_argument("--doc-type", choices=("review", "post"), help="only reviews or only posts")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args(argv)
    if not args.text.strip():
        parser.error("the text is empty")
    if not 1 <= args.top <= MAX_K:
        parser.error(f"--top must be between 1 and {MAX_K}")
    return args


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.registry import champion

    settings = load_settings()
    version = champion(settings, settings.similar_model)
    if version is None:
        return fail(
            f"no {settings.similar_model}@champion yet: run `retail-pulse reviews index`"
            " (review_analysis_pipeline does after scoring)",
            1,
        )
    index = mlflow.pyfunc.load_model(f"models:/{settings.similar_model}/{version.version}").unwrap_python_model().index
    found = index.query([args.text], args.top, args.doc_type)
    for row in found.drop(columns=["query_row"]).to_dict("records"):
        if args.json:
            print(json.dumps(row, default=str))
        else:
            text = row["text"] if len(row["text"]) <= 90 else row["text"][:87] + "..."
            print(
                f"{row['similarity']:.3f}  {row['sentiment']:8} ({row['confidence']:.2f})"
                f"  {row['doc_type']} {row['doc_id']}: {text}"
            )
    if found.empty:
        print(f"nothing in {settings.similar_model}/{version.version} resembles that text")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
