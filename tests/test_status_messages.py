"""A status message ends showing its call's or its alert's last state, whatever the order of its post,
Slack's pace and Plivo's callbacks: a call that ends while the message waits for its channel's posting
slot, while it is being posted, or while Slack limits the updates for longer than a message's retries.
A message far behind Slack's pace tells whoever asked, once. On SQLite and PostgreSQL, as the channel
(the loopback Slack) and the queue see it."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import update

from answer_server.services import build_services
from bot.delivery import PACE_NOTICE_AFTER
from tests.core import hang_up, settle, token_of, wire, work_of
from tests.test_alerts import ALICE, raise_alert
from voice.alerts.models import REPORT_ALERT
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number
from voice.clock import utcnow
from voice.codes.calls import REPORT_CALL
from voice.codes.service import CodeOrder
from voice.queue.ratelimit import SlotLimiter
from voice.queue.work import FAILED
from voice.store.schema import work_items

CHANNEL = "C0OPS"
ASKER = Requester("U0ANA", CHANNEL)
#: Posts a second in one channel, here: a burst's backlog builds up in a fraction of the real pace.
POST_RATE = 20.0
#: How each kind of message reads once its call ended unanswered, and the work that reports it.
ENDED = {"alert": (REPORT_ALERT, "no answer"), "code": (REPORT_CALL, ":no_entry_sign: no answer")}


@pytest.fixture
def paced(settings, database_url, plivo_rest):
    """The core on the real clock, with a channel posting pace of POST_RATE; its workers not started."""
    core = build_services(replace(settings, database_url=database_url), clock=utcnow, message_pace=0.05,
                          slack_post_rate=POST_RATE, poll_interval=0.02)
    yield core
    core.close()


def ask(core, kind: str) -> None:
    """An alert to one person, or a voice code, asked for in CHANNEL (its work not run yet)."""
    if kind == "alert":
        raise_alert(core, ALICE, requester=ASKER, settled=False)
    else:
        core.otp.request(CodeOrder(number=parse_phone_number("+14155550123"), requester=ASKER, source="slack",
                                   code="483920"))


def book_channel(core, seconds: float) -> None:
    """Other messages took the channel's posting slots for the next `seconds`."""
    limiter = SlotLimiter(core.engine, f"slack.post:{CHANNEL}", POST_RATE)
    while limiter.reserve() - time.time() < seconds:
        pass


