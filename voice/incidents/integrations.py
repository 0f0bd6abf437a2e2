"""The store of integrations: ROUTING_FILE's, written whenever the file is read, and those added in Slack.

Senders are matched by the SHA-256 of their token (an indexed equality on a digest the sender cannot
choose: nothing about the token leaks through timing). A file-defined integration is the file's: Slack
cannot change or remove it, and a Slack-defined one of the same name gives way to it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.alerts.recipients import stages_of
from voice.calls.limits import serialise
from voice.clock import as_utc
from voice.incidents.models import FILE, SLACK, Integration
from voice.intake.credentials import token_digest
from voice.routing.models import SCHEDULE, IntegrationDef, RecipientRef
from voice.store.db import reading, transaction
from voice.store.schema import integrations

#: An integration's last alert is written at most this often.
ALERTED_EVERY = timedelta(minutes=1)


class IntegrationStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading -------------------------------------------------------------------------------

    def by_token(self, token: str) -> Integration | None:
        """The integration whose token this is, if any."""
        digest = token_digest(token)
        with reading(self.engine) as conn:
            row = conn.execute(select(integrations).where(integrations.c.token_sha256 == digest)).mappings().first()
        return _integration(row) if row else None

    def named(self, name: str) -> Integration | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(integrations).where(integrations.c.name == name)).mappings().first()
        return _integration(row) if row else None

    def get(self, integration_id: int) -> Integration | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(integrations).where(integrations.c.id == integration_id)).mappings().first()
        return _integration(row) if row else None

    def listed(self, team_id: str | None = None) -> list[Integration]:
        """Every integration by name; with `team_id`, those of that workspace and the file's."""
        query = select(integrations).order_by(integrations.c.name)
        if team_id is not None:
            query = query.where(or_(integrations.c.team_id == team_id, integrations.c.team_id == ""))
        with reading(self.engine) as conn:
            return [_integration(row) for row in conn.execute(query).mappings()]

    # -- the file ------------------------------------------------------------------------------

    def sync_file(self, defined: Sequence[IntegrationDef], now: datetime) -> None:
        """Make the file's integrations the ones stored as the file's: added, changed, or removed (their
        incidents keep their name). What a sender did (last alert, storm) is kept across a re-read."""
        with transaction(self.engine) as conn:
            serialise(conn, "integrations:file")  # every process syncs as it starts: one at a time
            names = [item.name for item in defined]
            conn.execute(delete(integrations).where(integrations.c.defined_in == FILE,
                                                    integrations.c.name.not_in(names)))
            for item in defined:
                values = dict(team_id="", channel_id=item.channel, call=call_text(item.stages, item.lang),
                              stages=stages_json(item.stages), lang=item.lang,
                              phone=json.dumps(list(item.phone)) if item.phone is not None else None,
                              token_sha256=item.token_sha256, defined_in=FILE)
                # A token moved from one integration to another within the file: free it first.
                conn.execute(update(integrations).where(integrations.c.token_sha256 == item.token_sha256,
                                                        integrations.c.name != item.name)
                             .values(token_sha256=f"moved:{item.name}"[:64]))
                changed = conn.execute(update(integrations).where(integrations.c.name == item.name)
                                       .values(**values)).rowcount
                if not changed:
                    conn.execute(insert(integrations).values(name=item.name, created_at=now, **values))

    # -- Slack ---------------------------------------------------------------------------------

    @staticmethod
    def add(conn: Connection, *, name: str, team_id: str, channel_id: str, stages, lang: str | None,
            token_sha256: str, created_by: str, now: datetime) -> bool:
        """Add an integration from Slack; False if the name is taken."""
        taken = conn.execute(select(integrations.c.id).where(integrations.c.name == name)).first()
        if taken:
            return False
        conn.execute(insert(integrations).values(
            name=name, team_id=team_id, channel_id=channel_id, call=call_text(stages, lang),
            stages=stages_json(stages), lang=lang, phone=None, token_sha256=token_sha256, defined_in=SLACK,
            created_by=created_by, created_at=now))
        return True

    @staticmethod
    def rotate(conn: Connection, name: str, token_sha256: str) -> bool:
        """A new token for a Slack-defined integration; the old one stops working at once."""
        return conn.execute(update(integrations).where(integrations.c.name == name,
                                                       integrations.c.defined_in == SLACK)
                            .values(token_sha256=token_sha256)).rowcount == 1

    @staticmethod
    def remove(conn: Connection, name: str) -> bool:
        return conn.execute(delete(integrations).where(integrations.c.name == name,
                                                       integrations.c.defined_in == SLACK)).rowcount == 1

    # -- what its alerts do, in the caller's transaction -----------------------------------------

    @staticmethod
    def alerted(conn: Connection, integration_id: int, now: datetime) -> None:
        """It sent something now (kept to the minute: most events write nothing here, and lock nothing)."""
        conn.execute(update(integrations).where(
            integrations.c.id == integration_id,
            or_(integrations.c.last_alert_at.is_(None), integrations.c.last_alert_at < now - ALERTED_EVERY))
            .values(last_alert_at=now))

    @staticmethod
    def claim_call_out(conn: Connection, integration_id: int, now: datetime, interval: int) -> bool:
        """Whether the integration may phone now (nothing in the last `interval` seconds); if so, from now
        on it may not for `interval`, and the storm it was in is over. One UPDATE: across instances, of
        two incidents arriving together one phones."""
        if interval <= 0:
            return True
        free = or_(integrations.c.last_call_out_at.is_(None),
                   integrations.c.last_call_out_at <= now - timedelta(seconds=interval))
        return conn.execute(update(integrations).where(integrations.c.id == integration_id, free).values(
            last_call_out_at=now, storm_started_at=None, storm_count=0, storm_channel=None, storm_ts=None,
            storm_digest=None)).rowcount == 1

    @staticmethod
    def in_storm(conn: Connection, integration_id: int) -> bool:
        return conn.execute(select(integrations.c.storm_started_at).where(
            integrations.c.id == integration_id)).scalar() is not None

    @staticmethod
    def held(conn: Connection, integration_id: int, now: datetime) -> None:
        """One more incident held by the storm under way (which starts now if none is)."""
        conn.execute(update(integrations).where(integrations.c.id == integration_id).values(
            storm_count=integrations.c.storm_count + 1,
            storm_started_at=func.coalesce(integrations.c.storm_started_at, now)))

    def storm_row(self, integration_id: int) -> RowMapping | None:
        with reading(self.engine) as conn:
            return conn.execute(select(integrations).where(integrations.c.id == integration_id)).mappings().first()

    def storm_posted(self, integration_id: int, started_at: datetime, channel: str | None, ts: str | None,
                     digest: str) -> None:
        """The storm's line was posted, or brought up to date (only if it is still the same storm)."""
        with transaction(self.engine) as conn:
            conn.execute(update(integrations).where(integrations.c.id == integration_id,
                                                    integrations.c.storm_started_at == started_at)
                         .values(storm_channel=channel, storm_ts=ts, storm_digest=digest))


def stages_json(stages: Iterable[Iterable[RecipientRef]]) -> str:
    return json.dumps(stages_of(stages))


def call_text(stages: Iterable[Iterable[RecipientRef]], lang: str | None) -> str:
    """`S0BACKEND > U0LEAD > +14155550100 lang=es`: whom it phones, as the file writes it."""
    text = " > ".join(" ".join(f"schedule:{ref.value}" if ref.kind == SCHEDULE else ref.value for ref in stage)
                      for stage in stages)
    return f"{text} lang={lang}" if lang else text


def _integration(row: RowMapping) -> Integration:
    stages = tuple(tuple(RecipientRef(item["kind"], item["id"]) for item in stage)
                   for stage in json.loads(row["stages"]))
    return Integration(
        id=row["id"], name=row["name"], team_id=row["team_id"], channel_id=row["channel_id"], call=row["call"],
        stages=stages, lang=row["lang"], phone=tuple(json.loads(row["phone"])) if row["phone"] else None,
        token_sha256=row["token_sha256"], defined_in=row["defined_in"], created_at=as_utc(row["created_at"]),
        created_by=row["created_by"], last_alert_at=as_utc(row["last_alert_at"]) if row["last_alert_at"] else None)
