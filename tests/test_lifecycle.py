"""One call's lifecycle, for voice codes and alerts alike, on SQLite and PostgreSQL: forward
only, bound to the first CallUUID, one create-call ever, unconfirmed calls and their expiry,
Plivo's refusals and retries, the cost lookup and stale calls. What is checked is what Plivo
received (create-calls), what the database holds, and what Slack shows."""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import pairwise

import pytest
import requests
import responses
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tests.conftest import AUTH_ID, CREATE_CALL_URL, PLIVO_API
from tests.core import (
    hang_up,
    leg_rows,
    machine,
    ring,
    settle,
    token_of,
    wire,
    work_of,
)
from voice.calls.dialing import callback_urls
from voice.calls.legs import new_otp_leg
from voice.calls.lifecycle import (
    NEVER_RANG,
    NO_FINAL_REPORT,
    PLACE,
    RING_TIMEOUT,
    STALE_AFTER,
    UNCONFIRMED,
    UNCONFIRMED_GRACE,
)
from voice.calls.models import (
    ANSWERED,
    CALLING,
    DIALLING,
    ENDED,
    QUEUED,
    RINGING,
    Requester,
)
from voice.calls.numbers import parse_phone_number
from voice.calls.outcomes import Outcome
from voice.clock import utcnow
from voice.codes.calls import CODE, KEY_GATE, NOT_VALID
from voice.codes.service import CodeOrder
from voice.queue.work import LEASE
from voice.store.db import database_ready, make_engine
from voice.store.schema import legs

NUMBER = "+14155550123"
SECRET = "483920"
#: A requester with nowhere to report to: these tests look at Plivo and the database, not Slack.
QUIET = Requester(user_id="U0ANA", channel_id="")
CHANNEL = "C0OPS"
CONFIRM_WINDOW = timedelta(seconds=RING_TIMEOUT) + UNCONFIRMED_GRACE


def request_call(core, number=NUMBER, code=SECRET, requester=QUIET) -> str:
    """A voice code's call, stored with its work (not placed yet); its token."""
    _, leg = core.otp.request(CodeOrder(number=parse_phone_number(number), requester=requester, source="slack",
                                        code=code))
    return leg.token


def placed_call(core, plivo_rest, **options) -> str:
    token = request_call(core, **options)
    settle(core)
    assert token_of(plivo_rest.created[-1]) == token
    return token


def the_leg(core):
    [row] = leg_rows(core)
    return row


def create_call_attempts(plivo_api) -> int:
    """Create-calls that reached Plivo, whatever it answered."""
    return sum(1 for call in plivo_api.calls if call.request.url == CREATE_CALL_URL)


# -- what Plivo is asked for ---------------------------------------------------------------------------


def test_callback_urls_carry_only_the_token_and_say_what_the_call_is_for():
    urls = callback_urls("https://voice.example.test/", "tok")
    assert (urls.answer, urls.hangup, urls.ring, urls.machine, urls.key) == (
        "https://voice.example.test/plivo/answer/tok", "https://voice.example.test/plivo/hangup/tok",
        "https://voice.example.test/plivo/ring/tok", "https://voice.example.test/plivo/machine/tok",
        "https://voice.example.test/plivo/key/tok")
    alert = callback_urls("https://voice.example.test", "tok", "alert")
    assert (alert.answer, alert.key, alert.menu, alert.silence) == (
        "https://voice.example.test/plivo/alert/answer/tok", "https://voice.example.test/plivo/alert/keys/tok",
        "https://voice.example.test/plivo/alert/menu/tok", "https://voice.example.test/plivo/alert/silence/tok")


def test_a_guarded_voice_code_call_asks_plivo_to_hang_up_on_a_machine(core, plivo_rest):
    token = placed_call(core, plivo_rest)
    [body] = plivo_rest.created
    assert (body["from"], body["to"]) == ("+14155550100", NUMBER)
    assert body["machine_detection"] == "hangup"
    assert body["machine_detection_url"] == f"https://voice.example.test/plivo/machine/{token}"
    assert (body["ring_timeout"], body["time_limit"]) == (RING_TIMEOUT, 120)
    assert SECRET not in str(body)


