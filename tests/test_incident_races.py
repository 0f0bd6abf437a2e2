"""Many senders (or one sender's retries, or two instances) at once: one incident per integration and key,
one call-out per interval, nothing lost. On SQLite and PostgreSQL, through the wired core."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.core import at_once, settle, wire
from voice.alerts.models import HELD, RESOLVING
from voice.incidents import models
from voice.intake.credentials import token_digest
from voice.intake.models import Action, Event
from voice.routing.loading import parse_routing
from voice.store.db import reading
from voice.store.schema import alerts

ROUTING = f"""
integrations:
  - name: backend-prod
    token_sha256: {token_digest("race-token-0123456789")}
    channel: C0OPS
    call: "+14155550101"
"""


@pytest.fixture
def incidents_core(settings, database_url, clock, plivo_rest):
    services = wire(replace(settings, routing=parse_routing(ROUTING, {})), database_url, clock)
    yield services
    services.close()


def trigger(key: str, n: int) -> Event:
    return Event(source="alertmanager", action=Action.TRIGGER, key=key, summary=f"Disk full ({n})",
                 severity="critical", phones_by_default=True)


def statuses(core) -> list[str]:
    with reading(core.engine) as conn:
        return list(conn.execute(select(alerts.c.status).where(alerts.c.integration == "backend-prod")
                                 .order_by(alerts.c.id)).scalars())


def test_one_key_from_twenty_senders_at_once_is_one_incident_fired_twenty_times(incidents_core, plivo_rest):
    core = incidents_core
    integration = core.integrations.named("backend-prod")
    outcomes = at_once(20, lambda n: core.incidents.receive(integration, trigger("disk", n), f"body {n}".encode()))
    assert sorted(received.outcome for received in outcomes).count(models.OPENED) == 1
    assert len({received.incident for received in outcomes}) == 1
    assert statuses(core) == [RESOLVING]
    with reading(core.engine) as conn:
        assert conn.execute(select(func.max(alerts.c.fire_count))).scalar() == 20
    settle(core)
    assert len(plivo_rest.created) == 1


def test_the_same_request_retried_at_once_is_recorded_once(incidents_core):
    core = incidents_core
    integration = core.integrations.named("backend-prod")
    outcomes = at_once(10, lambda n: core.incidents.receive(integration, trigger("disk", 0), b"the same body"))
    assert sorted(received.outcome for received in outcomes) == [models.OPENED] + [models.REPEATED] * 9
    with reading(core.engine) as conn:
        assert conn.execute(select(alerts.c.fire_count)).scalars().all() == [1]


def test_a_storm_of_new_keys_at_once_phones_once_and_holds_the_rest(incidents_core, plivo_rest):
    core = incidents_core
    integration = core.integrations.named("backend-prod")
    outcomes = at_once(12, lambda n: core.incidents.receive(integration, trigger(f"key-{n}", n), None))
    assert [received.outcome for received in outcomes] == [models.OPENED] * 12  # nothing lost
    assert sorted(statuses(core)) == sorted([RESOLVING] + [HELD] * 11)
    assert sum(received.phoned for received in outcomes) == 1
    storm = core.incidents.storm(integration.id)
    assert storm.count == 11 and len(storm.latest) == 10
    settle(core)
    assert len(plivo_rest.created) == 1
