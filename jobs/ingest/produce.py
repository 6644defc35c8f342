"""Replay a dataset or generator into a Kafka topic.

    retail-pulse ingest produce --source generated --limit 50000
    retail-pulse ingest produce --source generated --since 2025-03-10 --until 2025-03-10
    retail-pulse ingest produce --source generated --until 2026-11-22 --days 800
    retail-pulse ingest produce --source file --path train.csv --rate 2000 --malformed-fraction 0.01
    retail-pulse ingest produce --source ta_feng
    retail-pulse ingest produce --source reviews --until 2026-11-22 --days 90
    retail-pulse ingest produce --source review_corpus --until 2026-11-22 --days 90
    retail-pulse ingest produce --source posts --posts 500 --until 2026-11-22 --days 90
    retail-pulse ingest produce --source funnel --visitors 2000 --funnel-items 500 --until 2026-11-22 --days 60
    retail-pulse ingest produce --source events --path retailrocket/events.csv
    retail-pulse ingest produce --source review_file --path my_reviews.csv
    retail-pulse ingest produce --source post_file --path my_posts.jsonl
    retail-pulse ingest produce --source ta_feng_events

Transaction sources: "generated" is the seeded multi-store generator (daily totals per store and
item from 2023-01-01); "file" reads any documented CSV format (Kaggle date,store,item,sales; or
date,store_id,item_id,quantity,unit_price[,customer_id,txn_id]); "ta_feng" the real Ta-Feng grocery
lines fetched by `make setup`.
Review sources (product_review events about the generator's items and stores): "reviews" is a
generator whose star ratings follow each product's quality and whose words follow the rating;
"review_corpus" replays real labelled drug reviews attached to catalogue products.
Your own reviews and posts: "review_file" / "post_file" read a CSV or JSON Lines file
(streaming/reviews/text_files.py: review_id, product_id, text, created_at, optional store_id, rating,
label; post_id, text, created_at, optional platform, product_id, store_id, label); a file with bad
lines is refused with each one's line and column, before anything is sent.
Post source (social_post events): "posts" writes posts through an LLM (groq, --llm-model) when
GROQ_API_KEY is set, else with the offline generator; either way 35% positive, 35% neutral, 30%
negative, each post carrying its intended label and synthetic=1. Review and post sources spread
their records over the --days days ending on --until (default: 90 days ending yesterday, UTC).
Shopper-event sources (shopper_event events): "funnel" is a seeded generator of shopper sessions
(long-tail popularity, visitor tastes, view -> cart -> purchase conversion) over the --days days
ending on --until (default 60 ending yesterday); "events" reads Retailrocket's events.csv
(timestamp,visitorid,event,itemid,transactionid) from --path; "ta_feng_events" turns the real
Ta-Feng lines into purchase events of their customers.

Messages are keyed by the contract's key fields, validated by the contract, and carry
deterministic event ids (a replay is recognisable downstream). Every message counts as sent only
once the broker acknowledged it (acks=all); any that were not are counted and reported, and the
exit code is 4. Prints a progress bar and a summary. Exit codes: 0 all acknowledged, 2 bad
arguments or data file, 4 broker unreachable or messages not acknowledged.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common.catalogue import catalogue
from common.cli import job_parser
from common.settings import load_settings
from streaming.contracts import CONTRACTS
from streaming.files import TA_FENG_PATH, DatasetError
from streaming.producer import produce
from streaming.recommendations.event_sources import shopper_events, source_events
from streaming.reviews import review_sources as reviews
from streaming.reviews import text_files
from streaming.sales.transaction_sources import file_transactions, generated_transactions
from streaming.topics import broker_reachable

SOURCE_EVENTS = {
    "generated": "transaction",
    "file": "transaction",
    "ta_feng": "transaction",
    "reviews": "product_review",
    "review_corpus": "product_review",
    "posts": "social_post",
    "review_file": "product_review",
    "post_file": "social_post",
    "funnel": "shopper_event",
    "events": "shopper_event",
    "ta_feng_events": "shopper_event",
}
PATH_SOURCES = ("file", "events", "review_file", "post_file")
GENERATOR_START = date(2023, 1, 1)
TEXT_DAYS = 90  # review and post sources: default window ending yesterday
REVIEW_CORPUS = "drug_reviews"
FUNNEL_DAYS = 60  # funnel source: default window ending yesterday


def text_records(args: argparse.Namespace):
    """Reviews or posts about the generator's catalogue, spread over [--since, --until]."""
    cat = catalogue(args.items, args.stores)
    days = (args.until - args.since).days + 1
    if args.source == "reviews":
        return reviews.generated_reviews(cat, args.seed, args.since, days, args.per_day)
    if args.source == "review_corpus":
        from models.reviews.text_corpora import CorpusMissing, load

        try:
            frame = load(REVIEW_CORPUS)
        except CorpusMissing as exc:
            raise DatasetError(str(exc)) from None
        return reviews.corpus_reviews(cat, frame, args.seed, args.since, days)
    key = os.environ.get("GROQ_API_KEY", "").strip()
    if key:
        print(
            f"posts: LLM generator (groq, model {args.llm_model}), up to {args.posts:,} posts"
            f" in {args.llm_max_seconds:.0f} s",
            flush=True,
        )
        try:
            posts = list(
                reviews.llm_posts(
                    cat, args.seed, args.posts, args.since, days, key, args.llm_model, max_seconds=args.llm_max_seconds
                )
            )
            print(f"posts: the LLM wrote {len(posts):,} posts")
            return iter(posts)
        except reviews.LLMUnavailable as exc:
            print(f"posts: LLM unavailable ({exc}); falling back to the offline generator", flush=True)
    else:
        print("posts: GROQ_API_KEY is not set: offline generator (template posts, same class balance)", flush=True)
    return reviews.offline_posts(cat, args.seed, args.posts, args.since, days)


