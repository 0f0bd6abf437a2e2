"""The hotline's Call back button through the whole app, in-process: Slack's signed block_actions click as
Slack sends it, then the clicker's call and the caller's, each driven as Plivo drives it (answer, the room's
enter and exit, hangup), Plivo's REST API on `responses`, and the call's message on a loopback Slack. Every
document is checked against the Plivo XML rules table."""

from __future__ import annotations

from dataclasses import replace
from xml.etree import ElementTree as ET

import pytest

from answer_server.sandbox.plivo_xml_rules import document_problems
from tests.conftest import SIGNING_SECRET, send
from tests.fakes.senders import SlackSender
from tests.test_alert_callees import conference_of, enter
from tests.test_hotline_flow import CALLER, Caller, hotline_app
from tests.test_voicealert_flow import CHANNEL, Callee, buttons, callee, settle, speech

CAROL = "+14155550103"
CALL_BACK = "hotline_call_back"


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ALICE", "Alice Smith", "+1 415 555 0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")
    fake_slack.add_user("U0CAROL", "Carol King", "+1 415 555 0103", locale="fr-FR")
    fake_slack.add_user("U0DAN", "Dan Brown", "")


@pytest.fixture
def client(settings, plivo_api, clock):
    app = hotline_app(settings, clock)
    yield app.test_client()
    app.extensions["voicebridge"]["close"]()


class Checked(Callee):
    """A call driven as Plivo drives it, each of whose documents Plivo would accept."""

    def _post(self, signed) -> ET.Element:
        reply = send(self.client, signed)
        assert reply.status_code == 200 and document_problems(reply.get_data()) == [], reply.get_data()
        settle(self.client)
        return ET.fromstring(reply.get_data())


def phone(client, plivo, plivo_rest, number, nth=0) -> Checked:
    found = callee(client, plivo, plivo_rest, number, nth)
    return Checked(client, plivo, found.created, found.call_uuid)


def over(client, fake_slack, number=CALLER):
    """A caller who hung up while the chain was being phoned; the call's message once it says so."""
    caller = Caller(client, number=number)
    caller.calls()
    waiting = fake_slack.wait_for_message(CHANNEL, lambda m: "waiting" in (m.text or ""))
    assert buttons(waiting) == []  # not while the caller waits
    caller.hang_up()
    return fake_slack.wait_for_message(CHANNEL, lambda m: "the caller hung up" in (m.text or ""))


