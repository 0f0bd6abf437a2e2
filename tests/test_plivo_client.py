"""The Plivo REST client against `responses`, in Plivo's wire format."""

import json

import pytest
import requests
import responses

from voice.calls.plivo import OutboundCall, PlivoClient, PlivoError

BASE = "https://api.plivo.test"
AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
CALL_URL = f"{BASE}/v1/Account/{AUTH_ID}/Call/"
CALL = OutboundCall(
    from_number="+14155550100",
    to_number="+14155550123",
    answer_url="https://voice.example.test/plivo/answer/tok",
    hangup_url="https://voice.example.test/plivo/hangup/tok",
    ring_url="https://voice.example.test/plivo/ring/tok",
)


@pytest.fixture
def client():
    return PlivoClient(BASE, AUTH_ID, "token")


@responses.activate
def test_it_creates_a_call_with_basic_auth_and_a_json_body(client):
    responses.post(CALL_URL, status=201, json={"api_id": "a", "message": "call fired", "request_uuid": "r-1"})
    assert client.create_call(CALL) == "r-1"
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Basic TUFYWFhYWFhYWFhYWFhYWFhYWFg6dG9rZW4="
    body = json.loads(request.body)
    assert body["from"] == "+14155550100" and body["to"] == "+14155550123"
    assert body["answer_url"] == CALL.answer_url and body["answer_method"] == "POST"
    assert body["hangup_url"] == CALL.hangup_url and body["ring_url"] == CALL.ring_url
    assert body["time_limit"] == 120 and body["ring_timeout"] == 45


@responses.activate
def test_it_takes_the_first_uuid_of_a_bulk_reply(client):
    responses.post(CALL_URL, status=201, json={"message": "call fired", "request_uuid": ["r-1", "r-2"]})
    assert client.create_call(CALL) == "r-1"


@responses.activate
def test_a_429_is_sent_once_and_said_to_be_worth_retrying(client):
    # The work queue retries it: Plivo refused the request, so no phone rang.
    responses.post(CALL_URL, status=429, json={"error": "too many requests"})
    with pytest.raises(PlivoError) as caught:
        client.create_call(CALL)
    assert len(responses.calls) == 1
    assert caught.value.retryable and not caught.value.placed_unknown


@pytest.mark.parametrize("status", [500, 502, 503])
@responses.activate
def test_a_5xx_is_sent_once_and_said_to_have_placed_nothing_so_the_queue_may_retry_it(client, status):
    # Plivo answered that it failed: no call was placed. The client never repeats it itself (the work
    # queue does, with backoff, while the call is still useful: voice/calls/dialing.py).
    responses.post(CALL_URL, status=status, json={"error": "oops"})
    with pytest.raises(PlivoError) as caught:
        client.create_call(CALL)
    assert len(responses.calls) == 1
    assert caught.value.status == status and caught.value.retryable and not caught.value.placed_unknown
    assert caught.value.problem == f"Plivo had a problem on its side (HTTP {status})"


@responses.activate
def test_a_gateways_504_may_have_reached_plivo_so_it_is_never_sent_again(client):
    responses.post(CALL_URL, status=504, body="<html>gateway timeout</html>")
    with pytest.raises(PlivoError) as caught:
        client.create_call(CALL)
    assert caught.value.placed_unknown and not caught.value.retryable
    assert str(caught.value) == "Plivo's gateway timed out (HTTP 504), so the call may or may not have been placed."


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"api_id": "a", "error": "invalid to number"}, "Plivo rejected the call request: invalid to number."),
        (401, {"error": "authentication failed"},
         "Plivo rejected this app's credentials; an admin should check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN."),
        (403, {"api_id": "a", "error": "Calls to this destination country are barred."},
         "Plivo does not allow calls to this destination (Calls to this destination country are barred). "
         "An admin can enable the country in the Plivo console's geo permissions."),
        (404, {"error": "not found"}, "Plivo does not know this account; an admin should check PLIVO_AUTH_ID."),
        (429, {"error": "slow down"}, "Plivo is limiting how fast we place calls right now; try again in a minute."),
        (502, "<html>bad gateway</html>", "Plivo had a problem on its side (HTTP 502); no call was placed. Try again shortly."),
    ],
)
@responses.activate
def test_each_refusal_becomes_a_sentence(client, status, body, message):
    if isinstance(body, dict):
        responses.post(CALL_URL, status=status, json=body)
    else:
        responses.post(CALL_URL, status=status, body=body)
    with pytest.raises(PlivoError) as caught:
        client.create_call(CALL)
    assert str(caught.value) == message
    assert caught.value.status == status


