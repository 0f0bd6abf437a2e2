"""A real Prometheus Alertmanager against the real server, each in its own process.

`python -m answer_server` runs with a ROUTING_FILE integration that phones a Slack user, on loopback fakes of
Slack's and Plivo's APIs; Debian's `prometheus-alertmanager` (tests/peers/alertmanager.py) points its webhook,
Opsgenie and PagerDuty receivers at the server. Alerts are fired and resolved through Alertmanager's own API,
and the test checks what the peers see: the calls Plivo is asked to place and to stop, the incidents' messages
in Slack, and Alertmanager's own account of each notification in its log.
"""

from __future__ import annotations

import re
import secrets
import time
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.fakes.plivo_api import FakePlivoApi
from tests.fakes.senders import PlivoSender
from tests.fakes.slack_api import FakeSlackApi, Message
from tests.peers.alertmanager import RECEIVERS, Alertmanager, alertmanager_binary
from tests.server_process import ServerProcess, bare_env, free_port, settings_env

TOKEN = secrets.token_hex(16)
CHANNEL = "C0OPS"
ALICE = "+14155550101"

ROUTING = f"""\
integrations:
  - name: backend-prod
    token_env: BACKEND_PROD_TOKEN
    channel: {CHANNEL}
    call: U0ALICE
"""

DISK = {"alertname": "DiskFull", "receiver": "webhook", "instance": "db1", "severity": "critical"}
DISK_2 = DISK | {"instance": "db2"}  # the same group (group_by: alertname)
DISK_NOTES = {"summary": "Disks of the database are filling up", "runbook_url": "https://runbooks.example/disk"}
QUEUE = {"alertname": "QueueStuck", "receiver": "opsgenie", "priority": "P1", "queue": "billing"}
API = {"alertname": "ApiDown", "receiver": "pagerduty", "severity": "critical", "service": "api"}
SUMMARIES = {  # what each receiver makes the incident's summary
    "webhook": DISK_NOTES["summary"],  # commonAnnotations.summary
    "opsgenie": "[FIRING:1] QueueStuck (P1 billing opsgenie)",  # Alertmanager's default Opsgenie message
    "pagerduty": "[FIRING:1] ApiDown (pagerduty api critical)",  # Alertmanager's default PagerDuty summary
}
SOURCES = {"webhook": "(Alertmanager)", "opsgenie": "(Opsgenie API)", "pagerduty": "(PagerDuty Events API)"}
RESOLVED_BY = {"webhook": "Resolved by Alertmanager", "opsgenie": "Resolved by an Opsgenie client",
               "pagerduty": "Resolved by a PagerDuty client"}


@pytest.fixture(autouse=True)
def binary():
    """Skip before starting anything when Alertmanager is not installed."""
    return alertmanager_binary()


@pytest.fixture
def server_env(tmp_path, fake_slack, fake_plivo) -> dict[str, str]:
    fake_slack.add_user("U0ALICE", "Alice Smith", "+1 415 555 0101")
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING)
    return bare_env() | settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url) | {
        "ROUTING_FILE": str(routing), "BACKEND_PROD_TOKEN": TOKEN,
        "INTEGRATION_CALL_INTERVAL": "0",  # each incident phones: three at once are no storm here
    }


@pytest.fixture
def plivo(server_env) -> PlivoSender:
    return PlivoSender(AUTH_TOKEN, server_env["PUBLIC_URL"])


# -- what the peers saw -------------------------------------------------------------------------------------------

def notified(alertmanager: Alertmanager, receiver: str) -> list[int]:
    """The attempts of each notification Alertmanager counts a success for `receiver`, in order."""
    return [int(n) for n in re.findall(rf'receiver={receiver} integration={receiver}\[0\] msg="Notify success" '
                                       r"attempts=(\d+)", alertmanager.output())]


def wait_until(condition, timeout: float, what: str, *logs) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s\n" + "\n".join(log() for log in logs))
        time.sleep(0.05)


