"""The hotline through the whole app, in-process: Plivo's signed inbound call (Direction=inbound, From, To,
CallUUID) and its callbacks as Plivo sends them, the call-outs on Plivo's REST API (`responses`), each callee's
call followed as Plivo follows it, and the call's message on a loopback Slack. Every document is checked
against the Plivo XML rules table."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from answer_server.sandbox.plivo_xml_rules import document_problems
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, SIGNING_SECRET, send
from tests.core import at_once
from tests.fakes.senders import PlivoSender, SlackSender
from tests.test_voicealert_flow import CHANNEL, callee, clocked_app, settle, speech
from voice.routing.loading import parse_routing

HOTLINE, CALLER = "+14155550000", "+14155550123"
ALICE, BOB = "+14155550101", "+14155550102"
ROUTING = f"""
hotlines:
  - number: "{HOTLINE}"
    name: Backend on call
    call: "U0ALICE U0BOB"
    channel: {CHANNEL}
    greeting: "You have reached the backend on-call line."
"""


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ALICE", "Alice Smith", "+1 415 555 0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")


def hotline_app(settings, clock, **changes):
    return clocked_app(replace(settings, routing=parse_routing(ROUTING, {}), **changes), clock)


@pytest.fixture
def app(settings, plivo_api, clock):
    app = hotline_app(settings, clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(app):
    return app.test_client()


class Caller:
    """Someone phoning the hotline, as Plivo reports their call."""

    def __init__(self, client, number: str | None = CALLER, call_uuid: str = "in-1", to: str = HOTLINE):
        self.client, self.number, self.call_uuid, self.to = client, number, call_uuid, to
        self.plivo = PlivoSender(AUTH_TOKEN, PUBLIC_URL)

    def _fields(self) -> dict[str, str]:
        return {"CallUUID": self.call_uuid, "From": (self.number or "anonymous").lstrip("+"),
                "To": self.to.lstrip("+"), "Direction": "inbound", "CallStatus": "ringing", "Event": "StartApp"}

    def post(self, path: str, extra: dict | None = None):
        reply = send(self.client, self.plivo.post(path, self._fields() | (extra or {})))
        assert reply.status_code == 200, reply.get_data(as_text=True)
        document = reply.get_data()
        assert document_problems(document) == [], document
        settle(self.client)
        return ET.fromstring(document)

    def calls(self) -> ET.Element:
        return self.post("/plivo/hotline/answer")

    def hang_up(self) -> None:
        self.post("/plivo/hotline/hangup", {"CallStatus": "completed", "HangupCause": "NORMAL_CLEARING",
                                            "Duration": "30", "BillDuration": "60"})


def path_of(url: str) -> str:
    return url.removeprefix(PUBLIC_URL)


def test_a_caller_waits_in_the_room_while_alice_and_bob_are_phoned_and_alice_takes_it(client, plivo, plivo_rest,
                                                                                      fake_slack):
    caller = Caller(client)
    document = caller.calls()
    assert speech(document) == ["You have reached the backend on-call line.",
                                "Connecting you to the engineer on call. Please stay on the line.", "Goodbye."]
    room = document.find("Conference")
    assert room.get("startConferenceOnEnter") == "false" and room.get("endConferenceOnExit") == "true"
    hold = caller.post(path_of(room.get("waitSound")))
    assert speech(hold) == ["Still trying to reach someone. Please stay on the line."]
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    assert sorted(call["to"] for call in plivo_rest.created) == [ALICE, BOB]

    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    intro = alice.answer()
    assert speech(intro) == ["Incoming call for Backend on call from 4 1 5 5 5 5 0 1 2 3."]
    menu = alice.follow(intro)
    assert speech(menu) == ["Press 1 to take it. Press 2 to hear this again."]
    bob_menu = bob.follow(bob.answer())
    taken = alice.press(menu, "1")
    assert speech(taken)[0] == "Connecting you to the caller."
    into = taken.find("Conference")
    assert into.text == room.text and into.get("startConferenceOnEnter") == "true"
    # Bob's answered call is hung up; had he pressed 1 a moment later, he hears it was taken.
    assert ("Call", bob.call_uuid) in plivo_rest.stopped
    assert speech(bob.press(bob_menu, "1")) == ["Someone else took this call. Goodbye."]
    alice._post(plivo.conference(path_of(into.get("callbackUrl")), call_uuid=alice.call_uuid, room=into.text,
                                 action="enter"))
    message = fake_slack.wait_for_message(CHANNEL, lambda m: "connected with <@U0ALICE>" in (m.text or ""))
    assert "+1 415-•••-0123" in message.text and CALLER not in message.text
    caller.hang_up()
    fake_slack.wait_for_message(CHANNEL, lambda m: "ended" in (m.text or ""))
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_nobody_takes_it_within_the_wait_so_the_caller_is_moved_to_voicemail_and_it_is_posted(
        client, plivo, plivo_rest, fake_slack, clock):
    caller = Caller(client)
    room = caller.calls().find("Conference")
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    clock.advance(seconds=121)  # HOTLINE_WAIT
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.transferred)
    (uuid, body), = plivo_rest.transferred
    assert uuid == caller.call_uuid and body["legs"] == "aleg"
    fake_slack.wait_for(lambda: len(plivo_rest.stopped) == 2)  # both call-outs stop
    # The move makes the caller leave the room: not a hang-up.
    caller.post(path_of(room.get("callbackUrl")), {"ConferenceAction": "exit", "ConferenceName": room.text,
                                                   "ConferenceMemberID": "7"})
    voicemail = caller.post(path_of(body["aleg_url"]))
    assert speech(voicemail)[0].startswith("Nobody could take your call. Please leave a message after the tone")
    record = voicemail.find("Record")
    assert (record.get("maxLength"), record.get("finishOnKey"), record.get("playBeep")) == ("180", "#", "true")
    thanks = caller.post(path_of(record.get("action")), {"RecordUrl": "https://media.plivo.com/v1/Account/x/Recording/r1.mp3",
                                                          "RecordingDurationMs": "42100", "RecordingID": "r1"})
    assert speech(thanks) == ["Thank you. Your message has been passed on. Goodbye."]
    message = fake_slack.wait_for_message(CHANNEL, lambda m: "voicemail, 42 s" in (m.text or ""))
    assert "<https://media.plivo.com/v1/Account/x/Recording/r1.mp3|listen>" in message.text


def test_the_caller_hanging_up_while_waiting_stops_every_call_out(client, plivo, plivo_rest, fake_slack):
    caller = Caller(client)
    caller.calls()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    callee(client, plivo, plivo_rest, ALICE).ring()
    caller.hang_up()
    fake_slack.wait_for(lambda: len(plivo_rest.stopped) == 2)
    fake_slack.wait_for_message(CHANNEL, lambda m: "the caller hung up" in (m.text or ""))
    assert plivo_rest.transferred == []


def test_a_withheld_number_is_answered_and_said_as_such(client, plivo, plivo_rest, fake_slack):
    Caller(client, number=None).calls()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    intro = callee(client, plivo, plivo_rest, ALICE).answer()
    assert speech(intro) == ["Incoming call for Backend on call from a withheld number."]
    fake_slack.wait_for_message(CHANNEL, lambda m: "from a withheld number" in (m.text or ""))


def test_a_number_that_is_not_a_hotline_hears_a_sentence(client, plivo_rest):
    document = Caller(client, to="+14155559999").calls()
    assert speech(document) == ["This number is not in service. Goodbye."] and document[-1].tag == "Hangup"
    assert plivo_rest.created == []


def test_an_unsigned_or_forged_inbound_call_changes_nothing(client, plivo_rest):
    caller = Caller(client)
    forged = caller.plivo.post("/plivo/hotline/answer", caller._fields(), auth_token="not-the-auth-token")
    assert send(client, forged).status_code == 403
    assert client.post("/plivo/hotline/answer", data=caller._fields()).status_code == 403
    settle(client)
    assert plivo_rest.created == []


def test_a_blocked_number_is_hung_up_on_and_a_caller_over_the_limit_goes_to_voicemail(
        settings, plivo_api, plivo_rest, clock, fake_slack):
    app = hotline_app(settings, clock, hotline_blocked=frozenset({"+14155550666"}), hotline_limit_caller_hour=2)
    client = app.test_client()
    try:
        blocked = Caller(client, number="+14155550666", call_uuid="in-blocked").calls()
        assert speech(blocked) == ["Sorry, this line cannot take your call. Goodbye."]
        for n in range(2):
            caller = Caller(client, call_uuid=f"in-{n}")
            caller.calls()
            caller.hang_up()
        assert len(plivo_rest.created) == 4
        third = Caller(client, call_uuid="in-3").calls()
        assert speech(third)[0].startswith("Nobody could take your call.") and third.find("Record") is not None
        settle(client)
        assert len(plivo_rest.created) == 4
        fake_slack.wait_for_message(CHANNEL, lambda m: "straight to voicemail" in (m.text or ""))
    finally:
        app.extensions["voicebridge"]["close"]()


def test_plivo_asking_for_the_answer_again_places_no_second_round(client, plivo_rest, fake_slack):
    caller = Caller(client)
    first, again = caller.calls(), caller.calls()
    assert first.find("Conference").text == again.find("Conference").text
    settle(client)
    assert len(plivo_rest.created) == 2


def test_a_restart_while_a_caller_waits_still_sends_them_to_voicemail(settings, plivo_api, plivo_rest, clock,
                                                                     fake_slack):
    first = hotline_app(settings, clock)
    caller = Caller(first.test_client())
    caller.calls()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    first.extensions["voicebridge"]["close"]()
    clock.advance(seconds=timedelta(minutes=3).total_seconds())
    again = hotline_app(settings, clock)
    try:
        settle(again.test_client())
        fake_slack.wait_for(lambda: plivo_rest.transferred)
        assert plivo_rest.transferred[0][0] == caller.call_uuid
    finally:
        again.extensions["voicebridge"]["close"]()


def test_with_transcription_on_the_transcript_is_a_reply_in_the_calls_thread(settings, plivo_api, plivo_rest,
                                                                              clock, fake_slack):
    app = hotline_app(settings, clock, hotline_transcribe=True)
    client = app.test_client()
    try:
        caller = Caller(client)
        caller.calls()
        fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
        clock.advance(seconds=121)
        settle(client)
        fake_slack.wait_for(lambda: plivo_rest.transferred)
        record = caller.post(path_of(plivo_rest.transferred[0][1]["aleg_url"])).find("Record")
        assert (record.get("transcriptionType"), record.get("transcriptionMethod")) == ("auto", "POST")
        caller.post(path_of(record.get("action")), {"RecordUrl": "https://media.plivo.com/r2.mp3",
                                                    "RecordingDuration": "12", "RecordingID": "r2"})
        message = fake_slack.wait_for_message(CHANNEL, lambda m: "voicemail, 12 s" in (m.text or ""))
        # Plivo's transcription callback (https://www.plivo.com/docs/voice/xml/record): its own field names.
        caller.post(path_of(record.get("transcriptionUrl")), {"transcription": "Hi, the <!channel> VPN is down",
                                                              "transcription_charge": "0.05", "duration": "12",
                                                              "call_uuid": caller.call_uuid})
        reply = fake_slack.wait_for(lambda: fake_slack.replies(CHANNEL, message.ts))
        assert "Hi, the &lt;!channel&gt; VPN is down" in reply[0].text
        assert fake_slack.problems == []
    finally:
        app.extensions["voicebridge"]["close"]()


def test_two_people_pressing_1_at_once_one_is_put_through_and_the_other_hears_it_was_taken(
        client, plivo, plivo_rest, fake_slack):
    Caller(client).calls()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    menus = {alice: alice.follow(alice.answer()), bob: bob.follow(bob.answer())}
    heard = at_once(2, lambda n: speech(list(menus)[n].press(list(menus.values())[n], "1"))[0])
    assert sorted(heard) == ["Connecting you to the caller.", "Someone else took this call. Goodbye."]


def test_voicealert_hotlines_lists_the_files_hotlines_to_whoever_asks(client, fake_slack):
    slack = SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())
    reply = send(client, slack.command("hotlines", command="/voicealert"))
    assert reply.status_code == 200 and reply.json["response_type"] == "ephemeral"
    assert reply.json["text"] == (":telephone: 1 hotline (defined in ROUTING_FILE):\n• *Backend on call* — "
                                  f"+1 415-555-0000 → <@U0ALICE> <@U0BOB>, shown in <#{CHANNEL}>")
