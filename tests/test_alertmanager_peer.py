"""What a real Prometheus Alertmanager sends to its webhook, Opsgenie and PagerDuty receivers.

One Alertmanager (tests/peers/alertmanager.py) points its three receivers at a recording stand-in for the
intake routes; alerts are fired through its API, held until Alertmanager repeats them, then resolved.
The captures are checked against tests/fixtures/alertmanager/, which the intake parsers' tests read;
`WRITE_ALERTMANAGER_FIXTURES=1 pytest tests/test_alertmanager_peer.py` writes them again from a capture.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.fakes.intake_recorder import IntakeRecorder, Recorded
from tests.peers.alertmanager import Alertmanager

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
FAKE_TOKEN = "fake0token0for0alertmanager0test"  # 32 characters, as a PagerDuty routing key
FAKE_URL = "http://alertmanager.example:9093"
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing

DISK = {"alertname": "DiskFull", "receiver": "webhook", "instance": "db1", "severity": "critical"}
DISK_ANNOTATIONS = {"summary": "Disk 95% full on db1", "runbook_url": "https://runbooks.example/disk-full"}
DISK_GENERATOR = "http://prometheus.example:9090/graph?g0.expr=disk_used%3E0.95"
QUEUE = {"alertname": "QueueStuck", "receiver": "opsgenie", "priority": "P1", "queue": "billing"}
CERT = {"alertname": "CertExpiring", "receiver": "opsgenie"}  # no priority label
API = {"alertname": "ApiDown", "receiver": "pagerduty", "severity": "warning", "service": "api"}


def group_key(receiver: str, alertname: str) -> str:
    """The groupKey of the test config's routes: route matchers from the root, then the group_by labels."""
    return f'{{}}/{{receiver="{receiver}"}}:{{alertname="{alertname}"}}'


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Capture:
    token: str
    alertmanager: Alertmanager
    seen: list[Recorded]

    def of(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.seen if r.method == method and r.path == path]


def counts(seen: list[Recorded], webhook: int, creates: int, closes: int, pagerduty: int) -> bool:
    def n(method: str, pattern: str) -> int:
        return sum(1 for r in seen if r.method == method and re.fullmatch(pattern, r.path))
    return (n("POST", "/integrations/alertmanager") >= webhook and n("POST", "/opsgenie/v2/alerts") >= creates
            and n("PUT", "/opsgenie/v2/alerts/[0-9a-f]{64}/(message|description)") >= 2 * creates
            and n("POST", "/opsgenie/v2/alerts/[0-9a-f]{64}/close") >= closes
            and n("POST", "/pagerduty/v2/enqueue") >= pagerduty)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Capture:
    token = secrets.token_hex(16)
    with IntakeRecorder() as recorder, \
            Alertmanager(tmp_path_factory.mktemp("alertmanager"), recorder.base_url, token) as alertmanager:
        log = alertmanager.output
        alertmanager.fire(DISK, DISK_ANNOTATIONS, generator_url=DISK_GENERATOR)
        alertmanager.fire(QUEUE, {"summary": "Billing queue stuck for 10 minutes"})
        alertmanager.fire(CERT, {"summary": "Certificate of api.example expires in 3 days"})
        alertmanager.fire(API, {"summary": "API answers 503"})
        # group_wait 1s, then repeat_interval 5s (sent at the next group_interval tick, 2s apart).
        recorder.wait_for(lambda seen: counts(seen, 1, 2, 0, 1), timeout=5, context=log())
        recorder.wait_for(lambda seen: counts(seen, 2, 4, 0, 2), timeout=10, context=log())
        for labels in (DISK, QUEUE, CERT, API):
            alertmanager.resolve(labels)
        recorder.wait_for(lambda seen: counts(seen, 3, 4, 2, 3), timeout=5, context=log())
        yield Capture(token, alertmanager, list(recorder.requests))


@pytest.fixture(autouse=True)
def alertmanager_log_on_failure(capture):
    yield
    print(capture.alertmanager.output())  # pytest shows a failed test's teardown output


# ---- webhook_configs --------------------------------------------------------------------------------------------