def run_until(core, predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        core.workers.run_due()
        time.sleep(0.01)
    return value


def end_unanswered(core, plivo_rest) -> None:
    body = plivo_rest.created[-1]
    assert hang_up(core, token_of(body), "call-1", status="no-answer", cause_code=3030, cause_name="No Answer",
                   duration=0)


def shown(message) -> str:
    return (message.text or "") + str(message.blocks)


@pytest.mark.parametrize("kind", ["alert", "code"])
def test_a_call_that_ends_while_its_message_waits_for_the_channels_slot_is_posted_ended(
        paced, plivo_rest, fake_slack, kind):
    report, ended = ENDED[kind]
    book_channel(paced, 1.5)
    ask(paced, kind)
    # The call is placed; its message waits for its slot, back in the queue with the slot booked.
    run_until(paced, lambda: plivo_rest.created and any(
        item["payload"] and item["state"] == "pending" for item in work_of(paced, report)))
    assert fake_slack.messages(CHANNEL) == []
    end_unanswered(paced, plivo_rest)

    [message] = run_until(paced, lambda: fake_slack.messages(CHANNEL))
    assert ended in shown(message) and message.versions == [], "posted showing an older state"


@pytest.mark.parametrize("kind", ["alert", "code"])
def test_a_call_that_ends_while_its_message_is_being_posted_is_shown_ended_at_once(
        paced, plivo_rest, fake_slack, kind):
    report, ended = ENDED[kind]
    posting = fake_slack.hold("chat.postMessage")
    paced.workers.start()
    try:
        ask(paced, kind)
        assert posting.arrived.wait(10)  # Slack has the post and has not answered yet
        run_until(paced, lambda: plivo_rest.created, timeout=5)
        end_unanswered(paced, plivo_rest)
    finally:
        posting.opened.set()

    deadline = time.monotonic() + 3
    while not (fake_slack.messages(CHANNEL) and ended in shown(fake_slack.messages(CHANNEL)[0])):
        assert time.monotonic() < deadline, f"the message kept an older state: {fake_slack.messages(CHANNEL)}"
        time.sleep(0.02)
    assert len(fake_slack.messages(CHANNEL)) == 1


@pytest.mark.parametrize("kind", ["alert", "code"])
def test_slack_limiting_updates_for_longer_than_a_messages_retries_still_lets_its_last_state_land(
        settings, database_url, plivo_rest, fake_slack, clock, request, kind):
    """A busy workspace: Slack answers 429 to every update for a while (its pace for chat.update); each
    time the message waits as Slack says, and its last state lands once Slack takes updates again."""
    report, ended = ENDED[kind]
    core = wire(settings, database_url, clock, alert_retries=0)  # one round: its end is the last state
    request.addfinalizer(core.close)
    ask(core, kind)
    settle(core)
    [message] = fake_slack.messages(CHANNEL)
    assert ended not in shown(message)
    fake_slack.fail_http("chat.update", 429, times=40, retry_after="1")  # more than a report's 25 attempts
    end_unanswered(core, plivo_rest)
    for _ in range(45):
        settle(core)
        clock.advance(seconds=2)
    settle(core)

    assert fake_slack.failures_left() == 0
    assert ended in shown(fake_slack.messages(CHANNEL)[0]), "the last state never landed"
    assert FAILED not in [item["state"] for item in work_of(core, report)]


@pytest.mark.parametrize("kind", ["alert", "code"])
def test_a_message_far_behind_slacks_pace_tells_its_requester_once_how_late_it_will_be(
        paced, plivo_rest, fake_slack, kind):
    report, _ = ENDED[kind]
    book_channel(paced, PACE_NOTICE_AFTER + 2)
    ask(paced, kind)
    run_until(paced, lambda: fake_slack.calls("chat.postEphemeral"))
    [note] = fake_slack.calls("chat.postEphemeral")
    assert (note["channel"], note["user"]) == (CHANNEL, ASKER.user_id)
    assert "Slack lets an app post about one message a second" in note["text"]
    assert "It will appear in about 7 s" in note["text"] or "It will appear in about 8 s" in note["text"]
    assert fake_slack.messages(CHANNEL) == []

    # It comes back before its slot (a slot missed, another instance…) and waits again: nobody is told twice.
    with paced.engine.begin() as conn:
        conn.execute(update(work_items).where(work_items.c.kind == report).values(due_at=utcnow()))
    run_until(paced, lambda: all(item["state"] == "pending" and item["due_at"] is not None
                                 for item in work_of(paced, report)) and not paced.queue.busy())
    assert len(fake_slack.calls("chat.postEphemeral")) == 1


def test_a_message_a_little_behind_slacks_pace_tells_nobody(paced, plivo_rest, fake_slack):
    book_channel(paced, 1.5)
    ask(paced, "alert")
    run_until(paced, lambda: fake_slack.messages(CHANNEL), timeout=10)
    assert fake_slack.calls("chat.postEphemeral") == []


def test_nobody_is_told_of_slacks_pace_for_a_message_no_person_asked_for(paced, plivo_rest, fake_slack):
    book_channel(paced, PACE_NOTICE_AFTER + 2)
    raise_alert(paced, ALICE, requester=Requester("", CHANNEL), settled=False)  # a Workflow, asked by nobody
    run_until(paced, lambda: any(item["payload"] for item in work_of(paced, REPORT_ALERT)))
    assert fake_slack.calls("chat.postEphemeral") == []