def test_an_unguarded_voice_code_call_asks_for_no_machine_detection(settings, database_url, clock, plivo_rest):
    services = wire(settings, database_url, clock, otp_voicemail_guard=False)
    try:
        placed_call(services, plivo_rest)
    finally:
        services.close()
    assert "machine_detection" not in plivo_rest.created[0]


def test_calls_are_paced_by_plivo_cps(settings, database_url, clock, plivo_rest):
    services = wire(settings, database_url, clock, plivo_cps=10.0)
    try:
        for number in ("+14155550123", "+14155550124", "+14155550125"):
            request_call(services, number=number)
        settle(services)
    finally:
        services.close()
    sent = plivo_rest.created_at
    assert len(sent) == 3
    assert min(later - earlier for earlier, later in pairwise(sent)) >= 1.05 / 10.0 - 0.01


# -- forward only, bound to one call ------------------------------------------------------------------------


def test_a_new_call_is_queued_and_remembers_who_asked(core, clock):
    asker = Requester(user_id="U0ANA", channel_id="", team_id="T1", reply_url="https://hooks.slack.test/x")
    token = request_call(core, requester=asker)
    leg = core.legs.get(token)
    assert (leg.status, leg.requester, leg.code_length, leg.created_at) == (QUEUED, asker, 6, clock.now)
    assert [item["subject"] for item in work_of(core, PLACE)] == [token]


def test_a_leg_moves_forward_only_and_late_events_do_not_move_it_back(core, plivo_rest):
    token = request_call(core)
    assert the_leg(core)["status"] == QUEUED
    settle(core)
    assert (the_leg(core)["status"], the_leg(core)["request_uuid"]) == (CALLING, "req-1")
    assert ring(core, token, "call-1").status == RINGING
    assert core.otp_calls.answer(token, "call-1").turn == KEY_GATE
    assert ring(core, token, "call-1") is None  # a ring delivered after the answer
    assert the_leg(core)["status"] == ANSWERED
    assert hang_up(core, token, "call-1", duration=21).status == ENDED
    for late in (lambda: ring(core, token, "call-1"), lambda: machine(core, token, "call-1"),
                 lambda: hang_up(core, token, "call-1", status="busy", cause_code=3010)):
        assert late() is None
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["duration"]) == (ENDED, Outcome.ANSWERED.value, 21)


def test_a_ring_that_beats_the_create_call_reply_keeps_the_leg_ringing(core, plivo_rest, plivo_api):
    token = request_call(core)

    def ring_first(request):
        ring(core, token, "call-1")  # Plivo rings the phone before its reply reaches us
        return plivo_rest._create(request)

    plivo_api.replace(responses.CallbackResponse(responses.POST, CREATE_CALL_URL, callback=ring_first))
    settle(core)
    row = the_leg(core)
    assert (row["status"], row["request_uuid"], row["call_uuid"]) == (RINGING, "req-1", "call-1")


def test_the_first_call_uuid_binds_the_leg_and_events_for_another_change_nothing(core, plivo_rest, caplog):
    token = placed_call(core, plivo_rest)
    ring(core, token, "call-1")
    before = the_leg(core)
    with caplog.at_level(logging.WARNING, logger="voice.calls.binding"):
        for _ in range(2):  # Plivo redelivers the strays
            assert ring(core, token, "call-2") is None
            assert machine(core, token, "call-2") is None
            assert hang_up(core, token, "call-2", status="busy", cause_code=3010) is None
        assert core.otp_calls.answer(token, "call-2").turn == NOT_VALID
        assert core.otp_calls.key_pressed(token, "call-2", "5").turn == NOT_VALID
    settle(core)
    assert the_leg(core) == before
    assert before["call_uuid"] == "call-1" and before["secret"] is not None
    # Each stray (event, UUID) is logged once, however often it comes.
    assert len([r for r in caplog.records if r.name == "voice.calls.binding" and "call-2" in r.getMessage()]) == 1
    # The real callee still hears the code, however often Plivo asks for the answer.
    assert core.otp_calls.answer(token, "call-1").turn == KEY_GATE
    assert core.otp_calls.answer(token, "call-1").turn == KEY_GATE
    assert core.otp_calls.key_pressed(token, "call-1", "5").code == SECRET


