"""/voicealert through the whole app, in-process: Slack's signed command and button
clicks, Plivo's REST API (`responses`), Plivo's signed callbacks followed as Plivo
follows them (the XML's Redirect and GetDigits URLs), and the alert message on a
loopback Slack. A controllable clock drives retries and escalation."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from answer_server import create_app
from tests.conftest import SIGNING_SECRET, callback_path, running_app, send
from tests.fakes.senders import SlackSender

CHANNEL = "C0OPS"
ALICE, BOB = "+14155550101", "+14155550102"
MENU = "Press 1 to acknowledge. Press 2 to hear the message again."
INTRO = "This is an alert from Ana, sent from the Slack channel ops."


def clocked_app(settings, clock, **options):
    """The app with its workers running here, on a clock the test moves (retry delays pass at once)."""
    app = create_app(settings, clock=clock, poll_interval=0.02, **({"message_pace": 0, "slack_post_rate": 100.0} | options))
    app.extensions["voicebridge"]["workers"].start()
    return app


@pytest.fixture
def alert_app(settings, plivo_api, clock):
    app = clocked_app(settings, clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


@pytest.fixture
def client(alert_app):
    return alert_app.test_client()


class Scheduler:
    """The work queue seen as a scheduler: run what is due now (the clock moved), and wait for it."""

    def __init__(self, app):
        self.workers = app.extensions["voicebridge"]["workers"]
        self.queue = app.extensions["voicebridge"]["queue"]

    def run_due(self) -> int:
        return self.workers.drain()

    def pending(self):
        return self.queue.pending()


@pytest.fixture
def scheduler(alert_app):
    return Scheduler(alert_app)


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ANA", "Ana Lopez", "+1 415 555 0199")
    fake_slack.add_user("U1", "Alice Smith", "(415) 555-0101")
    fake_slack.add_user("U2", "Bob Jones", "+1 415 555 0102")
    fake_slack.add_user("U3", "Carol", "")
    fake_slack.add_usergroup("S1", ["U1", "U2", "U3"])


def speech(document: ET.Element) -> list[str]:
    return [speak.text for speak in document.iter("Speak")]


class Callee:
    """One alert call driven as Plivo drives it, following the URLs the server gave."""

    def __init__(self, client, plivo, created: dict, call_uuid: str):
        self.client, self.plivo, self.created, self.call_uuid = client, plivo, created, call_uuid

    def _post(self, signed) -> ET.Element:
        reply = send(self.client, signed)
        assert reply.status_code == 200 and reply.mimetype == "text/xml", reply.get_data(as_text=True)
        assert reply.headers["Cache-Control"] == "no-store"
        settle(self.client)  # what the callback set off (other calls stopped, the next step) is done
        return ET.fromstring(reply.get_data())

    def _fields(self):
        return dict(call_uuid=self.call_uuid, to=self.created["to"], request_uuid=self.created["request_uuid"])

    def ring(self) -> None:
        self._post(self.plivo.ring(callback_path(self.created["ring_url"]), **self._fields()))

    def answer(self) -> ET.Element:
        return self._post(self.plivo.answer(callback_path(self.created["answer_url"]), **self._fields()))

    def follow(self, document: ET.Element) -> ET.Element:
        """Plivo reaches a <Redirect> (after the message, or after a menu got no key)."""
        redirect = document.find("Redirect")
        return self._post(self.plivo.redirect(callback_path(redirect.text), **self._fields()))

    def press(self, document: ET.Element, digits: str) -> ET.Element:
        action = document.find("GetDigits").get("action")
        return self._post(self.plivo.digits(callback_path(action), digits=digits, **self._fields()))

    def machine(self) -> None:
        self._post(self.plivo.machine(callback_path(self.created["machine_detection_url"]), **self._fields()))

    def hang_up(self, status="completed", code=4000, name="Normal Hangup", duration=20) -> None:
        self._post(self.plivo.hangup(callback_path(self.created["hangup_url"]), status=status, cause_code=code,
                                     cause_name=name, duration=duration, **self._fields()))


def settle(client) -> None:
    """Wait until the work a request recorded is done (the workers run in this process)."""
    client.application.extensions["voicebridge"]["workers"].drain()


def alert(client, slack, fake_slack, plivo_rest, text, calls=1):
    """Send /voicealert; the command's reply once `calls` calls have been placed."""
    reply = send(client, slack.command(text, command="/voicealert"))
    assert reply.status_code == 200
    settle(client)
    fake_slack.wait_for(lambda: len(plivo_rest.created) >= calls)
    return reply.get_data(as_text=True)


