"""The store of schedules and overrides (the arithmetic is rotation.py's and oncall.py's)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.clock import as_utc
from voice.schedules.models import Override, Rotation, ScheduleDef
from voice.schedules.parsing import parse_handoff, parse_shift
from voice.store.db import reading, transaction
from voice.store.schema import schedule_overrides, schedules

FILE = "file"
SLACK = "slack"


@dataclass(frozen=True)
class ScheduleRecord:
    name: str
    team_id: str
    rotation: Rotation
    user_group: str | None
    channel: str | None
    defined_in: str  # FILE or SLACK
    created_at: datetime
    created_by: str | None = None
    feed_salt: str | None = None
    inactive: frozenset[str] = frozenset()
    announced_user: str | None = None
    announced_at: datetime | None = None


class ScheduleStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading --------------------------------------------------------------------------------

    def get(self, name: str) -> ScheduleRecord | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(schedules).where(schedules.c.name == name)).mappings().first()
        return _record(row) if row else None

    def listed(self, team_id: str | None = None) -> list[ScheduleRecord]:
        """Every schedule by name; with `team_id`, that workspace's and the file's."""
        query = select(schedules).order_by(schedules.c.name)
        if team_id is not None:
            query = query.where(or_(schedules.c.team_id == team_id, schedules.c.team_id == ""))
        with reading(self.engine) as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def overrides(self, name: str, since: datetime) -> list[Override]:
        """The schedule's overrides that end after `since`, oldest added first."""
        query = select(schedule_overrides).where(schedule_overrides.c.schedule == name,
                                                 schedule_overrides.c.end_at > since).order_by(schedule_overrides.c.id)
        with reading(self.engine) as conn:
            return [_override(row) for row in conn.execute(query).mappings()]

    # -- writing ------------------------------------------------------------------------------------

    def sync_file(self, defined: Sequence[ScheduleDef], now: datetime) -> list[str]:
        """Make the file's schedules the ones stored as the file's; the names written. A Slack-made schedule
        of the same name becomes the file's (its overrides and feed are kept)."""
        with transaction(self.engine) as conn:
            conn.execute(delete(schedules).where(schedules.c.defined_in == FILE,
                                                 schedules.c.name.not_in([item.name for item in defined])))
            for item in defined:
                values = dict(_definition(item.rotation), user_group=item.user_group, channel_id=item.channel,
                              defined_in=FILE, team_id="")
                if not conn.execute(update(schedules).where(schedules.c.name == item.name).values(**values)).rowcount:
                    conn.execute(insert(schedules).values(name=item.name, created_at=now, **values))
        return [item.name for item in defined]

    @staticmethod
    def add(conn: Connection, item: ScheduleDef, team_id: str, created_by: str, now: datetime) -> bool:
        if conn.execute(select(schedules.c.id).where(schedules.c.name == item.name)).first():
            return False
        conn.execute(insert(schedules).values(
            name=item.name, team_id=team_id, created_by=created_by, created_at=now, defined_in=SLACK,
            user_group=item.user_group, channel_id=item.channel, **_definition(item.rotation)))
        return True

    @staticmethod
    def change(conn: Connection, item: ScheduleDef) -> bool:
        """A Slack-made schedule's new definition; False for the file's (or one that is gone)."""
        return conn.execute(update(schedules).where(schedules.c.name == item.name, schedules.c.defined_in == SLACK)
                            .values(user_group=item.user_group, channel_id=item.channel,
                                    **_definition(item.rotation))).rowcount == 1

    @staticmethod
    def remove(conn: Connection, name: str) -> bool:
        removed = conn.execute(delete(schedules).where(schedules.c.name == name,
                                                       schedules.c.defined_in == SLACK)).rowcount == 1
        if removed:
            conn.execute(delete(schedule_overrides).where(schedule_overrides.c.schedule == name))
        return removed

    @staticmethod
    def add_override(conn: Connection, name: str, user: str, start: datetime, end: datetime, created_by: str,
                     now: datetime) -> int:
        return conn.execute(insert(schedule_overrides).values(
            schedule=name, user_id=user, start_at=start, end_at=end, created_by=created_by, created_at=now)
        ).inserted_primary_key[0]

    @staticmethod
    def remove_override(conn: Connection, name: str, override_id: int) -> bool:
        return conn.execute(delete(schedule_overrides).where(schedule_overrides.c.schedule == name,
                                                             schedule_overrides.c.id == override_id)).rowcount == 1

    @staticmethod
    def announce(conn: Connection, name: str, user: str | None, now: datetime) -> str | None | bool:
        """Record `user` as on call, if someone else was announced: the one before (None: nobody), or
        False when `user` was announced already. One conditional UPDATE: across instances, once."""
        before = conn.execute(select(schedules.c.announced_user, schedules.c.announced_at)
                              .where(schedules.c.name == name)).first()
        if before is None or (before.announced_user == user and before.announced_at is not None):
            return False
        # `announced_at` is the row's version: of two runs that read the same, one writes.
        same = schedules.c.announced_at.is_(None) if before.announced_at is None else \
            schedules.c.announced_at == before.announced_at
        changed = conn.execute(update(schedules).where(schedules.c.name == name, same).values(
            announced_user=user, announced_at=now)).rowcount == 1
        return before.announced_user if changed else False

    @staticmethod
    def set_inactive(conn: Connection, name: str, inactive: frozenset[str]) -> bool:
        """Whether the set of members who cannot be on call changed."""
        return conn.execute(update(schedules).where(schedules.c.name == name, schedules.c.inactive != _users(
            inactive)).values(inactive=_users(inactive))).rowcount == 1

    @staticmethod
    def set_feed_salt(conn: Connection, name: str, salt: str, only_if_none: bool) -> bool:
        condition = [schedules.c.name == name] + ([schedules.c.feed_salt.is_(None)] if only_if_none else [])
        return conn.execute(update(schedules).where(*condition).values(feed_salt=salt)).rowcount == 1


def _definition(rotation: Rotation) -> dict:
    return dict(time_zone=rotation.time_zone, members=json.dumps(list(rotation.members)),
                shift=rotation.shift.written(), handoff=rotation.handoff.written(), start=rotation.start.isoformat())


def _users(users: frozenset[str]) -> str:
    return json.dumps(sorted(users))


def _record(row: RowMapping) -> ScheduleRecord:
    shift = parse_shift(row["shift"])
    rotation = Rotation(row["time_zone"], tuple(json.loads(row["members"])), shift, parse_handoff(row["handoff"], shift),
                        date.fromisoformat(row["start"]))
    return ScheduleRecord(
        name=row["name"], team_id=row["team_id"], rotation=rotation, user_group=row["user_group"],
        channel=row["channel_id"], defined_in=row["defined_in"], created_at=as_utc(row["created_at"]),
        created_by=row["created_by"], feed_salt=row["feed_salt"], inactive=frozenset(json.loads(row["inactive"])),
        announced_user=row["announced_user"],
        announced_at=as_utc(row["announced_at"]) if row["announced_at"] else None)


def _override(row: RowMapping) -> Override:
    return Override(row["id"], row["user_id"], as_utc(row["start_at"]), as_utc(row["end_at"]), row["created_by"])