def test_the_webhook_gets_the_group_as_v4_json_with_the_token_as_bearer(capture):
    firing = capture.of("POST", "/integrations/alertmanager")[0]
    assert firing.headers["Authorization"] == f"Bearer {capture.token}"
    assert firing.headers["Content-Type"] == "application/json"
    assert firing.headers["User-Agent"].startswith("Alertmanager/")
    body = firing.json()
    assert body | {"alerts": None} == {
        "version": "4", "groupKey": group_key("webhook", "DiskFull"), "truncatedAlerts": 0,
        "status": "firing", "receiver": "webhook", "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": DISK, "commonAnnotations": DISK_ANNOTATIONS, "externalURL": capture.alertmanager.url,
        "alerts": None,
    }
    [alert] = body["alerts"]
    assert alert | {"fingerprint": None} == {
        "status": "firing", "labels": DISK, "annotations": DISK_ANNOTATIONS, "startsAt": alert["startsAt"],
        "endsAt": NEVER, "generatorURL": DISK_GENERATOR, "fingerprint": None,
    }
    assert re.fullmatch("[0-9a-f]{16}", alert["fingerprint"])


def test_the_webhook_gets_a_repeat_identical_to_the_first_post(capture):
    first, repeat, _resolved = capture.of("POST", "/integrations/alertmanager")
    assert repeat.json() == first.json()
    assert repeat.at - first.at >= 5  # repeat_interval


def test_the_webhook_gets_the_resolution_of_the_same_group_and_alert(capture):
    first, _repeat, resolved = capture.of("POST", "/integrations/alertmanager")
    before, after = first.json(), resolved.json()
    assert (after["status"], after["groupKey"]) == ("resolved", before["groupKey"])
    [was], [alert] = before["alerts"], after["alerts"]
    assert alert["status"] == "resolved"
    assert (alert["fingerprint"], alert["startsAt"], alert["generatorURL"]) == \
           (was["fingerprint"], was["startsAt"], was["generatorURL"])
    assert datetime.fromisoformat(alert["endsAt"]) >= datetime.fromisoformat(alert["startsAt"])


# ---- opsgenie_configs -------------------------------------------------------------------------------------------

def opsgenie_creates(capture: Capture, alertname: str) -> list[Recorded]:
    alias = sha256(group_key("opsgenie", alertname))
    return [r for r in capture.of("POST", "/opsgenie/v2/alerts") if r.json()["alias"] == alias]


def test_opsgenie_gets_a_create_with_the_api_key_and_an_alias_per_group(capture):
    create = capture.of("POST", "/opsgenie/v2/alerts")[0]
    assert create.headers["Authorization"] == f"GenieKey {capture.token}"
    assert create.query == {}
    queue = opsgenie_creates(capture, "QueueStuck")[0].json()
    assert queue == {
        # The alias is the SHA-256 of the group key: one Opsgenie alert per Alertmanager group.
        "alias": sha256(group_key("opsgenie", "QueueStuck")),
        "message": "[FIRING:1] QueueStuck (P1 billing opsgenie)",  # common label values by name, not the summary
        "description": queue["description"],
        "details": QUEUE,  # the common labels
        "priority": "P1",  # from the `priority` label, by the config's template
        "source": f"{capture.alertmanager.url}/#/alerts?receiver=opsgenie",
    }
    assert "Billing queue stuck for 10 minutes" in queue["description"]


def test_opsgenie_gets_no_priority_when_the_alert_has_no_priority_label(capture):
    [cert, _repeat] = opsgenie_creates(capture, "CertExpiring")
    assert "priority" not in cert.json()  # so Opsgenie's default, P3, applies


def test_opsgenie_gets_the_message_and_description_put_after_each_create(capture):
    alias = sha256(group_key("opsgenie", "QueueStuck"))
    create = opsgenie_creates(capture, "QueueStuck")[0]
    message = capture.of("PUT", f"/opsgenie/v2/alerts/{alias}/message")
    description = capture.of("PUT", f"/opsgenie/v2/alerts/{alias}/description")
    assert len(message) == len(description) == 2  # first notification and repeat
    assert create.at <= message[0].at <= description[0].at
    for put in message + description:
        assert put.query == {"identifierType": "alias"}
        assert put.headers["Authorization"] == f"GenieKey {capture.token}"
    assert message[0].json() == {"message": create.json()["message"]}
    assert description[0].json() == {"description": create.json()["description"]}


def test_opsgenie_gets_a_close_by_alias_when_the_group_resolves(capture):
    alias = sha256(group_key("opsgenie", "QueueStuck"))
    [close] = capture.of("POST", f"/opsgenie/v2/alerts/{alias}/close")
    assert close.query == {"identifierType": "alias"}
    assert close.headers["Authorization"] == f"GenieKey {capture.token}"
    assert close.json() == {"source": f"{capture.alertmanager.url}/#/alerts?receiver=opsgenie"}