def callee(client, plivo, plivo_rest, number, nth=0) -> Callee:
    created = plivo_rest.to(number)[nth]
    return Callee(client, plivo, created, f"call-{created['request_uuid']}")


def alert_message(fake_slack, *needles, timeout=5.0):
    return fake_slack.wait_for_message(CHANNEL, lambda m: all(n in _shown(m) for n in needles), timeout)


def _shown(message) -> str:
    return (message.text or "") + "\n".join(str(block) for block in message.blocks or [])


def buttons(message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


# -- acknowledgement ---------------------------------------------------------------


def test_a_keypress_acknowledges_and_every_other_call_stops(client, slack, plivo, plivo_rest, fake_slack, clock):
    reply = alert(client, slack, fake_slack, plivo_rest, "<@U1> <@U2> The database is down", calls=2)
    assert reply.startswith(":rotating_light: Raising the alert")
    # One stage: both dialled at once, in whichever order their create-calls went out.
    assert sorted(body["to"] for body in plivo_rest.created) == [ALICE, BOB]
    posted = alert_message(fake_slack, "The database is down", "<@U1>", "<@U2>")
    assert buttons(posted) == ["alert_acknowledge", "alert_cancel"]

    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    bob.ring()
    alert_message(fake_slack, "<@U2> :bell: ringing")
    document = alice.answer()
    assert speech(document) == [INTRO, "The database is down"]
    menu = alice.follow(document)
    assert speech(menu) == [MENU]
    digits = menu.find("GetDigits")
    assert (digits.get("numDigits"), digits.get("method")) == ("1", "POST")

    clock.advance(seconds=65)
    done = alice.press(menu, "1")
    # Acknowledged, and the voice bridge on offer: no key, and the call ends.
    assert speech(done) == ["Acknowledged. Thank you.", "Press 9 to be connected to Ana now, or hang up.", "Goodbye."] and done[-1].tag == "Hangup"
    assert done.find("GetDigits").get("timeout") == "10"
    # Bob's ringing call is cancelled by its request UUID; Alice keeps hers.
    assert plivo_rest.stopped == [("Request", bob.created["request_uuid"])]
    final = alert_message(fake_slack, "*Acknowledged* by <@U1> by phone after 1 min 5 s")
    assert final.ts == posted.ts and buttons(final) == []
    bob.hang_up("cancel", 1000, "Canceled", 0)
    alert_message(fake_slack, "<@U2> :heavy_multiplication_x: cancelled", "<@U1> :white_check_mark: acknowledged")
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_a_second_keypress_hears_who_acknowledged_first(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<!subteam^S1|@oncall> Disk full", calls=2)
    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    alice_menu, bob_menu = alice.follow(alice.answer()), bob.follow(bob.answer())
    alice.press(alice_menu, "1")
    # Bob's call was answered: it is hung up by its call UUID.
    assert ("Call", bob.call_uuid) in plivo_rest.stopped
    late = bob.press(bob_menu, "1")
    assert speech(late) == ["This alert was already acknowledged by Alice. Goodbye."]
    assert late[-1].tag == "Hangup"


def test_the_acknowledge_button_stops_the_calls_as_a_keypress_does(client, slack, plivo, plivo_rest, fake_slack, clock):
    alert(client, slack, fake_slack, plivo_rest, "<@U1>, <@U2> Payments failing", calls=2)
    posted = alert_message(fake_slack, "Payments failing")
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice_menu = alice.follow(alice.answer())
    clock.advance(seconds=40)

    click = slack.action("alert_acknowledge", buttons_value(posted), message=message_of(posted), user_id="U2")
    assert send(client, click).status_code == 200
    final = alert_message(fake_slack, "*Acknowledged* by <@U2> in Slack after 40 s")
    assert buttons(final) == []
    fake_slack.wait_for(lambda: len(plivo_rest.stopped) == 2)
    # Bob's call never rang: it is cancelled by its request UUID (the two went out in either order).
    bob = callee(client, plivo, plivo_rest, BOB)
    assert sorted(plivo_rest.stopped) == [("Call", alice.call_uuid), ("Request", bob.created["request_uuid"])]
    settle(client)  # the clicker's display name is in (till then a callee hears the handle)
    assert speech(alice.press(alice_menu, "1")) == ["This alert was already acknowledged by Bob. Goodbye."]


def test_a_late_click_is_told_who_took_the_alert(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Late")
    posted = alert_message(fake_slack, "Late")
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.press(alice.follow(alice.answer()), "1")
    response_url = fake_slack.response_url("late-click")
    click = slack.action("alert_cancel", buttons_value(posted), message=message_of(posted), response_url=response_url)
    send(client, click)
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(response_url))
    assert told["text"] == ":white_check_mark: <@U1> already acknowledged this alert by phone."
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False


def test_cancel_stops_every_call_and_says_who_cancelled(client, slack, plivo, plivo_rest, fake_slack, clock):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> <@U2> False alarm?", calls=2)
    posted = alert_message(fake_slack, "False alarm?")
    cancel = next(e for b in posted.blocks if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "alert_cancel")
    assert cancel["confirm"]["confirm"]["text"] == "Cancel alert"  # Slack asks before it sends the click
    clock.advance(seconds=125)
    send(client, slack.action("alert_cancel", buttons_value(posted), message=message_of(posted), user_id="U2"))
    alert_message(fake_slack, "*Cancelled* by <@U2> in Slack after 2 min 5 s")
    fake_slack.wait_for(lambda: len(plivo_rest.stopped) == 2)
    settle(client)  # Slack has told us the canceller's display name (till then the callee hears the handle)
    bob = callee(client, plivo, plivo_rest, BOB)
    assert speech(bob.answer()) == ["This alert was cancelled by Bob. Goodbye."]


# -- voicemail, retries, escalation ------------------------------------------------------


def test_voicemail_gets_the_message_once_and_is_retried(client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Queue backlog")
    alice = callee(client, plivo, plivo_rest, ALICE)
    document = alice.answer()
    alice.machine()
    alert_message(fake_slack, "<@U1> :mailbox_with_mail: voicemail — not acknowledged")
    after = alice.follow(document)
    assert after.find("GetDigits") is None and after[-1].tag == "Hangup"
    alice.hang_up()
    alert_message(fake_slack, "Round 2 of 3 starts")
    clock.advance(seconds=60)
    scheduler.run_due()
    assert len(plivo_rest.to(ALICE)) == 2


def test_nobody_acknowledging_is_retried_then_reported_to_the_requester(
        client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Certificate expires today")
    posted = alert_message(fake_slack, "Certificate expires today")
    for round_ in range(3):
        callee(client, plivo, plivo_rest, ALICE, round_).hang_up("no-answer", 3030, "No Answer", 0)
        clock.advance(seconds=59)
        scheduler.run_due()
        assert len(plivo_rest.created) == round_ + 1  # not before the delay
        clock.advance(seconds=1)
        scheduler.run_due()
    assert len(plivo_rest.created) == 3  # the first round and ALERT_RETRIES=2 more
    final = alert_message(fake_slack, "*Nobody acknowledged* after 3 rounds of calls. <@U0ANA>")
    assert buttons(final) == ["alert_acknowledge"]  # someone may still take it in Slack
    [ping] = fake_slack.wait_for(lambda: fake_slack.replies(CHANNEL, posted.ts))
    assert ping.text.startswith("<@U0ANA> :warning: Nobody acknowledged")


def test_an_escalation_chain_calls_the_next_link_as_soon_as_a_call_ends(
        client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> &gt; +14155550102 Primary is down")
    assert [body["to"] for body in plivo_rest.created] == [ALICE]
    alert_message(fake_slack, "1. <@U1>", "2. +1 415-555-0102 :double_vertical_bar: waiting")
    callee(client, plivo, plivo_rest, ALICE).hang_up("busy", 3010, "Busy Line", 0)
    assert [body["to"] for body in plivo_rest.created] == [ALICE, BOB]
    bob = callee(client, plivo, plivo_rest, BOB)
    bob.press(bob.follow(bob.answer()), "1")
    bob.hang_up()
    clock.advance(hours=1)
    scheduler.run_due()
    assert len(plivo_rest.created) == 2
    alert_message(fake_slack, "*Acknowledged* by +1 415-555-0102 by phone", "<@U1> :no_entry_sign: busy")


# -- the call script ----------------------------------------------------------------------


def test_the_message_is_spoken_as_text_with_its_markup_intact(client, slack, plivo, plivo_rest, fake_slack):
    # Slack escapes &, < and > in the text it sends.
    alert(client, slack, fake_slack, plivo_rest,
          "<@U1> Error rate &gt; 5% &amp; p99 &lt;2s? \"payload\" field is 'null' <@U2> +14155550100")
    alice = callee(client, plivo, plivo_rest, ALICE)
    document = alice.answer()
    spoken = "Error rate > 5% & p99 <2s? \"payload\" field is 'null' @Bob +14155550100"
    assert speech(document) == [INTRO, spoken]
    assert b"<2s" not in send(client, alice.plivo.answer(callback_path(alice.created["answer_url"]),
                                                          **alice._fields())).get_data()
    # The message never travels in a URL.
    for key in ("answer_url", "hangup_url", "ring_url", "machine_detection_url"):
        assert "Error" not in alice.created[key] and "payload" not in alice.created[key]


def test_the_menu_repeats_on_silence_says_a_wrong_key_and_replays_the_message(
        client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Replica lag")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    wrong = alice.press(menu, "7")
    assert speech(wrong) == ["Sorry, that key is not valid.", MENU]
    again = alice.press(wrong, "2")
    assert speech(again) == ["Replica lag", MENU]
    for _ in range(3):
        again = alice.follow(again)  # no key: the menu repeats
        assert speech(again) == [MENU]
    goodbye = alice.follow(again)
    assert goodbye.find("GetDigits") is None and goodbye[-1].tag == "Hangup"


def test_a_forged_alert_callback_gets_403_and_acknowledges_nothing(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Forgery")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    keys = callback_path(menu.find("GetDigits").get("action"))
    forged = plivo.post(keys, {"CallUUID": alice.call_uuid, "Digits": "1"}, auth_token="not-our-token")
    assert send(client, forged).status_code == 403
    time.sleep(0.2)
    assert "*Acknowledged*" not in _shown(fake_slack.messages(CHANNEL)[0])


# -- who gets called -----------------------------------------------------------------------


def test_people_without_a_usable_number_are_named_in_the_reply(client, slack, plivo, plivo_rest, fake_slack):
    url = fake_slack.response_url("skipped")
    send(client, slack.command("<!subteam^S1> <@U404> +19005550123 Outage", command="/voicealert", response_url=url))
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["response_type"] == "ephemeral"
    assert "<@U3>: has no phone number in their Slack profile" in told["text"]
    assert "<@U404>: is not a user this app can see in Slack (user_not_found)" in told["text"]
    assert "+1 900-555-0123: +1 900-555-0123 is refused: this app never calls premium-rate numbers." in told["text"]
    alert_message(fake_slack, "<@U3> :no_entry: not called: has no phone number")


# -- Slack's Web API failing: numbers are called at once, people once Slack answers ------------------------


def dialled(plivo_rest) -> list[str]:
    return [body["to"] for body in plivo_rest.created]


def slack_is_back(fake_slack, clock, scheduler) -> None:
    """Slack answers again; the look-ups waiting for it run (their backoff passes)."""
    fake_slack.outage(None)
    for _ in range(3):
        clock.advance(seconds=60)
        scheduler.run_due()


def test_an_alert_to_numbers_alone_is_called_without_asking_slack_anything_first(
        client, slack, plivo, plivo_rest, fake_slack, scheduler):
    fake_slack.outage(503)
    alert(client, slack, fake_slack, plivo_rest, "+14155550101 +14155550102 Disk full on <@U2|bob>'s host, <@U9>",
          calls=2)
    assert sorted(dialled(plivo_rest)) == [ALICE, BOB]
    alice = callee(client, plivo, plivo_rest, ALICE)
    # Names are not known yet: the requester's handle, a mention's handle, else "a Slack user".
    assert speech(alice.answer()) == ["This is an alert from ana, sent from the Slack channel ops.",
                                      "Disk full on @bob's host, a Slack user"]


def test_a_link_of_numbers_first_is_called_while_slack_fails_and_the_people_after_it_once_slack_is_back(
        client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    fake_slack.outage(503)
    alert(client, slack, fake_slack, plivo_rest, "+14155550102 &gt; <@U1> Primary is down")
    assert dialled(plivo_rest) == [BOB]
    callee(client, plivo, plivo_rest, BOB).hang_up("no-answer", 3030, "No Answer", 0)
    clock.advance(seconds=5)
    scheduler.run_due()
    assert dialled(plivo_rest) == [BOB]  # the next link is Alice: she waits until Slack gives her number
    slack_is_back(fake_slack, clock, scheduler)
    assert dialled(plivo_rest) == [BOB, ALICE]
    alert_message(fake_slack, "1. +1 415-555-0102 :no_bell: no answer", "2. <@U1> :hourglass_flowing_sand: queued")


def test_a_link_of_people_first_waits_for_slack_so_the_chain_keeps_its_order(
        client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    fake_slack.outage(503)
    send(client, slack.command("<@U1> &gt; +14155550102 Primary is down", command="/voicealert"))
    settle(client)
    clock.advance(seconds=5)
    scheduler.run_due()
    assert dialled(plivo_rest) == []  # Bob only once Alice was called and did not acknowledge
    slack_is_back(fake_slack, clock, scheduler)
    assert dialled(plivo_rest) == [ALICE]
    callee(client, plivo, plivo_rest, ALICE).hang_up("no-answer", 3030, "No Answer", 0)
    assert dialled(plivo_rest) == [ALICE, BOB]
    alert_message(fake_slack, "1. <@U1> :no_bell: no answer", "2. +1 415-555-0102")


def test_people_called_with_numbers_during_a_slack_outage_are_called_in_the_same_round_once_found(
        client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    url = fake_slack.response_url("skipped")
    fake_slack.outage(503, "usergroups.users.list")  # the channel can be posted to; the group cannot be read
    send(client, slack.command("+14155550102 <!subteam^S1> +19005550123 Outage", command="/voicealert",
                               response_url=url))
    settle(client)
    assert dialled(plivo_rest) == [BOB]
    alert_message(fake_slack, "• +1 415-555-0102", "• <!subteam^S1> :mag: being looked up in Slack…")
    slack_is_back(fake_slack, clock, scheduler)
    assert dialled(plivo_rest) == [BOB, ALICE]  # Bob is in the group too: called once
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert "<@U3>: has no phone number in their Slack profile" in told["text"]
    assert "premium-rate" in told["text"]
    message = alert_message(fake_slack, "• <@U1> :hourglass_flowing_sand: queued", "<@U3> :no_entry: not called")
    assert "looked up" not in _shown(message)


# -- large groups ------------------------------------------------------------------------------------------


def a_group(fake_slack, size: int, group_id: str) -> None:
    members = [f"U{index:04d}" for index in range(size)]
    for index, member in enumerate(members):
        fake_slack.add_user(member, f"Person {index}", f"+1 415 555 {1000 + index}")
    fake_slack.add_usergroup(group_id, members)


def test_a_3000_member_group_is_refused_without_looking_anyone_up(client, slack, plivo_rest, fake_slack):
    a_group(fake_slack, 3000, "SALL")
    url = fake_slack.response_url("everyone")
    send(client, slack.command("<!subteam^SALL> Lunch is here", command="/voicealert", response_url=url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["text"] == ":x: That names 3,000 people; one alert calls at most 50 phones. No call was placed."
    assert fake_slack.calls("users.info") == [] and plivo_rest.created == []


def test_a_group_with_more_phones_than_the_cap_stops_looking_people_up_at_the_first_one_past_it(
        client, slack, plivo_rest, fake_slack):
    a_group(fake_slack, 150, "SBIG")
    url = fake_slack.response_url("big")
    send(client, slack.command("<!subteam^SBIG> Lunch is here", command="/voicealert", response_url=url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["text"] == (":x: That would call more than 50 phones; one alert calls at most 50. "
                            "No call was placed.")
    assert len(fake_slack.calls("users.info")) == 51 and plivo_rest.created == []


def test_slack_limiting_the_look_ups_of_a_group_makes_the_retry_go_on_from_where_it_stopped(
        client, slack, plivo_rest, fake_slack, clock, scheduler):
    a_group(fake_slack, 30, "STEAM")
    fake_slack.fail_http("users.info", 429, retry_after="2", after=20)
    send(client, slack.command("<!subteam^STEAM> Deploy is stuck", command="/voicealert"))
    settle(client)
    assert plivo_rest.created == [] and len(fake_slack.calls("users.info")) == 21
    clock.advance(seconds=2)
    scheduler.run_due()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 30)
    asked = [call["user"] for call in fake_slack.calls("users.info") if call["user"] != "U0ANA"]
    assert len(asked) == 31 and len(set(asked)) == 30  # each person once, the one Slack limited twice


def test_nobody_left_to_call_places_no_call(client, slack, plivo_rest, fake_slack):
    url = fake_slack.response_url("nobody")
    send(client, slack.command("<@U3> Outage", command="/voicealert", response_url=url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["text"].startswith(":no_entry: Nobody can be called, so no call was placed")
    time.sleep(0.2)
    assert plivo_rest.created == [] and fake_slack.messages(CHANNEL) == []


def test_refused_numbers_alone_are_refused_in_the_reply(client, slack, plivo_rest, fake_slack):
    url = fake_slack.response_url("refused")
    reply = send(client, slack.command("+14155550100 &gt; +19005550123 Outage", command="/voicealert",
                                       response_url=url))
    body = reply.get_data(as_text=True)
    assert "Nobody can be called, so no call was placed" in body
    assert "is this app's own caller ID" in body and "premium-rate" in body
    time.sleep(0.3)
    assert plivo_rest.created == []
    assert fake_slack.responses_to(url) == []  # said once, in the reply, not again


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # (Nothing at all opens the form: tests/test_alert_form.py.)
        ("The database is down", "Start with who to call"),
        ("<@U1>", "The message is missing"),
        ("+1 415 555 0101 Outage", "Write each number without spaces"),
        ("<@U1> &gt; Outage", "Nothing follows the last “&gt;”"),  # mrkdwn-escaped, shown as >
        ("<@U1> " + "x" * 1001, "The message is 1001 characters long; the limit is 1000."),
    ],
)
def test_bad_input_gets_a_specific_error_and_the_usage_and_no_call(client, slack, plivo_rest, fake_slack, text, problem):
    body = send(client, slack.command(text, command="/voicealert")).get_data(as_text=True)
    assert problem in body
    assert "Usage: `/voicealert &lt;who&gt; &lt;message&gt;`" in body
    time.sleep(0.2)
    assert plivo_rest.created == [] and fake_slack.calls("chat.postMessage") == []


def test_where_the_bot_cannot_post_the_response_url_carries_the_alert(client, slack, plivo, plivo_rest, fake_slack):
    fake_slack.fail_channel("G0PRIVATE", "not_in_channel")
    url = fake_slack.response_url("private")
    send(client, slack.command("<@U1> Private outage", command="/voicealert", channel_id="G0PRIVATE",
                               response_url=url))
    fake_slack.wait_for(lambda: plivo_rest.created)
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.ring()
    alice.press(alice.follow(alice.answer()), "1")
    shown = fake_slack.wait_for(lambda: [p for p in fake_slack.responses_to(url) if "*Acknowledged*" in str(p)])
    assert shown[0]["replace_original"] is True
    # The post and the final state only: Slack allows five uses of a response_url.
    time.sleep(0.3)
    assert len(fake_slack.responses_to(url)) == 2


# -- pacing ---------------------------------------------------------------------------------


def test_the_alert_message_is_updated_about_once_a_second_and_ends_on_the_latest_state(
        settings, plivo_api, plivo_rest, slack, plivo, fake_slack):
    app = running_app(settings, message_pace=1.0)  # the real clock and pace: a second is a second
    client = app.test_client()
    alert(client, slack, fake_slack, plivo_rest, "<!subteam^S1> Burst of changes", calls=2)
    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    alice.ring()
    bob.ring()
    alice.answer()
    bob.answer()
    bob.machine()  # five changes within a fraction of a second
    alert_message(fake_slack, "<@U1> :speaking_head_in_silhouette: answered",
                  "<@U2> :mailbox_with_mail: voicemail", timeout=5)
    updates = [r.received_at for r in fake_slack.requests if r.method_or_path == "chat.update"]
    assert 1 <= len(updates) <= 4
    # Updates start a full second apart; each reaches Slack after its own latency (reads,
    # HTTP), so arrivals may be a little closer. Unpaced, they arrive milliseconds apart.
    assert all(later - earlier >= 0.8 for earlier, later in zip(updates, updates[1:])), updates
    app.extensions["voicebridge"]["close"]()


def test_calls_are_placed_no_faster_than_plivo_cps(settings, plivo_api, plivo_rest, slack, fake_slack):
    app = running_app(replace(settings, plivo_cps=4.0))
    client = app.test_client()
    fake_slack.add_user("U4", "Dee", "+1 415 555 0104")
    fake_slack.add_usergroup("S2", ["U1", "U2", "U4"])
    alert(client, slack, fake_slack, plivo_rest, "<!subteam^S2> Everyone at once", calls=3)
    # The limiter spaces its slots exactly 0.25 s apart; each request then reaches Plivo
    # a little later, by a few milliseconds that vary, so the span is what is measured.
    # Unpaced, three requests take a few milliseconds in all.
    assert len(plivo_rest.created_at) == 3
    assert plivo_rest.created_at[-1] - plivo_rest.created_at[0] >= 0.45
    app.extensions["voicebridge"]["close"]()


def test_a_code_asked_during_a_large_alert_is_placed_within_a_second_not_behind_every_alert_call(
        settings, plivo_api, plivo_rest, slack, fake_slack):
    app = running_app(replace(settings, plivo_cps=4.0))  # 12 alert calls take 3 s at this pace
    client = app.test_client()
    numbers = [f"+1415555{n}" for n in range(2110, 2122)]
    send(client, slack.command(" ".join(numbers) + " Everyone at once", command="/voicealert"))
    fake_slack.wait_for(lambda: plivo_rest.created)  # the alert is calling
    asked = time.monotonic()
    send(client, slack.command("+14155550123 483920"))
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 13, timeout=10)
    called = [body["to"] for body in plivo_rest.created]
    code = called.index("+14155550123")
    # Behind at most a second of the alert's calls, not all twelve of them.
    assert code <= 6 and plivo_rest.created_at[code] - asked < 2.0, called
    assert sorted(called[:code] + called[code + 1:]) == numbers  # the alert lost none
    # Both together still at the account's pace.
    assert plivo_rest.created_at[-1] - plivo_rest.created_at[0] >= 12 * 0.25 * 0.9


def buttons_value(message) -> str:
    return next(e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"])


def message_of(message) -> dict:
    return {"ts": message.ts, "text": message.text, "blocks": message.blocks}


def refusal_kinds(app) -> list[str]:
    return app.extensions["voicebridge"]["otp"].store.refusal_kinds()


def test_refused_numbers_are_recorded(alert_app, client, slack, plivo_rest, fake_slack):
    send(client, slack.command("+14155550100 &gt; +19005550123 Outage", command="/voicealert"))
    assert refusal_kinds(alert_app) == ["destination", "destination"]


@pytest.mark.parametrize(
    ("changes", "reply", "kind"),
    [
        ({"allowed_slack_users": frozenset({"U0BOSS"})}, "you are not allowed to place calls", "not_allowed_user"),
        ({"allowed_slack_channels": frozenset({"C0SECURE"})}, "Calls cannot be placed from this channel",
         "not_allowed_channel"),
    ],
)
def test_only_allowed_users_and_channels_may_raise_an_alert(settings, plivo_api, plivo_rest, clock, slack, fake_slack,
                                                            changes, reply, kind):
    app = clocked_app(replace(settings, **changes), clock)
    body = send(app.test_client(), slack.command("<@U1> Outage", command="/voicealert")).get_data(as_text=True)
    assert reply in body and "No call was placed." in body
    app.extensions["voicebridge"]["close"]()
    assert plivo_rest.created == [] and fake_slack.messages(CHANNEL) == []
    assert refusal_kinds(app) == [kind]


def test_with_allowed_users_another_users_cancel_and_acknowledge_change_nothing_and_are_told_why(
        settings, plivo_api, plivo_rest, clock, slack, fake_slack):
    app = clocked_app(replace(settings, allowed_slack_users=frozenset({"U0ANA"})), clock)
    client_ = app.test_client()
    alert(client_, slack, fake_slack, plivo_rest, "<@U1> <@U2> Checkout is down", calls=2)
    posted = alert_message(fake_slack, "Checkout is down")
    for action, said in (("alert_cancel", "not allowed to cancel alerts"),
                         ("alert_acknowledge", "not allowed to acknowledge alerts")):
        url = fake_slack.response_url(action)
        send(client_, slack.action(action, buttons_value(posted), message=message_of(posted), user_id="U2",
                                   response_url=url))
        [told] = fake_slack.wait_for(lambda url=url: fake_slack.responses_to(url))
        assert said in told["text"] and "ALLOWED_SLACK_USERS" in told["text"]
        assert told["response_type"] == "ephemeral" and told["replace_original"] is False
    settle(client_)
    assert plivo_rest.stopped == [] and app.extensions["voicebridge"]["services"].alerts.get(1).status == "active"
    assert buttons(fake_slack.messages(CHANNEL)[0]) == ["alert_acknowledge", "alert_cancel"]
    assert refusal_kinds(app) == ["not_allowed_user", "not_allowed_user"]
    # Ana may: her click takes the alert.
    send(client_, slack.action("alert_acknowledge", buttons_value(posted), message=message_of(posted),
                               user_id="U0ANA"))
    alert_message(fake_slack, "*Acknowledged* by <@U0ANA> in Slack")
    app.extensions["voicebridge"]["close"]()


def test_a_button_clicked_from_a_channel_calls_may_not_come_from_changes_nothing(
        settings, plivo_api, plivo_rest, clock, slack, fake_slack):
    app = clocked_app(replace(settings, allowed_slack_channels=frozenset({CHANNEL})), clock)
    client_ = app.test_client()
    alert(client_, slack, fake_slack, plivo_rest, "<@U1> Checkout is down")
    posted = alert_message(fake_slack, "Checkout is down")
    url = fake_slack.response_url("elsewhere")
    send(client_, slack.action("alert_cancel", buttons_value(posted), message=message_of(posted), user_id="U2",
                               channel_id="C0ELSEWHERE", response_url=url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert told["text"].startswith(":no_entry: Alerts cannot be cancelled from this channel.")
    settle(client_)
    assert app.extensions["voicebridge"]["services"].alerts.get(1).status == "active" and plivo_rest.stopped == []
    app.extensions["voicebridge"]["close"]()


@pytest.mark.parametrize("action", ["alert_acknowledge", "alert_cancel", "alert_join"])
def test_a_click_from_another_workspace_on_an_alert_changes_nothing(alert_app, client, slack, plivo, plivo_rest,
                                                                     fake_slack, action):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Checkout is down")
    posted = alert_message(fake_slack, "Checkout is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    if action == "alert_join":  # the bridge is on offer once Alice took the alert and pressed 9
        alice.press(alice.press(alice.follow(alice.answer()), "1"), "9")
        posted = alert_message(fake_slack, "Join the call")
    created = len(plivo_rest.created)
    url = fake_slack.response_url("other-workspace")
    send(client, slack.action(action, "1", message=message_of(posted), user_id="U0MALLORY", team_id="T0OTHER",
                              response_url=url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    assert "This alert belongs to another Slack workspace" in told["text"] and told["response_type"] == "ephemeral"
    settle(client)
    alert_ = alert_app.extensions["voicebridge"]["services"].alerts.get(1)
    assert (alert_.status, alert_.resolved_by) == (("acknowledged", "U1") if action == "alert_join" else ("active", None))
    assert len(plivo_rest.created) == created  # nobody phoned into the bridge
    assert refusal_kinds(alert_app) == ["other_workspace"]


def test_people_who_cannot_be_called_are_recorded(alert_app, client, slack, plivo, plivo_rest, fake_slack):
    url = fake_slack.response_url("nobody")
    send(client, slack.command("<@U3> Outage", command="/voicealert", response_url=url))
    fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    alert_app.extensions["voicebridge"]["close"]()
    assert refusal_kinds(alert_app) == ["alert_recipient"]


# -- limits ----------------------------------------------------------------------------------------

SCAM = "+14155550166 Your account is locked. Call 1 415 555 0000 now"


def test_twelve_alerts_to_one_typed_number_stop_at_the_limit_and_the_number_is_called_no_more(
        alert_app, client, slack, plivo_rest, fake_slack, clock):
    replies = []
    for _ in range(12):
        replies.append(send(client, slack.command(SCAM, command="/voicealert")).get_data(as_text=True))
        settle(client)
    assert [reply.split(":")[1] for reply in replies[:5]] == ["rotating_light"] * 5
    frees = int((clock() + timedelta(hours=1)).timestamp())  # the first alert's hour is up
    refusal = (":no_entry: Limit reached for +1 415-555-0166: at most 5 calls per hour to a number typed into an "
               "alert (alerts, voice codes and test calls to it count together). The next call is possible at "
               f"<!date^{frees}^{{time}}|11:00 UTC> (in 60 min). No call was placed.")
    assert replies[5:] == [refusal] * 7
    fake_slack.wait_for(lambda: len(plivo_rest.to("+14155550166")) == 5)
    time.sleep(0.3)
    assert len(plivo_rest.to("+14155550166")) == 5
    assert refusal_kinds(alert_app) == ["rate_limit"] * 7
    clock.advance(hours=1)
    reply = send(client, slack.command(SCAM, command="/voicealert")).get_data(as_text=True)
    assert reply.startswith(":rotating_light: Raising the alert")


def test_the_on_call_person_paged_by_alert_after_alert_is_never_limited(alert_app, client, slack, plivo_rest,
                                                                       fake_slack):
    # Their profile's number is theirs: alerts to a Slack user count against nobody's number limit.
    for n in range(12):
        reply = send(client, slack.command(f"<@U1> Incident update {n}", command="/voicealert", user_id=f"U0P{n % 3}"))
        assert reply.get_data(as_text=True).startswith(":rotating_light: Raising the alert")
    fake_slack.wait_for(lambda: len(plivo_rest.to(ALICE)) == 12)
    assert refusal_kinds(alert_app) == []


def test_one_person_raising_alert_after_alert_is_stopped_at_their_own_limit(settings, plivo_api, plivo_rest, clock,
                                                                            slack, fake_slack):
    app = clocked_app(replace(settings, alert_limit_requester_hour=2), clock)
    client = app.test_client()
    replies = [send(client, slack.command(f"<@U1> Outage {n}", command="/voicealert")).get_data(as_text=True)
               for n in range(3)]
    frees = int((clock() + timedelta(hours=1)).timestamp())
    assert replies[2] == (":no_entry: Limit reached: at most 2 alerts raised by one person per hour. The next call is "
                          f"possible at <!date^{frees}^{{time}}|11:00 UTC> (in 60 min). No call was placed.")
    other = send(client, slack.command("<@U1> Outage", command="/voicealert", user_id="U0BOB")).get_data(as_text=True)
    assert other.startswith(":rotating_light: Raising the alert")
    app.extensions["voicebridge"]["close"]()
    assert refusal_kinds(app) == ["rate_limit"]
