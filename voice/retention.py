"""What the database forgets, and when: kept as long as operators need it, then deleted, in small batches.

Kept for RETENTION_DAYS (30 by default), then deleted by the hourly housekeeping:
- calls (`legs`) and alerts with their calls: the App Home's history, and audits of who phoned whom;
  an alert still calling is kept, with its calls, until it ends;
- voice codes (`otp_codes`: keyed hashes, never a code), refusals, Workflow steps;
- hotline calls that are over (callers' numbers, voicemail links, transcripts), and schedule overrides
  that ended.
Deleted sooner, because nothing reads them once they are over:
- finished work items, a week after they finished (or after RETENTION_DAYS, if shorter);
- idle rows of coalesced work (a status message that shows its last state, an alert's next step
  taken), a day after their last run: a later change makes a new row, as the first change did;
- rate slots (`rate_slots`) free for a day (a channel nobody has posted in since);
- the numbers typed into alerts (`alert_numbers`), a day after: ALERT_LIMIT_NUMBER_HOUR counts the last
  hour of them only (the alerts themselves, with their targets, are kept for RETENTION_DAYS).
Kept: the installs of the app in workspaces, and the work still to do.

Slack honours a response_url for 30 minutes and 5 uses
(https://docs.slack.dev/interactivity/handling-user-interaction#message_responses): one older, or
used up, is erased (set to NULL) by a sweep every few minutes, wherever it is kept (calls, alerts,
the payloads of work items); a report with no response_url left keeps the message it last sent.

Every delete and update runs in batches of BATCH rows, each its own short transaction, so no sweep
holds a table's locks for long (PostgreSQL) or the write lock for long (SQLite).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.engine import Engine

from voice.alerts.models import ACTIVE
from voice.calls.models import REPLY_URL_LIFETIME, REPLY_URL_USES
from voice.queue.work import DONE, FAILED, IDLE
from voice.store.db import transaction
from voice.store.schema import (
    alert_numbers,
    alerts,
    hotline_calls,
    legs,
    otp_codes,
    rate_slots,
    refusals,
    schedule_overrides,
    work_items,
    workflow_steps,
)

log = logging.getLogger(__name__)

#: Rows deleted or changed per transaction.
BATCH = 500
#: Batches per table per sweep: what is left waits for the next sweep (an old database's first sweep).
MAX_BATCHES = 200
#: Finished one-off work is kept this long (its key still blocks a repeat meanwhile), unless retention is shorter.
KEEP_FINISHED = timedelta(days=7)
#: An idle row of coalesced work is forgotten this long after its last run.
KEEP_IDLE = timedelta(days=1)
#: A rate slot nobody has taken for this long is forgotten.
KEEP_RATE_SLOT = timedelta(days=1)
#: A number typed into an alert is counted against its hourly limit; kept a day, it counts for nothing more.
KEEP_TYPED_NUMBER = timedelta(days=1)

#: Payloads of work items that may carry a response_url (json.dumps writes `"reply_url": "https://…"`).
_PAYLOAD_URL = '%"reply_url": "%'


@dataclass(frozen=True)
class Swept:
    """What one sweep deleted, by what."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Retention:
    def __init__(self, engine: Engine, *, days: int, clock: Callable[[], datetime]):
        self.engine = engine
        self.keep = timedelta(days=days)
        self.clock = clock

    def sweep(self) -> Swept:
        """Delete what is older than its time (see the module's list); how many rows of each."""
        now = self.clock()
        cutoff = now - self.keep
        counts = {
            "alerts": self._delete_alerts(cutoff),
            "legs": self._delete(legs, legs.c.id, and_(legs.c.created_at < cutoff, legs.c.alert_id.is_(None))),
            # Expired before the cutoff, a code is long dead, even if nobody checked it (still marked live).
            "otp_codes": self._delete(otp_codes, otp_codes.c.id, otp_codes.c.expires_at < cutoff),
            "refusals": self._delete(refusals, refusals.c.id, refusals.c.created_at < cutoff),
            "workflow_steps": self._delete(workflow_steps, workflow_steps.c.execution_id,
                                           workflow_steps.c.created_at < cutoff),
            "work_items": self._delete(work_items, work_items.c.id, or_(
                and_(work_items.c.state.in_((DONE, FAILED)),
                     work_items.c.finished_at < now - min(KEEP_FINISHED, self.keep)),
                and_(work_items.c.state == IDLE, work_items.c.due_at < now - KEEP_IDLE,
                     or_(work_items.c.finished_at.is_(None), work_items.c.finished_at < now - KEEP_IDLE)))),
            "rate_slots": self._delete(rate_slots, rate_slots.c.name,
                                       rate_slots.c.next_free < (now - KEEP_RATE_SLOT).timestamp()),
            "alert_numbers": self._delete(alert_numbers, alert_numbers.c.id,
                                          alert_numbers.c.created_at < now - KEEP_TYPED_NUMBER),
            # Callers' numbers, their voicemails' links and transcripts: kept as long as calls are.
            "hotline_calls": self._delete(hotline_calls, hotline_calls.c.id, and_(
                hotline_calls.c.created_at < cutoff, hotline_calls.c.status.in_(("ended", "refused")))),
            "schedule_overrides": self._delete(schedule_overrides, schedule_overrides.c.id,
                                               schedule_overrides.c.end_at < cutoff),
        }
        swept = Swept({name: count for name, count in counts.items() if count})
        if swept.total:
            log.info("retention: deleted %s", ", ".join(f"{count} {name}" for name, count in swept.counts.items()))
        return swept

    def forget_reply_urls(self) -> int:
        """Erase every response_url Slack no longer honours (older than 30 minutes, or used 5 times)."""
        cutoff = self.clock() - REPLY_URL_LIFETIME
        erased = 0
        for table in (legs, alerts):
            unusable = and_(table.c.reply_url.is_not(None),
                            or_(table.c.created_at < cutoff, table.c.reply_uses >= REPLY_URL_USES))
            erased += self._batched(lambda ids, t=table: update(t).where(t.c.id.in_(ids)).values(reply_url=None),
                                    select(table.c.id).where(unusable).order_by(table.c.id))
        erased += self._forget_payload_urls(cutoff)
        if erased:
            log.info("erased %d response_urls Slack no longer honours", erased)
        return erased

    # -- internals --------------------------------------------------------------------------------

    def _delete(self, table: Table, key, condition) -> int:
        return self._batched(lambda ids: delete(table).where(key.in_(ids)),
                             select(key).where(condition).order_by(key))

    def _delete_alerts(self, cutoff: datetime) -> int:
        """Alerts past the cutoff that are not calling any more, each with its calls (their foreign key)."""
        chosen = select(alerts.c.id).where(alerts.c.created_at < cutoff, alerts.c.status != ACTIVE)

        def delete_with_calls(conn, ids) -> int:
            conn.execute(delete(legs).where(legs.c.alert_id.in_(ids)))
            return conn.execute(delete(alerts).where(alerts.c.id.in_(ids))).rowcount

        total = 0
        for _ in range(MAX_BATCHES):
            with transaction(self.engine) as conn:
                ids = list(conn.execute(chosen.order_by(alerts.c.id).limit(BATCH)).scalars())
                if not ids:
                    break
                total += delete_with_calls(conn, ids)
            if len(ids) < BATCH:
                break
        return total

    def _batched(self, statement_for: Callable, chosen) -> int:
        """Run `statement_for(ids)` on the rows `chosen` picks, BATCH at a time, each batch committed alone."""
        total = 0
        for _ in range(MAX_BATCHES):
            with transaction(self.engine) as conn:
                ids = list(conn.execute(chosen.limit(BATCH)).scalars())
                if ids:
                    conn.execute(statement_for(ids))
            total += len(ids)
            if len(ids) < BATCH:
                break
        return total

    def _forget_payload_urls(self, cutoff: datetime) -> int:
        """The response_urls in work items' payloads (a notice to whoever clicked, a Join's ephemeral reply)."""
        chosen = (select(work_items.c.id, work_items.c.payload)
                  .where(work_items.c.created_at < cutoff, work_items.c.payload.like(_PAYLOAD_URL))
                  .order_by(work_items.c.id))
        total = 0
        for _ in range(MAX_BATCHES):
            with transaction(self.engine) as conn:
                rows = conn.execute(chosen.limit(BATCH)).all()
                for item_id, payload in rows:
                    conn.execute(update(work_items).where(work_items.c.id == item_id)
                                 .values(payload=_without_reply_url(payload)))
            total += len(rows)
            if len(rows) < BATCH:
                break
        return total


def _without_reply_url(payload: str) -> str:
    """A work item's JSON payload with its response_url erased (kept as null: the handlers read it so)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return json.dumps(None)
    if isinstance(data, dict):
        data["reply_url"] = None
    return json.dumps(data)