# ---- pagerduty_configs ------------------------------------------------------------------------------------------

def test_pagerduty_gets_trigger_repeat_and_resolve_with_one_dedup_key_and_the_routing_key(capture):
    events = capture.of("POST", "/pagerduty/v2/enqueue")
    assert "Authorization" not in events[0].headers  # the routing key is the only credential
    bodies = [e.json() for e in events]
    assert [b["event_action"] for b in bodies] == ["trigger", "trigger", "resolve"]
    assert {b["routing_key"] for b in bodies} == {capture.token}
    assert {b["dedup_key"] for b in bodies} == {sha256(group_key("pagerduty", "ApiDown"))}
    trigger, _repeat, resolve = bodies
    assert trigger["payload"] | {"custom_details": None} == {
        "summary": "[FIRING:1] ApiDown (pagerduty api warning)",
        "source": "Alertmanager",
        "severity": "warning",  # from the `severity` label, by the config's template
        "custom_details": None,
    }
    assert trigger["payload"]["custom_details"]["num_firing"] == "1"
    assert "API answers 503" in trigger["payload"]["custom_details"]["firing"]
    assert (trigger["client"], trigger["client_url"]) == \
           ("Alertmanager", f"{capture.alertmanager.url}/#/alerts?receiver=pagerduty")
    assert resolve["payload"]["summary"] == "[RESOLVED] ApiDown (pagerduty api warning)"


def test_alertmanager_counts_each_answer_a_success(capture):
    log = capture.alertmanager.output()
    for receiver in ("webhook", "opsgenie", "pagerduty"):
        assert f'receiver={receiver} integration={receiver}[0] msg="Notify success"' in log
    assert "failed" not in log.lower()


# ---- fixtures for the parsers' tests ----------------------------------------------------------------------------

def kinds(capture: Capture) -> dict[str, Recorded]:
    webhook = capture.of("POST", "/integrations/alertmanager")
    pagerduty = capture.of("POST", "/pagerduty/v2/enqueue")
    alias = sha256(group_key("opsgenie", "QueueStuck"))
    return {
        "webhook_firing": webhook[0],
        "webhook_resolved": webhook[-1],
        "opsgenie_create": opsgenie_creates(capture, "QueueStuck")[0],
        "opsgenie_message": capture.of("PUT", f"/opsgenie/v2/alerts/{alias}/message")[0],
        "opsgenie_description": capture.of("PUT", f"/opsgenie/v2/alerts/{alias}/description")[0],
        "opsgenie_close": capture.of("POST", f"/opsgenie/v2/alerts/{alias}/close")[0],
        "pagerduty_trigger": pagerduty[0],
        "pagerduty_resolve": pagerduty[-1],
    }


def as_fixture(recorded: Recorded, capture: Capture) -> dict:
    """The request as a fixture: the secret and Alertmanager's port replaced by fixed stand-ins."""
    headers = {name: recorded.headers[name] for name in ("Authorization", "Content-Type", "User-Agent")
               if name in recorded.headers}
    text = json.dumps({"method": recorded.method, "path": recorded.path, "query": recorded.query,
                       "headers": headers, "body": recorded.json()}, indent=2, ensure_ascii=False)
    return json.loads(text.replace(capture.token, FAKE_TOKEN).replace(capture.alertmanager.url, FAKE_URL))


def shape(value):
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_the_fixtures_have_the_shape_this_alertmanager_sends(capture):
    for name, recorded in kinds(capture).items():
        path = FIXTURES / f"{name}.json"
        fresh = as_fixture(recorded, capture)
        if os.environ.get("WRITE_ALERTMANAGER_FIXTURES"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
        saved = json.loads(path.read_text())
        assert capture.token not in path.read_text()
        assert {k: saved[k] for k in ("method", "path", "query")} == {k: fresh[k] for k in ("method", "path", "query")}
        assert {k: v.split()[0] for k, v in saved["headers"].items()} == \
               {k: v.split()[0] for k, v in fresh["headers"].items()}, name
        assert shape(saved["body"]) == shape(fresh["body"]), f"{name}: rewrite with WRITE_ALERTMANAGER_FIXTURES=1"
