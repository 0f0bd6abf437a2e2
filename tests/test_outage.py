"""A database outage under live calls, in-process, on SQLite and PostgreSQL: for a while every connection the
server asks for is refused, as when the database server is stopped (the real server against a stopped
PostgreSQL is in tests/test_faults.py). Plivo still gets a valid document at once; what its callbacks
report lands once the database is back, as of when they came, once; a live call waits on the line."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from answer_server.plivo.journal import Entry, entry_line
from answer_server.plivo.webhooks import HOLD_LIMIT
from tests.conftest import callback_path, hear_code, key_path, running_app, send
from tests.fakes.senders import SlackSender
from voice.calls.outcomes import Outcome
from voice.clock import utcnow
from voice.queue.work import LEASE

CODE = "483920"
NUMBER = "+14155550123"
CHANNEL = "C0OPS"
ALICE, BOB = "+14155550101", "+14155550102"


class DatabaseOutage:
    """While `down`, every connection the engine's pool hands out is refused, as by a stopped server."""

    def __init__(self, engine):
        self.down = False
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, *_):
        if self.down:
            raise OperationalError("connect", {}, ConnectionRefusedError("the database server is not running"))


@pytest.fixture
def app(settings, database_url, plivo_api):
    app = running_app(replace(settings, database_url=database_url))
    yield app
    app.extensions["voicebridge"]["close"]()  # before its database goes


@pytest.fixture
def outage(app) -> DatabaseOutage:
    outage = DatabaseOutage(app.extensions["voicebridge"]["engine"])
    yield outage
    outage.down = False  # the app's workers hand their work back as it closes


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    from tests.conftest import SIGNING_SECRET

    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


def journal_files(settings) -> list[Path]:
    directory = Path(settings.callback_journal_dir)
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def leg_of(app, created: dict):
    return app.extensions["voicebridge"]["legs"].get(created["answer_url"].rstrip("/").rsplit("/", 1)[1])


def place_code_call(client, slack, plivo_rest, fake_slack) -> dict:
    assert send(client, slack.command(f"{NUMBER} {CODE}")).status_code == 200
    return fake_slack.wait_for(lambda: plivo_rest.created and plivo_rest.created[0])


def test_a_hangup_sent_while_the_database_is_out_lands_once_it_is_back_as_of_when_it_came(
        app, client, slack, plivo, plivo_rest, fake_slack, outage, settings):
    created = place_code_call(client, slack, plivo_rest, fake_slack)
    send(client, plivo.ring(callback_path(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    assert hear_code(client, plivo, created) == CODE

    outage.down = True
    hung_up_at = utcnow()
    hangup = plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21)
    reply = send(client, hangup)
    assert reply.status_code == 200 and ET.fromstring(reply.get_data()).tag == "Response"
    [kept] = journal_files(settings)
    assert "call-1" in kept.read_text() and CODE not in kept.read_text()
    time.sleep(1.5)  # the journal tries, and waits: the database is still out
    outage.down = False

    leg = fake_slack.wait_for(lambda: (leg := leg_of(app, created)) and leg.ended and leg)
    assert leg.outcome == Outcome.ANSWERED and leg.duration == 21
    assert abs(leg.ended_at - hung_up_at) < timedelta(seconds=1), "the end is when Plivo said, not when applied"
    # A status update in hand when the database went is taken up again once its lease runs out (15 s).
    fake_slack.wait_for_message(CHANNEL, lambda m: "code read · 21 s" in (m.text or ""), timeout=LEASE.total_seconds() + 5)
    fake_slack.wait_for(lambda: not journal_files(settings))

    assert send(client, hangup).status_code == 200  # Plivo's own retry, later: nothing changes
    again = leg_of(app, created)
    assert (again.outcome, again.ended_at, again.duration) == (leg.outcome, leg.ended_at, leg.duration)


def test_an_alert_chain_moves_on_when_the_database_is_back_and_calls_the_next_link_once(
        app, client, slack, plivo, plivo_rest, fake_slack, outage, settings):
    assert send(client, slack.command(f"{ALICE} &gt; {BOB} Primary is down", command="/voicealert")).status_code == 200
    first = fake_slack.wait_for(lambda: plivo_rest.created and plivo_rest.created[0])
    assert first["to"] == ALICE

    outage.down = True
    missed = send(client, plivo.hangup(callback_path(first["hangup_url"]), call_uuid="call-a", to=ALICE,
                                       status="no-answer", duration=0, cause_code=3030, cause_name="No Answer"))
    assert missed.status_code == 200
    time.sleep(1.0)
    assert [body["to"] for body in plivo_rest.created] == [ALICE]  # nothing can move while it is out
    outage.down = False

    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2, timeout=10)
    time.sleep(1.0)  # a second dial of the next link would come by now
    assert [body["to"] for body in plivo_rest.created] == [ALICE, BOB]
    fake_slack.wait_for(lambda: not journal_files(settings))


def test_a_call_answered_while_the_database_is_out_waits_on_the_line_then_hears_its_code(
        app, client, slack, plivo, plivo_rest, fake_slack, outage):
    created = place_code_call(client, slack, plivo_rest, fake_slack)
    outage.down = True
    first = ET.fromstring(send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1",
                                                    to=NUMBER)).get_data())
    assert [element.tag for element in first] == ["Speak", "Wait", "Redirect"]
    assert first.find("Speak").text == "One moment, please."
    again = first.find("Redirect").text
    assert again == created["answer_url"] + "?held=1"
    # A key pressed meanwhile is not lost silently: the call asks for the key gate again.
    pressed = ET.fromstring(send(client, plivo.digits(key_path(created), call_uuid="call-1", to=NUMBER,
                                                      digits="5")).get_data())
    assert pressed.find("Redirect").text == created["answer_url"] + "?held=1"
    second = ET.fromstring(send(client, plivo.redirect(callback_path(again), call_uuid="call-1",
                                                       to=NUMBER)).get_data())
    assert [element.tag for element in second] == ["Wait", "Redirect"]  # said once, then silence
    assert second.find("Redirect").text == created["answer_url"] + "?held=2"

    outage.down = False
    back = ET.fromstring(send(client, plivo.redirect(callback_path(second.find("Redirect").text),
                                                     call_uuid="call-1", to=NUMBER)).get_data())
    assert "Press any key to hear your code." in "".join(s.text for s in back.iter("Speak"))


