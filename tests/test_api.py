"""The HTTP API through the app: keys, requests, checks, status, refusals, errors, and fuzzing.

Background work (the audit report, dialling Plivo) is held in a queue the
test runs when it chooses, so every step of a call is observed in order.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from answer_server import create_app
from answer_server.api import routes as api_module
from answer_server.api.routes import (
    key_label,
    matching_key,
    parse_check_request,
    parse_otp_request,
)
from tests.conftest import (
    CREATE_CALL_URL,
    assert_no_code,
    callback_path,
    hear_code,
    key_path,
    plivo_accepts,
    send,
)

KEY = "app-key-for-tests-0123456789"
OTHER_KEY = "another-app-key-for-tests-987"
AUDIT = "C0AUDIT"
NUMBER = "+14155550123"
START = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class HeldWork:
    """The work an API request leaves for later (placing and reporting the call): nothing runs
    until the test says so, then everything due runs."""

    def __init__(self):
        self.workers = []

    def run(self) -> None:
        for workers in self.workers:
            workers.drain()


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def work():
    return HeldWork()


@pytest.fixture
def make_app(settings, plivo_api, clock, work):
    """An app with two API keys unless told otherwise; closed after the test."""
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **({"api_keys": (KEY, OTHER_KEY)} | changes)), clock=clock,
                         message_pace=0, slack_post_rate=100.0)  # the clock stands still: nothing waits for it
        work.workers.append(app.extensions["voicebridge"]["workers"])
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["voicebridge"]["close"]()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def accepting(plivo_api):
    """Plivo accepts every create-call."""
    plivo_accepts(plivo_api)
    return plivo_api


def post(client, path: str, body, *, key: str | None = KEY, headers: dict | None = None):
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(f"/api/v1{path}", json=body, headers=auth | (headers or {}))


def get(client, path: str, *, key: str | None = KEY):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {key}"} if key else {})


def created(plivo_api) -> list[dict]:
    return [json.loads(c.request.body) for c in plivo_api.calls if c.request.url == CREATE_CALL_URL]


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def request_and_dial(client, work, plivo_api, body=None, **kwargs) -> tuple[str, dict]:
    """Request a code, run the background work, and return its id and Plivo's create-call body."""
    before = len(created(plivo_api))
    response = post(client, "/otp", body or {"to": NUMBER}, **kwargs)
    assert response.status_code == 202, response.get_json()
    work.run()
    return response.get_json()["id"], created(plivo_api)[before]


# -- keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Basic {KEY}", "Bearer wrong-key-0123456789abc", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}",
     f"Token {KEY}"],
)
def test_a_request_without_a_valid_key_is_refused_and_places_no_call(client, accepting, work, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for response in (
        client.post("/api/v1/otp", json={"to": NUMBER}, headers=headers),
        client.post("/api/v1/otp/check", json={"to": NUMBER, "code": "483920"}, headers=headers),
        client.get("/api/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAAAA", headers=headers),
    ):
        assert error_of(response) == (401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    work.run()
    assert created(accepting) == []


def test_with_no_api_keys_the_api_is_off_but_its_description_is_public(make_app, accepting, work):
    client = make_app(api_keys=()).test_client()
    response = post(client, "/otp", {"to": NUMBER})
    assert error_of(response) == (401, "api_disabled")
    assert "API_KEYS" in response.get_json()["error"]["message"]
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": "483920"})) == (401, "api_disabled")
    assert client.get("/api/v1/openapi.json").get_json()["openapi"] == "3.0.3"
    work.run()
    assert created(accepting) == []


def test_every_configured_key_is_compared_even_after_a_match(monkeypatch):
    compared = []
    real = api_module.hmac.compare_digest
    monkeypatch.setattr(api_module.hmac, "compare_digest", lambda a, b: compared.append(b) or real(a, b))
    assert matching_key(KEY, (KEY, OTHER_KEY, "third-key-for-tests-00000")) == KEY
    assert len(compared) == 3
    assert matching_key("nope", (KEY, OTHER_KEY)) is None


def test_any_configured_key_may_request_a_code(client, accepting, work):
    _, call = request_and_dial(client, work, accepting, key=OTHER_KEY)
    assert call["to"] == NUMBER


# -- requesting a code -------------------------------------------------------------


def test_a_good_request_is_accepted_and_the_number_is_called(client, accepting, work, plivo):
    response = post(client, "/otp", {"to": "+1 (415) 555-0123", "code": "483920", "lang": "es-MX"})
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"id", "status", "expires_at"}
    assert re.fullmatch(r"otp_[A-Za-z0-9_-]{24}", body["id"])
    assert body["status"] == "queued"
    assert body["expires_at"] == "2026-11-29T10:10:00Z"
    assert response.headers["Location"] == f"/api/v1/otp/{body['id']}"
    assert created(accepting) == []  # the call goes out after the answer
    work.run()
    [call] = created(accepting)
    assert call["to"] == NUMBER
    assert "483920" not in json.dumps(call)  # only an opaque token in the callback URLs
    document = send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="c", to=NUMBER)).get_data(
        as_text=True)
    assert 'language="es-US"' in document  # es-MX, spoken as Plivo's Latin American Spanish


