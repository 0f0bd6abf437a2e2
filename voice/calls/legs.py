"""The store of legs: every call placed, voice code or alert, in one table.

Every change is one conditional UPDATE that moves a leg forward only, and is
written in the caller's transaction (so the work it calls for is committed
with it, or not at all). A callback delivered twice, or to two instances,
changes a leg once; an event carrying another Plivo call's UUID changes
nothing (`_bound_to`).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Iterable

from sqlalchemy import DateTime, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.calls.models import (
    ALERT,
    ANSWERED,
    BRIDGE,
    CALLING,
    DIALLING,
    ENDED,
    OTP,
    QUEUED,
    RINGING,
    Leg,
    Requester,
    before,
)
from voice.calls.outcomes import Outcome
from voice.store.db import DirectRead, moment, reading, transaction
from voice.store.schema import alerts, legs


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


# The Leg fields read straight from columns of the same name (on every webhook: worth doing once).
_PLAIN = tuple(f.name for f in fields(Leg) if f.name in legs.c and f.name not in ("stop_requested", "permanent",
                                                                                   "outcome"))
_MOMENTS = frozenset(column.name for column in legs.c if isinstance(column.type, DateTime))


def leg_from_row(row: RowMapping | dict) -> Leg:
    """A Leg from its row: a SQLAlchemy row, or a DirectRead's dict of driver values."""
    values = {name: (moment(row[name]) if name in _MOMENTS else row[name]) for name in _PLAIN}
    return Leg(**values, requester=requester_of(row), outcome=outcome_of(row),
               stop_requested=bool(row["stop_requested"]), permanent=bool(row["permanent"]))


def new_otp_leg(*, token: str, to_number: str, requester: Requester, sealed_code: str, code_length: int,
                request_id: str | None, now: datetime, code_id: str | None = None,
                language: str | None = None) -> dict:
    """The row of a voice code's call about to be placed; its code sealed by the caller."""
    return dict(token=token, purpose=OTP, to_number=to_number, status=QUEUED, created_at=now,
                **requester_values(requester), request_id=request_id, code_id=code_id, secret=sealed_code,
                code_length=code_length, language=language, reply_uses=0, stop_requested=False, silences=0,
                permanent=False)


# Every statement of the hot path (Plivo's webhooks) is built once, with bind
# parameters: building a statement costs more than running it.
_TOKEN = bindparam("p_token")
_UUID = bindparam("p_uuid")
_NOW = bindparam("p_now")
_BOUND = or_(legs.c.call_uuid.is_(None), legs.c.call_uuid == _UUID)  # see voice/calls/binding.py
_BY_TOKEN = select(legs).where(legs.c.token == _TOKEN)


def _transition(*conditions, **values):
    """UPDATE legs SET values WHERE token = :p_token AND conditions RETURNING the leg."""
    return update(legs).where(legs.c.token == _TOKEN, *conditions).values(**values).returning(*legs.c)


# An alert's call is dialled only while its alert is still active: taken or cancelled, it never rings.
# A call of an alert is dialled only while the alert is open; a voice code's, or one into an alert's
# voice bridge (which opens once the alert is acknowledged), whenever it is queued.
_ALERT_OPEN = or_(legs.c.alert_id.is_(None), legs.c.purpose != ALERT,
                  exists().where(alerts.c.id == legs.c.alert_id, alerts.c.status == "active"))
_START_DIALLING = _transition(legs.c.status == QUEUED, legs.c.stop_requested.is_(False), _ALERT_OPEN,
                              status=DIALLING, dialled_at=_NOW)
_UNDIAL = _transition(legs.c.status == DIALLING, legs.c.confirm_by.is_(None), status=QUEUED, dialled_at=None,
                     retrying_since=func.coalesce(legs.c.retrying_since, _NOW))
