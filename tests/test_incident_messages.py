"""An incident's message and an alert storm's line, as Slack would show them: what a sender said (hostile or
not) is shown, never interpreted; Block Kit and mrkdwn checked as Slack checks them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from bot.alerts.incidents import storm_blocks, storm_text
from bot.alerts.messages import alert_blocks, alert_text
from tests.fakes.slack_checks import message_problems
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    POSTED,
    RESOLVED,
    VIA_SOURCE,
    AlertRecord,
    AlertView,
    Incident,
    Target,
)
from voice.calls.models import Requester
from voice.incidents.models import FILE, Integration, Storm, StormItem
from voice.routing.models import RecipientRef

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
INCIDENT = Incident(integration="backend-prod", source="alertmanager", key="k", severity="critical",
                    labels=(("alertname", "DiskFull"), ("instance", "db-1")),
                    links=(("https://prometheus.example.com/graph?g0.expr=a&b=1", "Source"),
                           ("https://runbooks.example.com/disk", "Runbook")),
                    fire_count=1, last_fired_at=T0)
ALERT = AlertRecord(
    id=7, requester=Requester("", "C0OPS"), sender_name="backend-prod", channel_name=None,
    message="Disk full on db-1", targets=(Target("+14155550101", 0, "U0ALICE", "Alice"),), skipped=(),
    rounds=3, retry_delay=60, position=0, status=ACTIVE, created_at=T0, incident=INCIDENT)


def shown(alert: AlertRecord) -> tuple[str, str]:
    view = AlertView(alert)
    text, blocks = alert_text(view), alert_blocks(view)
    assert message_problems({"text": text, "blocks": blocks}) == []
    return text, "\n".join(str(block) for block in blocks)


def test_an_incident_shows_its_integration_source_severity_labels_and_links():
    text, blocks = shown(ALERT)
    assert text.startswith(":rotating_light: Alert from *backend-prod* (Alertmanager): Disk full on db-1")
    assert "Severity *critical*" in blocks and "alertname=DiskFull · instance=db-1" in blocks
    assert "<https://prometheus.example.com/graph?g0.expr=a&amp;b=1|Source>" in blocks
    assert "<https://runbooks.example.com/disk|Runbook>" in blocks
    assert "Fired" not in blocks  # once: nothing to count


def test_what_a_sender_says_is_shown_never_interpreted():
    hostile = replace(INCIDENT, severity="<!channel>", labels=(("team", "<@U0BOSS> & <!here>"),),
                      links=(("javascript:alert(1)", "click"), ("https://evil.example.com/|<!channel>", "x")))
    text, blocks = shown(replace(ALERT, message="<!everyone> *bold* <https://x.example.com|y>", incident=hostile))
    assert "<!channel>" not in blocks and "<!here>" not in blocks and "<@U0BOSS>" not in blocks
    assert "<!everyone>" not in text and "javascript:" not in blocks


def test_refirings_are_counted_and_the_sources_resolve_is_said_with_how_long_it_was_open():
    fired = replace(INCIDENT, fire_count=4, last_fired_at=T0 + timedelta(minutes=8),
                    closed_at=T0 + timedelta(minutes=12, seconds=3), closed_source="alertmanager")
    _, blocks = shown(replace(ALERT, status=RESOLVED, resolved_at=fired.closed_at, resolved_via=VIA_SOURCE,
                              resolved_name="Alertmanager", incident=fired))
    assert "Fired 4 times, last" in blocks
    assert ("Resolved by Alertmanager <!date^1796292723^at {time_secs}|at 10:12:03 UTC>, 12 min 3 s after it "
            "opened, before anyone acknowledged. Every call was stopped.") in blocks
    assert blocks.count("Resolved") == 1  # said once
    _, taken = shown(replace(ALERT, status=ACKNOWLEDGED, resolved_at=T0 + timedelta(minutes=2), resolved_by="U0ALICE",
                             resolved_via="phone", incident=fired))
    assert "*Acknowledged* by <@U0ALICE> by phone" in taken
    assert "*Resolved* by Alertmanager" in taken and "open 12 min 3 s" in taken


def test_acknowledged_at_the_source_and_a_severity_that_does_not_phone():
    _, blocks = shown(replace(ALERT, status=ACKNOWLEDGED, resolved_at=T0 + timedelta(seconds=30),
                              resolved_via=VIA_SOURCE, resolved_name="a PagerDuty client"))
    assert "*Acknowledged* by a PagerDuty client at the source after 30 s" in blocks
    _, blocks = shown(replace(ALERT, status=POSTED, targets=(), incident=replace(INCIDENT, severity="warning")))
    assert "Not phoned: this integration does not phone for severity warning." in blocks
    assert "Acknowledge" not in blocks


def test_a_storm_line_counts_its_incidents_and_names_the_latest():
    integration = Integration(1, "backend-prod", "", "C0OPS", "U0ALICE", ((RecipientRef("user", "U0ALICE"),),),
                              None, None, "0" * 64, FILE, T0)
    items = tuple(StormItem(20 - n, f"Service {n} <!channel> down", "critical", T0 + timedelta(minutes=3), n == 1)
                  for n in range(10))
    storm = Storm(integration, T0, 37, T0 + timedelta(minutes=5), 300, items)
    text, blocks = storm_text(storm), storm_blocks(storm, T0)
    assert message_problems({"text": text, "blocks": blocks}) == []
    assert text == ":zap: Alert storm from *backend-prod*: 37 incidents in 3 minutes; nobody is phoned for them."
    shown_blocks = str(blocks)
    assert "every 5 minutes" in shown_blocks and "…and 27 more." in shown_blocks
    assert "~Service 1 &lt;!channel&gt; down~ resolved" in shown_blocks
