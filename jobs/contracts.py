"""Print the event contracts as MySQL DDL or as Markdown docs.

python -m jobs.contracts --ddl        # the raw-table DDL (sql/migrations/0002_raw_tables.sql)
python -m jobs.contracts --ddl --migration 7   # the raw-table columns migration 0007 adds
python -m jobs.contracts --markdown   # the contract tables shown in the README
"""

from __future__ import annotations

import argparse

from streaming.contracts import CONTRACTS

DDL_HEADER = "-- Raw event tables, generated from streaming/contracts.py by `python -m jobs.contracts --ddl`.\n"


def render_ddl(migration: int | None = None) -> str:
    """The raw tables' first DDL, or the ALTER statements of fields a later migration added."""
    if migration is None:
        return DDL_HEADER + "\n" + "\n\n".join(c.ddl() for c in CONTRACTS.values()) + "\n"
    alters = [a for c in CONTRACTS.values() if (a := c.alter_ddl(migration))]
    return "\n\n".join(alters) + "\n" if alters else ""


def render_markdown() -> str:
    return "\n\n".join(c.markdown() for c in CONTRACTS.values()) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.contracts", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--ddl", action="store_true", help="print CREATE TABLE statements")
    group.add_argument("--markdown", action="store_true", help="print Markdown field tables")
    parser.add_argument("--migration", type=int, help="with --ddl: the columns this migration added")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(render_ddl(args.migration) if args.ddl else render_markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
