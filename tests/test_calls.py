"""The call lifecycle with a controllable clock: what gets notified, and when."""

from datetime import timedelta

import pytest
import responses

from voice.calls import CallConfig, CallService, callback_urls
from voice.models import HangupReport, Requester
from voice.outcomes import Outcome
from voice.plivo import PlivoClient
from voice.policy import DestinationPolicy
from voice.sealing import SecretBox
from voice.store import new_call_row

PLIVO = "https://api.plivo.test"
ACCOUNT = f"{PLIVO}/v1/Account/MAXXXXXXXXXXXXXXXXXX"
REQUESTER = Requester(user_id="U1", channel_id="C1")


@pytest.fixture
def notified():
    return []


@pytest.fixture
def plivo_api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{ACCOUNT}/Call/", status=201, json={"request_uuid": "req-1"})
        yield mock


def make_service(store, clock, notified, *, guard=True):
    config = CallConfig(public_url="https://voice.example.test", from_number="+14155550100",
                        policy=DestinationPolicy(None, "+14155550100"), box=SecretBox("k" * 32),
                        voicemail_guard=guard)
    return CallService(store, PlivoClient(PLIVO, "MAXXXXXXXXXXXXXXXXXX", "t"), config,
                       notify=lambda call: notified.append((call.status, call.outcome)), clock=clock)


@pytest.fixture
def service(store, clock, notified, plivo_api):
    return make_service(store, clock, notified)


def open_call(service, token="tok-aaaaaaaaaaaaaaaaaaaa"):
    return service.store.add_call(new_call_row(token=token, kind="otp", to_number="+14155550123",
                                               requester=REQUESTER, sealed_code=service.seal("483920", token),
                                               code_length=6, request_id=None,
                                               now=service.clock()))


def test_callback_urls_carry_only_the_token():
    urls = callback_urls("https://voice.example.test/", "tok")
    assert urls.answer == "https://voice.example.test/plivo/answer/tok"
    assert urls.hangup == "https://voice.example.test/plivo/hangup/tok"
    assert urls.ring == "https://voice.example.test/plivo/ring/tok"
    assert urls.key == "https://voice.example.test/plivo/key/tok"
    assert urls.machine == "https://voice.example.test/plivo/machine/tok"


def test_a_guarded_call_asks_plivo_for_machine_detection(service, plivo_api):
    import json

    service.dial(open_call(service))
    body = json.loads(plivo_api.calls[0].request.body)
    assert body["machine_detection"] == "hangup"
    assert body["machine_detection_url"] == "https://voice.example.test/plivo/machine/tok-aaaaaaaaaaaaaaaaaaaa"


def test_each_step_is_notified_once(service, notified):
    call = open_call(service)
    service.dial(call)
    service.ringing(call.token, "c-1")
    service.ringing(call.token, "c-1")
    service.answer(call.token, "c-1")
    service.answer(call.token, "c-1")
    assert service.key_pressed(call.token, "c-1", "5").code == "483920"
    assert service.key_pressed(call.token, "c-1", "1").code == "483920"
    report = HangupReport(call_uuid="c-1", call_status="completed", cause_code=4000, duration=21,
                          total_cost="0.00850")
    ended = service.hangup(call.token, report)
    assert ended.outcome is Outcome.ANSWERED and ended.cost == "0.00850" and ended.code_read_at is not None
    assert service.hangup(call.token, report) is None
    assert [state for state, _ in notified] == ["ringing", "answered", "answered", "ended"]


def test_the_guard_reads_nothing_before_a_key_and_only_1_repeats(service):
    call = open_call(service)
    service.answer(call.token, "c-1")
    assert service.key_pressed(call.token, "c-1", "") is None
    assert service.key_pressed(call.token, "c-2", "5") is None  # another call UUID
    assert service.key_pressed(call.token, "c-1", "#") is not None  # any key opens it
    assert service.key_pressed(call.token, "c-1", "7") is None  # after reading, only 1 repeats


def test_a_machine_gets_nothing_and_the_call_ends_as_voicemail(service, notified):
    call = open_call(service)
    service.answer(call.token, "c-1")
    service.machine_detected(call.token, "c-1")
    assert service.key_pressed(call.token, "c-1", "1") is None
    ended = service.hangup(call.token, HangupReport(call_uuid="c-1", call_status="completed", duration=9))
    assert ended.outcome is Outcome.VOICEMAIL
    assert notified[-1] == ("ended", Outcome.VOICEMAIL)


def test_an_answered_call_without_a_key_press_is_answered_but_unread(service):
    call = open_call(service)
    service.answer(call.token, "c-1")
    ended = service.hangup(call.token, HangupReport(call_uuid="c-1", call_status="completed", duration=20))
    assert ended.outcome is Outcome.ANSWERED and ended.code_read_at is None


def test_without_the_guard_the_code_is_read_on_answer(store, clock, notified, plivo_api):
    service = make_service(store, clock, notified, guard=False)
    call = open_call(service)
    answer = service.answer(call.token, "c-1")
    assert answer.code == "483920"
    assert service.get(call.token).code_read_at == clock.now


def test_the_cost_is_looked_up_when_the_hangup_has_none(service, plivo_api, notified):
    plivo_api.get(f"{ACCOUNT}/Call/c-1/", json={"call_uuid": "c-1", "total_amount": "0.01700"})
    call = open_call(service)
    service.answer(call.token, "c-1")
    service.key_pressed(call.token, "c-1", "1")
    service.hangup(call.token, HangupReport(call_uuid="c-1", call_status="completed", duration=70))
    assert service.get(call.token).cost == "0.01700"
    assert notified[-1] == ("ended", Outcome.ANSWERED)


def test_duration_is_kept_only_for_answered_calls(service):
    call = open_call(service)
    ended = service.hangup(call.token, HangupReport(call_uuid="c", call_status="busy", cause_code=3010, duration=3))
    assert ended.outcome is Outcome.BUSY and ended.duration is None


def test_a_refused_dial_ends_the_call_as_failed_with_the_reason(store, clock, notified):
    with responses.RequestsMock() as mock:
        mock.post(f"{ACCOUNT}/Call/", status=403, json={"error": "Calls to this destination country are barred."})
        service = make_service(store, clock, notified)
        call = open_call(service)
        service.dial(call)
    ended = service.get(call.token)
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
