"""The recommender's evaluation protocol as options and a summary: the grid, the split and the metrics' k, shared by
the train and evaluate commands."""

from __future__ import annotations

import argparse

from models.recommendations import recommender as R


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
    parser.add_argument("--ranks", type=number_list(int), default=[16, 32], help="ALS ranks to try (default 16,32)")
    parser.add_argument("--reg-params", type=number_list(float), default=[0.1], help="ALS regParam values (0.1)")
    parser.add_argument("--alphas", type=number_list(float), default=[10.0, 40.0], help="ALS alpha values (10,40)")
    parser.add_argument("--max-iter", type=int, default=10, help="ALS iterations (default 10)")
    parser.add_argument("--weights", help="event weights, e.g. view=1,addtocart=3,transaction=5 (default: settings)")
    parser.add_argument("--seed", type=int, default=7)


def check_protocol_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.k < 1 or args.max_iter < 1:
        parser.error("--k and --max-iter must be at least 1")
    if not 0 < args.test_fraction < 1:
        parser.error("--test-fraction must be between 0 and 1")


def protocol_grid(args: argparse.Namespace) -> list[dict]:
    return R.grid(args.ranks, args.reg_params, args.alphas, args.max_iter)


def summary_line(holdout: dict, k: int) -> str:
    als, pop = holdout["als"][f"map@{k}"], holdout["popularity"][f"map@{k}"]
    lift = f"{als / pop:.2f}x" if pop else "n/a"
    return f"holdout MAP@{k}: ALS {als:.4f} vs popularity {pop:.4f} ({lift}); NDCG@{k} {holdout['als'][f'ndcg@{k}']:.4f} vs {holdout['popularity'][f'ndcg@{k}']:.4f}"  # noqa: E501
