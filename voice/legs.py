"""The store of legs: every call placed, voice code or alert, in one table.

Every change is one conditional UPDATE that moves a leg forward only, and is
written in the caller's transaction (so the work it calls for is committed
with it, or not at all). A callback delivered twice, or to two instances,
changes a leg once; an event carrying another Plivo call's UUID changes
nothing (`_bound_to`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.db import reading, record_from_row
from voice.models import ANSWERED, CALLING, DIALLING, ENDED, OTP, QUEUED, RINGING, Leg, Requester, before
from voice.outcomes import Outcome
from voice.schema import legs


def requester_values(requester: Requester) -> dict:
    return dict(requester_id=requester.user_id, channel_id=requester.channel_id,
                team_id=requester.team_id, reply_url=requester.reply_url)


def requester_of(row: RowMapping) -> Requester | None:
    if row["requester_id"] is None:
        return None
    return Requester(user_id=row["requester_id"], channel_id=row["channel_id"] or "",
                     team_id=row["team_id"] or "", reply_url=row["reply_url"])


def outcome_of(row: RowMapping) -> Outcome | None:
    return Outcome(row["outcome"]) if row["outcome"] else None


def leg_from_row(row: RowMapping) -> Leg:
    return record_from_row(Leg, row, requester=requester_of(row), outcome=outcome_of(row),
                           stop_requested=bool(row["stop_requested"]), permanent=bool(row["permanent"]))


def new_otp_leg(*, token: str, to_number: str, requester: Requester, sealed_code: str, code_length: int,
                request_id: str | None, now: datetime, code_id: str | None = None,
                language: str | None = None) -> dict:
    """The row of a voice code's call about to be placed; its code sealed by the caller."""
    return dict(token=token, purpose=OTP, to_number=to_number, status=QUEUED, created_at=now,
                **requester_values(requester), request_id=request_id, code_id=code_id, secret=sealed_code,
                code_length=code_length, language=language, reply_uses=0, stop_requested=False, silences=0,
                permanent=False)


def _bound_to(call_uuid: str):
    """Bound to no Plivo call yet, or to this one (see voice/binding.py)."""
    return or_(legs.c.call_uuid.is_(None), legs.c.call_uuid == call_uuid)


class LegStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading ---------------------------------------------------------------------

    def get(self, token: str) -> Leg | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(legs).where(legs.c.token == token)).mappings().first()
        return leg_from_row(row) if row else None

    def with_secret(self, token: str) -> tuple[Leg, str | None] | None:
        """The leg and its sealed code (None once erased), in one indexed read."""
        with reading(self.engine) as conn:
            row = conn.execute(select(legs).where(legs.c.token == token)).mappings().first()
        return (leg_from_row(row), row["secret"]) if row else None

    def by_id(self, leg_id: int) -> Leg | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(legs).where(legs.c.id == leg_id)).mappings().first()
        return leg_from_row(row) if row else None

    def of_alert(self, alert_id: int, position: int | None = None) -> list[Leg]:
        query = select(legs).where(legs.c.alert_id == alert_id)
        if position is not None:
            query = query.where(legs.c.position == position)
        with reading(self.engine) as conn:
            return [leg_from_row(row) for row in conn.execute(query.order_by(legs.c.id)).mappings()]

    # -- adding --------------------------------------------------------------------------

    @staticmethod
    def add(conn: Connection, row: dict) -> int:
        return conn.execute(insert(legs).values(**row)).inserted_primary_key[0]

    @staticmethod
    def add_alert_legs(conn: Connection, alert_id: int, position: int,
                       new_legs: Iterable[tuple[int, str, str]], now: datetime) -> list[str]:
        """Queued legs for (target, number, token) at `position`; their tokens."""
        tokens = []
        for target, number, token in new_legs:
            conn.execute(insert(legs).values(
                token=token, purpose="alert", to_number=number, status=QUEUED, created_at=now,
                alert_id=alert_id, position=position, target=target, code_length=0, reply_uses=0,
                stop_requested=False, silences=0, permanent=False,
            ))
            tokens.append(token)
        return tokens

    # -- moving forward: each a conditional UPDATE in the caller's transaction ----------------

    @staticmethod
    def _change(conn: Connection, token: str, *conditions, **values) -> Leg | None:
        """Apply the change if the conditions hold; the leg as changed, or None."""
        row = conn.execute(
            update(legs).where(legs.c.token == token, *conditions).values(**values).returning(*legs.c)
        ).mappings().first()
        return leg_from_row(row) if row else None

    def start_dialling(self, conn: Connection, token: str, now: datetime) -> Leg | None:
        """Queued → dialling, unless its alert was taken meanwhile: only one create-call, ever."""
        return self._change(conn, token, legs.c.status == QUEUED, legs.c.stop_requested.is_(False),
                            status=DIALLING, dialled_at=now)

    def undial(self, conn: Connection, token: str) -> Leg | None:
        """Back to queued: the create-call certainly did not reach Plivo (no connection, a 429)."""
        return self._change(conn, token, legs.c.status == DIALLING, legs.c.confirm_by.is_(None),
                            status=QUEUED, dialled_at=None)

    def placed(self, conn: Connection, token: str, request_uuid: str) -> Leg | None:
        """Plivo accepted the request; a callback may already have moved the leg on."""
        self._change(conn, token, legs.c.request_uuid.is_(None), request_uuid=request_uuid)
        return self._change(conn, token, legs.c.status == DIALLING, status=CALLING, confirm_by=None)

    def unconfirmed(self, conn: Connection, token: str, confirm_by: datetime) -> Leg | None:
        """Plivo may or may not have placed the call: it stays open until `confirm_by`."""
        return self._change(conn, token, legs.c.status == DIALLING, confirm_by=confirm_by)

    def ringing(self, conn: Connection, token: str, call_uuid: str) -> Leg | None:
        return self._change(conn, token, legs.c.status.in_(before(RINGING)), _bound_to(call_uuid),
                            status=RINGING, call_uuid=call_uuid)

    def answered(self, conn: Connection, token: str, call_uuid: str, now: datetime, *,
                 needs_secret: bool = False, read_code: bool = False) -> Leg | None:
        """The answer request binds the leg to its call UUID; None for an ended or another call's leg.

        `needs_secret`: only while its code is there; `read_code`: the code is read at once.
        """
        conditions = [legs.c.status != ENDED, _bound_to(call_uuid)]
        values = dict(status=ANSWERED, call_uuid=call_uuid, answered_at=func.coalesce(legs.c.answered_at, now))
        if needs_secret:
            conditions.append(legs.c.secret.is_not(None))
        if read_code:
            conditions.append(legs.c.machine_at.is_(None))
            values["code_read_at"] = func.coalesce(legs.c.code_read_at, now)
        return self._change(conn, token, *conditions, **values)

    def machine(self, conn: Connection, token: str, call_uuid: str, now: datetime) -> Leg | None:
        """An answering machine took the call: its code is erased so nothing reads it to the machine."""
        return self._change(conn, token, legs.c.status != ENDED, legs.c.machine_at.is_(None), _bound_to(call_uuid),
                            machine_at=now, secret=None, call_uuid=func.coalesce(legs.c.call_uuid, call_uuid))

    def code_read(self, conn: Connection, token: str, call_uuid: str, now: datetime) -> Leg | None:
        """The code is about to be spoken on this very call: it must still be there, and no machine."""
        return self._change(conn, token, legs.c.status != ENDED, legs.c.secret.is_not(None),
                            legs.c.machine_at.is_(None), legs.c.call_uuid == call_uuid,
                            code_read_at=func.coalesce(legs.c.code_read_at, now))

    def finish(self, conn: Connection, token: str, *, outcome: Outcome, now: datetime, cause: str | None = None,
               duration: int | None = None, cost: str | None = None, call_uuid: str | None = None,
               permanent: bool = False, only_if_queued: bool = False) -> Leg | None:
        """End a leg once and erase its code; the leg if this ended it.

        With a `call_uuid` (Plivo's hangup), only a leg bound to no other call ends.
        """
        conditions = [legs.c.status == QUEUED if only_if_queued else legs.c.status != ENDED]
        values = dict(status=ENDED, outcome=outcome.value, cause=cause, duration=duration, cost=cost, ended_at=now,
                      secret=None, permanent=permanent)
        if call_uuid:
            conditions.append(_bound_to(call_uuid))
            values["call_uuid"] = func.coalesce(legs.c.call_uuid, call_uuid)
        return self._change(conn, token, *conditions, **values)

    def set_cost(self, conn: Connection, token: str, cost: str) -> Leg | None:
        return self._change(conn, token, legs.c.cost.is_(None), cost=cost)

    def erase_secret_of_code(self, conn: Connection, code_id: str) -> None:
        """A code was verified, replaced or killed: no call may read it any more."""
        conn.execute(update(legs).where(legs.c.code_id == code_id).values(secret=None))

    def count_silence(self, conn: Connection, token: str) -> int:
        row = conn.execute(update(legs).where(legs.c.token == token).values(silences=legs.c.silences + 1)
                           .returning(legs.c.silences)).first()
        return row[0] if row else 0

    def reset_silences(self, conn: Connection, token: str) -> None:
        conn.execute(update(legs).where(legs.c.token == token, legs.c.silences != 0).values(silences=0))

    def request_stop(self, conn: Connection, alert_id: int, keep_leg: int | None) -> list[Leg]:
        """Flag every live leg of the alert but `keep_leg` to be stopped; those legs."""
        live = (legs.c.alert_id == alert_id) & (legs.c.status != ENDED)
        if keep_leg is not None:
            live = live & (legs.c.id != keep_leg)
        rows = conn.execute(update(legs).where(live).values(stop_requested=True).returning(*legs.c)).mappings().all()
        return [leg_from_row(row) for row in sorted(rows, key=lambda row: row["id"])]

    # -- the status message of a voice code's call --------------------------------------------

    def attach_message(self, token: str, via: str, channel: str | None, ts: str | None, reply_uses: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(legs).where(legs.c.token == token).values(
                message_via=via, message_channel=channel, message_ts=ts, reply_uses=reply_uses))

    def spend_reply_use(self, token: str, limit: int) -> bool:
        """Take one use of the call's response_url if fewer than `limit` were taken; whether it was."""
        with self.engine.begin() as conn:
            return conn.execute(update(legs).where(legs.c.token == token, legs.c.reply_uses < limit)
                                .values(reply_uses=legs.c.reply_uses + 1)).rowcount == 1
