"""MySQL/MariaDB connections: the one place that connects, commits and rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import mysql.connector

from common.settings import Settings

ROLES = ("admin", "writer", "reader")


def connect(settings: Settings, role: str = "writer", database: bool = True, **extra):
    """Open a connection as one of the three database roles (admin, writer, reader)."""
    if role not in ROLES:
        raise ValueError(f"unknown database role {role!r}; expected one of {ROLES}")
    user = getattr(settings, f"mysql_{role}_user")
    password = getattr(settings, f"mysql_{role}_password")
    options = dict(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=user,
        password=password,
        autocommit=False,
        allow_local_infile=True,
        charset="utf8mb4",
        collation="utf8mb4_general_ci",
        connection_timeout=10,
        time_zone="+00:00",  # every DATETIME the pipeline writes or defaults (ingested_at) is UTC
    )
    options.update(extra)
    if database:
        options["database"] = settings.mysql_database
    return mysql.connector.connect(**options)


@contextmanager
def transaction(conn) -> Iterator:
    """Yield a cursor inside one transaction: commit on success, roll back on any error."""
    cur = conn.cursor()
    try:
        conn.start_transaction()
        yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.close()


def query(settings: Settings, sql: str, params: tuple = (), role: str = "reader") -> list[tuple]:
    """Run one read-only query and return all rows (used by CLIs, the demo and tests)."""
    conn = connect(settings, role)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        cur.close()
        return rows
    finally:
        conn.close()
