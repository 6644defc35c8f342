"""Train recommendations: choose the method on validation (ALS, recent popularity, their blend, item-kNN, or
all-time popularity), score it against both popularities on the holdout, register it.

    retail-pulse recommendations train                                  # shopper events in MySQL
    retail-pulse recommendations train --data events.csv --format retailrocket
    retail-pulse recommendations train --ranks 32,64 --reg-params 0.3 --alphas 1,3 --windows 7,14,30

Protocol (models/recommendations/recommender.py and selection.py): events -> (visitor, item) confidence
from weighted events; a time-based split (the last --test-fraction of events test); every candidate
is fitted and scored on a validation window inside the training window and logged to MLflow as a
nested run; the choice leaves all-time popularity only for a candidate ahead of it by
--switch-margin on validation that also holds on an earlier guard window; the chosen method is
fitted on the training window and scored on the holdout next to ALS, all-time and recent
popularity (precision, recall, MAP, NDCG @k); then fitted on every event and registered as
`retail_pulse_recommender` (RP_RECOMMENDER_MODEL), a pyfunc a service can load without Spark. It
becomes `@champion` if its holdout MAP@k is not below either popularity's on the same split and not
more than --tolerance below the champion's recorded value; every decision is in `model_decisions`
and MLflow, every evaluation in `recommender_evaluations` (the chosen method in `method_used`).

Exit codes: 0 done (promoted or not), 2 bad arguments or data, 4 MLflow or MySQL unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from common.cli import entry_point, fail, job_parser
from common.settings import REPO_ROOT, Settings, load_settings
from models.recommendations import recommender as R
from models.recommendations.protocol import (
    add_protocol_args,
    check_protocol_args,
    protocol_options,
    report,
    summary_line,
)
from streaming.files import DatasetError
from streaming.recommendations.event_sources import FORMATS, read_events

EXPERIMENT = "recommender"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.recommendations.train_recommender", __doc__)
    parser.add_argument("--data", type=Path, help="an events file instead of raw_shopper_events in MySQL")
    parser.add_argument("--format", choices=FORMATS, default="retailrocket", help="--data's format")
    parser.add_argument("--min-rating", type=float, default=4.0, help="ratings format: ratings >= this count")
    add_protocol_args(parser)
    parser.add_argument("--tolerance", type=float, default=0.1, help="allowed relative MAP dip vs the champion")
    parser.add_argument("--no-register", dest="register", action="store_false", help="log the run, register nothing")
    args = parser.parse_args(argv)
    check_protocol_args(parser, args)
    return args


def events_from_db(settings: Settings) -> pd.DataFrame:
    from common.db import query

    rows = query(settings, "SELECT visitor_id, item_id, action, event_time FROM raw_shopper_events", role="writer")
    return pd.DataFrame(rows, columns=R.EVENT_COLUMNS).astype({"event_time": "datetime64[us]"})


def load(args: argparse.Namespace, settings: Settings) -> tuple[pd.DataFrame, dict]:
    """(events, weights) for the run; DatasetError / DataError on bad input."""
    weights = R.parse_weights(args.weights or settings.interaction_weights)
    events = read_events(args.data, args.format, args.min_rating) if args.data else events_from_db(settings)
    if events.empty:
        where = args.data or "raw_shopper_events (stream shopper events with `retail-pulse ingest stream interactions`)"
        raise DatasetError(f"no events in {where}")
    return events, weights


def metric_key(method: str, name: str) -> str:
    """MLflow metric name of a ranking metric ('@' is not allowed there): holdout.als.map_at_10."""
    return f"holdout.{method}.{name.replace('@', '_at_')}"


def champion_map(settings: Settings, k: int) -> tuple[str | None, float | None]:
    """(version, holdout MAP@k) of the champion; versions from before methods were chosen recorded ALS's."""
    from common.registry import champion, client

    version = champion(settings, settings.recommender_model)
    if version is None:
        return None, None
    metrics = client(settings).get_run(version.run_id).data.metrics
    return version.version, metrics.get(metric_key("chosen", f"map@{k}"), metrics.get(metric_key("als", f"map@{k}")))


