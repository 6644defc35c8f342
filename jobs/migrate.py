"""Create the database, apply ordered migrations from sql/migrations, and (re)create the users.

Safe to re-run: applied migrations are recorded in `schema_migrations` with a checksum, and an
applied file that was edited afterwards is an error (add a new migration instead). Users are
`pipeline_writer` (DML on the database's tables, temporary staging tables) and `powerbi_reader`
(SELECT only), with passwords from RP_MYSQL_WRITER_PASSWORD / RP_MYSQL_READER_PASSWORD.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from common.db import connect, transaction
from common.settings import REPO_ROOT, Settings, load_settings

MIGRATIONS_DIR = REPO_ROOT / "sql" / "migrations"
NAME_PATTERN = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """Split on semicolons that end a line; comments are dropped."""
        lines = [line for line in self.sql.splitlines() if not line.strip().startswith("--")]
        return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read migrations in version order; reject badly named files and duplicate versions."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = NAME_PATTERN.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in migrations:
            raise ValueError(f"two migrations share version {version:04d}: {migrations[version].name}, {path.name}")
        migrations[version] = Migration(version, path.name, path.read_text())
    versions = sorted(migrations)
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1..N without gaps, found {versions}")
    return [migrations[v] for v in versions]


def _ident(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a safe SQL identifier")
    return name


def ensure_database(settings: Settings) -> None:
    conn = connect(settings, "admin", database=False)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {_ident(settings.mysql_database)} CHARACTER SET utf8mb4")
        conn.commit()
    finally:
        conn.close()


def apply_migrations(settings: Settings, migrations: list[Migration] | None = None, log=print) -> list[str]:
    """Apply pending migrations; return the names applied."""
    migrations = load_migrations() if migrations is None else migrations
    ensure_database(settings)
    conn = connect(settings, "admin")
    applied_now = []
    try:
        cur = conn.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, name VARCHAR(255) NOT NULL,"
            " checksum CHAR(64) NOT NULL, applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
        )
        cur.execute("SELECT version, name, checksum FROM schema_migrations")
        done = {version: (name, checksum) for version, name, checksum in cur.fetchall()}
        for m in migrations:
            if m.version in done:
                if done[m.version][1] != m.checksum:
                    raise RuntimeError(
                        f"migration {m.name} was changed after it was applied; add a new migration instead"
                    )
                continue
            for statement in m.statements():
                cur.execute(statement)
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
            conn.commit()
            applied_now.append(m.name)
            log(f"applied migration {m.name}")
    finally:
        conn.close()
    return applied_now


def ensure_users(settings: Settings) -> None:
    """Create or update the writer and reader users with least privilege."""
    db = _ident(settings.mysql_database)
    grants = {
        "writer": f"SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES ON {db}.*",
        "reader": f"SELECT ON {db}.*",
    }
    conn = connect(settings, "admin", database=False)
    try:
        with transaction(conn) as cur:
            for role, grant in grants.items():
                user = _ident(getattr(settings, f"mysql_{role}_user"))
                password = getattr(settings, f"mysql_{role}_password")
                if not password:
                    raise ValueError(f"RP_MYSQL_{role.upper()}_PASSWORD is not set; refusing to create {user}")
                cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY %s", (password,))
                cur.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY %s", (password,))
                cur.execute(f"GRANT {grant} TO '{user}'@'%'")
    finally:
        conn.close()


def drop_database(settings: Settings) -> None:
    conn = connect(settings, "admin", database=False)
    try:
        with transaction(conn) as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_ident(settings.mysql_database)}")
    finally:
        conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.migrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--list", action="store_true", help="list the migration files and exit")
    parser.add_argument("--skip-users", action="store_true", help="apply migrations only")
    parser.add_argument(
        "--drop-database",
        metavar="NAME",
        help="drop the configured database (test teardown); NAME must repeat its name, as a confirmation",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
