"""MySQL/MariaDB connections: the one place that connects, commits and rolls back."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

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


def _tsv_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def write_tsv(rows, path: str) -> None:
    """Write rows (tuples, or a pyarrow Table in column order) in the format LOAD DATA reads by
    default: tab-separated, backslash escapes, \\N for NULL."""
    if not isinstance(rows, list):
        return _write_arrow_tsv(rows, path)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines("\t".join(_tsv_value(v) for v in row) + "\n" for row in rows)


def _write_arrow_tsv(table, path: str) -> None:
    """The same text as for tuples, built column-wise with Arrow compute (no per-value Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            text = pc.strftime(column.cast(pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
        else:
            text = column.cast(pa.string())
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            for special, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                text = pc.replace_substring(text, special, escaped)
        columns.append(pc.fill_null(text, "\\N"))
    lines = pc.binary_join_element_wise(*columns, "\t")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for chunk in lines.chunks:
            fh.write("\n".join(chunk.to_pylist()))
            fh.write("\n")


EXECUTEMANY_ROWS = 1000  # rows per multi-row statement: a 100,000-row batch must not exceed max_allowed_packet


def executemany_chunked(cur, sql: str, rows: list[tuple]) -> None:
    """``cur.executemany`` in chunks: the connector folds each call into one multi-row statement,
    which for a whole micro-batch (e.g. a replay of old events, all late) can exceed the server's
    max_allowed_packet and drop the connection."""
    for start in range(0, len(rows), EXECUTEMANY_ROWS):
        cur.executemany(sql, rows[start : start + EXECUTEMANY_ROWS])


def fill_table(cur, table: str, columns: list[str], rows, bulk: bool = True) -> bool:
    """Insert rows (REPLACE on key clashes): ``LOAD DATA LOCAL INFILE`` when ``bulk`` and the server
    allows it, else ``executemany``. Returns whether the bulk path is still usable."""
    if len(rows) == 0:
        return bulk
    cols = ", ".join(columns)
    if bulk:
        fd, path = tempfile.mkstemp(prefix="rp_batch_", suffix=".tsv")
        os.close(fd)
        try:
            write_tsv(rows, path)
            cur.execute(f"LOAD DATA LOCAL INFILE %s REPLACE INTO TABLE {table} ({cols})", (path,))
            return True
        except mysql.connector.Error as exc:
            if exc.errno not in (1148, 3948, 2068):  # local infile disabled on server or client
                raise
        finally:
            os.unlink(path)
    placeholders = ", ".join(["%s"] * len(columns))
    tuples = rows if isinstance(rows, list) else [tuple(r.values()) for r in rows.to_pylist()]
    executemany_chunked(cur, f"REPLACE INTO {table} ({cols}) VALUES ({placeholders})", tuples)
    return False
