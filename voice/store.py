"""The store: calls and their codes, through SQLAlchemy Core.

SQLite by default, PostgreSQL when DATABASE_URL says so. Every state change is
one conditional UPDATE, so a callback delivered twice, or to two instances
sharing the database, changes a call only once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from voice.clock import as_utc
from voice.models import ANSWERED, CALLING, ENDED, QUEUED, RINGING, CallRecord, Requester
from voice.outcomes import Outcome

log = logging.getLogger(__name__)

metadata = MetaData()


@dataclass(frozen=True)
class Claimed:
    """A call as an answer or key press found it, with its code still sealed."""

    call: CallRecord
    sealed_code: str
    first: bool


def requester_columns() -> list[Column]:
    """Who asked, and where to report: the same columns for calls and alerts."""
    return [
        Column("requester_id", String(32), nullable=False),
        Column("channel_id", String(32), nullable=False),
        Column("team_id", String(32), nullable=False, default=""),
        Column("reply_url", Text),
    ]


def requester_values(requester: Requester) -> dict:
    return dict(requester_id=requester.user_id, channel_id=requester.channel_id,
                team_id=requester.team_id, reply_url=requester.reply_url)


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


def outcome_of(row: RowMapping) -> Outcome | None:
    return Outcome(row["outcome"]) if row["outcome"] else None


def requester_of(row: RowMapping) -> Requester:
    return Requester(user_id=row["requester_id"], channel_id=row["channel_id"],
                     team_id=row["team_id"], reply_url=row["reply_url"])


calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("to_number", String(20), nullable=False),
    *requester_columns(),
    Column("request_id", String(128), unique=True),
    # The code, sealed (voice/sealing.py), only while the call may still need it; see finish().
    Column("secret", String(96)),
    Column("code_length", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    # Where the status message lives: "chat" (channel + ts) or "reply_url".
    Column("message_via", String(16)),
    Column("message_channel", String(32)),
    Column("message_ts", String(32)),
    # Uses of the command's response_url so far: Slack allows 5 (see bot/reporter.py).
    Column("reply_uses", Integer, nullable=False, default=0),
    Column("request_uuid", String(64), index=True),
    Column("call_uuid", String(64)),
    Column("outcome", String(16)),
    Column("cause", Text),
    Column("duration", Integer),
    Column("cost", String(16)),  # Plivo's TotalCost, a decimal string in USD
    Column("code_id", String(64), index=True),  # the otp_codes row this call reads
    Column("language", String(8)),  # the `lang=` asked for, if any
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("answered_at", DateTime(timezone=True)),
    Column("code_read_at", DateTime(timezone=True)),  # first time the code was spoken
    Column("machine_at", DateTime(timezone=True)),  # answering machine detected
    # Plivo did not confirm the create-call (it timed out): the call may still
    # ring until then, and stays answerable; after it, it counts as never placed.
    Column("confirm_by", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
)


def new_call_row(
    *,
    token: str,
    kind: str,
    to_number: str,
    requester: Requester,
    sealed_code: str,
    code_length: int,
    request_id: str | None,
    now: datetime,
    code_id: str | None = None,
    language: str | None = None,
) -> dict:
    """The row of a call about to be placed; its code sealed by CallService.seal."""
    return dict(
        token=token,
        kind=kind,
        to_number=to_number,
        **requester_values(requester),
        request_id=request_id,
        secret=sealed_code,
        code_length=code_length,
        status=QUEUED,
        created_at=now,
        code_id=code_id,
        language=language,
    )


def make_engine(database_url: str) -> Engine:
    # hide_parameters: a failed statement's message would otherwise carry its
    # bound values, a code among them, into the log.
    engine = create_engine(database_url, pool_pre_ping=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets the answer route read while a callback writes; the timeout
    # makes concurrent writers wait instead of failing with "locked";
    # secure_delete overwrites what an UPDATE or DELETE removed, instead of
    # leaving it in free pages (https://www.sqlite.org/pragma.html#pragma_secure_delete).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._schema_ready = False

    @classmethod
    def from_url(cls, database_url: str) -> "Store":
        return cls(make_engine(database_url))

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        self._schema_ready = True

    def ready(self) -> bool:
        """Whether the database answers and has our tables (created on first success)."""
        try:
            if not self._schema_ready:
                self.create_schema()
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            log.warning("database not reachable: %s", type(error).__name__)
            return False
        return True

    # -- writing -------------------------------------------------------------

    def add_call(self, row: dict) -> CallRecord | None:
        """Store a new call (see new_call_row); None if its request_id was seen before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(calls).values(**row))
        except IntegrityError:
            return None
        return self.get(row["token"])

    def attach_message(self, token: str, via: str, channel: str | None = None, ts: str | None = None,
                       reply_uses: int = 0) -> None:
        self._update(token, message_via=via, message_channel=channel, message_ts=ts, reply_uses=reply_uses)

    def spend_reply_use(self, token: str, limit: int) -> bool:
        """Take one use of the call's response_url if fewer than `limit` were taken; whether it was."""
        return self._update_where(token, calls.c.reply_uses < limit, reply_uses=calls.c.reply_uses + 1)

    def mark_dialled(self, token: str, request_uuid: str) -> None:
        """Record Plivo's request UUID; a callback may already have moved the status on."""
        with self.engine.begin() as conn:
            conn.execute(
                update(calls)
                .where(calls.c.token == token)
                .values(request_uuid=request_uuid)
            )
            conn.execute(
                update(calls)
                .where(calls.c.token == token, calls.c.status == QUEUED)
                .values(status=CALLING)
            )

    def mark_unconfirmed(self, token: str, confirm_by: datetime) -> CallRecord | None:
        """Plivo may or may not have placed the call: keep it open until `confirm_by`."""
        changed = self._update_where(token, calls.c.status == QUEUED, status=CALLING, confirm_by=confirm_by)
        return self.get(token) if changed else None

    def mark_ringing(self, token: str, call_uuid: str) -> CallRecord | None:
        """Move a call to ringing; the record if this changed it, else None."""
        changed = self._update_where(
            token,
            calls.c.status.in_((QUEUED, CALLING)),
            _bound_to(call_uuid),
            status=RINGING,
            call_uuid=func.coalesce(calls.c.call_uuid, call_uuid),
        )
        return self.get(token) if changed else None

    def claim_answer(self, token: str, call_uuid: str, now: datetime) -> Claimed | None:
        """The call and its sealed code for Plivo's answer request, or None.

        The first call UUID seen binds the token: a request for another call
        UUID, or for a call that has ended, gets nothing.
        """
        before = self.get(token)
        row = self._change_and_read(
            token,
            (calls.c.status != ENDED, calls.c.secret.is_not(None),
             or_(calls.c.call_uuid.is_(None), calls.c.call_uuid == call_uuid)),
            status=ANSWERED,
            call_uuid=call_uuid,
            answered_at=func.coalesce(calls.c.answered_at, now),
        )
        if row is None:
            return None
        first = before is None or before.status != ANSWERED
        return Claimed(call=call_from_row(row), sealed_code=row["secret"], first=first)

    def finish(
        self,
        token: str,
        *,
        outcome: Outcome,
        cause: str | None,
        duration: int | None,
        call_uuid: str | None,
        now: datetime,
        cost: str | None = None,
    ) -> CallRecord | None:
        """End a call once and erase its code; the record if this call ended it.

        With a `call_uuid` (Plivo's hangup), only a call bound to no other UUID ends.
        """
        changed = self._update_where(
            token,
            calls.c.status != ENDED,
            *((_bound_to(call_uuid),) if call_uuid else ()),
            status=ENDED,
            outcome=outcome.value,
            cause=cause,
            duration=duration,
            ended_at=now,
            secret=None,
            cost=cost,
            **({"call_uuid": call_uuid} if call_uuid else {}),
        )
        return self.get(token) if changed else None

    def serve_code(self, token: str, call_uuid: str, now: datetime) -> Claimed | None:
        """The sealed code for a key press on a live call of that call UUID, marking it read."""
        row = self._change_and_read(
            token,
            (calls.c.status != ENDED, calls.c.secret.is_not(None), calls.c.machine_at.is_(None),
             calls.c.call_uuid == call_uuid),
            code_read_at=func.coalesce(calls.c.code_read_at, now),
        )
        return Claimed(call=call_from_row(row), sealed_code=row["secret"], first=False) if row else None

    def mark_machine(self, token: str, call_uuid: str, now: datetime) -> CallRecord | None:
        """An answering machine took the call: erase its code so nothing reads it."""
        changed = self._update_where(
            token, calls.c.status != ENDED, calls.c.machine_at.is_(None), _bound_to(call_uuid),
            machine_at=now, secret=None, call_uuid=func.coalesce(calls.c.call_uuid, call_uuid),
        )
        return self.get(token) if changed else None

    def set_cost(self, token: str, cost: str) -> CallRecord | None:
        changed = self._update_where(token, calls.c.cost.is_(None), cost=cost)
        return self.get(token) if changed else None

    # -- reading -------------------------------------------------------------

    def get(self, token: str) -> CallRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.token == token)).mappings().first()
        return call_from_row(row) if row else None

    def unconfirmed_before(self, moment: datetime) -> list[CallRecord]:
        """Calls Plivo never confirmed, nor called back about, whose time to ring is over."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(calls).where(calls.c.status == CALLING, calls.c.confirm_by < moment,
                                    calls.c.call_uuid.is_(None))
            ).mappings().all()
        return [call_from_row(row) for row in rows]

    def unfinished_before(self, moment: datetime) -> list[CallRecord]:
        """Calls created before `moment` that have not ended."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(calls).where(calls.c.status != ENDED, calls.c.created_at < moment)
            ).mappings().all()
        return [call_from_row(row) for row in rows]

    # -- internals -----------------------------------------------------------

    def _update(self, token: str, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(calls).where(calls.c.token == token).values(**values))

    def _change_and_read(self, token: str, conditions: tuple, **values) -> RowMapping | None:
        """Apply a conditional change; the row as changed (secret included), or None if it did not apply."""
        with self.engine.begin() as conn:
            result = conn.execute(update(calls).where(calls.c.token == token, *conditions).values(**values))
            if result.rowcount != 1:
                return None
            return conn.execute(select(calls).where(calls.c.token == token)).mappings().one()

    def _update_where(self, token: str, *conditions, **values) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(calls).where(calls.c.token == token, *conditions).values(**values)
            )
        return result.rowcount == 1


def _bound_to(call_uuid: str):
    """The call is bound to no Plivo call yet, or to this one."""
    return or_(calls.c.call_uuid.is_(None), calls.c.call_uuid == call_uuid)


def call_from_row(row: RowMapping) -> CallRecord:
    return record_from_row(CallRecord, row, requester=requester_of(row), outcome=outcome_of(row))
