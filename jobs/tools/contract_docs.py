"""Print the event contracts as MySQL DDL or Markdown, or the result topics' messages as Markdown.

    retail-pulse tools contracts --ddl        # the raw-table DDL (sql/migrations/0002_raw_tables.sql)
    retail-pulse tools contracts --ddl --migration 7   # the raw-table columns migration 0007 adds
    retail-pulse tools contracts --markdown   # the contract tables of docs/service-developer.md
    retail-pulse tools contracts --results    # the result topics' entries of docs/service-developer.md

Inbound events are defined in streaming/contracts.py, result messages in common/results.py; unit tests check
that the migration and the docs hold exactly what these print.
"""

from __future__ import annotations

import argparse

from common.cli import job_parser
from common.results import results_markdown
from streaming.contracts import render_ddl, render_markdown


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.contract_docs", __doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--ddl", action="store_true", help="print CREATE TABLE statements")
    group.add_argument("--markdown", action="store_true", help="print Markdown field tables")
    group.add_argument("--results", action="store_true", help="print the result topics' messages as Markdown")
    parser.add_argument("--migration", type=int, help="with --ddl: the columns this migration added")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.results:
        print(results_markdown(), end="")
    else:
        print(render_ddl(args.migration) if args.ddl else render_markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
