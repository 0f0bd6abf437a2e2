"""The store of hotline calls. Each move of a call (waiting → connected, voicemail or ended) is one
conditional UPDATE in the caller's transaction: Plivo's callbacks, the wait running out and the call-outs
ending may race; one of them moves it."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from voice.hotline.models import InboundCall
from voice.store.db import reading, record_from_row, transaction
from voice.store.schema import hotline_calls


class HotlineStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, call_id: int) -> InboundCall | None:
        return self._one(hotline_calls.c.id == call_id)

    def by_token(self, token: str) -> InboundCall | None:
        return self._one(hotline_calls.c.token == token)

    def by_uuid(self, call_uuid: str) -> InboundCall | None:
        return self._one(hotline_calls.c.call_uuid == call_uuid)

    @staticmethod
    def get_in(conn: Connection, call_id: int) -> InboundCall | None:
        """The call as the caller's transaction sees it."""
        row = conn.execute(select(hotline_calls).where(hotline_calls.c.id == call_id)).mappings().first()
        return _call(row) if row else None

    def by_alert(self, conn: Connection, alert_id: int) -> InboundCall | None:
        row = conn.execute(select(hotline_calls).where(hotline_calls.c.alert_id == alert_id)).mappings().first()
        return _call(row) if row else None

    def _one(self, condition) -> InboundCall | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(hotline_calls).where(condition)).mappings().first()
        return _call(row) if row else None

    @staticmethod
    def add(conn: Connection, **values) -> int | None:
        """A new inbound call; None if its CallUUID was seen (Plivo asked for its answer again)."""
        try:
            with conn.begin_nested():
                return conn.execute(insert(hotline_calls).values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None

    @staticmethod
    def phoned_for(conn: Connection, caller: str | None, since: datetime) -> int:
        """How many calls from `caller` (withheld callers together) phoned someone since `since`."""
        same = hotline_calls.c.caller.is_(None) if caller is None else hotline_calls.c.caller == caller
        return conn.execute(select(func.count()).select_from(hotline_calls).where(
            same, hotline_calls.c.alert_id.is_not(None), hotline_calls.c.created_at > since)).scalar()

    @staticmethod
    def set_alert(conn: Connection, call_id: int, alert_id: int) -> None:
        conn.execute(update(hotline_calls).where(hotline_calls.c.id == call_id).values(alert_id=alert_id))

    @staticmethod
    def move(conn: Connection, call_id: int, from_statuses: Sequence[str], status: str, **values) -> bool:
        return conn.execute(update(hotline_calls).where(hotline_calls.c.id == call_id,
                                                        hotline_calls.c.status.in_(list(from_statuses)))
                            .values(status=status, **values)).rowcount == 1

    @staticmethod
    def called_back(conn: Connection, call_id: int, user_id: str) -> None:
        """Who clicked Call back last (a call never called back has none: its message reads no callbacks)."""
        conn.execute(update(hotline_calls).where(hotline_calls.c.id == call_id).values(callback_by=user_id))

    @staticmethod
    def note(conn: Connection, call_id: int, **values) -> bool:
        """Values of a call that only fill in (each once: a field already set stays)."""
        conditions = [hotline_calls.c.id == call_id] + [getattr(hotline_calls.c, name).is_(None) for name in values]
        return conn.execute(update(hotline_calls).where(*conditions).values(**values)).rowcount == 1

    def attach_message(self, call_id: int, channel: str | None, ts: str | None, digest: str) -> None:
        with transaction(self.engine) as conn:
            conn.execute(update(hotline_calls).where(hotline_calls.c.id == call_id).values(
                message_via="chat", message_channel=channel, message_ts=ts, message_digest=digest))

    def shown(self, call_id: int, digest: str) -> None:
        with transaction(self.engine) as conn:
            conn.execute(update(hotline_calls).where(hotline_calls.c.id == call_id).values(message_digest=digest))


def _call(row: RowMapping) -> InboundCall:
    return record_from_row(InboundCall, row, channel=row["channel_id"])
