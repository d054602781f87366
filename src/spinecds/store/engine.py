"""One SQLAlchemy Engine per database URL, set up for several writers at once.

SQLite (the embedded default) is shared by two uvicorn workers, each with a thread pool:
WAL lets readers run beside a writer, ``busy_timeout`` makes a writer wait for the lock
instead of failing, and SQLAlchemy (not the sqlite3 module) emits ``BEGIN`` so that
write transactions can take the lock up front (``BEGIN IMMEDIATE``) and DDL runs inside
transactions too. PostgreSQL goes through psycopg 3, with a pre-ping so replicas survive
a database restart.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from spinecds.errors import FieldProblem
from spinecds.store.errors import StoreError

__all__ = ["WRITE", "dumps", "make_engine", "parse_url", "redacted"]

# How long a SQLite writer waits for another's lock before giving up.
BUSY_TIMEOUT_MS = 15_000
# Execution option marking a connection that will write: on SQLite it begins IMMEDIATE.
WRITE = "spinecds_write"

# NaN and Infinity are not JSON (PostgreSQL refuses them); refuse them on every backend.
dumps = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False)

URL_FIX = "use sqlite:///path/to/audit.db or postgresql+psycopg://user:password@host/database"


def redacted(url: URL | str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def parse_url(url: str) -> URL:
    """Parse and check a database URL; plain ``postgresql://`` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            "The audit-log database URL is not valid.",
            [FieldProblem("SPINECDS_DATABASE_URL", str(exc), URL_FIX)],
            exit_code=2,
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            "The audit log supports SQLite and PostgreSQL only.",
            [FieldProblem("SPINECDS_DATABASE_URL", f"{redacted(parsed)} is neither", URL_FIX)],
            exit_code=2,
        )
    return parsed


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    # A health check or request must not hang on an unreachable server (the URL may override).
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 5}
    return create_engine(
        parsed, pool_pre_ping=True, json_serializer=dumps, connect_args=connect_args
    )


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"json_serializer": dumps}
    if _is_memory(url):
        # One shared connection, or every thread would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        folder = Path(str(url.database)).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                "The folder for the audit-log database cannot be created.",
                [FieldProblem("SPINECDS_DATABASE_URL", f"{folder}: {exc.strerror}", URL_FIX)],
            ) from None
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # sqlite3 must not emit BEGIN: _sqlite_begin does
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # first: WAL switch may wait
        cursor.execute("PRAGMA journal_mode = WAL")
        # SQLite's advice for WAL: commits stay atomic and the file consistent; only a power
        # cut can lose the last commits. A log that must survive that belongs in PostgreSQL.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and later writes can fail at once with "database is
    # locked" when another writer got in between; taking the write lock at BEGIN waits instead.
    immediate = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