def incident_messages(fake_slack: FakeSlackApi) -> dict[str, Message]:
    """The channel's messages by the receiver whose incident each one shows."""
    found: dict[str, Message] = {}
    for message in fake_slack.messages(CHANNEL):
        [receiver] = [r for r, source in SOURCES.items() if source in (message.text or "")] or [None]
        assert receiver is not None and receiver not in found, [m.text for m in fake_slack.messages(CHANNEL)]
        found[receiver] = message
    return found


def shown(message: Message) -> str:
    return (message.text or "") + "\n".join(str(block) for block in message.blocks or [])


def stops(fake_plivo: FakePlivoApi) -> list[str]:
    """What Plivo was asked to stop: `Request/<request uuid>` (a call not answered) or `Call/<call uuid>`."""
    prefix = f"/v1/Account/{AUTH_ID}/"
    return [path[len(prefix):].strip("/") for method, path in fake_plivo.requests if method == "DELETE"]


def ring(server: ServerProcess, plivo: PlivoSender, created: dict) -> str:
    """Plivo's ring callback for a placed call: it is ringing now. Its call UUID."""
    call_uuid = f"call-{created['request_uuid']}"
    reply = server.send(plivo.ring(server.path_of(created["ring_url"]), call_uuid=call_uuid, to=created["to"],
                                   request_uuid=created["request_uuid"]))
    assert reply.status_code == 200, reply.text
    return call_uuid


def answer(server: ServerProcess, plivo: PlivoSender, created: dict, call_uuid: str) -> str:
    """The callee picks up; what they hear."""
    reply = server.send(plivo.answer(server.path_of(created["answer_url"]), call_uuid=call_uuid,
                                     to=created["to"], request_uuid=created["request_uuid"]))
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/xml"), reply.text
    return " ".join(speak.text or "" for speak in ET.fromstring(reply.content).iter("Speak"))


# -- firing, Alertmanager's repeat, a group that grows, resolving -------------------------------------------------

def test_alerts_through_each_receiver_phone_once_per_group_and_resolving_stops_the_calls(
        launch, tmp_path, fake_slack, fake_plivo, plivo):
    server = launch()
    with Alertmanager(tmp_path / "alertmanager", server.url, TOKEN) as alertmanager:
        logs = (alertmanager.output, server.output)
        alertmanager.fire(DISK, DISK_NOTES, generator_url="http://prometheus.example:9090/graph?g0.expr=disk")
        alertmanager.fire(QUEUE, {"summary": "Billing queue stuck for 10 minutes"})
        alertmanager.fire(API, {"summary": "API answers 503"})

        # One call-out and one message per group, each group sent to one receiver.
        wait_until(lambda: len(fake_plivo.created) >= 3 and len(fake_slack.messages(CHANNEL)) >= 3, 10,
                   "three calls and three messages", *logs)
        created = list(fake_plivo.created)
        assert [call["to"] for call in created] == [ALICE] * 3
        for call in created:
            assert call["answer_url"].startswith(server.url + "/plivo/"), call
        messages = incident_messages(fake_slack)
        assert set(messages) == set(RECEIVERS)
        for receiver, message in messages.items():
            assert "*backend-prod*" in message.text and SUMMARIES[receiver] in shown(message), message.text
        assert "https://runbooks.example/disk" in shown(messages["webhook"])

        # Every call rings; Alice picks up one of them and hears the integration and its summary.
        call_uuids = [ring(server, plivo, call) for call in created]
        heard = answer(server, plivo, created[0], call_uuids[0])
        assert "backend-prod" in heard
        [answered] = [r for r in RECEIVERS if SUMMARIES[r] in heard]
        for receiver in RECEIVERS:
            fake_slack.wait_for_message(CHANNEL, lambda m, r=receiver: SOURCES[r] in m.text and (
                ":bell: ringing" in shown(m) or r == answered))

        # repeat_interval (5 s) later Alertmanager sends every group again: it is taken, nobody is phoned again.
        # (A repeat is the same bytes as the first post; within the server's RETRY_WINDOW, 2 minutes, it is
        # taken as the sender's retry, so with these short intervals the message does not count it.)
        wait_until(lambda: all(len(notified(alertmanager, r)) >= 2 for r in RECEIVERS), 12,
                   "Alertmanager's repeat of each group", *logs)
        # A second alert joins the webhook's group: Alertmanager sends the grown group at the next
        # group_interval; the incident's message says it fired again, and still nobody else is phoned.
        alertmanager.fire(DISK_2, DISK_NOTES)
        fake_slack.wait_for_message(CHANNEL, lambda m: SOURCES["webhook"] in m.text and "Fired 2 times" in shown(m),
                                    timeout=6)
        time.sleep(0.5)  # any call-out the repeats had set off would be placed by now (dialling is at once)
        assert len(fake_plivo.created) == 3, fake_plivo.created
        assert len(incident_messages(fake_slack)) == 3
        assert stops(fake_plivo) == []

        # Resolved (the same labels, endsAt in the past): each call is stopped and each message says so.
        before = {r: len(notified(alertmanager, r)) for r in RECEIVERS}
        for labels in (DISK, DISK_2, QUEUE, API):
            alertmanager.resolve(labels)
        for receiver in RECEIVERS:
            fake_slack.wait_for_message(
                CHANNEL, lambda m, r=receiver: SOURCES[r] in m.text and RESOLVED_BY[r] in m.text, timeout=6)
        wait_until(lambda: len(stops(fake_plivo)) >= 3, 5, "the three calls stopped", *logs)
        # The ringing calls are cancelled by their request, the answered one hung up.
        assert sorted(stops(fake_plivo)) == sorted([f"Call/{call_uuids[0]}"] +
                                                   [f"Request/{call['request_uuid']}" for call in created[1:]])
        for receiver, message in incident_messages(fake_slack).items():
            assert "Every call was stopped." in message.text, message.text
        wait_until(lambda: all(len(notified(alertmanager, r)) > before[r] for r in RECEIVERS), 5,
                   "Alertmanager's resolved notifications", *logs)

    # Alertmanager took every answer for a success at the first attempt: what each notifier expects.
    log = alertmanager.output()
    for receiver in RECEIVERS:
        assert set(notified(alertmanager, receiver)) == {1}, (receiver, notified(alertmanager, receiver))
    assert "failed" not in log.lower() and "retry" not in log.lower(), log
    assert len(fake_plivo.created) == 3
    assert len(fake_slack.calls("chat.postMessage")) == 3