def shopper_records(args: argparse.Namespace):
    """Shopper events of the funnel generator, a Retailrocket file or Ta-Feng, in [--since, --until]."""
    days = (args.until - args.since).days + 1 if args.source == "funnel" else 0
    frame, prefix = source_events(args.source, args.path, args.seed, args.visitors, args.funnel_items, args.until, days)
    for record in shopper_events(frame, prefix):
        day = record["event_time"].date()
        if (args.since is None or day >= args.since) and (args.until is None or day <= args.until):
            yield record


def records(args: argparse.Namespace):
    """The chosen source's records, restricted to event dates in [--since, --until]."""
    if SOURCE_EVENTS[args.source] == "shopper_event":
        yield from shopper_records(args)
        return
    if args.source in text_files.KINDS:
        source = text_files.read_text_file(args.path, args.source)
    elif SOURCE_EVENTS[args.source] != "transaction":
        yield from text_records(args)
        return
    elif args.source == "generated":
        until = args.until or date.fromordinal(GENERATOR_START.toordinal() + 799)
        days = (until - GENERATOR_START).days + 1
        source = generated_transactions(args.seed, args.stores, args.items, GENERATOR_START, days)
    else:
        path = args.path if args.source == "file" else TA_FENG_PATH
        if args.source == "ta_feng" and not path.is_file():
            raise DatasetError(f"{path} is missing: run `make setup` (it fetches Ta-Feng) or pass --source file")
        source = file_transactions(path)
    moment = "created_at" if args.source in text_files.KINDS else "event_time"
    for record in source:
        day = record[moment].date()
        if (args.since is None or day >= args.since) and (args.until is None or day <= args.until):
            yield record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.ingest.produce", __doc__)
    parser.add_argument("--event", choices=sorted(CONTRACTS), help="event contract (default: the source's)")
    parser.add_argument("--source", default="generated", choices=sorted(SOURCE_EVENTS), help="record source")
    parser.add_argument("--path", type=Path, help="the file for --source file, events, review_file or post_file")
    parser.add_argument("--since", type=date.fromisoformat, help="first event date to send (YYYY-MM-DD)")
    parser.add_argument("--until", type=date.fromisoformat, help="last event date to send (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, help="send the N days ending on --until (instead of --since)")
    parser.add_argument("--stores", type=int, default=10, help="generator: number of stores")
    parser.add_argument("--items", type=int, default=50, help="generator: number of items")
    parser.add_argument("--topic", help="target topic (default: the contract's configured topic)")
    parser.add_argument("--limit", type=int, default=None, help="stop after N messages (default: source end)")
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default: as fast as possible)")
    parser.add_argument(
        "--malformed-fraction",
        type=float,
        default=0.0,
        help="fraction of messages deliberately broken, for demos and tests (0..1)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generator and of the malformed choice")
    parser.add_argument("--per-day", type=int, default=20, help="reviews: generated reviews per day")
    parser.add_argument("--posts", type=int, default=500, help="posts: how many to write")
    parser.add_argument("--visitors", type=int, default=2000, help="funnel: number of visitors")
    parser.add_argument("--funnel-items", type=int, default=500, help="funnel: number of items")
    parser.add_argument("--llm-model", default=reviews.DEFAULT_LLM_MODEL, help="posts: the groq model")
    parser.add_argument("--llm-max-seconds", type=float, default=300.0, help="posts: time cap of the LLM path")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be >= 0")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if not 0 <= args.malformed_fraction <= 1:
        parser.error("--malformed-fraction must be between 0 and 1")
    if (args.source in PATH_SOURCES) != (args.path is not None):
        parser.error(f"--path is required with --source {', '.join(PATH_SOURCES)}, and only with them")
    windowed = {"reviews": TEXT_DAYS, "review_corpus": TEXT_DAYS, "posts": TEXT_DAYS, "funnel": FUNNEL_DAYS}
    if args.source in windowed:
        args.until = args.until or datetime.now(UTC).date() - timedelta(days=1)
        if args.since is None:
            args.days = args.days or windowed[args.source]
    if args.per_day < 1 or args.posts < 1 or args.visitors < 1 or args.funnel_items < 1:
        parser.error("--per-day, --posts, --visitors and --funnel-items must be at least 1")
    if args.days is not None:
        if args.since is not None or args.until is None or args.days < 1:
            parser.error("--days N needs --until and N >= 1, and replaces --since")
        args.since = args.until - timedelta(days=args.days - 1)
    if args.stores < 1 or args.items < 1:
        parser.error("--stores and --items must be at least 1")
    args.event = args.event or SOURCE_EVENTS[args.source]
    if SOURCE_EVENTS[args.source] != args.event:
        parser.error(f"source {args.source!r} produces {SOURCE_EVENTS[args.source]} events, not {args.event}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    contract = CONTRACTS[args.event]
    topic = args.topic or settings.topics[contract.topic]
    if not broker_reachable(settings.kafka_bootstrap):
        print(
            f"error: no Kafka broker answers at {settings.kafka_bootstrap}; start the stack with `make up`"
            " or check RP_KAFKA_BOOTSTRAP",
            file=sys.stderr,
        )
        return 4
    try:
        summary = produce(
            settings.kafka_bootstrap,
            topic,
            contract,
            records(args),
            args.limit,
            args.rate,
            args.malformed_fraction,
            args.seed,
            args.progress,
        )
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    if summary.failed:
        print(
            f"error: {summary.failed:,} message(s) were not acknowledged by {settings.kafka_bootstrap}", file=sys.stderr
        )
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
