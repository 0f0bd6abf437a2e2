"""Things good once (voice/store/once.py): the first use wins everywhere, and what has expired is forgotten."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from voice.store.db import make_engine
from voice.store.migrate import prepare_database
from voice.store.once import INSTALL_STATE, PLIVO_NONCE, UsedOnce
from voice.store.schema import used_once


def rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(used_once)).scalar()


def test_a_value_is_used_once_per_kind_and_forgotten_once_it_expired(database_url, clock):
    engine = make_engine(database_url)
    prepare_database(engine)
    once = UsedOnce(engine, clock)
    assert once.first_use(PLIVO_NONCE, "/plivo/key/tok\x0012345", timedelta(hours=2))
    assert not once.first_use(PLIVO_NONCE, "/plivo/key/tok\x0012345", timedelta(hours=2))
    assert once.first_use(INSTALL_STATE, "/plivo/key/tok\x0012345", timedelta(minutes=10))  # another kind
    assert once.used(PLIVO_NONCE, "/plivo/key/tok\x0012345") and not once.used(PLIVO_NONCE, "other")
    clock.advance(minutes=11)
    assert once.forget_expired() == 1  # the install state; the nonce is kept its two hours
    assert not once.first_use(PLIVO_NONCE, "/plivo/key/tok\x0012345", timedelta(hours=2))
    clock.advance(hours=2)
    assert once.forget_expired() == 1 and rows(engine) == 0
    engine.dispose()


def test_the_database_holds_a_digest_never_the_value(database_url, clock):
    engine = make_engine(database_url)
    prepare_database(engine)
    UsedOnce(engine, clock).first_use(INSTALL_STATE, "a-secret-state-value", timedelta(minutes=10))
    with engine.connect() as conn:
        [(digest, _)] = conn.execute(select(used_once)).all()
    assert len(digest) == 64 and "secret" not in digest
    engine.dispose()