_SET_REQUEST = _transition(legs.c.request_uuid.is_(None), request_uuid=bindparam("p_request"))
_PLACED = _transition(legs.c.status == DIALLING, status=CALLING, confirm_by=None)
_UNCONFIRMED = _transition(legs.c.status == DIALLING, confirm_by=bindparam("p_confirm_by"))
_RINGING = _transition(legs.c.status.in_(before(RINGING)), _BOUND, status=RINGING, call_uuid=_UUID)
_ANSWER_VALUES = dict(status=ANSWERED, call_uuid=_UUID, answered_at=func.coalesce(legs.c.answered_at, _NOW))
_ANSWERED = _transition(legs.c.status != ENDED, _BOUND, **_ANSWER_VALUES)
_ANSWERED_WITH_CODE = _transition(legs.c.status != ENDED, _BOUND, legs.c.secret.is_not(None), **_ANSWER_VALUES)
_ANSWERED_READING = _transition(legs.c.status != ENDED, _BOUND, legs.c.secret.is_not(None),
                                legs.c.machine_at.is_(None), **_ANSWER_VALUES,
                                code_read_at=func.coalesce(legs.c.code_read_at, _NOW))
_MACHINE = _transition(legs.c.status != ENDED, legs.c.machine_at.is_(None), _BOUND,
                       machine_at=_NOW, secret=None, call_uuid=func.coalesce(legs.c.call_uuid, _UUID))
_CODE_READ = _transition(legs.c.status != ENDED, legs.c.secret.is_not(None), legs.c.machine_at.is_(None),
                         legs.c.call_uuid == _UUID, code_read_at=func.coalesce(legs.c.code_read_at, _NOW))
_END_VALUES = dict(status=ENDED, outcome=bindparam("p_outcome"), cause=bindparam("p_cause"),
                   duration=bindparam("p_duration"), cost=bindparam("p_cost"), ended_at=_NOW, secret=None,
                   permanent=bindparam("p_permanent"))
_FINISH = _transition(legs.c.status != ENDED, **_END_VALUES)
_FINISH_QUEUED = _transition(legs.c.status == QUEUED, **_END_VALUES)
# Never placed: still dialling, unconfirmed, and nothing came back from the call (no ring, no answer).
_FINISH_UNCONFIRMED = _transition(legs.c.status == DIALLING, legs.c.confirm_by.is_not(None),
                                  legs.c.call_uuid.is_(None), **_END_VALUES)
_FINISH_BOUND = _transition(legs.c.status != ENDED, _BOUND, **_END_VALUES,
                            call_uuid=func.coalesce(legs.c.call_uuid, _UUID))
_SET_COST = _transition(legs.c.cost.is_(None), cost=bindparam("p_cost"))


class LegStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._by_token = DirectRead(engine, _BY_TOKEN)

    # -- reading ---------------------------------------------------------------------

    def get(self, token: str) -> Leg | None:
        found = self.with_secret(token)
        return found[0] if found else None

    def with_secret(self, token: str) -> tuple[Leg, str | None] | None:
        """The leg and its sealed code (None once erased), in one indexed read."""
        row = self._by_token.first(p_token=token)
        return (leg_from_row(row), row["secret"]) if row else None

    def by_id(self, leg_id: int) -> Leg | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(legs).where(legs.c.id == leg_id)).mappings().first()
        return leg_from_row(row) if row else None

    def token_for_request(self, request_id: str) -> str | None:
        """The call placed for a request (a command's trigger, a Workflow step), if any."""
        with reading(self.engine) as conn:
            return conn.execute(select(legs.c.token).where(legs.c.request_id == request_id)).scalar()

    def of_alert(self, alert_id: int, position: int | None = None) -> list[Leg]:
        with reading(self.engine) as conn:
            return self.of_alert_in(conn, alert_id, position)

    @staticmethod
    def of_alert_in(conn: Connection, alert_id: int, position: int | None = None) -> list[Leg]:
        """The alert's calls, as the caller's transaction sees them."""
        query = select(legs).where(legs.c.alert_id == alert_id)
        if position is not None:
            query = query.where(legs.c.position == position)
        return [leg_from_row(row) for row in conn.execute(query.order_by(legs.c.id)).mappings()]

    # -- adding --------------------------------------------------------------------------

    @staticmethod
    def add(conn: Connection, row: dict) -> int:
        return conn.execute(insert(legs).values(**row)).inserted_primary_key[0]

    @staticmethod
    def add_alert_legs(conn: Connection, alert_id: int, position: int,
                       new_legs: Iterable[tuple[int, str, str]], now: datetime, attempt: int = 0) -> list[str]:
        """Queued legs for (target, number, token) at `position` (attempt 1: the second ring); their tokens."""
        tokens = []
        for target, number, token in new_legs:
            conn.execute(insert(legs).values(
                token=token, purpose="alert", to_number=number, status=QUEUED, created_at=now,
                alert_id=alert_id, position=position, target=target, code_length=0, reply_uses=0,
                stop_requested=False, silences=0, permanent=False, attempt=attempt,
            ))
            tokens.append(token)
        return tokens

    # -- moving forward: each a conditional UPDATE in the caller's transaction ----------------

    @staticmethod
    def _change(conn: Connection, statement, token: str, **params) -> Leg | None:
        """Apply a prebuilt transition; the leg as changed, or None if its conditions did not hold."""
        row = conn.execute(statement, {"p_token": token, **params}).mappings().first()
        return leg_from_row(row) if row else None

    def start_dialling(self, conn: Connection, token: str, now: datetime) -> Leg | None:
        """Queued → dialling, unless its alert was taken meanwhile: only one create-call, ever."""
        return self._change(conn, _START_DIALLING, token, p_now=now)

    def undial(self, conn: Connection, token: str, now: datetime) -> Leg | None:
        """Back to queued: the create-call certainly did not reach Plivo (a 5xx, no connection, a 429);
        it is being retried since the first such failure."""
        return self._change(conn, _UNDIAL, token, p_now=now)

    def placed(self, conn: Connection, token: str, request_uuid: str) -> Leg | None:
        """Plivo accepted the request; the leg as it stands (a callback may already have moved it on)."""
        named = self._change(conn, _SET_REQUEST, token, p_request=request_uuid)
        return self._change(conn, _PLACED, token) or named

    def unconfirmed(self, conn: Connection, token: str, confirm_by: datetime) -> Leg | None:
        """Plivo may or may not have placed the call: it stays open until `confirm_by`."""
        return self._change(conn, _UNCONFIRMED, token, p_confirm_by=confirm_by)

    def ringing(self, conn: Connection, token: str, call_uuid: str) -> Leg | None:
        return self._change(conn, _RINGING, token, p_uuid=call_uuid)

    def answered(self, conn: Connection, token: str, call_uuid: str, now: datetime, *,
                 needs_secret: bool = False, read_code: bool = False) -> Leg | None:
        """The answer request binds the leg to its call UUID; None for an ended or another call's leg.

        `needs_secret`: only while its code is there; `read_code`: the code is read at once.
        """
        statement = _ANSWERED_READING if read_code else _ANSWERED_WITH_CODE if needs_secret else _ANSWERED
        return self._change(conn, statement, token, p_uuid=call_uuid, p_now=now)

    def machine(self, conn: Connection, token: str, call_uuid: str, now: datetime) -> Leg | None:
        """An answering machine took the call: its code is erased so nothing reads it to the machine."""
        return self._change(conn, _MACHINE, token, p_uuid=call_uuid, p_now=now)

    def code_read(self, conn: Connection, token: str, call_uuid: str, now: datetime) -> Leg | None:
        """The code is about to be spoken on this very call: it must still be there, and no machine."""
        return self._change(conn, _CODE_READ, token, p_uuid=call_uuid, p_now=now)

    def finish(self, conn: Connection, token: str, *, outcome: Outcome, now: datetime, cause: str | None = None,
               duration: int | None = None, cost: str | None = None, call_uuid: str | None = None,
               permanent: bool = False, only_if_queued: bool = False, only_if_unconfirmed: bool = False) -> Leg | None:
        """End a leg once and erase its code; the leg if this ended it.

        With a `call_uuid` (Plivo's hangup), only a leg bound to no other call ends;
        `only_if_queued`: only a leg never dialled; `only_if_unconfirmed`: only one still unconfirmed.
        """
        if only_if_unconfirmed:
            statement = _FINISH_UNCONFIRMED
        else:
            statement = _FINISH_QUEUED if only_if_queued else _FINISH_BOUND if call_uuid else _FINISH
        return self._change(conn, statement, token, p_outcome=outcome.value, p_cause=cause, p_duration=duration,
                            p_cost=cost, p_now=now, p_permanent=permanent, p_uuid=call_uuid)

    def set_cost(self, conn: Connection, token: str, cost: str) -> Leg | None:
        return self._change(conn, _SET_COST, token, p_cost=cost)

    def erase_secret_of_code(self, conn: Connection, code_id: str) -> None:
        """A code was verified, replaced or killed: no call may read it any more."""
        conn.execute(update(legs).where(legs.c.code_id == code_id).values(secret=None))

    def count_silence(self, conn: Connection, token: str) -> int:
        row = conn.execute(update(legs).where(legs.c.token == token).values(silences=legs.c.silences + 1)
                           .returning(legs.c.silences)).first()
        return row[0] if row else 0

    @staticmethod
    def add_bridge_leg(conn: Connection, alert_id: int, number: str, token: str, who: Requester,
                       now: datetime, language: str | None = None) -> str:
        """A queued call into the alert's voice bridge, to `who` (a Slack user) at `number`, speaking
        `language` (their Slack locale); its token."""
        conn.execute(insert(legs).values(
            token=token, purpose=BRIDGE, to_number=number, status=QUEUED, created_at=now, alert_id=alert_id,
            language=language[:8] if language else None,
            **requester_values(who), code_length=0, reply_uses=0, stop_requested=False, silences=0,
            permanent=False, attempt=0,
        ))
        return token

    @staticmethod
    def entered_bridge(conn: Connection, token: str, now: datetime, member: str | None = None) -> bool:
        # Once: a late "enter" after the call's exit or its end (callbacks out of order) changes nothing.
        return conn.execute(update(legs).where(
            legs.c.token == token, legs.c.bridge_joined_at.is_(None), legs.c.bridge_left_at.is_(None),
            legs.c.status != ENDED).values(bridge_joined_at=now, bridge_member=member)).rowcount == 1

    @staticmethod
    def left_bridge(conn: Connection, token: str, now: datetime) -> bool:
        return conn.execute(update(legs).where(legs.c.token == token, legs.c.bridge_joined_at.is_not(None),
                                               legs.c.bridge_left_at.is_(None))
                            .values(bridge_left_at=now)).rowcount == 1

    def mark_passed(self, conn: Connection, token: str, now: datetime) -> bool:
        """The callee passed the alert on (once, while the call is live); whether this did it."""
        return conn.execute(update(legs).where(legs.c.token == token, legs.c.passed_at.is_(None),
                                               legs.c.status != ENDED).values(passed_at=now)).rowcount == 1

    def reset_silences(self, conn: Connection, token: str) -> None:
        conn.execute(update(legs).where(legs.c.token == token, legs.c.silences != 0).values(silences=0))

    def request_stop(self, conn: Connection, alert_id: int, keep_leg: int | None) -> list[Leg]:
        """Flag every live leg of the alert but `keep_leg` to be stopped; those legs."""
        live = (legs.c.alert_id == alert_id) & (legs.c.status != ENDED) & (legs.c.purpose == ALERT)
        if keep_leg is not None:
            live = live & (legs.c.id != keep_leg)
        rows = conn.execute(update(legs).where(live).values(stop_requested=True).returning(*legs.c)).mappings().all()
        return [leg_from_row(row) for row in sorted(rows, key=lambda row: row["id"])]

    @staticmethod
    def request_stop_of(conn: Connection, token: str) -> bool:
        """Flag one live leg to be stopped (once); whether this flagged it."""
        return conn.execute(update(legs).where(legs.c.token == token, legs.c.status != ENDED,
                                               legs.c.stop_requested.is_(False))
                            .values(stop_requested=True)).rowcount == 1

    # -- the status message of a voice code's call --------------------------------------------

    def attach_message(self, token: str, via: str, channel: str | None, ts: str | None, reply_uses: int,
                       digest: str | None = None) -> None:
        with transaction(self.engine) as conn:
            conn.execute(update(legs).where(legs.c.token == token).values(
                message_via=via, message_channel=channel, message_ts=ts, reply_uses=reply_uses,
                message_digest=digest))

    def shown(self, token: str, digest: str) -> None:
        """The status message now shows what `digest` stands for."""
        with transaction(self.engine) as conn:
            conn.execute(update(legs).where(legs.c.token == token).values(message_digest=digest))

    def spend_reply_use(self, token: str, limit: int) -> bool:
        """Take one use of the call's response_url if fewer than `limit` were taken; whether it was."""
        with transaction(self.engine) as conn:
            return conn.execute(update(legs).where(legs.c.token == token, legs.c.reply_uses < limit)
                                .values(reply_uses=legs.c.reply_uses + 1)).rowcount == 1
