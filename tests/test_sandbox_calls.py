"""The simulator drives a call as Plivo would: what the application receives, in order, signed."""

from __future__ import annotations

import time

import pytest
import responses

from answer_server.plivo.signature import is_valid_signature
from answer_server.sandbox.plivo_sim import PlivoSimulator
from tests.sandbox_app_double import APP, ApplicationDouble, create_body

AUTH_ID = "MASANDBOXTESTXXXXXXX"
TOKEN = "sandbox-test-token"
READ = b'<Response><Speak>Your code is 4, 8, 3.</Speak><Wait length="2"/><Speak>Goodbye.</Speak></Response>'


@pytest.fixture
def app_double():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield ApplicationDouble(mock)


@pytest.fixture
def simulator(app_double):
    """Make simulators; every call they start is ended, and its thread joined, before the next test."""
    made: list[PlivoSimulator] = []

    def make(speed: float = 200) -> PlivoSimulator:
        made.append(PlivoSimulator(AUTH_ID, TOKEN, speed=speed))
        return made[-1]

    yield make
    for sim in made:
        for call in sim.calls():
            sim.hang_up(call.call_uuid)
        for thread in sim.threads:
            thread.join(timeout=10)


def place(sim: PlivoSimulator, **body):
    (request_uuid,) = sim.create(create_body(**body))
    return next(c for c in sim.calls() if c.request_uuid == request_uuid)


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def hangup_of(app_double) -> dict[str, str]:
    return app_double.wait_for("/hangup")[0].params


def spoken(call) -> list[str]:
    return [line.text for line in call.transcript if line.kind == "speak"]


def test_the_answer_request_carries_plivos_fields_and_a_valid_v3_signature(app_double, simulator):
    app_double.documents["/answer"] = READ
    call = place(simulator())
    answer = app_double.wait_for("/answer")[0]
    assert answer.params | {"SessionStart": ""} == {
        "CallUUID": call.call_uuid, "RequestUUID": call.request_uuid, "ALegUUID": call.call_uuid,
        "ALegRequestUUID": call.request_uuid, "From": "14155550100", "To": "14155550123",
        "Direction": "outbound", "CallStatus": "in-progress", "Event": "StartApp", "BillRate": "0.0085",
        "ParentAuthID": AUTH_ID, "SessionStart": ""}
    nonce = answer.headers["X-Plivo-Signature-V3-Nonce"]
    for header in ("X-Plivo-Signature-V3", "X-Plivo-Signature-Ma-V3"):
        assert is_valid_signature(TOKEN, "POST", f"{APP}/answer", answer.params, nonce, answer.headers[header])
    assert not is_valid_signature("another-token", "POST", f"{APP}/answer", answer.params, nonce,
                                  answer.headers["X-Plivo-Signature-V3"])


def test_a_valid_document_is_heard_line_by_line_and_the_hangup_reports_the_end_of_the_xml(app_double, simulator):
    app_double.documents["/answer"] = READ
    call = place(simulator())
    hangup = hangup_of(app_double)
    assert [r.path for r in app_double.received] == ["/ring", "/answer", "/hangup"]
    assert app_double.to("/ring")[0].params["CallStatus"] == "ringing"
    assert [line.text for line in call.transcript if line.kind in ("speak", "pause")] == [
        "Your code is 4, 8, 3.", "[pause 2 s]", "Goodbye."]
    assert hangup["CallStatus"] == "completed" and hangup["Event"] == "Hangup"
    assert (hangup["HangupCauseCode"], hangup["HangupCauseName"], hangup["HangupSource"]) == (
        "4010", "End Of XML Instructions", "Plivo")
    # ~2 s of speech, a 2 s pause and ~1 s more, in simulated time; billed by the started minute.
    assert 4 <= int(hangup["Duration"]) <= 6
    assert hangup["BillDuration"] == "60" and hangup["TotalCost"] == "0.00850"
    assert hangup["StartTime"] and hangup["AnswerTime"] and hangup["EndTime"] >= hangup["AnswerTime"]
    assert is_valid_signature(TOKEN, "POST", f"{APP}/hangup", hangup, app_double.to("/hangup")[0].headers[
        "X-Plivo-Signature-V3-Nonce"], app_double.to("/hangup")[0].headers["X-Plivo-Signature-V3"])


