"""The store of alerts and their calls (legs), beside the calls table.

As in voice/store.py, every change that must happen once is one conditional
UPDATE: the first acknowledgement, the move to the next position, the end of
a leg. Two instances sharing a PostgreSQL database, or Plivo delivering a
callback twice, cannot make any of them happen twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Sequence

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from voice.alert_models import ACTIVE, EXHAUSTED, AlertRecord, Leg, NewAlert, Skipped, Target
from voice.models import ANSWERED, CALLING, ENDED, QUEUED, RINGING
from voice.outcomes import Outcome
from voice.store import metadata, outcome_of, record_from_row, requester_columns, requester_of, requester_values

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", String(128), unique=True),
    *requester_columns(),
    Column("sender_name", String(200), nullable=False),
    Column("channel_name", String(200)),
    # The message lives here and nowhere else: never in a URL.
    Column("message", Text, nullable=False),
    Column("targets", Text, nullable=False),  # JSON list of Target
    Column("skipped", Text, nullable=False, default="[]"),  # JSON list of Skipped
    Column("rounds", Integer, nullable=False),
    Column("retry_delay", Integer, nullable=False),
    Column("position", Integer, nullable=False, default=-1),
    Column("next_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_via", String(8)),
    Column("resolved_by", String(32)),
    Column("resolved_name", String(200)),
    Column("resolved_number", String(20)),
    Column("resolved_leg", Integer),
    Column("message_via", String(16)),
    Column("message_channel", String(32)),
    Column("message_ts", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

legs = Table(
    "alert_legs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("target", Integer, nullable=False),
    Column("to_number", String(20), nullable=False),
    Column("status", String(16), nullable=False),
    Column("machine", Boolean, nullable=False, default=False),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("permanent", Boolean, nullable=False, default=False),
    Column("silences", Integer, nullable=False, default=0),
    Column("request_uuid", String(64)),
    Column("call_uuid", String(64)),
    Column("outcome", String(16)),
    Column("cause", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    # Plivo did not confirm the create-call: it may still ring until then (see voice/calls.py).
    Column("confirm_by", DateTime(timezone=True)),
    # A target is called once per position, however often the position is opened.
    UniqueConstraint("alert_id", "position", "target"),
)


class AlertStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- alerts --------------------------------------------------------------

    def add_alert(
        self, new: NewAlert, *, request_id: str | None, rounds: int, retry_delay: int, now: datetime
    ) -> AlertRecord | None:
        """Store a new alert; None if `request_id` was seen before."""
        values = dict(
            request_id=request_id,
            **requester_values(new.requester),
            sender_name=new.sender_name,
            channel_name=new.channel_name,
            message=new.message,
            targets=json.dumps([target.__dict__ for target in new.targets]),
            skipped=json.dumps([skipped.__dict__ for skipped in new.skipped]),
            rounds=rounds,
            retry_delay=retry_delay,
            position=-1,
            status=ACTIVE,
            created_at=now,
        )
        try:
            with self.engine.begin() as conn:
                alert_id = conn.execute(insert(alerts).values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None
        return self.get(alert_id)

    def get(self, alert_id: int) -> AlertRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return _alert(row) if row else None

    def attach_message(self, alert_id: int, via: str, channel: str | None = None, ts: str | None = None) -> None:
        self._update_alert(alert_id, None, message_via=via, message_channel=channel, message_ts=ts)

    def set_next_at(self, alert_id: int, at: datetime | None) -> None:
        self._update_alert(alert_id, alerts.c.status == ACTIVE, next_at=at)

    def resolve(self, alert_id: int, *, status: str, from_statuses: Sequence[str], now: datetime, **who) -> bool:
        """Move the alert to `status` if it is still in one of `from_statuses`.

        The single UPDATE is the race: of two acknowledgements arriving at
        once, on one instance or two, exactly one matches.
        """
        return self._update_alert(
            alert_id, alerts.c.status.in_(from_statuses),
            status=status, resolved_at=now, next_at=None, **who,
        )

    def give_up(self, alert_id: int, position: int, now: datetime) -> bool:
        """Mark the alert exhausted, once, if it is still active at its last position."""
        return self._update_alert(
            alert_id, (alerts.c.status == ACTIVE) & (alerts.c.position == position),
            status=EXHAUSTED, resolved_at=now, next_at=None,
        )

    def open_position(
        self, alert_id: int, position: int, new_legs: Sequence[tuple[int, str, str]], now: datetime
    ) -> bool:
        """Move the alert forward to `position` and add its legs (target, number, token) as queued.

        True if the alert is at `position` afterwards, whether this call moved
        it or an earlier one did; False if it is over or already further on.
        """
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.status == ACTIVE, alerts.c.position < position)
                .values(position=position, next_at=None)
            ).rowcount == 1
            if moved:
                for target, number, token in new_legs:
                    conn.execute(insert(legs).values(
                        alert_id=alert_id, token=token, position=position, target=target, to_number=number,
                        status=QUEUED, machine=False, stop_requested=False, permanent=False, silences=0,
                        created_at=now,
                    ))
                return True
            current = conn.execute(
                select(alerts.c.position, alerts.c.status).where(alerts.c.id == alert_id)
            ).first()
        return current is not None and current.position == position and current.status == ACTIVE

    # -- legs ----------------------------------------------------------------

    def legs(self, alert_id: int, position: int | None = None) -> list[Leg]:
        query = select(legs).where(legs.c.alert_id == alert_id)
        if position is not None:
            query = query.where(legs.c.position == position)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(legs.c.id)).mappings().all()
        return [_leg(row) for row in rows]

    def leg(self, token: str) -> Leg | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(legs).where(legs.c.token == token)).mappings().first()
        return _leg(row) if row else None

    def claim_for_dial(self, leg_id: int) -> bool:
        """Queued → calling, unless the alert was taken meanwhile: only one dialler wins."""
        return self._update_leg(
            legs.c.id == leg_id, (legs.c.status == QUEUED) & legs.c.stop_requested.is_(False), status=CALLING)

    def mark_dialled(self, leg_id: int, request_uuid: str) -> Leg | None:
        with self.engine.begin() as conn:
            conn.execute(update(legs).where(legs.c.id == leg_id).values(request_uuid=request_uuid))
            row = conn.execute(select(legs).where(legs.c.id == leg_id)).mappings().first()
        return _leg(row) if row else None

    def mark_unconfirmed(self, leg_id: int, confirm_by: datetime) -> bool:
        """Plivo may or may not have placed this call: it stays open until `confirm_by`."""
        return self._update_leg(legs.c.id == leg_id, legs.c.status == CALLING, confirm_by=confirm_by)

    def mark_ringing(self, token: str, call_uuid: str) -> bool:
        return self._update_leg(
            legs.c.token == token, legs.c.status.in_((QUEUED, CALLING)) & _bound_to(call_uuid),
            status=RINGING, call_uuid=func.coalesce(legs.c.call_uuid, call_uuid))

    def bind_answer(self, token: str, call_uuid: str, now: datetime) -> tuple[Leg, bool] | None:
        """The leg Plivo's answer request is for, and whether this is its first answer.

        The first call UUID binds the token, as for voice codes: a request for
        another call UUID gets nothing.
        """
        with self.engine.begin() as conn:
            row = conn.execute(select(legs).where(legs.c.token == token)).mappings().first()
            if row is None or row["call_uuid"] not in (None, call_uuid) or row["status"] == ENDED:
                return None  # another Plivo call's, or over: nothing changes
            first = row["answered_at"] is None
            conn.execute(
                update(legs).where(legs.c.id == row["id"], legs.c.status != ENDED).values(
                    call_uuid=call_uuid,
                    answered_at=func.coalesce(legs.c.answered_at, now),
                    status=ANSWERED,
                )
            )
            row = conn.execute(select(legs).where(legs.c.id == row["id"])).mappings().one()
        return _leg(row), first

    def mark_machine(self, token: str, call_uuid: str) -> bool:
        return self._update_leg(legs.c.token == token,
                                legs.c.machine.is_(False) & (legs.c.status != ENDED) & _bound_to(call_uuid),
                                machine=True, call_uuid=func.coalesce(legs.c.call_uuid, call_uuid))

    def count_silence(self, token: str) -> int:
        """One more menu without a key; how many in a row now."""
        with self.engine.begin() as conn:
            conn.execute(update(legs).where(legs.c.token == token).values(silences=legs.c.silences + 1))
            return conn.execute(select(legs.c.silences).where(legs.c.token == token)).scalar() or 0

    def reset_silences(self, token: str) -> None:
        self._update_leg(legs.c.token == token, legs.c.silences != 0, silences=0)

    def finish_leg(
        self,
        leg_id: int,
        *,
        outcome: Outcome,
        now: datetime,
        cause: str | None = None,
        permanent: bool = False,
        only_if_queued: bool = False,
        call_uuid: str | None = None,
    ) -> Leg | None:
        """End a leg once; the leg if this call ended it.

        With a `call_uuid` (Plivo's hangup), only a leg bound to no other UUID ends.
        """
        condition = legs.c.status == QUEUED if only_if_queued else legs.c.status != ENDED
        if call_uuid:
            condition = condition & _bound_to(call_uuid)
        extra = {"call_uuid": func.coalesce(legs.c.call_uuid, call_uuid)} if call_uuid else {}
        if not self._update_leg(
            legs.c.id == leg_id, condition,
            status=ENDED, outcome=outcome.value, cause=cause, permanent=permanent, ended_at=now, **extra,
        ):
            return None
        with self.engine.connect() as conn:
            return _leg(conn.execute(select(legs).where(legs.c.id == leg_id)).mappings().one())

    def request_stop(self, alert_id: int, keep_leg: int | None) -> list[Leg]:
        """Flag every live leg but `keep_leg` to be stopped; those legs."""
        live = (legs.c.alert_id == alert_id) & (legs.c.status != ENDED)
        if keep_leg is not None:
            live = live & (legs.c.id != keep_leg)
        with self.engine.begin() as conn:
            conn.execute(update(legs).where(live).values(stop_requested=True))
            rows = conn.execute(select(legs).where(live).order_by(legs.c.id)).mappings().all()
        return [_leg(row) for row in rows]

    def unconfirmed_legs_before(self, moment: datetime) -> list[Leg]:
        """Legs Plivo never confirmed nor called back about, whose time to ring is over."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(legs).where(legs.c.status == CALLING, legs.c.confirm_by < moment, legs.c.call_uuid.is_(None))
            ).mappings().all()
        return [_leg(row) for row in rows]

    def unfinished_legs_before(self, moment: datetime) -> list[Leg]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(legs).where(legs.c.status != ENDED, legs.c.created_at < moment)
            ).mappings().all()
        return [_leg(row) for row in rows]

    # -- internals -----------------------------------------------------------

    def _update_alert(self, alert_id: int, condition, **values) -> bool:
        query = update(alerts).where(alerts.c.id == alert_id)
        if condition is not None:
            query = query.where(condition)
        with self.engine.begin() as conn:
            return conn.execute(query.values(**values)).rowcount == 1

    def _update_leg(self, which, condition, **values) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(legs).where(which, condition).values(**values)).rowcount == 1


def _bound_to(call_uuid: str):
    """The leg is bound to no Plivo call yet, or to this one (see voice/binding.py)."""
    return legs.c.call_uuid.is_(None) | (legs.c.call_uuid == call_uuid)


def _alert(row: RowMapping) -> AlertRecord:
    return record_from_row(
        AlertRecord, row,
        requester=requester_of(row),
        targets=tuple(Target(**target) for target in json.loads(row["targets"])),
        skipped=tuple(Skipped(**skipped) for skipped in json.loads(row["skipped"] or "[]")),
    )


def _leg(row: RowMapping) -> Leg:
    return record_from_row(Leg, row, outcome=outcome_of(row))