def test_calls_through_the_api_are_reported_masked_in_the_audit_channel(make_app, accepting, work, fake_slack, plivo):
    client = make_app(otp_audit_channel=AUDIT).test_client()
    _, call = request_and_dial(client, work, accepting, {"to": NUMBER, "code": "483920"})
    [posted] = fake_slack.messages(AUDIT)
    assert posted.text == (f":lock: Voice code to +1 415-•••-0123 requested through the API (key {key_label(KEY)}): "
                           "calling…")
    hear_code(client, plivo, call)
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=12))
    work.run()
    [final] = fake_slack.messages(AUDIT)
    assert final.text.endswith(":white_check_mark: code read · 12 s")
    slack_text = json.dumps([r.body_dict for r in fake_slack.requests])
    assert "555-0123" not in slack_text and "5550123" not in slack_text
    assert_no_code(slack_text, "483920")


def test_without_an_audit_channel_nothing_is_posted_to_slack(client, accepting, work, fake_slack, plivo):
    _, call = request_and_dial(client, work, accepting)
    hear_code(client, plivo, call)
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER))
    work.run()
    assert [r.method_or_path for r in fake_slack.requests if r.method_or_path.startswith("chat.")] == []


def test_a_premium_rate_number_is_refused_and_recorded(app, client, accepting, work):
    response = post(client, "/otp", {"to": "+19005550123"})
    assert error_of(response) == (422, "destination_refused")
    assert "premium-rate" in response.get_json()["error"]["message"]
    work.run()
    assert created(accepting) == []
    assert app.extensions["voicebridge"]["otp"].store.refusal_kinds() == ["destination"]


@pytest.mark.parametrize(
    ("countries", "number", "sentence"),
    [
        ({"GB"}, "+447640123456", "+44 76 4012 3456 is a pager number; calls to pagers are not allowed."),
        ({"GB"}, "+445512345678", "+44 55 1234 5678 is a corporate (UAN) number; calls to corporate numbers are "
                                  "not allowed."),
        ({"GB"}, "+445612345678", "+44 56 1234 5678 is a VoIP number; calls to VoIP numbers are not allowed."),
        (None, "+881612345678", "+881 6 123 45678 is on an international network (+881: satellite phones such as "
                                "Iridium and Globalstar), which this workspace does not call."),
        (None, "+870773111632", "+870 773 111 632 is on an international network (+870: Inmarsat satellite "
                                "phones), which this workspace does not call."),
    ],
)
def test_with_a_uk_caller_id_pagers_voip_and_corporate_numbers_and_with_every_country_satellites_are_refused(
        make_app, accepting, work, countries, number, sentence):
    app = make_app(plivo_from_number="+442071838750",
                   allowed_countries=frozenset(countries) if countries else None)  # None: ALLOWED_COUNTRIES=*
    response = post(app.test_client(), "/otp", {"to": number})
    assert error_of(response) == (422, "destination_refused")
    assert response.get_json()["error"]["message"].startswith(sentence)
    work.run()
    assert created(accepting) == []
    assert app.extensions["voicebridge"]["otp"].store.refusal_kinds() == ["destination"]


