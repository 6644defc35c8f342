"""Load master data (product and store names) into MySQL for the analysts' dimensions.

    retail-pulse ingest catalogue demo                          # the demo producers' catalogue (50 items, 10 stores)
    retail-pulse ingest catalogue demo --items 240 --stores 20
    retail-pulse ingest catalogue csv --products products.csv --stores stores.csv

The dimensions v_dim_product and v_dim_store list every item and store that appears in any fact;
their names, brands, categories and cities come from product_catalogue and store_catalogue, which
this job fills (an item without master data is called "item <id>", brand and category "unknown").
"demo" writes the seeded catalogue the review, post and sales generators use (the same --items and
--stores as `retail-pulse ingest produce`); "csv" reads your own master data: products.csv with the header
item_id,product_name,brand,category and stores.csv with store_id,store_name,city (either file may
be left out). Rows are upserted by id (a re-run updates names, never duplicates); nothing is
deleted. Exit codes: 0 done, 2 bad arguments or file, 4 MySQL unreachable.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from common.catalogue import catalogue
from common.cli import entry_point, job_parser
from common.db import connect, transaction
from common.settings import load_settings

PRODUCT_COLUMNS = ("item_id", "product_name", "brand", "category")
STORE_COLUMNS = ("store_id", "store_name", "city")
UPSERT_PRODUCTS = (
    "INSERT INTO product_catalogue (item_id, product_name, brand, category, source, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE product_name = VALUES(product_name),"
    " brand = VALUES(brand), category = VALUES(category), source = VALUES(source), updated_at = VALUES(updated_at)"
)
UPSERT_STORES = (
    "INSERT INTO store_catalogue (store_id, store_name, city, source, updated_at) VALUES (%s, %s, %s, %s, %s)"
    " ON DUPLICATE KEY UPDATE store_name = VALUES(store_name), city = VALUES(city), source = VALUES(source),"
    " updated_at = VALUES(updated_at)"
)


class MasterDataError(ValueError):
    """A master-data file that cannot be loaded: one line saying where and why."""


def demo_rows(items: int, stores: int) -> tuple[list[tuple], list[tuple]]:
    """The seeded demo catalogue as (product rows, store rows) in PRODUCT_COLUMNS / STORE_COLUMNS order."""
    cat = catalogue(items, stores)
    products = [(p.item_id, p.name, p.brand, p.product_type) for p in cat.products]
    return products, [(s.store_id, s.name, s.city) for s in cat.stores]


def read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple]:
    """Rows of a master-data CSV with exactly ``columns`` (in any order); the id must be an integer,
    names non-empty, and each id may appear once."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise MasterDataError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(columns)}")
            rows, seen = [], set()
            for line, record in enumerate(reader, start=2):
                values = [(record[c] or "").strip() for c in columns]
                if not values[0].lstrip("-").isdigit():
                    raise MasterDataError(f"{path}:{line}: {columns[0]}={values[0]!r} is not an integer id")
                if not all(values[1:]):
                    raise MasterDataError(f"{path}:{line}: empty {', '.join(columns[1:])} for {columns[0]} {values[0]}")
                key = int(values[0])
                if key in seen:
                    raise MasterDataError(f"{path}:{line}: {columns[0]} {key} appears twice")
                seen.add(key)
                rows.append((key, *values[1:]))
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterDataError(f"{path}: cannot read it ({exc})") from None
    return rows


def load(settings, products: list[tuple], stores: list[tuple], source: str) -> None:
    """Upsert both master-data tables in one transaction."""
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = connect(settings, "writer")
    try:
        with transaction(conn) as cur:
            cur.executemany(UPSERT_PRODUCTS, [(*row, source, now) for row in products])
            cur.executemany(UPSERT_STORES, [(*row, source, now) for row in stores])
    finally:
        conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.ingest.load_catalogue", __doc__)
    sources = parser.add_subparsers(dest="source", required=True)
    demo = sources.add_parser("demo", help="the seeded catalogue of the demo generators")
    demo.add_argument("--items", type=int, default=50, help="products (as jobs.ingest.produce --items; at most 240)")
    demo.add_argument("--stores", type=int, default=10, help="stores (as jobs.ingest.produce --stores)")
    files = sources.add_parser("csv", help="your own master data")
    files.add_argument("--products", type=Path, help="CSV: item_id,product_name,brand,category")
    files.add_argument("--stores", type=Path, help="CSV: store_id,store_name,city")
    args = parser.parse_args(argv)
    if args.source == "demo" and not (1 <= args.items <= 240 and args.stores >= 1):
        parser.error("--items must be 1..240 (the catalogue's brand x type names) and --stores >= 1")
    if args.source == "csv" and not (args.products or args.stores):
        parser.error("give --products, --stores or both")
    return args


def run(args: argparse.Namespace) -> int:
    try:
        if args.source == "demo":
            products, stores = demo_rows(args.items, args.stores)
        else:
            products = read_csv(args.products, PRODUCT_COLUMNS) if args.products else []
            stores = read_csv(args.stores, STORE_COLUMNS) if args.stores else []
    except MasterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load(load_settings(), products, stores, args.source)
    print(f"master data ({args.source}): {len(products):,} products, {len(stores):,} stores upserted")
    return 0


main = entry_point(parse_args, run)

if __name__ == "__main__":
    sys.exit(main())
