"""The call lifecycle with a controllable clock: what gets notified, and when."""

from datetime import timedelta

import pytest
import responses

from voice.calls import CallService, callback_urls
from voice.models import HangupReport, Requester
from voice.numbers import parse_phone_number
from voice.outcomes import Outcome
from voice.plivo import PlivoClient

PLIVO = "https://api.plivo.test"
CALL_URL = f"{PLIVO}/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/"
REQUESTER = Requester(user_id="U1", channel_id="C1")


@pytest.fixture
def notified():
    return []


@pytest.fixture
def service(store, clock, notified):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(CALL_URL, status=201, json={"request_uuid": "req-1"})
        yield CallService(
            store,
            PlivoClient(PLIVO, "MAXXXXXXXXXXXXXXXXXX", "t"),
            public_url="https://voice.example.test",
            from_number="+14155550100",
            notify=lambda call: notified.append((call.status, call.outcome)),
            clock=clock,
        )


def open_call(service):
    return service.open_otp_call(parse_phone_number("+14155550123"), "483920", REQUESTER)


def test_callback_urls_carry_only_the_token():
    urls = callback_urls("https://voice.example.test/", "tok")
    assert urls.answer == "https://voice.example.test/plivo/answer/tok"
    assert urls.hangup == "https://voice.example.test/plivo/hangup/tok"
    assert urls.ring == "https://voice.example.test/plivo/ring/tok"


def test_tokens_are_unguessable_and_distinct(service):
    tokens = {open_call(service).token for _ in range(20)}
    assert len(tokens) == 20 and all(len(token) >= 32 for token in tokens)


def test_each_step_is_notified_once(service, notified):
    call = open_call(service)
    service.dial(call)
    service.ringing(call.token, "c-1")
    service.ringing(call.token, "c-1")
    service.answer(call.token, "c-1")
    service.answer(call.token, "c-1")
    report = HangupReport(call_uuid="c-1", call_status="completed", cause_code=4000, duration=21)
    assert service.hangup(call.token, report).outcome is Outcome.ANSWERED
    assert service.hangup(call.token, report) is None
    assert notified == [("ringing", None), ("answered", None), ("ended", Outcome.ANSWERED)]


def test_duration_is_kept_only_for_answered_calls(service):
    call = open_call(service)
    ended = service.hangup(call.token, HangupReport(call_uuid="c", call_status="busy", cause_code=3010, duration=3))
    assert ended.outcome is Outcome.BUSY and ended.duration is None


def test_a_refused_dial_ends_the_call_as_failed_with_the_reason(store, clock, notified):
    with responses.RequestsMock() as mock:
        mock.post(CALL_URL, status=403, json={"error": "Calls to this destination country are barred."})
        service = CallService(store, PlivoClient(PLIVO, "MAXXXXXXXXXXXXXXXXXX", "t"),
                              public_url="https://v.test", from_number="+14155550100",
                              notify=lambda call: notified.append(call), clock=clock)
        call = open_call(service)
        service.dial(call)
    [ended] = notified
    assert ended.outcome is Outcome.FAILED and ended.request_uuid is None
    assert "does not allow calls to this destination" in ended.cause
    assert service.answer(call.token, "c-1") is None


def test_calls_with_no_final_report_are_closed_after_30_minutes(service, clock, notified):
    call = open_call(service)
    service.dial(call)
    clock.now += timedelta(minutes=29)
    assert service.expire_stale() == 0
    clock.now += timedelta(minutes=2)
    assert service.expire_stale() == 1
    assert notified[-1] == ("ended", Outcome.FAILED)
    assert service.get(call.token).cause == "no final report came back from Plivo"
    assert service.answer(call.token, "c-1") is None
    assert service.expire_stale() == 0