def test_the_fourth_request_to_a_number_in_ten_minutes_is_rate_limited(app, client, accepting, work, clock):
    for _ in range(3):
        request_and_dial(client, work, accepting)
        clock.advance(minutes=1)
    response = post(client, "/otp", {"to": NUMBER})
    assert error_of(response) == (429, "rate_limited")
    # The first call ages out of the window at 10:10; it is now 10:03.
    assert response.headers["Retry-After"] == str(7 * 60)
    message = response.get_json()["error"]["message"]
    assert message == ("Limit reached: at most 3 calls to one number per 10 minutes. The next call is possible at "
                       "2026-11-29T10:10:00Z (in 7 min). No call was placed.")
    work.run()
    assert len(created(accepting)) == 3
    assert app.extensions["voicebridge"]["otp"].store.refusal_kinds() == ["rate_limit"]


def test_an_idempotency_key_places_one_call_and_a_repeat_gets_409(client, accepting, work):
    first = post(client, "/otp", {"to": NUMBER}, headers={"Idempotency-Key": "signup-42"})
    again = post(client, "/otp", {"to": NUMBER}, headers={"Idempotency-Key": "signup-42"})
    assert first.status_code == 202
    assert error_of(again) == (409, "duplicate_request")
    # Keys are per API key: another app may choose the same one.
    assert post(client, "/otp", {"to": "+14155550124"}, key=OTHER_KEY,
                headers={"Idempotency-Key": "signup-42"}).status_code == 202
    work.run()
    assert len(created(accepting)) == 2


BAD_REQUESTS = [
    ("not an object", ["+14155550123"], 400, "invalid_json"),
    ("a string", "+14155550123", 400, "invalid_json"),
    ("no number", {}, 422, "missing_field"),
    ("a misspelt field", {"to": NUMBER, "language": "es"}, 422, "unknown_field"),
    ("a number as a JSON number", {"to": 14155550123}, 422, "invalid_type"),
    ("a code as a JSON number", {"to": NUMBER, "code": 483920}, 422, "invalid_type"),
    ("no plus", {"to": "4155550123"}, 422, "invalid_number"),
    ("too short", {"to": "+1415"}, 422, "invalid_number"),
    ("letters in the code", {"to": NUMBER, "code": "48392a"}, 422, "invalid_code"),
    ("a 3-digit code", {"to": NUMBER, "code": "483"}, 422, "invalid_code"),
    ("an 11-digit code", {"to": NUMBER, "code": "48392048392"}, 422, "invalid_code"),
    ("non-ASCII digits", {"to": NUMBER, "code": "٤٨٣٩٢٠"}, 422, "invalid_code"),
    # `$` would also match before a final newline: every field is checked whole.
    ("a code with a newline", {"to": NUMBER, "code": "483920\n"}, 422, "invalid_code"),
    ("a code with a leading space", {"to": NUMBER, "code": " 483920"}, 422, "invalid_code"),
    ("a language with a newline", {"to": NUMBER, "lang": "es\n"}, 422, "invalid_lang"),
    ("an unknown language", {"to": NUMBER, "lang": "nl"}, 422, "invalid_lang"),
    ("a long language tag", {"to": NUMBER, "lang": "en-ABCDEFGHIJ"}, 422, "invalid_lang"),
]


