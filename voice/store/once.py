"""Things good once, across processes and instances: the database remembers each use until it expires.

A Plivo request's V3 nonce (a captured request sent again must not be served
again) and an install link's state (a link installs once) are recorded here
by their SHA-256 digest: one INSERT on the primary key, which only the first
use of a value can make. Each is kept until it could no longer be used
anyway, then forgotten by the hourly sweep.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from voice.store.db import DirectWrite, reading, transaction
from voice.store.schema import used_once

# What is used once; each is its own namespace of values.
PLIVO_NONCE = "plivo-nonce"
INSTALL_STATE = "install-state"
ALERT_DELIVERY = "alert-delivery"  # a monitoring source's request, by integration and body: its retries


class UsedOnce:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self.engine = engine
        self.clock = clock
        self._insert = DirectWrite(engine, _insert_statement(engine.dialect.name))
        # The driver is given the moment as SQLAlchemy would give it (SQLite: its text form), so the sweep's
        # comparison, made through SQLAlchemy, compares like with like.
        self._moment = used_once.c.expires_at.type.bind_processor(engine.dialect) or (lambda value: value)

    def first_use(self, kind: str, value: str, keep: timedelta) -> bool:
        """Record `value` as used, for `keep`; False when it was used before (and is still remembered)."""
        # RETURNING: a row only when this INSERT made it.
        return self._insert.first(p_digest=digest(kind, value),
                                  p_expires_at=self._moment(self.clock() + keep)) is not None

    def used(self, kind: str, value: str) -> bool:
        """Whether `value` was used already (a read: the INSERT of `first_use` is what decides)."""
        with reading(self.engine) as conn:
            return conn.execute(used_once.select().where(used_once.c.digest == digest(kind, value))).first() is not None

    def forget_expired(self) -> int:
        """Forget what can no longer be used anyway; how many."""
        with transaction(self.engine) as conn:
            return conn.execute(delete(used_once).where(used_once.c.expires_at < self.clock())).rowcount


def first_use_in(conn: Connection, kind: str, value: str, expires_at: datetime, now: datetime) -> bool:
    """`first_use` in the caller's transaction: the use is recorded only if the rest of it commits. A use
    remembered past its expiry (the sweep has not forgotten it yet) counts as none."""
    return conn.execute(_renew_statement(conn.dialect.name),
                        {"p_digest": digest(kind, value), "p_expires_at": expires_at, "p_now": now}).first() is not None


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


@lru_cache(maxsize=None)
def _insert_statement(dialect: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING, built once per dialect (it is on the webhooks' path)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(used_once).values(
        digest=bindparam("p_digest"), expires_at=bindparam("p_expires_at")).on_conflict_do_nothing(
        index_elements=["digest"]).returning(used_once.c.digest)


@lru_cache(maxsize=None)
def _renew_statement(dialect: str):
    """INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING: a row only when this use is the first (or the
    one before it had expired)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(used_once).values(
        digest=bindparam("p_digest"), expires_at=bindparam("p_expires_at"))
    return insert.on_conflict_do_update(
        index_elements=["digest"], set_={"expires_at": insert.excluded.expires_at},
        where=used_once.c.expires_at <= bindparam("p_now")).returning(used_once.c.digest)
