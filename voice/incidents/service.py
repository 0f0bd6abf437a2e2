"""What one event from a monitoring source does to its incident, each event one transaction.

- TRIGGER: with no open incident for its key, one opens: an alert that phones the integration's
  recipients (the work queue looks them up and calls them, as for /voicealert), or, for a severity
  that does not phone, a message alone. Within INTEGRATION_CALL_INTERVAL of the integration's last
  call-out (an alert storm), it is held: no call, no message of its own, one line for the storm.
  With an open incident, it is counted (how often, when last): nobody is phoned again.
- ACKNOWLEDGE (PagerDuty, Opsgenie): its calls stop; later triggers phone nobody.
- RESOLVE: every call stops (ringing ones are hung up) and the incident closes; a trigger after it
  opens a new one.
- UPDATE (Opsgenie's message and description): the words shown change; nobody is phoned.
A sender's retry of a request (the same body within RETRY_WINDOW) changes nothing a second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Connection, Engine

from voice import metrics
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    EXHAUSTED,
    HELD,
    POSTED,
    REPORT_ALERT,
    RESOLVED,
    RESOLVING,
    VIA_SOURCE,
)
from voice.alerts.recipients import request_of
from voice.alerts.service import AlertService
from voice.calls.limits import serialise
from voice.calls.models import Requester
from voice.clock import as_utc
from voice.incidents import models
from voice.incidents.integrations import IntegrationStore
from voice.incidents.models import Integration, Received, Storm
from voice.incidents.store import IncidentStore, OpenIncident, open_key
from voice.intake.models import Action, Event
from voice.intake.severity import phones
from voice.queue.work import WorkQueue
from voice.store.db import transaction
from voice.store.once import ALERT_DELIVERY, first_use_in

log = logging.getLogger(__name__)

#: The work that posts or updates an integration's alert-storm line; subject: the integration's id.
REPORT_STORM = "report.storm"
#: The same request again within this long is a sender's retry of one it thinks was lost (a timeout, a 5xx:
#: Alertmanager's first retries come within seconds), recorded once; later, it is the alert firing again (an
#: Alertmanager repeat, after `repeat_interval`, sends the very same body), counted on its message.
RETRY_WINDOW = timedelta(minutes=2)
#: How the sources are named where people read them.
SOURCE_NAMES = {"alertmanager": "Alertmanager", "grafana": "Grafana", "generic": "a webhook",
                "opsgenie": "an Opsgenie client", "pagerduty": "a PagerDuty client"}
#: Incidents a storm's line names one by one.
STORM_SHOWN = 10


class IncidentService:
    def __init__(self, engine: Engine, alerts: AlertService, integrations: IntegrationStore, queue: WorkQueue, *,
                 call_interval: int, clock: Callable[[], datetime]):
        self.engine = engine
        self.alerts = alerts
        self.integrations = integrations
        self.store = IncidentStore()
        self.queue = queue
        self.call_interval = call_interval
        self.clock = clock

    def receive(self, integration: Integration, event: Event, delivery: bytes | None = None) -> Received:
        """Apply `event` from `integration`'s source; `delivery`: the request's body, to know its retries."""
        now = self.clock()
        with transaction(self.engine) as conn:
            received = self._apply(conn, integration, event, delivery, now)
        log.info("integration %s: %s %s (incident %s)", integration.name, event.action.value, received.outcome,
                 received.incident)
        metrics.INTEGRATION_EVENTS.labels(event.source, received.outcome).inc()
        return received

    def _apply(self, conn: Connection, integration: Integration, event: Event, delivery: bytes | None,
               now: datetime) -> Received:
        # First: one event of an incident at a time (PostgreSQL's advisory lock on it; SQLite takes one writer
        # at a time anyway), so a retry racing its first delivery sees it; different incidents go in parallel.
        # The integration's own row is only ever locked last (a new incident's call-out, its last alert), so no
        # two events wait on each other.
        serialise(conn, f"incident:{open_key(integration.name, event.key)}")
        self.integrations.alerted(conn, integration.id, now)
        found = self.store.open(conn, integration.name, event.key)
        seen = delivery is not None and not first_use_in(conn, ALERT_DELIVERY, _delivery(integration, delivery),
                                                         now + RETRY_WINDOW, now)
        # A trigger seen before whose incident has been resolved since is a new firing, not a retry: a
        # page too many is better than one missed.
        if seen and (found is not None or event.action is not Action.TRIGGER):
            latest = found or self.store.latest(conn, integration.name, event.key)
            return Received(models.REPEATED, event.key, latest.id if latest else None)
        if event.action is Action.TRIGGER:
            return (self._again(conn, integration, found, event, now) if found
                    else self._open(conn, integration, event, now))
        if found is None:
            return Received(models.NOT_OPEN, event.key)
        if event.action is Action.ACKNOWLEDGE:
            return self._acknowledge(conn, found, event)
        if event.action is Action.RESOLVE:
            return self._resolve(conn, found, event, now)
        return self._update(conn, found, event)

    def storm(self, integration_id: int) -> Storm | None:
        """The storm under way for the integration, with its latest incidents; None if none is."""
        row = self.integrations.storm_row(integration_id)
        if row is None or row["storm_started_at"] is None:
            return None
        integration = self.integrations.get(integration_id)
        started = as_utc(row["storm_started_at"])
        latest = self.store.held_since(self.engine, integration.name, started, STORM_SHOWN)
        return Storm(integration=integration, started_at=started, count=row["storm_count"],
                     phones_again_at=as_utc(row["last_call_out_at"]) + timedelta(seconds=self.call_interval),
                     interval=self.call_interval,
                     latest=latest, channel=row["storm_channel"], ts=row["storm_ts"], digest=row["storm_digest"])

    # -- each action ---------------------------------------------------------------------------

    def _open(self, conn: Connection, integration: Integration, event: Event, now: datetime) -> Received:
        status = self._status(conn, integration, event, now)
        requester = Requester(user_id="", channel_id=integration.channel_id, team_id=integration.team_id)
        recipients = request_of(integration.stages, integration.lang)
        alert_id = self.alerts.add_in(
            conn, requester=requester, sender_name=integration.name, message=event.summary,
            recipients=recipients, status=status, columns=_columns(integration, event, now), now=now)
        if alert_id is None:  # opened meanwhile by another instance's request for the same key
            return self._again(conn, integration, self.store.open(conn, integration.name, event.key), event, now)
        if status == HELD:
            self.integrations.held(conn, integration.id, now)
            self.queue.poke(conn, REPORT_STORM, str(integration.id))
        elif status == POSTED:
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))
        return Received(models.OPENED, event.key, alert_id, phoned=status == RESOLVING, held=status == HELD)

    def _status(self, conn: Connection, integration: Integration, event: Event, now: datetime) -> str:
        """RESOLVING (it phones), POSTED (its severity does not) or HELD (a storm is under way)."""
        if phones(event, integration.phone):
            if self.integrations.claim_call_out(conn, integration.id, now, self.call_interval):
                return RESOLVING
            return HELD
        # A storm folds every new incident into its line: a hundred messages would bury the channel.
        return HELD if self.integrations.in_storm(conn, integration.id) else POSTED

    def _again(self, conn: Connection, integration: Integration, found: OpenIncident, event: Event,
               now: datetime) -> Received:
        self.store.fired_again(conn, found.id, _said(event), now)
        self.queue.poke(conn, REPORT_STORM if found.status == HELD else REPORT_ALERT,
                        str(integration.id if found.status == HELD else found.id))
        return Received(models.FIRED_AGAIN, event.key, found.id)

    def _acknowledge(self, conn: Connection, found: OpenIncident, event: Event) -> Received:
        # Taken already (by phone, in Slack, or an earlier acknowledge): it stays as it is.
        self.alerts.take_in(conn, found.id, ACKNOWLEDGED, (RESOLVING, ACTIVE, EXHAUSTED, POSTED, HELD),
                            resolved_via=VIA_SOURCE, resolved_name=SOURCE_NAMES.get(event.source))
        return Received(models.ACKNOWLEDGED, event.key, found.id)

    def _resolve(self, conn: Connection, found: OpenIncident, event: Event, now: datetime) -> Received:
        self.store.close(conn, found.id, event.source, now)
        # Calls still going (or about to be placed) stop; an incident acknowledged, given up or only
        # posted keeps its status, and its message says it was resolved.
        self.alerts.take_in(conn, found.id, RESOLVED, (RESOLVING, ACTIVE), resolved_via=VIA_SOURCE,
                            resolved_name=SOURCE_NAMES.get(event.source))
        self.queue.poke(conn, REPORT_ALERT, str(found.id))
        return Received(models.RESOLVED, event.key, found.id)

    def _update(self, conn: Connection, found: OpenIncident, event: Event) -> Received:
        self.store.update_words(conn, found.id, event.summary, event.details)
        self.queue.poke(conn, REPORT_ALERT, str(found.id))
        return Received(models.UPDATED, event.key, found.id)


def _delivery(integration: Integration, body: bytes) -> str:
    return f"{integration.id}:{hashlib.sha256(body).hexdigest()}"


def _said(event: Event) -> str:
    """What the source said, beyond the summary, as the `details` column keeps it."""
    return json.dumps({
        "details": event.details, "labels": [list(pair) for pair in event.labels],
        "links": [[link.url, link.text] for link in event.links], "sender_ref": event.sender_ref,
        "fired_at": event.fired_at.isoformat() if event.fired_at else None,
    })


def _columns(integration: Integration, event: Event, now: datetime) -> dict:
    return dict(integration=integration.name, source=event.source, dedup_key=event.key,
                open_key=open_key(integration.name, event.key), severity=event.severity, details=_said(event),
                fire_count=1, last_fired_at=now)