@pytest.mark.parametrize(("case", "body", "status", "code"), BAD_REQUESTS, ids=[row[0] for row in BAD_REQUESTS])
def test_a_bad_request_body_is_refused_with_what_was_wrong(client, accepting, work, case, body, status, code):
    response = post(client, "/otp", body)
    assert error_of(response) == (status, code)
    assert "48392" not in response.get_data(as_text=True)  # the code is not echoed, even when wrong
    work.run()
    assert created(accepting) == []


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{", "application/json", 400, "invalid_json"),
        ("null", "application/json", 400, "invalid_json"),
        ("", "application/json", 400, "invalid_json"),
        ('{"to": NaN}', "application/json", 400, "invalid_json"),
        (b'{"to": "\xff"}', "application/json", 400, "invalid_json"),
        ("[" * 3000 + "]" * 3000, "application/json", 413, "too_large"),
        ("[" * 2000 + "]" * 2000, "application/json", 400, "invalid_json"),
        ('{"to": "+14155550123"}', "text/plain", 415, "unsupported_media_type"),
        ("to=%2B14155550123", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_a_body_that_is_not_json_is_refused(client, data, content_type, status, code):
    response = client.post("/api/v1/otp", data=data, content_type=content_type,
                           headers={"Authorization": f"Bearer {KEY}"})
    assert error_of(response) == (status, code)


def test_a_bad_idempotency_key_is_refused(client):
    response = post(client, "/otp", {"to": NUMBER}, headers={"Idempotency-Key": "x" * 101})
    assert error_of(response) == (400, "invalid_header")


def test_parsing_accepts_null_for_optional_fields_and_normalises_the_language():
    request = parse_otp_request({"to": "+1 415 555 0123", "code": None, "lang": "pt_br"})
    assert (request.number.e164, request.code, request.language) == (NUMBER, None, "pt-BR")
    check = parse_check_request({"to": NUMBER, "code": "0042"})
    assert (check.number.e164, check.code) == (NUMBER, "0042")
    assert parse_check_request({"to": NUMBER}).code == "missing_field"
    assert parse_check_request({"to": NUMBER, "code": None}).code == "invalid_type"


# -- checking a code ---------------------------------------------------------------


def test_a_generated_code_can_be_verified_once_the_call_has_read_it(client, accepting, work, plivo):
    _, call = request_and_dial(client, work, accepting)
    code = hear_code(client, plivo, call)
    assert len(code) == 6
    assert post(client, "/otp/check", {"to": NUMBER, "code": code}).get_json() == {"valid": True, "attempts_left": 5}
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": code})) == (409, "already_verified")


def test_a_wrong_code_is_not_valid_and_spends_a_try(client, accepting, work):
    request_and_dial(client, work, accepting, {"to": NUMBER, "code": "483920"})
    answers = [post(client, "/otp/check", {"to": NUMBER, "code": "111111"}).get_json() for _ in range(2)]
    assert answers == [{"valid": False, "attempts_left": 4}, {"valid": False, "attempts_left": 3}]
    assert post(client, "/otp/check", {"to": NUMBER, "code": "483920"}).get_json() == {"valid": True,
                                                                                       "attempts_left": 3}


def test_the_fifth_wrong_code_kills_it(client, accepting, work):
    request_and_dial(client, work, accepting, {"to": NUMBER, "code": "483920"})
    statuses = [post(client, "/otp/check", {"to": NUMBER, "code": f"11111{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    # Dead is dead: not even the right code brings it back.
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": "483920"})) == (429, "too_many_attempts")


def test_an_expired_code_is_refused_with_409(client, accepting, work, clock):
    code_id, _ = request_and_dial(client, work, accepting, {"to": NUMBER, "code": "483920"})
    clock.advance(minutes=10)
    assert get(client, f"/otp/{code_id}").get_json()["verification"] == "expired"
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": "483920"})) == (409, "expired")


def test_checking_a_number_that_has_no_code(client):
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": "483920"})) == (404, "no_code")


def test_a_check_with_a_malformed_code_spends_no_try(client, accepting, work):
    request_and_dial(client, work, accepting, {"to": NUMBER, "code": "483920"})
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": "483"})) == (422, "invalid_code")
    assert post(client, "/otp/check", {"to": NUMBER, "code": "111111"}).get_json()["attempts_left"] == 4


# -- a code's status -----------------------------------------------------------------


def test_the_status_follows_the_call_and_the_verification(client, accepting, work, plivo):
    code_id = post(client, "/otp", {"to": NUMBER, "code": "483920"}).get_json()["id"]

    def status() -> dict:
        return get(client, f"/otp/{code_id}").get_json()

    assert status() == {
        "id": code_id, "to": NUMBER, "status": "queued", "ended": False, "code_read": False, "verified": False,
        "verification": "live", "attempts_left": 5, "expires_at": "2026-11-29T10:10:00Z", "duration": None,
        "cost": None,
    }
    work.run()
    call = created(accepting)[0]
    assert status()["status"] == "calling"
    send(client, plivo.ring(callback_path(call["ring_url"]), call_uuid="call-1", to=NUMBER))
    assert status()["status"] == "ringing"
    send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert (status()["status"], status()["code_read"]) == ("answered", False)
    send(client, plivo.digits(key_path(call), call_uuid="call-1", to=NUMBER, digits="5"))
    assert (status()["status"], status()["code_read"]) == ("answered", True)
    post(client, "/otp/check", {"to": NUMBER, "code": "111111"})
    assert status()["attempts_left"] == 4
    post(client, "/otp/check", {"to": NUMBER, "code": "483920"})
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=31,
                              total_cost="0.00850"))
    final = status()
    assert (final["status"], final["ended"], final["duration"], final["cost"]) == ("completed", True, 31, "0.00850")
    assert (final["verified"], final["verification"], final["attempts_left"]) == (True, "verified", 0)


@pytest.mark.parametrize(
    ("answered", "hangup", "status"),
    [
        (False, {"status": "busy", "cause_code": 3010, "cause_name": "Busy Line", "duration": 0}, "busy"),
        (False, {"status": "no-answer", "cause_code": 3030, "cause_name": "No Answer", "duration": 0}, "no_answer"),
        (True, {"duration": 9}, "answered"),  # picked up, no key pressed: the code was not read
    ],
)
def test_the_status_says_how_an_unread_call_ended(client, accepting, work, plivo, answered, hangup, status):
    code_id, call = request_and_dial(client, work, accepting)
    if answered:
        send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-1", to=NUMBER))
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, **hangup))
    body = get(client, f"/otp/{code_id}").get_json()
    assert (body["status"], body["ended"], body["code_read"]) == (status, True, False)


def test_a_call_plivo_refuses_shows_as_failed(client, plivo_api, work):
    plivo_api.post(CREATE_CALL_URL, status=400, json={"error": "invalid to number"})
    code_id = post(client, "/otp", {"to": NUMBER}).get_json()["id"]
    work.run()
    assert get(client, f"/otp/{code_id}").get_json()["status"] == "failed"


def test_another_key_cannot_read_a_code_and_unknown_ids_are_not_found(client, accepting, work):
    code_id, _ = request_and_dial(client, work, accepting)
    assert get(client, f"/otp/{code_id}").status_code == 200
    assert error_of(get(client, f"/otp/{code_id}", key=OTHER_KEY)) == (404, "not_found")
    assert error_of(get(client, "/otp/otp_AAAAAAAAAAAAAAAAAAAAAAAA")) == (404, "not_found")
    assert error_of(get(client, "/otp/' OR 1=1 --")) == (404, "not_found")


def test_a_code_belongs_to_its_key_another_key_can_neither_check_kill_nor_replace_it(client, accepting, work):
    number = "+14155550177"
    request_and_dial(client, work, accepting, {"to": number, "code": "246810"})
    # Key B sees no code for the number: not A's right code, and its wrong guesses cost A's code nothing.
    assert error_of(post(client, "/otp/check", {"to": number, "code": "246810"}, key=OTHER_KEY)) == (404, "no_code")
    for guess in range(5):
        assert error_of(post(client, "/otp/check", {"to": number, "code": f"11111{guess}"},
                             key=OTHER_KEY)) == (404, "no_code")
    # B asking for a code of its own to the same number leaves A's live.
    request_and_dial(client, work, accepting, {"to": number, "code": "135790"}, key=OTHER_KEY)
    assert post(client, "/otp/check", {"to": number, "code": "246810"}).get_json() == {"valid": True,
                                                                                      "attempts_left": 5}
    assert post(client, "/otp/check", {"to": number, "code": "135790"}, key=OTHER_KEY).get_json() == {
        "valid": True, "attempts_left": 5}


def test_a_numbers_rate_limits_count_the_calls_of_every_key(client, accepting, work, clock):
    for key in (KEY, OTHER_KEY, KEY):
        request_and_dial(client, work, accepting, key=key)
        clock.advance(minutes=1)
    assert error_of(post(client, "/otp", {"to": NUMBER}, key=OTHER_KEY)) == (429, "rate_limited")
    work.run()
    assert len(created(accepting)) == 3


# -- errors and secrets ------------------------------------------------------------------


def test_unknown_paths_and_methods_under_the_api_answer_json(client):
    assert error_of(get(client, "/nothing/here")) == (404, "not_found")
    response = client.delete("/api/v1/otp", headers={"Authorization": f"Bearer {KEY}"})
    assert error_of(response) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "OPTIONS, POST"
    # Outside the API the app's plain answers stay as they were.
    assert client.get("/nothing").mimetype == "text/plain"


@pytest.mark.parametrize("method", ["DELETE", "GET", "PUT", "PATCH"])
@pytest.mark.parametrize("key", [KEY, None])
def test_the_check_path_is_its_own_and_other_methods_get_405_with_only_its_methods(client, method, key):
    # Before, /otp/check also matched /otp/<id>: GET reached the status route, and DELETE listed its GET.
    response = client.open("/api/v1/otp/check", method=method,
                           headers={"Authorization": f"Bearer {key}"} if key else {})
    assert response.status_code == 405  # routing comes before the key
    assert response.headers["Allow"] == "OPTIONS, POST"  # Flask adds OPTIONS to every rule
    assert response.get_json() == {"error": {"code": "method_not_allowed", "message": "Use POST here."}}


def test_only_an_id_shaped_segment_reaches_the_status_route(client):
    not_ids = ("checks", "otp_short", "otp_" + "A" * 41, "OTP_AAAAAAAAAAAAAAAAAAAAAAAA", "otp_AAAAAAAAAAAAAAAA!")
    for not_an_id in not_ids:
        response = get(client, f"/otp/{not_an_id}", key=None)
        assert error_of(response) == (404, "not_found")  # not 401: no route, so no key is asked for
    assert error_of(get(client, "/otp/otp_AAAAAAAAAAAAAAAA", key=None)) == (401, "unauthorized")
    response = client.delete("/api/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAAAA")
    assert error_of(response) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", ["/otp", "/otp/check"])
def test_a_body_the_client_never_sends_is_400_invalid_request(app, accepting, work, path):
    # Content-Length promises a body that never comes: Werkzeug raises ClientDisconnected (a 400).
    environ = EnvironBuilder(path=f"/api/v1{path}", method="POST", content_type="application/json",
                             headers={"Authorization": f"Bearer {KEY}"}).get_environ()
    environ.update({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "40"})
    environ.pop("wsgi.input_terminated", None)
    body, status, _headers = run_wsgi_app(app, environ)
    assert status.startswith("400")
    assert json.loads(b"".join(body))["error"]["code"] == "invalid_request"
    work.run()
    assert created(accepting) == []


def test_an_unexpected_failure_answers_json_without_a_traceback(app, client, monkeypatch, caplog):
    def explode(*_args):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(app.extensions["voicebridge"]["otp"], "check", explode)
    response = post(client, "/otp/check", {"to": NUMBER, "code": "483920"})
    assert error_of(response) == (500, "internal")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "on fire" not in text
    assert "API request failed" in caplog.text


def test_the_code_and_the_key_never_appear_in_responses_logs_or_slack(make_app, accepting, work, fake_slack, plivo,
                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    client = make_app(otp_audit_channel=AUDIT).test_client()
    answers = []
    response = post(client, "/otp", {"to": NUMBER, "code": "483920"})
    answers.append(response)
    code_id = response.get_json()["id"]
    work.run()
    call = created(accepting)[0]
    hear_code(client, plivo, call)
    answers += [get(client, f"/otp/{code_id}"), post(client, "/otp/check", {"to": NUMBER, "code": "111111"}),
                post(client, "/otp/check", {"to": NUMBER, "code": "48392x"}),
                post(client, "/otp", {"to": NUMBER, "code": "483920", "lang": "xx"}),
                post(client, "/otp/check", {"to": NUMBER, "code": "483920"}),
                post(client, "/otp/check", {"to": NUMBER, "code": "483920"}), get(client, f"/otp/{code_id}")]
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER))
    work.run()
    seen = " ".join(r.get_data(as_text=True) + json.dumps(dict(r.headers)) for r in answers)
    seen += json.dumps([r.body_dict for r in fake_slack.requests]) + json.dumps(created(accepting))
    assert_no_code(seen, "483920")
    assert_no_code(caplog.text, "483920")
    assert KEY not in caplog.text and KEY not in seen