def _refused_connection() -> requests.ConnectionError:
    import urllib3

    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, CALL_URL, reason))


@pytest.mark.parametrize(
    ("error", "message", "unknown"),
    [
        (requests.ConnectTimeout(), "Plivo could not be reached (connection timed out); no call was placed.", False),
        (requests.ReadTimeout(), "Plivo did not answer in time, so the call may or may not have been placed.", True),
        (_refused_connection(), "Plivo could not be reached (connection failed); no call was placed.", False),
        # The connection broke once the request was on its way: Plivo may have acted on it.
        (requests.ConnectionError("Connection aborted.", ConnectionResetError()),
         "The connection to Plivo broke, so the call may or may not have been placed.", True),
    ],
)
@responses.activate
def test_network_failures_become_sentences(client, error, message, unknown):
    responses.post(CALL_URL, body=error)
    with pytest.raises(PlivoError) as caught:
        client.create_call(CALL)
    assert str(caught.value) == message
    assert caught.value.placed_unknown is unknown
    # Only what certainly never reached Plivo may be sent again.
    assert caught.value.retryable is (not unknown)


@responses.activate
def test_a_2xx_without_a_request_uuid_is_an_error(client):
    responses.post(CALL_URL, status=201, json={"message": "call fired"})
    with pytest.raises(PlivoError, match="no request ID"):
        client.create_call(CALL)


@responses.activate
def test_it_hangs_up_and_cancels_by_uuid(client):
    responses.delete(f"{BASE}/v1/Account/{AUTH_ID}/Call/c-1/", status=204)
    responses.delete(f"{BASE}/v1/Account/{AUTH_ID}/Request/r-1/", status=204)
    client.hang_up("c-1")
    client.cancel_request("r-1")
    assert [c.request.method for c in responses.calls] == ["DELETE", "DELETE"]


def test_it_never_sends_a_delete_without_a_uuid(client):
    # DELETE /Call/ with no UUID would hang up every call on the account.
    with pytest.raises(ValueError):
        client.hang_up("")
    with pytest.raises(ValueError):
        client.cancel_request("")


@responses.activate
def test_machine_detection_is_asked_for_only_when_a_url_is_given(client):
    from dataclasses import replace

    responses.post(CALL_URL, status=201, json={"request_uuid": "r-1"})
    responses.post(CALL_URL, status=201, json={"request_uuid": "r-2"})
    client.create_call(CALL)
    client.create_call(replace(CALL, machine_detection_url="https://voice.example.test/plivo/machine/tok",
                               machine_detection="hangup"))
    plain, detecting = (json.loads(c.request.body) for c in responses.calls)
    assert "machine_detection" not in plain
    assert detecting["machine_detection"] == "hangup"
    assert detecting["machine_detection_url"] == "https://voice.example.test/plivo/machine/tok"
    assert detecting["machine_detection_method"] == "POST"
    assert 2000 <= detecting["machine_detection_time"] <= 10000


SPEAK_URL = f"{BASE}/v1/Account/{AUTH_ID}/Conference/vb-alert-1-abc/Member/17/Speak/"


@responses.activate
def test_it_speaks_to_one_member_of_a_conference(client):
    responses.post(SPEAK_URL, status=202, json={"api_id": "a", "message": "speak queued"})
    assert client.speak_to_member("vb-alert-1-abc", "17", "Ana could not be reached.", voice="WOMAN",
                                  language="en-US") is True
    assert json.loads(responses.calls[0].request.body) == {"text": "Ana could not be reached.", "voice": "WOMAN",
                                                           "language": "en-US"}


@responses.activate
def test_a_member_who_left_is_not_an_error_but_a_refusal_is(client):
    responses.post(SPEAK_URL, status=404, json={"error": "not found"})
    assert client.speak_to_member("vb-alert-1-abc", "17", "x", voice="WOMAN", language="en-US") is False
    responses.replace(responses.POST, SPEAK_URL, status=401, json={"error": "authentication failed"})
    with pytest.raises(PlivoError):
        client.speak_to_member("vb-alert-1-abc", "17", "x", voice="WOMAN", language="en-US")
    with pytest.raises(ValueError):
        client.speak_to_member("", "17", "x", voice="WOMAN", language="en-US")