@pytest.mark.parametrize("served", [
    (200, "text/xml", b"<Response><Say>Hi</Say></Response>"),
    (200, "text/xml", b""),
    (200, "text/html", b"<Response><Speak>Hi</Speak></Response>"),
])
def test_an_invalid_answer_document_ends_the_call_with_cause_8011(app_double, simulator, served):
    app_double.documents["/answer"] = served
    call = place(simulator())
    hangup = hangup_of(app_double)
    assert (hangup["HangupCauseCode"], hangup["HangupCauseName"]) == ("8011", "Invalid Answer XML")
    assert spoken(call) == []
    assert any(line.kind == "error" and "invalid Plivo XML" in line.text for line in call.transcript)


def test_an_unreachable_answer_url_is_tried_three_times_then_ends_with_cause_7011(app_double, simulator):
    app_double.documents["/answer"] = (500, "text/plain", b"oops")
    place(simulator())
    assert hangup_of(app_double)["HangupCauseCode"] == "7011"
    assert len(app_double.to("/answer")) == 3


def test_get_digits_with_no_key_plays_the_prompt_for_each_retry_then_falls_through(app_double, simulator):
    app_double.documents["/answer"] = (
        b'<Response><GetDigits action="https://app.test/keys" timeout="3" retries="2" numDigits="1">'
        b"<Speak>Press 1.</Speak></GetDigits><Speak>No key was pressed.</Speak></Response>")
    call = place(simulator())
    hangup_of(app_double)
    assert spoken(call) == ["Press 1.", "Press 1.", "No key was pressed."]
    assert [line.text for line in call.transcript].count("[waiting for a key…]") == 2
    assert app_double.to("/keys") == []


def test_a_key_pressed_is_posted_to_the_action_signed_and_its_document_takes_over(app_double, simulator):
    app_double.documents["/answer"] = (
        b'<Response><GetDigits action="https://app.test/keys?step=1" timeout="60" numDigits="1">'
        b"<Speak>Press 1.</Speak></GetDigits><Speak>Not reached.</Speak></Response>")
    app_double.documents["/keys"] = b"<Response><Speak>Thank you.</Speak></Response>"
    sim = simulator(speed=20)
    call = place(sim)
    wait_until(lambda: call.control.listening)
    assert sim.press(call.call_uuid, "1") is True
    keys = app_double.wait_for("/keys")[0]
    assert keys.params["Digits"] == "1" and keys.params["CallUUID"] == call.call_uuid
    assert is_valid_signature(TOKEN, "POST", f"{APP}/keys?step=1", keys.params,
                              keys.headers["X-Plivo-Signature-V3-Nonce"], keys.headers["X-Plivo-Signature-V3"])
    hangup_of(app_double)
    assert spoken(call) == ["Press 1.", "Thank you."]


def test_an_invalid_action_document_ends_the_call_with_cause_8012(app_double, simulator):
    app_double.documents["/answer"] = (
        b'<Response><GetDigits action="https://app.test/keys" timeout="60" numDigits="1">'
        b"<Speak>Press 1.</Speak></GetDigits></Response>")
    app_double.documents["/keys"] = b"<Response><Hangup></Response>"
    sim = simulator(speed=20)
    call = place(sim)
    wait_until(lambda: call.control.listening)
    sim.press(call.call_uuid, "1")
    assert hangup_of(app_double)["HangupCauseCode"] == "8012"


