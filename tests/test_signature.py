"""X-Plivo-Signature-V3 against Plivo's official vectors and our own edge cases."""

import pytest

from answer_server.plivo.signature import (
    compute_signature,
    is_valid_signature,
    signed_string,
)

# Plivo's official V3 vectors, verbatim from plivo-go `utils_test.go` and plivo-ruby
# `spec/signature_spec.rb` (https://github.com/plivo/plivo-go, https://github.com/plivo/plivo-ruby).
OFFICIAL_TOKEN = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
OFFICIAL_NONCE = "31627761595286130198"
OFFICIAL_PARAMS = {
    "Direction": "outbound",
    "From": "19792014278",
    "ALegUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallStatus": "in-progress",
    "BillRate": "0.002",
    "ParentAuthID": "MANWVLYTK4ZWU1YTY4QA",
    "To": "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
    "ALegRequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "RequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "SIP-H-To": "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
    "SessionStart": "2020-04-08 11:34:33.238707",
    "Event": "StartApp",
}
OFFICIAL_CASES = [
    ("POST", "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d",
     "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="),
    ("GET", "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d",
     "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="),
    ("POST", "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml",
     "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="),
    ("GET", "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml",
     "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="),
]


@pytest.mark.parametrize(("method", "url", "signature"), OFFICIAL_CASES)
def test_it_matches_plivos_official_vectors(method, url, signature):
    assert compute_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE) == signature
    assert is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE, signature)


@pytest.mark.parametrize(("method", "url", "signature"), OFFICIAL_CASES)
def test_it_rejects_the_official_vectors_with_a_changed_param(method, url, signature):
    tampered = {**OFFICIAL_PARAMS, "CallStatus": "completed"}
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url, tampered, OFFICIAL_NONCE, signature)


def test_it_rejects_another_token_nonce_or_url():
    method, url, signature = OFFICIAL_CASES[2]
    assert not is_valid_signature("x" + OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE, signature)
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE + "1", signature)
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url + "/", OFFICIAL_PARAMS, OFFICIAL_NONCE, signature)


def test_it_accepts_any_of_several_comma_separated_signatures():
    method, url, signature = OFFICIAL_CASES[0]
    other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    for header in (f"{other},{signature}", f"{signature},{other}", f"{other}, {signature}"):
        assert is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE, header)
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE, f"{other},{other}")


@pytest.mark.parametrize("header", [None, "", ","])
def test_it_rejects_a_missing_or_empty_signature(header):
    method, url, _ = OFFICIAL_CASES[0]
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, OFFICIAL_NONCE, header)


def test_it_rejects_a_missing_nonce():
    method, url, signature = OFFICIAL_CASES[0]
    assert not is_valid_signature(OFFICIAL_TOKEN, method, url, OFFICIAL_PARAMS, None, signature)


# Derived vectors from plivo.md §4 (computed with plivo-python 4.63.0).
def test_it_signs_a_post_without_params_as_the_bare_url():
    url = "https://voice.example.com/plivo/answer"
    assert signed_string("POST", url, {}) == url
    assert compute_signature("my_auth_token", "POST", url, {}, "05429567804466091622") == \
        "o+SBy6sRrq7D1SQAdWxH13LjeixIpG9596SAZn55VS4="


def test_it_drops_the_fragment_and_merges_the_query_on_get():
    url = "https://voice.example.com:8443/plivo/answer?otp_id=42#ct=2000&rt=3000"
    params = {"CallUUID": "u-1", "CallStatus": "in-progress"}
    assert signed_string("GET", url, params) == \
        "https://voice.example.com:8443/plivo/answer?CallStatus=in-progress&CallUUID=u-1&otp_id=42"
    assert compute_signature("my_auth_token", "GET", url, params, "12345") == \
        "SLKoeAqvux2HdS5/Nw52OUSfoQTaJ8NdyabRrGDZjzc="


def test_it_signs_a_hangup_callback_as_plivo_does():
    params = {
        "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36", "CallStatus": "completed",
        "Direction": "outbound", "Duration": "12", "BillDuration": "60", "Event": "Hangup",
        "From": "14155550100", "To": "15551234567", "HangupCause": "NORMAL_CLEARING",
        "HangupCauseCode": "4000", "HangupCauseName": "Normal Hangup", "HangupSource": "Callee",
        "RequestUUID": "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
    }
    signature = compute_signature(
        "my_auth_token", "POST", "https://voice.example.com/plivo/hangup", params, "05429567804466091622")
    assert signature == "9H7BBCf6hUiloKWwIfhc3rARBqBQApizAkZsAhBOqgI="


def test_it_sorts_multi_valued_params():
    assert signed_string("POST", "https://x.test/a", {"b": ["2", "1"], "a": "z"}) == \
        "https://x.test/a?azb1b2"