# -- a fault: the server down when Alertmanager first notifies ----------------------------------------------------

def test_a_server_down_at_the_first_notification_gets_alertmanagers_retry_and_records_each_alert_once(
        launch, tmp_path, fake_slack, fake_plivo):
    server = launch()
    server.stop()
    with Alertmanager(tmp_path / "alertmanager", server.url, TOKEN) as alertmanager:
        logs = (alertmanager.output, server.output)
        alertmanager.fire(DISK, DISK_NOTES)
        alertmanager.fire(QUEUE, {"summary": "Billing queue stuck for 10 minutes"})
        alertmanager.fire(API, {"summary": "API answers 503"})
        wait_until(lambda: all(f"receiver={r} integration={r}[0] msg=\"Notify attempt failed" in alertmanager.output()
                               for r in RECEIVERS), 5, "a failed first attempt at each receiver", *logs)
        assert fake_plivo.created == [] and fake_slack.messages(CHANNEL) == []

        # Alertmanager tries again (within the flush, or at its next group_interval) until the server answers.
        server.start()
        wait_until(lambda: all(notified(alertmanager, r) for r in RECEIVERS), 15,
                   "each receiver notified once the server is back", *logs)
        wait_until(lambda: len(fake_plivo.created) >= 3 and len(fake_slack.messages(CHANNEL)) >= 3, 5,
                   "three calls and three messages", *logs)
        # Alertmanager's repeat comes too; still one incident and one call-out per group.
        wait_until(lambda: all(len(notified(alertmanager, r)) >= 2 for r in RECEIVERS), 12,
                   "Alertmanager's repeat of each group", *logs)
        time.sleep(0.5)

    assert [call["to"] for call in fake_plivo.created] == [ALICE] * 3
    messages = incident_messages(fake_slack)
    assert set(messages) == set(RECEIVERS)
    for receiver, message in messages.items():
        assert SUMMARIES[receiver] in shown(message), message.text
    assert len(fake_slack.calls("chat.postMessage")) == 3
    assert server.output().count("trigger opened") == 3