def test_a_redirect_replaces_the_document(app_double, simulator):
    app_double.documents["/answer"] = (b'<Response><Redirect method="GET">https://app.test/next</Redirect>'
                                       b"<Speak>Not reached.</Speak></Response>")
    app_double.documents["/next"] = b"<Response><Speak>Redirected.</Speak></Response>"
    call = place(simulator())
    hangup_of(app_double)
    assert app_double.to("/next")[0].method == "GET"
    assert spoken(call) == ["Redirected."]


def test_cancelling_the_request_while_it_rings_reports_cancel_from_the_api(app_double, simulator):
    sim = simulator(speed=10)
    call = place(sim, to="+14155550005")  # slow answer: rings about 6 s
    wait_until(lambda: call.state == "ringing")
    assert sim.cancel_request(call.request_uuid) is True
    hangup = hangup_of(app_double)
    assert (hangup["CallStatus"], hangup["HangupCauseCode"], hangup["HangupCauseName"], hangup["HangupSource"]) == (
        "cancel", "1000", "Canceled", "API Request")
    assert hangup["Duration"] == "0" and hangup["BillDuration"] == "0" and hangup["AnswerTime"] == ""
    assert app_double.to("/answer") == []


def test_hanging_up_an_answered_call_through_the_api_reports_completed_from_the_api(app_double, simulator):
    app_double.documents["/answer"] = b"<Response><Speak loop=\"0\">Hold the line.</Speak></Response>"
    sim = simulator(speed=20)
    call = place(sim)
    wait_until(lambda: call.state == "answered")
    assert sim.hang_up(call.call_uuid) is True
    hangup = hangup_of(app_double)
    assert (hangup["CallStatus"], hangup["HangupCauseCode"], hangup["HangupSource"]) == (
        "completed", "4000", "API Request")
    assert sim.hang_up(call.call_uuid) is False  # already over


@pytest.mark.parametrize("number, status, code, name", [
    ("+14155550001", "busy", "3010", "Busy Line"),
    ("+14155550002", "no-answer", "3030", "No Answer"),
    ("+14155550003", "failed", "2000", "Invalid Destination Address"),
])
def test_test_numbers_end_as_busy_no_answer_or_failed_without_an_answer_request(app_double, simulator, number, status, code, name):
    place(simulator(), to=number)
    hangup = hangup_of(app_double)
    assert (hangup["CallStatus"], hangup["HangupCauseCode"], hangup["HangupCauseName"]) == (status, code, name)
    assert hangup["Duration"] == "0"
    assert app_double.to("/answer") == []


def test_a_voicemail_number_answers_and_sends_the_machine_detection_callback(app_double, simulator):
    app_double.documents["/answer"] = b"<Response><Speak loop=\"3\">Your code is 1, 2, 3, 4.</Speak></Response>"
    call = place(simulator(), to="+14155550004", machine_detection="true",
                 machine_detection_url=f"{APP}/machine", machine_detection_method="POST")
    machine = app_double.wait_for("/machine")[0].params
    assert machine == {
        "From": "14155550100", "Machine": "true", "To": "14155550004", "RequestUUID": call.request_uuid,
        "ALegRequestUUID": call.request_uuid, "CallUUID": call.call_uuid, "IfMachine": "continue",
        "Direction": "outbound", "ALegUUID": call.call_uuid, "Event": "MachineDetection", "CallStatus": "in-progress"}
    assert hangup_of(app_double)["HangupCauseCode"] == "4010"  # "continue": the script played to its end


def test_machine_detection_set_to_hangup_ends_the_call_after_the_callback(app_double, simulator):
    app_double.documents["/answer"] = b"<Response><Speak loop=\"0\">Your code is 1, 2, 3, 4.</Speak></Response>"
    place(simulator(speed=50), to="+14155550004", machine_detection="hangup", machine_detection_url=f"{APP}/machine")
    assert app_double.wait_for("/machine")[0].params["IfMachine"] == "hangup"
    hangup = hangup_of(app_double)
    assert hangup["CallStatus"] == "completed" and hangup["HangupSource"] == "Plivo"