def test_an_ended_leg_cannot_be_answered_rung_or_ended_again(core, plivo_rest):
    token = placed_call(core, plivo_rest)
    busy = hang_up(core, token, "call-1", status="busy", cause_code=3010, cause_name="Busy Line", duration=3)
    assert (busy.outcome, busy.duration) == (Outcome.BUSY, None)  # a duration only for answered calls
    assert core.otp_calls.answer(token, "call-1").turn == NOT_VALID
    assert ring(core, token, "call-1") is None
    assert hang_up(core, token, "call-1", status="completed", duration=30) is None
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["answered_at"], row["secret"]) == (ENDED, "busy", None, None)


def test_a_leg_ends_once_and_its_code_is_erased(core, plivo_rest):
    token = placed_call(core, plivo_rest)
    leg = core.legs.get(token)
    assert core.lifecycle.finish(leg, Outcome.ANSWERED, duration=21) is not None
    assert core.lifecycle.finish(leg, Outcome.BUSY) is None
    row = the_leg(core)
    assert (row["outcome"], row["duration"], row["secret"]) == ("answered", 21, None)


def test_a_cost_is_recorded_once(core, plivo_rest):
    token = placed_call(core, plivo_rest)
    with core.engine.begin() as conn:
        assert core.legs.set_cost(conn, token, "0.00850").cost == "0.00850"
        assert core.legs.set_cost(conn, token, "9.99") is None
    assert the_leg(core)["cost"] == "0.00850"


def test_each_visible_step_is_reported_once_in_slack_and_repeats_report_nothing(core, plivo_rest, fake_slack):
    token = placed_call(core, plivo_rest, requester=Requester(user_id="U0ANA", channel_id=CHANNEL))

    def updates() -> int:
        return len(fake_slack.calls("chat.update"))

    def step(event, changes_message: bool):
        before = updates()
        event()
        settle(core)
        assert updates() == before + (1 if changes_message else 0)

    step(lambda: ring(core, token, "call-1"), True)
    step(lambda: ring(core, token, "call-1"), False)
    step(lambda: core.otp_calls.answer(token, "call-1"), True)
    step(lambda: core.otp_calls.answer(token, "call-1"), False)  # Plivo asked again
    step(lambda: core.otp_calls.key_pressed(token, "call-1", "5"), True)
    step(lambda: core.otp_calls.key_pressed(token, "call-1", "1"), False)  # heard again: nothing new to show
    step(lambda: hang_up(core, token, "call-1", duration=21, total_cost="0.0085"), True)
    step(lambda: hang_up(core, token, "call-1", duration=21, total_cost="0.0085"), False)
    [message] = fake_slack.messages(CHANNEL)
    assert message.text.endswith("code read · 21 s · $0.0085")
    assert len(fake_slack.calls("chat.postMessage")) == 1


# -- placing: one create-call, ever ----------------------------------------------------------------------------


def test_the_dialler_never_sends_a_second_create_call_for_a_leg_a_dead_worker_left_dialling(core, plivo_rest, clock):
    token = request_call(core)
    # A worker took the item, marked the leg dialling, sent the create-call, and died before the reply.
    [item] = core.queue.claim("dead-worker", 1, [PLACE])
    assert item.subject == token
    with core.engine.begin() as conn:
        core.legs.start_dialling(conn, token, clock())
    later = utcnow() + LEASE + timedelta(seconds=1)
    core.queue.wall_clock = lambda: later
    settle(core)  # another worker takes the item over once the lease ran out
    assert plivo_rest.created == []
    row = the_leg(core)
    assert row["status"] == DIALLING and row["confirm_by"].replace(tzinfo=None) == \
        (clock.now + CONFIRM_WINDOW).replace(tzinfo=None)
    assert [i["state"] for i in work_of(core, UNCONFIRMED)] == ["pending"]
    # It may ring meanwhile; it never does: it ends as never rung, and is never dialled.
    clock.advance(seconds=CONFIRM_WINDOW.total_seconds())
    settle(core)
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["cause"]) == (ENDED, "failed", NEVER_RANG + ".")
    assert plivo_rest.created == [] and row["secret"] is None