def record_evaluations(settings: Settings, run_id: str, version: str | None, outcome, k: int) -> None:
    """One row per method scored on the holdout; the ``chosen`` row names the method in ``method_used``."""
    from common.db import connect, transaction

    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            run_id,
            method,
            outcome.chosen.name() if method == "chosen" else None,
            now,
            version,
            k,
            m[f"precision@{k}"],
            m[f"recall@{k}"],
            m[f"map@{k}"],
            m[f"ndcg@{k}"],
            m["users"],
            pd.Timestamp(outcome.split.cutoff).to_pydatetime(),
        )
        for method, m in outcome.holdout.items()
    ]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.executemany(
                "REPLACE INTO recommender_evaluations (mlflow_run_id, method, method_used, evaluated_at, model_version,"
                " k, precision_at_k, recall_at_k, map_at_k, ndcg_at_k, users, train_cutoff)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    finally:
        conn.close()


def log_candidates(outcome) -> None:
    import mlflow

    for n, trial in enumerate(outcome.trials, start=1):
        with mlflow.start_run(run_name=f"candidate-{n}-{trial.method}", nested=True):
            mlflow.set_tag("method", trial.method)
            mlflow.log_params(trial.params | {"method": trial.method})
            windows = {"validation": trial.validation, "guard": trial.guard or {}}
            mlflow.log_metrics(
                {
                    f"{window}.{name.replace('@', '_at_')}": value
                    for window, metrics in windows.items()
                    for name, value in metrics.items()
                    if name != "score"
                }
                | {"fit_seconds": trial.fit_seconds}
            )


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.registry import settle
    from common.tracking import check_tracking, run_url, start_run
    from models.recommendations.methods import build
    from models.recommendations.recommender_serving import INPUT_EXAMPLE, ChosenRecommender, signature
    from models.recommendations.selection import select_and_evaluate
    from streaming.spark import get_spark

    settings = load_settings()
    started = time.time()
    try:
        events, weights = load(args, settings)
    except (DatasetError, R.DataError) as exc:
        return fail(str(exc), 2)
    check_tracking(settings)  # before minutes of training
    print(
        f"{len(events):,} events, {events['visitor_id'].nunique():,} visitors, {events['item_id'].nunique():,} items"
        f" ({events['action'].value_counts().to_dict()}); weights {R.format_weights(weights)}",
        flush=True,
    )
    spark = get_spark(settings, "train-recommender")
    k = args.k
    mlflow_run = start_run(
        settings,
        EXPERIMENT,
        f"recommender-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        tags={"data": str(args.data or "mysql:raw_shopper_events")},
    )
    with mlflow_run:
        try:
            outcome = select_and_evaluate(
                spark, events, protocol_options(args, weights), lambda line: print(line, flush=True)
            )
        except R.DataError as exc:
            mlflow.set_tag("error", str(exc))
            mlflow.end_run("FAILED")
            return fail(str(exc), 2)
        log_candidates(outcome)
        print(summary_line(outcome, k), flush=True)
        mlflow.set_tags({"method": outcome.chosen.method, "choice": outcome.reason})
        mlflow.log_params(
            {
                "events": len(events),
                "train_events": outcome.train_events,
                "test_events": outcome.test_events,
                "cutoff": str(outcome.split.cutoff),
                "validation_cutoff": str(outcome.validation_cutoff),
                "guard_cutoff": str(outcome.guard_cutoff),
                "weights": R.format_weights(weights),
                "k": k,
                "test_fraction": args.test_fraction,
                "candidates": len(outcome.trials),
                "switch_margin": args.switch_margin,
                **{f"best_{key}": value for key, value in outcome.best.items()},
            }
        )
        metrics = {metric_key(m, name): v for m, report_ in outcome.holdout.items() for name, v in report_.items()}
        mlflow.log_metrics(metrics | {"cold_test_visitors": outcome.split.cold_visitors})
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "evaluation.json").write_text(json.dumps(report(outcome, args, weights), indent=2, default=str))
            mlflow.log_artifacts(tmp, artifact_path="reports")
            if not args.register:
                record_evaluations(settings, mlflow_run.info.run_id, None, outcome, k)
                print(f"MLflow run: {run_url(settings, mlflow_run)} (not registered)")
                return 0
            # the served model: the chosen method fitted on every event
            everything = R.interactions(events, weights)
            chosen = build(spark, everything, outcome.chosen.method, outcome.chosen.params, args.seed)
            path = chosen.save(Path(tmp, "factors.npz"))
            key = metric_key("chosen", f"map@{k}")
            champion_version, champion_value = champion_map(settings, k)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ChosenRecommender(),
                artifacts={"factors": str(path)},
                registered_model_name=settings.recommender_model,
                pip_requirements=["numpy", "pandas", "scipy"],
                code_paths=[str(REPO_ROOT / "models")],
                signature=signature(),
                input_example=INPUT_EXAMPLE,
            )
        version = str(info.registered_model_version)
        challenger = outcome.holdout["chosen"][f"map@{k}"]
        baselines = {name: outcome.holdout[name][f"map@{k}"] for name in ("popularity", "recent_popularity")}
        decision = R.promote(challenger, baselines, champion_value, args.tolerance)
        line = settle(
            settings,
            settings.recommender_model,
            version,
            mlflow_run.info.run_id,
            decision,
            metric=key,
            value=challenger,
            champion_value=champion_value,
            baseline=max(baselines.values()),
            champion_version=champion_version,
        )
        record_evaluations(settings, mlflow_run.info.run_id, version, outcome, k)
        print(line)
        print(f"trained in {time.time() - started:.0f}s; MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