def test_a_person_answering_gets_no_machine_detection_callback(app_double, simulator):
    app_double.documents["/answer"] = READ
    place(simulator(), machine_detection="true", machine_detection_url=f"{APP}/machine")
    hangup_of(app_double)
    assert app_double.to("/machine") == []


def test_a_bulk_call_rings_each_destination_with_its_own_uuids(app_double, simulator):
    app_double.documents["/answer"] = READ
    sim = simulator()
    request_uuids = sim.create(create_body(to="+14155550123<+14155550124"))
    hangups = app_double.wait_for("/hangup", count=2)
    assert len(set(request_uuids)) == 2
    assert {h.params["RequestUUID"] for h in hangups} == set(request_uuids)
    assert {h.params["To"] for h in hangups} == {"14155550123", "14155550124"}
    assert len({h.params["CallUUID"] for h in hangups}) == 2


def test_a_key_pressed_during_the_prompt_cuts_it_short_and_is_taken(app_double, simulator):
    prompt = "Press 1 to confirm. " * 20  # ~27 s of speech
    app_double.documents["/answer"] = (
        f'<Response><GetDigits action="https://app.test/keys" timeout="60" numDigits="1">'
        f"<Speak>{prompt}</Speak></GetDigits></Response>").encode()
    sim = simulator(speed=10)
    call = place(sim)
    wait_until(lambda: call.control.listening and spoken(call))
    started = time.monotonic()
    sim.press(call.call_uuid, "1")
    assert app_double.wait_for("/keys")[0].params["Digits"] == "1"
    assert time.monotonic() - started < 1.5  # not after the ~2.7 s the whole prompt takes at this speed
    assert "[waiting for a key…]" not in [line.text for line in call.transcript]


CONFERENCE = (b'<Response><Speak>Joining.</Speak><Conference callbackUrl="https://app.test/conference" '
              b'timeLimit="60">vb-room</Conference></Response>')


def test_two_calls_in_one_conference_hear_each_other_and_their_enter_and_exit_are_posted(app_double, simulator):
    from flask import Flask

    from answer_server.sandbox.plivo_sim import plivo_blueprint

    app_double.documents["/answer"] = CONFERENCE
    sim = simulator(speed=20)
    first = place(sim)
    wait_until(lambda: any("conference call vb-room" in line.text for line in first.transcript))
    second = place(sim, to="+14155550124")
    wait_until(lambda: any("with +14155550123, +14155550124" in line.text for line in second.transcript))
    enters = app_double.wait_for("/conference", count=2)
    assert [r.params["ConferenceAction"] for r in enters] == ["enter", "enter"]
    assert {r.params["CallUUID"] for r in enters} == {first.call_uuid, second.call_uuid}
    member = next(r.params["ConferenceMemberID"] for r in enters if r.params["CallUUID"] == first.call_uuid)
    # Plivo's "speak to a member": only that call hears it.
    web = Flask(__name__)
    web.register_blueprint(plivo_blueprint(sim))
    said = web.test_client().post(f"/sandbox/plivo/v1/Account/{AUTH_ID}/Conference/vb-room/Member/{member}/Speak/",
                                  json={"text": "Ana could not be reached."}, auth=(AUTH_ID, TOKEN))
    assert said.status_code == 202
    assert "Ana could not be reached." in spoken(first) and "Ana could not be reached." not in spoken(second)
    gone = web.test_client().post(f"/sandbox/plivo/v1/Account/{AUTH_ID}/Conference/vb-room/Member/99/Speak/",
                                  json={"text": "x"}, auth=(AUTH_ID, TOKEN))
    assert gone.status_code == 404
    sim.callee_hangs_up(first.call_uuid)
    exits = [r for r in app_double.wait_for("/conference", count=3) if r.params["ConferenceAction"] == "exit"]
    assert [r.params["CallUUID"] for r in exits] == [first.call_uuid]
