"""Engine, transactions and the database clock.

SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE (writers queue instead of failing);
MariaDB/MySQL gets READ COMMITTED (what SKIP LOCKED claiming needs), UTC sessions and pre-ping.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pymysql
from sqlalchemy import Connection, DateTime, Engine, Float, create_engine, event, literal
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from batchscore.errors import DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
_RETRYABLE_MYSQL_ERRORS = {1205, 1213}  # lock wait timeout, deadlock: InnoDB rolled back
_RETRIES = 5
# Server shutting down, connection killed, can't connect, gone away, lost during a query.
_UNREACHABLE_MYSQL_ERRORS = {1053, 1927, 2002, 2003, 2006, 2013}

logger = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["Connection", "Engine", "in_transaction", "make_engine", "seconds_between", "utcnow"]


_READ_ONLY = "batchscore_read_only"


def make_engine(url: str) -> Engine:
    """Create the engine for a SQLAlchemy URL, tuned per backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # SQLite makes the file, not its folder: data/ beside a config that names other
            # folders for the files would otherwise be missing ("unable to open database file").
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(url)
    return create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,  # a restarted server costs one failed ping, not a failed job
        pool_recycle=3600,
        connect_args={"init_command": "SET time_zone = '+00:00'"},
    )


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so we can say BEGIN IMMEDIATE ourselves: a
        # deferred transaction that reads then writes fails at once with "database is locked".
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A read-only transaction takes no write lock, so it never queues behind a writer (WAL).
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def in_transaction(
    engine: Engine, work: Callable[[Connection], T], *, patience: float = 0, read_only: bool = False
) -> T:
    """Run `work` in one short transaction: commit on success, roll back on any exception.

    `read_only` promises that `work` only reads (a token lookup on every API call): on SQLite
    it then doesn't queue for the write lock.

    On MariaDB/MySQL a deadlock (1213) or lock wait timeout (1205) rolls back the whole
    transaction, so the whole of `work` is run again, a few times, with jittered backoff.
    `work` must therefore only touch the database (no files, no side effects outside it).

    If the server can't be reached (restarting, connection cut), the transaction is tried
    again for up to `patience` seconds, then DatabaseUnavailable is raised. A cut while
    committing is never retried: the commit may have happened.
    """
    deadline = time.monotonic() + patience
    for attempt in itertools.count(1):
        committing = False
        try:
            with engine.connect() as conn:
                conn.execution_options(**{_READ_ONLY: read_only})
                with conn.begin():
                    result = work(conn)
                    committing = True
            return result
        except DBAPIError as exc:
            code = _mysql_code(exc.orig)
            if exc.connection_invalidated or code in _UNREACHABLE_MYSQL_ERRORS:
                wait = min(0.05 * 2**attempt, 2.0, deadline - time.monotonic())
                if committing or wait <= 0:
                    raise DatabaseUnavailable(reason=str(exc.orig)) from exc
                logger.warning("Database unreachable (%s); trying again in %.1f s", exc.orig, wait)
                time.sleep(wait)
            elif code in _RETRYABLE_MYSQL_ERRORS and attempt < _RETRIES:
                logger.info(
                    "Transaction hit MySQL error %s; retry %d of %d", code, attempt, _RETRIES
                )
                time.sleep(random.uniform(0.005, 0.05) * attempt)
            else:
                raise
    raise AssertionError("unreachable")


def _mysql_code(exc: BaseException | None) -> int | None:
    return exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args else None


class _OneLineWhenUnreachable(logging.Filter):
    """The pool logs a traceback when it can't roll back a connection the server has dropped.

    in_transaction and its callers report the outage already; here one line is enough.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if _mysql_code(exc) in _UNREACHABLE_MYSQL_ERRORS:
            record.msg, record.args, record.exc_info = "%s: %s", (record.getMessage(), exc), None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger("sqlalchemy.pool.impl.QueuePool").addFilter(_OneLineWhenUnreachable())


class utcnow(FunctionElement[Any]):
    """The database's UTC clock, plus an optional offset in seconds.

    Leases compare against the database clock only, so processors on machines whose clocks
    disagree still agree on who holds a claim. The offset is a bound parameter, so statements
    using it stay cacheable.
    """

    type = DateTime()
    inherit_cache = True

    def __init__(self, plus_seconds: float = 0.0) -> None:
        super().__init__(literal(float(plus_seconds), Float()))


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    # The text format SQLAlchemy itself writes for SQLite DATETIME: 'YYYY-MM-DD HH:MM:SS.ffffff'.
    offset = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', ({offset}) || ' seconds') || '000')"


@compiles(utcnow, "mysql")
@compiles(utcnow, "mariadb")
def _utcnow_mysql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    offset = compiler.process(element.clauses, **kw)
    return f"(UTC_TIMESTAMP(6) + INTERVAL CAST(({offset}) * 1000000 AS SIGNED) MICROSECOND)"


class seconds_between(FunctionElement[float]):
    """`end - start` in seconds (fractional), in each database's own date arithmetic."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_mysql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(TIMESTAMPDIFF(MICROSECOND, {start}, {end}) / 1000000.0)"