def click(client, fake_slack, message, user_id, name, *, then_settle=True):
    """Call back, clicked as Slack sends it; the click's own response_url (what only the clicker sees)."""
    url = fake_slack.response_url(name)
    value = next(e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"])
    signed = SlackSender(SIGNING_SECRET).action(
        CALL_BACK, value, message={"ts": message.ts, "text": message.text, "blocks": message.blocks},
        user_id=user_id, username=name, channel_id=CHANNEL, response_url=url)
    assert send(client, signed).status_code == 200
    if then_settle:
        settle(client)
    return url


def shown(fake_slack, needle):
    return fake_slack.wait_for_message(CHANNEL, lambda m: needle in (m.text or "") + str(m.blocks))


def test_call_back_phones_the_clicker_then_the_caller_into_one_room_and_the_message_follows(
        client, plivo, plivo_rest, fake_slack, clock):
    message = over(client, fake_slack)
    assert buttons(message) == [CALL_BACK]
    called = len(plivo_rest.created)
    url = click(client, fake_slack, message, "U0CAROL", "carol")

    # Carol is phoned at her profile's number, as a call into a bridge (no machine detection); in French.
    fake_slack.wait_for(lambda: plivo_rest.to(CAROL))
    assert len(plivo_rest.created) == called + 1 and "/plivo/bridge/answer/" in plivo_rest.to(CAROL)[0]["answer_url"]
    assert "machine_detection" not in plivo_rest.to(CAROL)[0]
    shown(fake_slack, "called back by <@U0CAROL> · calling <@U0CAROL>…")
    carol = phone(client, plivo, plivo_rest, CAROL)
    heard = carol.answer()
    # (Her goodbye is said once the room ends.)
    assert speech(heard) == ["Nous rappelons l'appelant. Restez en ligne.", "Au revoir."]
    room = conference_of(heard)
    assert room.text.startswith("hotline-") and CALLER.lstrip("+") not in room.text
    assert (room.get("startConferenceOnEnter"), room.get("endConferenceOnExit")) == ("true", "true")
    assert not plivo_rest.to(CALLER)  # not before Carol is in the room

    # Her entering phones the caller into the same room, in the hotline's language.
    enter(client, plivo, carol, room)
    fake_slack.wait_for(lambda: plivo_rest.to(CALLER))
    shown(fake_slack, "called back by <@U0CAROL> · calling the caller…")
    caller = phone(client, plivo, plivo_rest, CALLER)
    greeted = caller.answer()
    assert speech(greeted) == ["This is Backend on call calling you back.", "Goodbye."]
    assert conference_of(greeted).text == room.text
    enter(client, plivo, caller, conference_of(greeted))
    shown(fake_slack, "called back by <@U0CAROL> · connected · 0 s")

    # They talk; the caller hangs up, which ends the room: Carol hears goodbye.
    clock.advance(minutes=3, seconds=12)
    enter(client, plivo, caller, room, action="exit")
    caller.hang_up(duration=192)
    enter(client, plivo, carol, room, action="exit")
    carol.hang_up(duration=200)
    ended = shown(fake_slack, "called back by <@U0CAROL> · connected · 3 min 12 s · ended")
    assert "the caller hung up" in ended.text and len(fake_slack.messages(CHANNEL)) == 1
    assert fake_slack.responses_to(url) == []  # nothing to tell her
    assert buttons(ended) == [CALL_BACK]  # over: it may be called back again


def test_a_second_click_while_one_is_under_way_is_told_so_and_phones_nobody(
        client, plivo, plivo_rest, fake_slack):
    message = over(client, fake_slack)
    click(client, fake_slack, message, "U0CAROL", "carol")
    fake_slack.wait_for(lambda: plivo_rest.to(CAROL))
    called = len(plivo_rest.created)
    url = click(client, fake_slack, message, "U0BOB", "bob")
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["response_type"] == "ephemeral"
    assert told["text"] == ":telephone_receiver: <@U0CAROL> is calling this caller back already. Wait until that " \
                           "call is over."
    assert len(plivo_rest.created) == called

    # Carol does not answer: that callback is over, and Bob's click now phones him.
    phone(client, plivo, plivo_rest, CAROL).hang_up("no-answer", 3030, "No Answer", 0)
    shown(fake_slack, "called back by <@U0CAROL> · <@U0CAROL> did not answer")
    click(client, fake_slack, message, "U0BOB", "bob")
    fake_slack.wait_for(lambda: len(plivo_rest.created) == called + 1)
    assert plivo_rest.created[-1]["to"] == "+14155550102" and "/plivo/bridge/" in plivo_rest.created[-1]["answer_url"]
    assert len(fake_slack.responses_to(url)) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def any_client(request, settings, plivo_api, clock):
    """The app on SQLite, and on PostgreSQL where TEST_DATABASE_URL is set (its own schema)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("client")
        return
    app = hotline_app(replace(settings, database_url=request.getfixturevalue("postgres_url")), clock)
    yield app.test_client()
    app.extensions["voicebridge"]["close"]()


def test_two_clicks_at_once_phone_one_of_them_and_tell_the_other(any_client, plivo_rest, fake_slack):
    client = any_client
    message = over(client, fake_slack)
    called = len(plivo_rest.created)
    urls = [click(client, fake_slack, message, user, name, then_settle=False)
            for user, name in (("U0CAROL", "carol"), ("U0BOB", "bob"))]
    settle(client)
    fake_slack.wait_for(lambda: len(plivo_rest.created) == called + 1)
    [told] = fake_slack.wait_for(lambda: [r for url in urls for r in fake_slack.responses_to(url)])
    assert "is calling this caller back already" in told["text"]
    assert len(plivo_rest.created) == called + 1


def test_a_caller_is_called_back_three_times_at_most(client, plivo, plivo_rest, fake_slack):
    message = over(client, fake_slack)
    for nth in range(3):
        click(client, fake_slack, message, "U0CAROL", "carol")
        fake_slack.wait_for(lambda: len(plivo_rest.to(CAROL)) == nth + 1)
        phone(client, plivo, plivo_rest, CAROL, nth).hang_up("no-answer", 3030, "No Answer", 0)
    last = fake_slack.wait_for_message(CHANNEL, lambda m: str(m.blocks).count("did not answer") == 3)
    assert buttons(last) == []
    url = click(client, fake_slack, message, "U0CAROL", "carol")  # the old message's button, clicked again
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["text"] == ":telephone_receiver: This caller has been called back 3 times already."
    assert len(plivo_rest.to(CAROL)) == 3


def test_a_withheld_caller_has_no_call_back_button(client, plivo_rest, fake_slack):
    message = over(client, fake_slack, number=None)
    assert "from a withheld number" in message.text and buttons(message) == []
    assert all(block["type"] != "actions" for block in message.blocks)


def test_the_caller_not_answering_is_said_to_the_clicker_whose_call_then_ends(
        client, plivo, plivo_rest, fake_slack, clock):
    click(client, fake_slack, over(client, fake_slack), "U0ALICE", "alice")
    fake_slack.wait_for(lambda: len(plivo_rest.to("+14155550101")) == 2)  # her call-out, then her callback
    alice = phone(client, plivo, plivo_rest, "+14155550101", nth=1)
    room = conference_of(alice.answer())
    enter(client, plivo, alice, room)
    fake_slack.wait_for(lambda: plivo_rest.to(CALLER))
    phone(client, plivo, plivo_rest, CALLER).hang_up("no-answer", 3030, "No Answer", 0)
    fake_slack.wait_for(lambda: plivo_rest.spoken)
    [(conference, member, said)] = plivo_rest.spoken
    assert (conference, member, said["text"]) == (room.text, "1", "The caller did not answer. Goodbye.")
    shown(fake_slack, "called back by <@U0ALICE> · the caller did not answer")
    clock.advance(seconds=16)  # time for the sentence; nobody else can join
    settle(client)
    assert ("Call", alice.call_uuid) in plivo_rest.stopped


def test_the_clicker_leaving_before_the_caller_answers_stops_the_callers_call(client, plivo, plivo_rest, fake_slack):
    click(client, fake_slack, over(client, fake_slack), "U0CAROL", "carol")
    fake_slack.wait_for(lambda: plivo_rest.to(CAROL))
    carol = phone(client, plivo, plivo_rest, CAROL)
    room = conference_of(carol.answer())
    enter(client, plivo, carol, room)
    fake_slack.wait_for(lambda: plivo_rest.to(CALLER))
    caller = phone(client, plivo, plivo_rest, CALLER)
    caller.ring()
    enter(client, plivo, carol, room, action="exit")
    carol.hang_up()
    fake_slack.wait_for(lambda: ("Request", caller.created["request_uuid"]) in plivo_rest.stopped)
    caller.hang_up("cancel", 1000, "Canceled", 0)
    shown(fake_slack, "called back by <@U0CAROL> · stopped: nobody was left to talk to")


def test_someone_without_a_number_is_told_and_nobody_is_phoned(client, plivo_rest, fake_slack):
    message = over(client, fake_slack)
    called = len(plivo_rest.created)
    url = click(client, fake_slack, message, "U0DAN", "dan")
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["response_type"] == "ephemeral" and "has no phone number" in told["text"]
    assert "click Call back again" in told["text"] and len(plivo_rest.created) == called


def test_only_the_people_who_may_place_calls_may_call_back(settings, plivo_api, plivo, plivo_rest, clock,
                                                           fake_slack):
    app = hotline_app(settings, clock, allowed_slack_users=frozenset({"U0CAROL"}))
    client = app.test_client()
    try:
        message = over(client, fake_slack)
        called = len(plivo_rest.created)
        url = click(client, fake_slack, message, "U0BOB", "bob")
        [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
        assert told["response_type"] == "ephemeral" and "not allowed to place calls" in told["text"]
        assert len(plivo_rest.created) == called
        click(client, fake_slack, message, "U0CAROL", "carol")
        fake_slack.wait_for(lambda: plivo_rest.to(CAROL))
    finally:
        app.extensions["voicebridge"]["close"]()


def test_a_caller_whose_number_the_call_policy_refuses_is_not_called_back(settings, plivo_api, plivo_rest, clock,
                                                                          fake_slack):
    app = hotline_app(settings, clock, allowed_countries=frozenset({"US"}))
    client = app.test_client()
    try:
        message = over(client, fake_slack, number="+442072193000")
        called = len(plivo_rest.created)
        url = click(client, fake_slack, message, "U0CAROL", "carol")
        [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
        assert told["text"].startswith(":telephone_receiver: The caller's number cannot be called. +44 ")
        assert "United Kingdom" in told["text"] and "2193000" not in told["text"]  # masked, even to her alone
        assert len(plivo_rest.created) == called
    finally:
        app.extensions["voicebridge"]["close"]()