def test_a_create_call_that_timed_out_is_unconfirmed_then_expires_as_never_rang(core, plivo_rest, clock):
    plivo_rest.time_out_next = 1
    token = placed_call(core, plivo_rest)
    row = the_leg(core)
    assert row["status"] == DIALLING and row["confirm_by"] is not None and row["secret"] is not None
    assert core.legs.get(token).unconfirmed
    clock.advance(seconds=CONFIRM_WINDOW.total_seconds() - 1)
    settle(core)
    assert the_leg(core)["status"] == DIALLING  # it may still ring
    clock.advance(seconds=1)
    settle(core)
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["cause"], row["secret"]) == (ENDED, "failed", NEVER_RANG + ".", None)
    clock.advance(hours=1)
    settle(core)
    assert len(plivo_rest.created) == 1  # never sent again


def test_an_unconfirmed_call_that_rings_is_answered_and_not_expired(core, plivo_rest, clock):
    plivo_rest.time_out_next = 1
    token = placed_call(core, plivo_rest)
    assert ring(core, token, "call-1").status == RINGING
    assert core.otp_calls.answer(token, "call-1").turn == KEY_GATE
    clock.advance(seconds=CONFIRM_WINDOW.total_seconds() + 1)
    settle(core)
    assert the_leg(core)["status"] == ANSWERED
    assert core.otp_calls.key_pressed(token, "call-1", "5").code == SECRET


def test_a_call_that_starts_ringing_as_its_confirmation_runs_out_is_not_ended_as_never_rang(
        core, plivo_rest, clock, monkeypatch):
    plivo_rest.time_out_next = 1
    token = placed_call(core, plivo_rest)
    clock.advance(seconds=CONFIRM_WINDOW.total_seconds())
    read = core.legs.get
    rang, reading = [], []

    def read_then_ring(wanted):
        leg = read(wanted)
        if not reading:  # the timer has read the leg (unconfirmed); Plivo's ring lands now
            reading.append(wanted)
            rang.append(ring(core, token, "call-1"))
        return leg

    monkeypatch.setattr(core.legs, "get", read_then_ring)
    settle(core)
    assert rang[0] is not None and rang[0].status == RINGING
    assert the_leg(core)["status"] == RINGING


def test_a_call_plivo_never_reached_goes_back_to_queued_and_is_dialled_on_the_retry(
        core, plivo_rest, plivo_api, clock):
    token = request_call(core)
    plivo_api.replace(responses.POST, CREATE_CALL_URL, body=requests.ConnectTimeout("connect timed out"))
    settle(core)
    row = the_leg(core)
    assert (row["status"], row["dialled_at"], row["request_uuid"]) == (QUEUED, None, None)
    [place] = work_of(core, PLACE)
    assert place["state"] == "pending" and "could not be reached" in place["last_error"]
    plivo_api.replace(responses.CallbackResponse(responses.POST, CREATE_CALL_URL, callback=plivo_rest._create))
    clock.advance(seconds=1)  # the policy's first backoff
    settle(core)
    assert [token_of(body) for body in plivo_rest.created] == [token]
    assert (the_leg(core)["status"], the_leg(core)["request_uuid"]) == (CALLING, "req-1")


def test_plivo_rate_limiting_a_call_puts_it_back_and_it_is_retried_a_second_later(
        core, plivo_rest, plivo_api, clock):
    plivo_rest.refuse_with = (429, {"error": "too many requests"})
    token = request_call(core)
    settle(core)
    assert (the_leg(core)["status"], create_call_attempts(plivo_api)) == (QUEUED, 1)
    clock.advance(seconds=0.9)
    settle(core)
    assert create_call_attempts(plivo_api) == 1
    plivo_rest.refuse_with = None
    clock.advance(seconds=0.1)
    settle(core)
    assert create_call_attempts(plivo_api) == 2 and [token_of(body) for body in plivo_rest.created] == [token]
    assert the_leg(core)["status"] == CALLING


