"""The store of alerts (their calls are legs, in voice/calls/legs.py).

As for legs, every change that must happen once is one conditional UPDATE in
the caller's transaction: the first acknowledgement, the move to the next
position, giving up. Two instances sharing a PostgreSQL database, or Plivo
delivering a callback twice, cannot make any of them happen twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Sequence

from sqlalchemy import insert, select, union_all, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from voice.alerts.models import (
    ACTIVE,
    EXHAUSTED,
    RESOLVING,
    AlertRecord,
    Awaited,
    Incident,
    RequesterPhone,
    Skipped,
    Target,
)
from voice.calls.legs import leg_from_row, requester_of, requester_values
from voice.calls.models import OTP, TEST, Leg, Requester
from voice.clock import as_utc
from voice.store.db import reading, record_from_row, transaction
from voice.store.schema import alert_numbers, alerts, legs


class AlertStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading -----------------------------------------------------------------------

    def get(self, alert_id: int) -> AlertRecord | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return _alert(row) if row else None

    def id_for_request(self, request_id: str) -> int | None:
        """The alert raised for a request (a command's trigger, a form, a Workflow step), if any."""
        with reading(self.engine) as conn:
            return conn.execute(select(alerts.c.id).where(alerts.c.request_id == request_id)).scalar()

    @staticmethod
    def get_in(conn: Connection, alert_id: int) -> AlertRecord:
        """The alert as the caller's transaction sees it."""
        return _alert(conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one())

    def leg_with_alert(self, token: str) -> tuple[Leg, AlertRecord] | None:
        """A leg and its alert, in one indexed read (a join): what an alert call's webhook needs."""
        leg_columns = [column.label(f"leg_{column.name}") for column in legs.c]
        query = select(*leg_columns, *alerts.c).join(alerts, alerts.c.id == legs.c.alert_id).where(
            legs.c.token == token)
        with reading(self.engine) as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        leg_row = {column.name: row[f"leg_{column.name}"] for column in legs.c}
        return leg_from_row(leg_row), _alert(row)

    @staticmethod
    def for_requests(conn: Connection, request_ids: Sequence[str]) -> list[AlertRecord]:
        """The alerts raised for any of these requests, oldest first (one indexed read)."""
        rows = conn.execute(select(alerts).where(alerts.c.request_id.in_(list(request_ids)))
                            .order_by(alerts.c.id)).mappings()
        return [_alert(row) for row in rows]

    def recipients(self, alert_id: int) -> dict | None:
        """The request as parsed, while its recipients (or some of them: `awaiting`) are being looked up."""
        with reading(self.engine) as conn:
            raw = conn.execute(select(alerts.c.recipients).where(alerts.c.id == alert_id)).scalar()
        return json.loads(raw) if raw else None

    # -- what the limits count, in the caller's transaction ----------------------------------------

    @staticmethod
    def seen(conn: Connection, request_id: str | None) -> bool:
        """Whether an alert was raised for this request already (a form or a step delivered again)."""
        return request_id is not None and conn.execute(
            select(alerts.c.id).where(alerts.c.request_id == request_id)).first() is not None

    @staticmethod
    def raised_since(conn: Connection, requester: Requester, since: datetime) -> list[datetime]:
        """When the requester raised each alert since `since`, oldest first (their user ID is their workspace's)."""
        return [as_utc(moment) for moment in conn.execute(
            select(alerts.c.created_at).where(alerts.c.team_id == requester.team_id,
                                              alerts.c.requester_id == requester.user_id,
                                              alerts.c.created_at > since).order_by(alerts.c.created_at)).scalars()]

    @staticmethod
    def typed_number_calls_since(conn: Connection, number: str, since: datetime) -> list[datetime]:
        """When `number` was phoned since `since` because a person asked for it, from any workspace, oldest
        first: each alert it was typed into (once, however often the alert rings it), each call with a code
        and each test call. Not alerts that reached it as a Slack user's profile number: that is theirs."""
        typed = select(alert_numbers.c.created_at.label("at")).where(
            alert_numbers.c.number == number, alert_numbers.c.created_at > since)
        called = select(legs.c.created_at.label("at")).where(
            legs.c.to_number == number, legs.c.purpose.in_((OTP, TEST)), legs.c.created_at > since)
        return sorted(as_utc(moment) for moment in conn.execute(union_all(typed, called)).scalars())

    @staticmethod
    def add_typed_numbers(conn: Connection, alert_id: int, numbers: Sequence[str], now: datetime) -> None:
        """The numbers a person typed into the alert, each counted once against its limit from now on."""
        rows = [dict(alert_id=alert_id, number=number, created_at=now) for number in dict.fromkeys(numbers)]
        if rows:
            conn.execute(insert(alert_numbers), rows)

    # -- writing, in the caller's transaction ---------------------------------------------------

    @staticmethod
    def add_request(conn: Connection, *, requester: Requester, sender_name: str, channel_name: str | None,
                    message: str, recipients: dict | None, request_id: str | None, rounds: int, retry_delay: int,
                    now: datetime, redial_delay: int = 0, source_link: str | None = None,
                    status: str = RESOLVING, columns: dict | None = None) -> int | None:
        """Store an alert whose recipients are still to be looked up; None if `request_id` was seen (or,
        for an incident, its `open_key` is open already). `columns`: more of its columns (an incident's, a
        hotline call's), as written. `recipients` None: nobody to look up (a hotline call's callback)."""
        values = dict(
            request_id=request_id, **requester_values(requester), sender_name=sender_name,
            channel_name=channel_name, message=message, targets="[]", skipped="[]",
            recipients=None if recipients is None else json.dumps(recipients), rounds=rounds,
            retry_delay=retry_delay, redial_delay=redial_delay, source_link=source_link,
            position=-1,
            status=status, reply_uses=0, reported_status=None, message_digest=None, created_at=now,
            **(columns or {}),
        )
        try:
            with conn.begin_nested():
                return conn.execute(insert(alerts).values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None

    @staticmethod
    def resolved(conn: Connection, alert_id: int, *, status: str, sender_name: str, message: str,
                 targets: Sequence[Target], skipped: Sequence[Skipped], requester_phone: RequesterPhone,
                 links: int | None = None, awaiting: Sequence[Awaited] = (),
                 request: dict | None = None) -> bool:
        """The recipients were looked up (or its numbers were, and `awaiting` are still to be, in
        `request` as typed, in a chain of `links`): the alert becomes `status` (active, or dropped)."""
        kept = json.dumps(request | {"awaiting": [item.__dict__ for item in awaiting]}) if awaiting else None
        return conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.status == RESOLVING).values(
                status=status, sender_name=sender_name, message=message, recipients=kept, links=links,
                requester_number=requester_phone.number, requester_problem=requester_phone.problem,
                requester_locale=requester_phone.locale,
                targets=_targets_json(targets), skipped=_skipped_json(skipped),
            )
        ).rowcount == 1

    @staticmethod
    def looked_up(conn: Connection, alert_id: int, *, targets: Sequence[Target], skipped: Sequence[Skipped]) -> bool:
        """The people it was still waiting for were looked up: its targets and skipped as they now
        stand (the earlier ones first, in their places). Once."""
        return conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.status != RESOLVING,
                                 alerts.c.recipients.is_not(None))
            .values(recipients=None, targets=_targets_json(targets), skipped=_skipped_json(skipped))
        ).rowcount == 1

    @staticmethod
    def named(conn: Connection, alert_id: int, *, sender_name: str | None, message: str | None,
              requester_phone: RequesterPhone | None) -> None:
        """Names read after the alert opened: whoever raised it, the people its message mentions, and
        their profile number (for the voice bridge); None: unchanged."""
        values: dict = {}
        if sender_name:
            values["sender_name"] = sender_name
        if message:
            values["message"] = message
        if requester_phone is not None:
            values |= dict(requester_number=requester_phone.number, requester_problem=requester_phone.problem,
                           requester_locale=requester_phone.locale)
        if values:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))

    @staticmethod
    def resolve(conn: Connection, alert_id: int, *, status: str, from_statuses: Sequence[str], now: datetime,
                **who) -> bool:
        """Move the alert to `status` if it is still in one of `from_statuses`.

        The single UPDATE is the race: of two acknowledgements arriving at
        once, on one instance or two, exactly one matches.
        """
        return conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.status.in_(from_statuses))
            .values(status=status, resolved_at=now, next_at=None, **who)
        ).rowcount == 1

    @staticmethod
    def open_bridge(conn: Connection, alert_id: int, room: str, now: datetime) -> bool:
        """Name the alert's voice bridge, once; whether this call named it."""
        return conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.bridge_room.is_(None))
                            .values(bridge_room=room, bridge_started_at=now)).rowcount == 1

    @staticmethod
    def lock(conn: Connection, alert_id: int) -> bool:
        """Hold the alert's row for the rest of the transaction (a write: SQLite's lock, PostgreSQL's row lock)."""
        return conn.execute(update(alerts).where(alerts.c.id == alert_id).values(id=alerts.c.id)).rowcount == 1

    @staticmethod
    def end_bridge_if_empty(conn: Connection, alert_id: int, now: datetime) -> bool:
        """The bridge ends once nobody is in it and nobody is on the way: a call into it still being
        placed, or the acknowledger's own call between its 9 and its entry."""
        live = legs.c.status != "ended"
        in_or_coming = select(legs.c.id).where(
            legs.c.alert_id == alert_id, live,
            ((legs.c.bridge_joined_at.is_not(None)) & (legs.c.bridge_left_at.is_(None)))
            | ((legs.c.bridge_joined_at.is_(None))
               & ((legs.c.purpose == "bridge") | (legs.c.id == alerts.c.resolved_leg))))
        return conn.execute(update(alerts).where(
            alerts.c.id == alert_id, alerts.c.bridge_room.is_not(None), alerts.c.bridge_ended_at.is_(None),
            ~in_or_coming.exists()).values(bridge_ended_at=now)).rowcount == 1

    @staticmethod
    def name_taker(conn: Connection, alert_id: int, user_id: str, name: str) -> None:
        conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.resolved_by == user_id)
                     .values(resolved_name=name))

    @staticmethod
    def give_up(conn: Connection, alert_id: int, position: int, now: datetime) -> bool:
        """Mark the alert exhausted, once, if it is still active at its last position."""
        return conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.status == ACTIVE, alerts.c.position == position)
            .values(status=EXHAUSTED, resolved_at=now, next_at=None)
        ).rowcount == 1

    @staticmethod
    def set_next_at(conn: Connection, alert_id: int, at: datetime | None) -> bool:
        return conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.status == ACTIVE)
                            .values(next_at=at)).rowcount == 1

    @staticmethod
    def move_to(conn: Connection, alert_id: int, position: int) -> bool:
        """Move the alert forward to `position`; False if it is over or already there or further on."""
        return conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.status == ACTIVE, alerts.c.position < position)
            .values(position=position, next_at=None)
        ).rowcount == 1

    # -- the alert's message -----------------------------------------------------------------------

    def attach_message(self, alert_id: int, via: str, channel: str | None, ts: str | None, reply_uses: int,
                       reported_status: str | None = None, digest: str | None = None) -> None:
        with transaction(self.engine) as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                message_via=via, message_channel=channel, message_ts=ts, reply_uses=reply_uses,
                reported_status=reported_status, message_digest=digest))

    def shown(self, alert_id: int, digest: str) -> None:
        """The alert's message now shows what `digest` stands for."""
        with transaction(self.engine) as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(message_digest=digest))

    def spend_reply_use(self, alert_id: int, limit: int, status: str | None = None) -> bool:
        """Take one use of the response_url if fewer than `limit` were taken (and, with `status`,
        only if that status was not sent before); whether it was."""
        condition = alerts.c.reply_uses < limit
        values = dict(reply_uses=alerts.c.reply_uses + 1)
        if status is not None:
            condition = condition & ((alerts.c.reported_status.is_(None)) | (alerts.c.reported_status != status))
            values["reported_status"] = status
        with transaction(self.engine) as conn:
            return conn.execute(update(alerts).where(alerts.c.id == alert_id, condition).values(**values)).rowcount == 1


