"""Create the database, apply ordered migrations from sql/migrations, and (re)create the users.

    retail-pulse tools migrate            # the configured database: migrations, then users
    retail-pulse tools migrate --list     # the migration files and their checksums

What is applied, how a re-run and an edited migration are treated, and the users' privileges:
common/migrations.py. Exit codes: 0 done, 2 --drop-database names another database, 4 MySQL unreachable.
"""

from __future__ import annotations

import argparse
import sys

from common.cli import entry_point, job_parser
from common.migrations import apply_migrations, drop_database, ensure_users, load_migrations
from common.settings import load_settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.migrate", __doc__)
    parser.add_argument("--list", action="store_true", help="list the migration files and exit")
    parser.add_argument("--skip-users", action="store_true", help="apply migrations only")
    parser.add_argument(
        "--drop-database",
        metavar="NAME",
        help="drop the configured database (test teardown); NAME must repeat its name, as a confirmation",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for m in load_migrations():
            print(f"{m.version:04d}  {m.name}  {m.checksum[:12]}")
        return 0
    settings = load_settings()
    if args.drop_database:
        if args.drop_database != settings.mysql_database:
            print(
                f"error: --drop-database {args.drop_database} is not the configured database "
                f"{settings.mysql_database}; nothing dropped",
                file=sys.stderr,
            )
            return 2
        drop_database(settings)
        print(f"dropped database {settings.mysql_database}")
        return 0
    applied = apply_migrations(settings)
    if not args.skip_users:
        ensure_users(settings)
    print(f"database {settings.mysql_database}: {len(applied)} migration(s) applied, schema up to date")
    return 0


main = entry_point(parse_args, run)

if __name__ == "__main__":
    sys.exit(main())