@pytest.mark.parametrize("status, problem", [
    (429, "Plivo was limiting how fast we place calls"),
    (500, "Plivo had a problem on its side (HTTP 500)"),
    (503, "Plivo had a problem on its side (HTTP 503)"),
])
def test_a_call_plivo_keeps_failing_is_tried_until_its_code_expires_then_fails_saying_how_long(
        core, plivo_rest, plivo_api, clock, status, problem):
    plivo_rest.refuse_with = (status, {"error": "try later"})
    request_call(core)
    waits = []
    while the_leg(core)["status"] != ENDED:
        before = create_call_attempts(plivo_api)
        settle(core)
        if create_call_attempts(plivo_api) == before:
            clock.advance(seconds=0.5)
            waits.append(0.5)
        assert sum(waits) < 700, "still trying long after the code expired"
    attempts = create_call_attempts(plivo_api)
    # Far more than the place policy's 4 attempts: the outage decides, not a count; but backed off
    # (waits doubling up to 5 s), not hammering: about 600 s / 5 s.
    assert 100 < attempts < 140
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["permanent"], row["secret"]) == (ENDED, "failed", False, None)
    assert row["cause"] == f"{problem}; tried again for 10 min, until the code expired. No call was placed."


def test_a_call_plivo_fails_for_a_while_is_placed_once_when_plivo_recovers(core, plivo_rest, plivo_api, clock):
    plivo_rest.refuse_with = (503, {"error": "service unavailable"})
    token = request_call(core)
    for _ in range(40):  # 20 s of Plivo answering 503
        settle(core)
        clock.advance(seconds=0.5)
    failed = create_call_attempts(plivo_api)
    assert 5 <= failed <= 12  # backed off: 1, 1, 2, 4, 5, 5… seconds apart
    assert (the_leg(core)["status"], the_leg(core)["retrying_since"] is not None) == (QUEUED, True)
    plivo_rest.refuse_with = None
    clock.advance(seconds=5)  # the longest wait between two tries
    settle(core)
    assert [token_of(body) for body in plivo_rest.created] == [token]
    assert create_call_attempts(plivo_api) == failed + 1
    assert the_leg(core)["status"] == CALLING


@pytest.mark.parametrize("status, says, words, permanent", [
    (403, "Calls to this destination country are barred.",
     "Plivo does not allow calls to this destination (Calls to this destination country are barred)", True),
    (400, "to parameter is invalid", "Plivo rejected the call request: to parameter is invalid.", True),
    (401, "", "Plivo rejected this app's credentials", True),
])
def test_a_refused_create_call_fails_the_leg_with_plivos_words_and_is_not_sent_again(
        core, plivo_rest, plivo_api, clock, status, says, words, permanent):
    plivo_rest.refuse_with = (status, {"error": says} if says else {})
    token = request_call(core)
    settle(core)
    clock.advance(hours=1)
    settle(core)
    assert create_call_attempts(plivo_api) == 1
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["permanent"], row["request_uuid"]) == (ENDED, "failed", permanent,
                                                                                      None)
    assert words in row["cause"] and row["secret"] is None
    assert core.otp_calls.answer(token, "call-1").turn == NOT_VALID


# -- after the call ---------------------------------------------------------------------------------------


