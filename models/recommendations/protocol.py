"""The recommender's evaluation protocol as options and a summary: the candidates, the split and the metrics' k,
shared by the train and evaluate commands."""

from __future__ import annotations

import argparse

from models.recommendations import recommender as R
from models.recommendations.selection import Options, Outcome


def number_list(kind):
    def parse(text: str) -> list:
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
        if not values or any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"{text!r}: give one or more numbers > 0")
        return values

    return parse


def add_protocol_args(parser: argparse.ArgumentParser) -> None:
    """The options of the evaluation protocol, shared with jobs.recommendations.evaluate_recommender."""
    parser.add_argument("--k", type=int, default=10, help="list length the metrics score (default 10)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of the latest events held out")
    parser.add_argument("--ranks", type=number_list(int), default=[32], help="ALS ranks to try (default 32)")
    parser.add_argument(
        "--reg-params", type=number_list(float), default=[0.1, 1.0], help="ALS regParam values (default 0.1,1)"
    )
    parser.add_argument(
        "--alphas",
        type=number_list(float),
        default=[1.0, 3.0],
        help="ALS alpha values (1,3: a purchase line already weighs 5, so confidence 1 + alpha * 5)",
    )
    parser.add_argument("--max-iter", type=int, default=15, help="ALS iterations (default 15)")
    parser.add_argument(
        "--windows", type=number_list(float), default=[7.0, 14.0, 30.0], help="recent-popularity windows in days"
    )
    parser.add_argument(
        "--blend-weights",
        type=number_list(float),
        default=[0.1, 0.3, 1.0],
        help="weights of recent popularity blended into ALS scores (default 0.1,0.3,1)",
    )
    parser.add_argument("--neighbours", type=int, default=100, help="item-kNN: neighbours kept per item (100)")
    parser.add_argument(
        "--switch-margin",
        type=float,
        default=0.05,
        help="leave all-time popularity only for a candidate ahead of it by this share on validation (0.05)",
    )
    parser.add_argument("--weights", help="event weights, e.g. view=1,addtocart=3,transaction=5 (default: settings)")
    parser.add_argument("--seed", type=int, default=7)


def check_protocol_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.k < 1 or args.max_iter < 1 or args.neighbours < 1:
        parser.error("--k, --max-iter and --neighbours must be at least 1")
    if not 0 < args.test_fraction < 1:
        parser.error("--test-fraction must be between 0 and 1")
    if args.switch_margin < 0:
        parser.error("--switch-margin must be >= 0")


def protocol_options(args: argparse.Namespace, weights: dict) -> Options:
    return Options(
        grid=[
            {"rank": r, "reg_param": g, "alpha": a, "max_iter": args.max_iter}
            for r in args.ranks
            for g in args.reg_params
            for a in args.alphas
        ],
        windows=args.windows,
        blend_weights=args.blend_weights,
        neighbours=args.neighbours,
        margin=args.switch_margin,
        k=args.k,
        test_fraction=args.test_fraction,
        weights=weights,
        seed=args.seed,
    )


def summary_line(outcome: Outcome, k: int) -> str:
    h = outcome.holdout
    chosen, pop, recent = (h[m][f"map@{k}"] for m in ("chosen", "popularity", "recent_popularity"))
    lift = f"{chosen / pop:.2f}x popularity" if pop else "popularity 0"
    return (
        f"holdout MAP@{k}: chosen {outcome.chosen.name()} {chosen:.4f} ({lift}); popularity {pop:.4f},"
        f" recent popularity {recent:.4f}, ALS {h['als'][f'map@{k}']:.4f}"
    )


def report(outcome: Outcome, args: argparse.Namespace, weights: dict) -> dict:
    """metrics.json: "als", "popularity", "recent_popularity", "chosen" (holdout metrics), "method"
    (the chosen method and parameters), "reason", "protocol" and "candidates"."""
    return {
        **{name: outcome.holdout[name] for name in ("als", "popularity", "recent_popularity", "chosen")},
        "method": outcome.best,
        "reason": outcome.reason,
        "protocol": {
            "k": args.k,
            "test_fraction": args.test_fraction,
            "cutoff": str(outcome.split.cutoff),
            "validation_cutoff": str(outcome.validation_cutoff),
            "guard_cutoff": str(outcome.guard_cutoff),
            "train_events": outcome.train_events,
            "test_events": outcome.test_events,
            "cold_test_visitors": outcome.split.cold_visitors,
            "weights": R.format_weights(weights),
            "switch_margin": args.switch_margin,
        },
        "candidates": [vars(t) for t in outcome.trials],
    }