def test_a_call_held_too_long_hears_an_apology_instead_of_waiting_for_ever(
        app, client, slack, plivo, plivo_rest, fake_slack, outage):
    created = place_code_call(client, slack, plivo_rest, fake_slack)
    outage.down = True
    last = f"{callback_path(created['answer_url'])}?held={HOLD_LIMIT}"
    document = ET.fromstring(send(client, plivo.redirect(last, call_uuid="call-1", to=NUMBER)).get_data())
    assert document.find("Redirect") is None and document.find("Hangup") is not None
    assert "try again later" in document.find("Speak").text


def test_a_key_pressed_in_an_alert_menu_while_the_database_is_out_brings_the_menu_back(
        app, client, slack, plivo, plivo_rest, fake_slack, outage):
    assert send(client, slack.command(f"{ALICE} Primary is down", command="/voicealert")).status_code == 200
    created = fake_slack.wait_for(lambda: plivo_rest.created and plivo_rest.created[0])
    keys = callback_path(created["answer_url"].replace("/answer/", "/keys/"))
    menu = created["answer_url"].replace("/answer/", "/menu/")
    outage.down = True
    held = ET.fromstring(send(client, plivo.digits(keys, call_uuid="call-a", to=ALICE, digits="1")).get_data())
    assert held.find("Redirect").text == menu + "?held=1"
    outage.down = False
    back = ET.fromstring(send(client, plivo.redirect(callback_path(menu + "?held=1"), call_uuid="call-a",
                                                     to=ALICE)).get_data())
    assert back.find("GetDigits") is not None  # the menu: the callee presses 1 again


def test_callbacks_kept_by_a_process_that_died_are_applied_by_the_next_one_at_start(
        settings, database_url, plivo_api, plivo_rest, fake_slack, slack, plivo):
    settings = replace(settings, database_url=database_url)
    first = running_app(settings)
    client = first.test_client()
    created = place_code_call(client, slack, plivo_rest, fake_slack)
    token = created["answer_url"].rsplit("/", 1)[1]
    first.extensions["voicebridge"]["close"]()
    # What the dead process had kept (its lock went with it): a ring, then the hangup of an unanswered call.
    directory = Path(settings.callback_journal_dir)
    directory.mkdir(parents=True, exist_ok=True)
    came = utcnow() - timedelta(seconds=30)
    lines = [entry_line(Entry("plivo", "ring", token, {"CallUUID": "call-1"}, came)),
             b'{"hook":"plivo","event":"hang',  # cut short by the crash: skipped
             entry_line(Entry("plivo", "hangup", token, {"CallUUID": "call-1", "CallStatus": "no-answer",
                                                         "HangupCauseCode": "3030", "HangupCauseName": "No Answer",
                                                         "Duration": "0", "Digits": "1234"}, came))]
    (directory / "callbacks-99999-deadbeef.jsonl").write_bytes(lines[0] + lines[1] + b"\n" + lines[2])

    second = running_app(settings)
    try:
        leg = fake_slack.wait_for(lambda: (leg := leg_of(second, created)) and leg.ended and leg)
        assert leg.outcome == Outcome.NO_ANSWER and abs(leg.ended_at - came) < timedelta(seconds=1)
        assert not journal_files(settings)
    finally:
        second.extensions["voicebridge"]["close"]()  # before its database goes