def test_the_cost_lookup_retries_until_plivo_has_the_call_record(core, plivo_rest, plivo_api, clock):
    record = f"{PLIVO_API}/v1/Account/{AUTH_ID}/Call/call-1/"
    plivo_api.get(record, status=404, json={"error": "not found"})
    plivo_api.get(record, json={"call_uuid": "call-1", "total_amount": "0.01700"})
    token = placed_call(core, plivo_rest)
    core.otp_calls.answer(token, "call-1")
    core.otp_calls.key_pressed(token, "call-1", "5")
    hang_up(core, token, "call-1", duration=70)  # no TotalCost in the hangup

    def lookups() -> list:
        return [call for call in plivo_api.calls if call.request.url == record]

    settle(core)
    assert lookups() == []  # Plivo's record comes a moment after the hangup
    clock.advance(seconds=2)
    settle(core)
    assert len(lookups()) == 1 and the_leg(core)["cost"] is None
    clock.advance(seconds=5)  # the cost policy's first backoff
    settle(core)
    assert len(lookups()) == 2 and the_leg(core)["cost"] == "0.01700"
    clock.advance(minutes=10)
    settle(core)
    assert len(lookups()) == 2


def test_no_cost_is_looked_up_when_the_hangup_had_it_or_the_call_was_never_answered(core, plivo_rest, plivo_api,
                                                                                   clock):
    paid = placed_call(core, plivo_rest)
    core.otp_calls.answer(paid, "call-1")
    hang_up(core, paid, "call-1", duration=30, total_cost="0.0085")
    unanswered = placed_call(core, plivo_rest, number="+14155550124")
    hang_up(core, unanswered, "call-2", status="no-answer", cause_code=3030, duration=0)
    clock.advance(minutes=1)
    settle(core)
    assert [c.request.method for c in plivo_api.calls if "/Call/call-" in c.request.url] == []
    assert [row["cost"] for row in leg_rows(core)] == ["0.0085", None]


def test_a_call_with_no_final_report_is_closed_after_ten_minutes(core, plivo_rest, clock):
    token = placed_call(core, plivo_rest)
    ring(core, token, "call-1")
    clock.advance(seconds=STALE_AFTER.total_seconds() - 1)
    settle(core)
    assert the_leg(core)["status"] == RINGING
    clock.advance(seconds=1)
    settle(core)
    row = the_leg(core)
    assert (row["status"], row["outcome"], row["cause"], row["secret"]) == (ENDED, "failed", NO_FINAL_REPORT, None)
    assert core.otp_calls.answer(token, "call-1").turn == NOT_VALID


def test_a_call_that_ended_is_left_alone_by_its_stale_timer(core, plivo_rest, clock):
    token = placed_call(core, plivo_rest)
    hang_up(core, token, "call-1", status="busy", cause_code=3010)
    clock.advance(minutes=11)
    settle(core)
    assert (the_leg(core)["outcome"], the_leg(core)["cause"]) == ("busy", None)


# -- the database ----------------------------------------------------------------------------------------


def test_a_call_survives_a_new_process_on_the_same_database(settings, database_url, clock, plivo_rest):
    first = wire(settings, database_url, clock)
    try:
        token = placed_call(first, plivo_rest)
    finally:
        first.close()
    second = wire(settings, database_url, clock)
    try:
        assert second.otp_calls.answer(token, "call-1").turn == KEY_GATE
        assert second.otp_calls.key_pressed(token, "call-1", "5").code == SECRET
    finally:
        second.close()


def test_a_failed_statement_never_carries_the_code_in_its_message(engine):
    row = new_otp_leg(token="tok-aaaaaaaaaaaaaaaa", to_number=NUMBER, requester=QUIET, sealed_code=SECRET,
                      code_length=6, request_id=None, now=utcnow())
    with engine.begin() as conn:
        conn.execute(insert(legs).values(**row))
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(legs).values(**row))
    assert SECRET not in str(caught.value)


def test_the_database_is_not_ready_while_it_is_unreachable(engine, tmp_path):
    assert database_ready(engine)
    missing = make_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    assert database_ready(missing) is False
    missing.dispose()


def test_answering_reads_the_code_only_on_the_call_that_answered(core, plivo_rest):
    token = placed_call(core, plivo_rest)
    assert core.otp_calls.answer(token, "call-1").turn == KEY_GATE
    assert core.otp_calls.key_pressed(token, "call-2", "5").turn == NOT_VALID
    turn = core.otp_calls.key_pressed(token, "call-1", "5")
    assert (turn.turn, turn.code) == (CODE, SECRET)
