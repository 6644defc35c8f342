"""Migrations and database users: the ordered files of sql/migrations applied once each, and the pipeline's
least-privilege accounts. `retail-pulse tools migrate` runs it; so do `make up`, the docker-compose `init`
service, the tests and the benchmarks (each on a database of its own).

Safe to re-run: applied migrations are recorded in `schema_migrations` with a checksum, and an
applied file that was edited afterwards is an error (add a new migration instead). Users, bound
to RP_MYSQL_USER_HOST (default 127.0.0.1): `pipeline_writer` (DML on each pipeline table, nothing
on schema_migrations; temporary staging tables) and `powerbi_reader` (SELECT on the tables and
views, not on raw quarantined payloads: it reads v_quarantine_reasons), passwords from
RP_MYSQL_WRITER_PASSWORD / RP_MYSQL_READER_PASSWORD. The role `retail_operator` may read
everything; grant it to an operator's own account.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import mysql.connector

from common.db import connect, transaction
from common.settings import REPO_ROOT, Settings

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


# Migrations rewritten after release with the same effect; databases that applied the original
# text are up to date. 0003: `ADD COLUMN IF NOT EXISTS` (MariaDB only; MySQL 8.4 rejects it) -> `ADD COLUMN`.
# 0002, 0007-0010, 0013: comments only (the commands' names after the jobs moved into domains).
REWRITTEN = {
    3: {"3645eb7ac1e1bf380ff5679ef10f8ebcc47f16c76522e0cf49f3406ffd8b34a2"},
    2: {"912428a43b7025c1c6abfc25de4d60cbabb2c0ad50896b8abc735204317470ac"},
    7: {"ee24bf9c57c72cf339e7076240030d68a8501885a246f1f6c9092376c089a95f"},
    8: {"824d0b353d1d9d568103558339c4518d5c907cdbf09c5cbcc1c33130ef007bf7"},
    9: {"6a098673f020c3efcf3d007357c758d59cf63fe910db5510351d209dd3967f9a"},
    10: {"fd6baab56160d2f687d945cd68bee567f5bddf014dc42778bc895508e94e85ea"},
    13: {"feefb8e96c4dd21add59bf597e0299a8eb7f9c4ec4420b7565e844b1ceb53531"},
}
# MariaDB-only syntax that MySQL 8.4 rejects: never in a migration (tests/unit/tools/test_settings_and_migrations.py)
MARIADB_ONLY = re.compile(
    r"\b(ADD|DROP|MODIFY|CHANGE)\s+(COLUMN\s+)?IF\s+(NOT\s+)?EXISTS\b|\bCREATE\s+OR\s+REPLACE\s+TABLE\b"
    r"|\b(ADD|DROP)\s+(INDEX|KEY)\s+IF\s+(NOT\s+)?EXISTS\b|\bRETURNING\b|\bSEQUENCE\b",
    re.I,
)


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
                if done[m.version][1] != m.checksum and done[m.version][1] not in REWRITTEN.get(m.version, ()):
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


# Tables the analysts' account may not read: raw payloads of rejected records (analysts read the
# reasons through v_quarantine_reasons), and the pipeline's own bookkeeping.
READER_EXCLUDED = {"quarantined_events", "schema_migrations", "sales_counted_events"}
OPERATOR_ROLE = "retail_operator"  # SELECT on everything, payloads included: grant it to operators' accounts


def ensure_users(settings: Settings) -> None:
    """Create or update the writer and reader users with least privilege, bound to the stack's host:
    the writer gets DML on each table it writes (nothing on schema_migrations), SELECT on the views
    (the DAGs' gates read them) and temporary tables; the reader SELECT on each table and view but
    the excluded ones; the operator role SELECT on all of them."""
    db, host = _ident(settings.mysql_database), settings.mysql_user_host
    conn = connect(settings, "admin", database=False)
    try:
        cur = conn.cursor()
        cur.execute("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s", (db,))
        objects = {name: kind for name, kind in cur.fetchall()}
        tables = sorted(n for n, kind in objects.items() if kind == "BASE TABLE" and n != "schema_migrations")
        grants = {
            "writer": [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.{_ident(t)}" for t in tables]
            + [f"GRANT SELECT ON {db}.{_ident(v)}" for v in sorted(n for n, k in objects.items() if k == "VIEW")]
            + [f"GRANT CREATE TEMPORARY TABLES ON {db}.*"],
            "reader": [f"GRANT SELECT ON {db}.{_ident(n)}" for n in sorted(objects) if n not in READER_EXCLUDED],
        }
        for role, statements in grants.items():
            user = _ident(getattr(settings, f"mysql_{role}_user"))
            password = getattr(settings, f"mysql_{role}_password")
            if not password:
                raise ValueError(f"RP_MYSQL_{role.upper()}_PASSWORD is not set; refusing to create {user}")
            if host != "%":  # earlier versions created the users for any host
                cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            cur.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            _revoke_database_grant(cur, f"'{user}'@'{host}'", db)
            for statement in statements:
                cur.execute(f"{statement} TO '{user}'@'{host}'")
        cur.execute(f"CREATE ROLE IF NOT EXISTS {OPERATOR_ROLE}")
        cur.execute(f"GRANT SELECT ON {db}.* TO {OPERATOR_ROLE}")
        conn.commit()
    finally:
        conn.close()


def _revoke_database_grant(cur, account: str, db: str) -> None:
    """Drop a database-wide grant of earlier versions (table grants replace it)."""
    try:
        cur.execute(f"REVOKE ALL PRIVILEGES ON {db}.* FROM {account}")
    except mysql.connector.Error as exc:
        if exc.errno != 1141:  # there was no such grant
            raise


def drop_database(settings: Settings) -> None:
    conn = connect(settings, "admin", database=False)
    try:
        with transaction(conn) as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_ident(settings.mysql_database)}")
    finally:
        conn.close()