# -- fuzzing: no input gives a 5xx or a traceback ---------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_NUMBERS = st.sampled_from([NUMBER, "+14155550124", "+1 (415) 555-0125", "+19005550123", "+442071838750",
                            "+14155550100", "+1", "+", "", "++1", "+1 415 555 0123 ext 4", "+٤١٥", "+1\u00a0415"])
_CODES = st.one_of(st.from_regex(r"\A[0-9]{3,11}\Z"), st.text(max_size=12))
_LANGS = st.sampled_from(["es", "pt_BR", "es-419", "en-", "EN-us", "fr-CA", "x" * 50])
_FIELD = st.one_of(_JSON, _NUMBERS, _CODES, _LANGS)
# Mostly well-formed, so requests also get through to refusals, limits, duplicates and calls.
_PLAUSIBLE = st.fixed_dictionaries({"to": st.sampled_from([NUMBER, "+1 (415) 555-0124", "+19005550123"])}, optional={
    "code": st.none() | st.from_regex(r"\A[0-9]{4,10}\Z"), "lang": st.none() | _LANGS})
_BODIES = st.one_of(
    _JSON,
    _PLAUSIBLE,
    st.fixed_dictionaries({}, optional={"to": st.one_of(_NUMBERS, _FIELD), "code": st.one_of(_CODES, _FIELD),
                                        "lang": _FIELD, "extra": _FIELD}),
)
_HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=40)
_AUTHORIZATIONS = st.one_of(st.just(f"Bearer {KEY}"), st.just(f"bearer  {OTHER_KEY} "), _HEADER_TEXT,
                            _HEADER_TEXT.map(lambda text: "Bearer " + text))
