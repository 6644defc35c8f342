"""Score your own labelled text with the sentiment model and VADER, side by side.

    retail-pulse reviews evaluate --data reviews.csv --text-col text --label-col label --out metrics.json
    retail-pulse reviews evaluate --data reviews.csv --text-col body --label-col stars --scale stars
    retail-pulse reviews evaluate --data tweets.tsv --text-col text --label-col score --scale score \
        --low -0.5 --high 0.5
    retail-pulse reviews evaluate --data reviews.csv --text-col text --label-col label --train-fresh

Labels (--scale): ``labels`` negative / neutral / positive (also neg / neu / pos, any case);
``stars`` 1-5 (1-2 negative, 3 neutral, 4-5 positive); ``score`` a number (below --low negative,
above --high positive, else neutral). A file with two classes is scored on those two (a
predicted neutral is a miss).

The model is the registry's ``retail_pulse_sentiment@champion`` (MLflow at RP_MLFLOW_TRACKING_URI),
or with --train-fresh one trained here on the real corpora (no services needed; --encoder lexicon,
the default, trains in seconds; e5 embeds the corpora first, minutes the first time, then cached;
RP_SENTIMENT_TRAIN_LIMIT texts per corpus when set). ``metrics.json``
has one object per method, ``model`` and ``vader``, each with ``accuracy``, ``macro_f1``,
``per_class`` (F1) and ``confusion`` (rows truth, columns predicted), plus ``data``.
Exit codes: 0 done, 2 bad input (one line says why), 4 MLflow unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.cli import entry_point, fail, job_parser
from common.settings import load_settings
from models.reviews import sentiment as S
from models.reviews.text_corpora import TRAIN, CorpusMissing, labelled_file, load_many, sample_per_corpus


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reviews.evaluate_sentiment", __doc__)
    parser.add_argument("--data", required=True, help="CSV (or .tsv) with a text and a label column")
    parser.add_argument("--text-col", required=True, help="the text column")
    parser.add_argument("--label-col", required=True, help="the label column")
    parser.add_argument("--scale", default="labels", choices=("labels", "stars", "score"), help="label scale")
    parser.add_argument("--low", type=float, default=-0.05, help="--scale score: below this is negative")
    parser.add_argument("--high", type=float, default=0.05, help="--scale score: above this is positive")
    parser.add_argument("--out", default="metrics.json", help="where to write the metrics (default metrics.json)")
    parser.add_argument("--train-fresh", action="store_true", help="train on the real corpora here, no registry")
    parser.add_argument(
        "--encoder", choices=S.ENCODERS, default="lexicon", help="--train-fresh: which model kind (default lexicon)"
    )
    args = parser.parse_args(argv)
    if args.low > args.high:
        parser.error("--low must not be above --high")
    return args


def load_model(train_fresh: bool, encoder: str = "lexicon"):
    """The champion from the registry, or a model trained here on the corpora; and its name."""
    settings = load_settings()
    if train_fresh:
        pool = sample_per_corpus(load_many(TRAIN), settings.sentiment_train_limit)
        model = S.fit(pool["text"], pool["label"], pool["corpus"], encoder=encoder)
        return model, f"{encoder} model trained here on {len(pool):,} texts of " + ", ".join(TRAIN)
    from common.registry import NoChampion
    from models.reviews.sentiment_serving import load_champion

    try:
        return load_champion(settings, settings.sentiment_model, S.TRAIN_HINT + " or pass --train-fresh")
    except NoChampion as exc:
        raise ValueError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from models.reviews.embeddings import EncoderMissing

    try:
        frame = labelled_file(args.data, args.text_col, args.label_col, args.scale, args.low, args.high)
        model, name = load_model(args.train_fresh, args.encoder)
        texts = frame["text"].tolist()
        predicted, _ = S.predict_with_confidence(model, texts)
    except (ValueError, CorpusMissing, EncoderMissing) as exc:
        return fail(str(exc), 2)
    report = {
        "model": {"name": name, **S.metrics(frame["label"], predicted)},
        "vader": {
            "name": "vaderSentiment 3.3.2 (compound >= 0.05 positive, <= -0.05 negative)",
            **S.metrics(frame["label"], S.Vader().predict(texts)),
        },
        "data": {"path": str(args.data), "rows": len(frame), "labels": frame["label"].value_counts().to_dict()},
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"{args.data}: {len(frame):,} labelled texts ({report['data']['labels']})")
    for method in ("model", "vader"):
        r = report[method]
        per_class = ", ".join(f"{k} {v:.3f}" for k, v in r["per_class"].items())
        print(f"{method:6} accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  (F1: {per_class})")
    print(f"model - VADER macro-F1: {report['model']['macro_f1'] - report['vader']['macro_f1']:+.3f}; wrote {args.out}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
