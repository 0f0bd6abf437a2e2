"""The database connection: one engine, and how SQLite and PostgreSQL are set up.

SQLite by default (one host), PostgreSQL when DATABASE_URL says so (many
instances). Every change that must happen once is one conditional UPDATE,
inside a transaction begun with `engine.begin()`; reads run outside one.
"""

from __future__ import annotations

import logging
import threading
import weakref
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Iterator, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from voice.clock import as_utc

log = logging.getLogger(__name__)


#: Seconds a new PostgreSQL connection may take before the attempt fails.
CONNECT_TIMEOUT = 5


def make_engine(database_url: str) -> Engine:
    # hide_parameters: a failed statement's message would otherwise carry its
    # bound values into the log.
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, hide_parameters=True,
                               # pysqlite's own transaction handling is off: we say BEGIN ourselves.
                               connect_args={"isolation_level": None, "check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        _write_locks[engine] = threading.RLock()
        return engine
    # A connection attempt to an unreachable server gives up after CONNECT_TIMEOUT (the driver's default is to
    # wait for ever): a request then fails fast, and Plivo still gets its document in time.
    return create_engine(database_url, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={} if "connect_timeout" in database_url else {"connect_timeout": CONNECT_TIMEOUT})


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # First: writers queue for the lock (several processes write) instead of failing with "locked";
    # even switching to WAL below needs the lock, while another process may be creating the schema.
    cursor.execute("PRAGMA busy_timeout=10000")
    # Overwrite what an UPDATE or DELETE removes instead of leaving it in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    # WAL: readers never wait for the writer. synchronous=NORMAL: a commit is on
    # disk in the WAL without an fsync each; a killed process loses nothing, only a
    # power cut can lose the last commits (https://www.sqlite.org/pragma.html#pragma_synchronous).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(conn) -> None:
    if conn.get_execution_options().get(_READING):
        return  # a read (see `reading`): each statement on its own, no lock held
    # Take the write lock when the transaction starts: a transaction that read
    # first and wrote later could otherwise fail at once with SQLITE_BUSY when
    # another process wrote in between, instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_READING = "voice_reading"
# SQLite lets one writer in at a time, and makes the others wait by sleeping
# (1, 2, 5, 10… up to 100 ms at a time): threads of one process queue here for
# it instead, and are woken the moment it is free.
_write_locks: "weakref.WeakKeyDictionary[Engine, threading.RLock]" = weakref.WeakKeyDictionary()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction: commits when the block ends, rolls back if it raises."""
    lock = _write_locks.get(engine)
    if lock is None:
        with engine.begin() as conn:
            yield conn
        return
    with lock, engine.begin() as conn:
        yield conn


def reading(engine: Engine) -> Connection:
    """A connection for reads only, outside any transaction: it holds no lock
    (SQLite) and costs no BEGIN/ROLLBACK round trips (PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        return engine.connect().execution_options(**{_READING: True})
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


class DirectRead:
    """One SELECT, built with SQLAlchemy Core and compiled once for the engine's dialect, run straight
    on a pooled DB-API cursor: the webhooks' one read. SQLAlchemy's execution and its SQLite datetime
    parsing cost ~8x the query itself (measured: 290 µs against 35 µs a call on SQLite), and Plivo
    waits on every answer. Rows come back as plain dicts of the driver's values: SQLite gives
    datetimes as ISO strings and booleans as 0/1 (see `moment`)."""

    def __init__(self, engine: Engine, statement):
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._order = compiled.positiontup if compiled.positional else None
        self._postgres = engine.dialect.name == "postgresql"

    def first(self, **params) -> dict | None:
        values = tuple(params[name] for name in self._order) if self._order is not None else params
        raw = self._engine.raw_connection()
        try:
            if self._postgres:
                raw.driver_connection.autocommit = True  # a read: no BEGIN, no ROLLBACK round trips
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute(self._sql, values)
                    row = cursor.fetchone()
                    names = [column[0] for column in cursor.description]
                finally:
                    cursor.close()
            finally:
                if self._postgres:
                    # Back as the pool lent it, even after an error: the next user's transactions need it.
                    raw.driver_connection.autocommit = False
        finally:
            raw.close()  # back to the pool
        return dict(zip(names, row)) if row is not None else None


class DirectWrite(DirectRead):
    """One statement that writes (an INSERT … RETURNING), compiled once and run as DirectRead runs a read: on
    a pooled DB-API connection in autocommit, so the statement is its own transaction. On SQLite it waits
    its turn behind this process's other writers (see `transaction`). For one-statement writes on the
    webhooks' path (measured on SQLite: 290 µs a write through `transaction`, about 80 µs this way)."""

    def first(self, **params) -> dict | None:
        lock = _write_locks.get(self._engine)
        if lock is None:
            return super().first(**params)
        with lock:
            return super().first(**params)


def moment(value) -> datetime | None:
    """A datetime column's value from a driver: a datetime (PostgreSQL), an ISO string (SQLite) or None."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def database_ready(engine: Engine) -> bool:
    """Whether the database answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("database not reachable: %s", type(error).__name__)
        return False
    return True


def is_outage(error: BaseException, engine: Engine) -> bool:
    """Whether `error` says the database cannot be reached or written now (stopped, restarting, read-only,
    locked too long), rather than that a statement of ours is wrong: the same request may succeed later.
    DirectRead runs on the driver's own cursor, whose errors SQLAlchemy does not wrap."""
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    dbapi = engine.dialect.dbapi
    return dbapi is not None and isinstance(error, (dbapi.OperationalError, dbapi.InterfaceError))


Record = TypeVar("Record")


def record_from_row(cls: type[Record], row: RowMapping, **special) -> Record:
    """A dataclass from a row: each field from the column of its name (datetimes
    made UTC), except the `special` ones, given as computed by the caller."""
    values = dict(special)
    for field in fields(cls):
        if field.name not in values and field.name in row:
            value = row[field.name]
            values[field.name] = as_utc(value) if isinstance(value, datetime) else value
    return cls(**values)
