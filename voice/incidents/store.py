"""Incidents as the alerts table keeps them: found by integration and key, counted, closed.

One open incident per integration and key is the unique `open_key` (a digest of both), cleared when
the source resolves it; every change here is in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from voice.alerts.models import HELD
from voice.clock import as_utc
from voice.incidents.models import StormItem
from voice.store.db import reading
from voice.store.schema import alerts


def open_key(integration: str, key: str) -> str:
    """The digest that makes one open incident per integration and key."""
    return hashlib.sha256(f"{integration}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class OpenIncident:
    id: int
    status: str


class IncidentStore:
    @staticmethod
    def open(conn: Connection, integration: str, key: str) -> OpenIncident | None:
        """The integration's incident for `key` that its source has not resolved, if any."""
        row = conn.execute(select(alerts.c.id, alerts.c.status).where(
            alerts.c.open_key == open_key(integration, key))).first()
        return OpenIncident(row.id, row.status) if row else None

    @staticmethod
    def latest(conn: Connection, integration: str, key: str) -> OpenIncident | None:
        """The integration's most recent incident for `key`, open or not."""
        row = conn.execute(select(alerts.c.id, alerts.c.status).where(
            alerts.c.integration == integration, alerts.c.dedup_key == key).order_by(alerts.c.id.desc())
            .limit(1)).first()
        return OpenIncident(row.id, row.status) if row else None

    @staticmethod
    def fired_again(conn: Connection, alert_id: int, said: str, now: datetime) -> None:
        """Counted once more; what the source says now (labels, links) replaces what it said."""
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            fire_count=alerts.c.fire_count + 1, last_fired_at=now, details=said))

    @staticmethod
    def close(conn: Connection, alert_id: int, source: str, now: datetime) -> None:
        conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.closed_at.is_(None)).values(
            closed_at=now, closed_source=source, open_key=None))

    @staticmethod
    def update_words(conn: Connection, alert_id: int, summary: str, details: str) -> None:
        """Opsgenie's message and description updates: a non-empty one replaces what is shown."""
        if summary:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(message=summary))
        if details:
            said = json.loads(conn.execute(select(alerts.c.details).where(alerts.c.id == alert_id)).scalar() or "{}")
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                details=json.dumps(said | {"details": details})))

    @staticmethod
    def held_since(engine: Engine, integration: str, since: datetime, limit: int) -> tuple[StormItem, ...]:
        """The integration's incidents a storm held since `since`, newest first."""
        query = (select(alerts.c.id, alerts.c.message, alerts.c.severity, alerts.c.created_at, alerts.c.closed_at)
                 .where(alerts.c.integration == integration, alerts.c.status == HELD, alerts.c.created_at >= since)
                 .order_by(alerts.c.id.desc()).limit(limit))
        with reading(engine) as conn:
            return tuple(StormItem(row.id, row.message, row.severity, as_utc(row.created_at), row.closed_at is not None)
                         for row in conn.execute(query))