def _alert(row: RowMapping) -> AlertRecord:
    request = json.loads(row["recipients"]) if row["recipients"] else {}
    return record_from_row(
        AlertRecord, row,
        requester=requester_of(row),
        targets=tuple(Target(**target) for target in json.loads(row["targets"])),
        skipped=tuple(Skipped(**skipped) for skipped in json.loads(row["skipped"] or "[]")),
        awaiting=tuple(Awaited(**item) for item in request.get("awaiting") or ()),
        incident=_incident(row),
    )


def _incident(row: RowMapping) -> Incident | None:
    if not row.get("integration"):
        return None
    said = json.loads(row["details"] or "{}")
    fired_at = said.get("fired_at")
    return Incident(
        integration=row["integration"], source=row["source"], key=row["dedup_key"], severity=row["severity"],
        details=said.get("details", ""), labels=tuple(tuple(pair) for pair in said.get("labels", ())),
        links=tuple(tuple(pair) for pair in said.get("links", ())), sender_ref=said.get("sender_ref"),
        fired_at=datetime.fromisoformat(fired_at) if fired_at else None, fire_count=row["fire_count"],
        last_fired_at=as_utc(row["last_fired_at"]) if row["last_fired_at"] else None,
        closed_at=as_utc(row["closed_at"]) if row["closed_at"] else None, closed_source=row["closed_source"])


def _targets_json(targets: Sequence[Target]) -> str:
    return json.dumps([target.__dict__ for target in targets])


def _skipped_json(skipped: Sequence[Skipped]) -> str:
    return json.dumps([item.__dict__ for item in skipped])