_FUZZ = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _assert_json_answer(response) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert "Traceback" not in text
    assert response.mimetype == "application/json"
    json.loads(text)
    return text


@_FUZZ
@given(path=st.sampled_from(["/otp", "/otp/check"]), body=_BODIES, authorization=_AUTHORIZATIONS,
       idempotency=st.none() | st.sampled_from(["signup-1", "signup-2"]) | _HEADER_TEXT)
def test_any_json_body_gets_a_json_answer_and_never_echoes_a_code(client, accepting, work, path, body, authorization,
                                                                  idempotency):
    headers = {"Authorization": authorization} | ({"Idempotency-Key": idempotency} if idempotency is not None else {})
    response = client.post(f"/api/v1{path}", json=body, headers=headers)
    work.run()
    text = _assert_json_answer(response)
    code = body.get("code") if isinstance(body, dict) else None
    others = json.dumps({k: v for k, v in body.items() if k != "code"}) if isinstance(body, dict) else ""
    if response.status_code >= 400 and isinstance(code, str) and len(code) >= 4 and code not in others + "4096":
        assert code not in text


@_FUZZ
@given(path=st.sampled_from(["/otp", "/otp/check"]), data=st.binary(max_size=300) | st.text(max_size=300),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])
       | _HEADER_TEXT)
def test_any_raw_body_gets_a_json_answer(client, accepting, work, path, data, content_type):
    response = client.post(f"/api/v1{path}", data=data, headers={"Authorization": f"Bearer {KEY}",
                                                                  "Content-Type": content_type})
    work.run()
    _assert_json_answer(response)


@_FUZZ
@given(code_id=st.text(min_size=1, max_size=60), authorization=_AUTHORIZATIONS,
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
def test_any_status_path_gets_a_json_answer(client, code_id, authorization, method):
    response = client.open(f"/api/v1/otp/{quote(code_id, safe='')}", method=method,
                           headers={"Authorization": authorization})
    _assert_json_answer(response)


@pytest.mark.parametrize("typed", ["483920\n", "483920 ", "\n483920"])
def test_a_check_with_a_code_not_whole_is_refused_and_costs_no_try(client, accepting, work, typed):
    post(client, "/otp", {"to": NUMBER, "code": "483920"})
    assert error_of(post(client, "/otp/check", {"to": NUMBER, "code": typed})) == (422, "invalid_code")
    assert post(client, "/otp/check", {"to": NUMBER, "code": "483920"}).get_json() == {"valid": True,
                                                                                      "attempts_left": 5}
