"""The database helpers: the webhooks' direct read gives back what SQLAlchemy would, on SQLite and
PostgreSQL, and leaves a pooled connection as it found it, even when the read fails."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, insert, literal_column, select, text
from sqlalchemy.exc import IntegrityError

from voice.calls.legs import _BY_TOKEN, LegStore
from voice.store.db import DirectRead, is_outage, make_engine, moment
from voice.store.schema import legs

NOW = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def test_a_leg_read_directly_is_the_leg_sqlalchemy_reads(engine):
    with engine.begin() as conn:
        conn.execute(insert(legs).values(token="t" * 22, purpose="otp", to_number="+14155550123", status="answered",
                                         created_at=NOW, code_read_at=NOW, stop_requested=True, permanent=False,
                                         reply_uses=0, silences=0, code_length=6, secret="sealed"))
        through_sqlalchemy = conn.execute(_BY_TOKEN, {"p_token": "t" * 22}).mappings().first()
    leg, secret = LegStore(engine).with_secret("t" * 22)
    assert secret == "sealed" and leg.stop_requested is True and leg.permanent is False
    assert leg.created_at == NOW and leg.code_read_at == NOW and leg.answered_at is None
    assert leg.to_number == through_sqlalchemy["to_number"] and leg.id == through_sqlalchemy["id"]
    assert LegStore(engine).with_secret("u" * 22) is None


def test_moments_come_back_in_utc_from_either_driver():
    assert moment("2026-12-01 12:00:00.123456") == NOW
    assert moment(NOW) == NOW and moment(None) is None


def test_a_failed_direct_read_leaves_the_pooled_postgresql_connection_transactional(postgres_url):
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)  # the next user gets this connection
    try:
        with pytest.raises(Exception):
            DirectRead(engine, select(literal_column("1 / 0"))).first()
        with engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit is False
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_an_unreachable_or_read_only_database_is_told_from_a_mistake_of_ours(engine, tmp_path):
    gone = make_engine(f"sqlite:///{tmp_path}/no/such/dir/x.sqlite3")  # cannot even be opened
    try:
        with pytest.raises(Exception) as unreachable:
            gone.connect()
        assert is_outage(unreachable.value, gone)
    finally:
        gone.dispose()
    driver = engine.dialect.dbapi
    # The webhooks' direct read runs on the driver's cursor, whose errors SQLAlchemy does not wrap.
    assert is_outage(driver.OperationalError("server closed the connection unexpectedly"), engine)
    with pytest.raises(IntegrityError) as duplicate:
        with engine.begin() as conn:
            row = dict(token="d" * 22, purpose="otp", to_number="+14155550123", status="queued", created_at=NOW,
                       stop_requested=False, permanent=False, reply_uses=0, silences=0, code_length=0)
            conn.execute(insert(legs).values(**row))
            conn.execute(insert(legs).values(**row))
    assert not is_outage(duplicate.value, engine) and not is_outage(ValueError("a bug"), engine)
