"""Bodies no sender should send: every one refused with a reason, none ever raising."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from voice.intake import alertmanager, generic, opsgenie, pagerduty
from voice.intake.decoding import decode_json
from voice.intake.models import DETAILS_MAX_BYTES, SUMMARY_MAX, Event, Rejected


@pytest.mark.parametrize("body, expected", [
    (b"", "the body is empty; send a JSON object"),
    (b" \n", "the body is empty; send a JSON object"),
    (b"\xff\xfe{}", "the body is not UTF-8 text"),
    (b'{"summary": "x"', "the body is not valid JSON at line 1 column 16"),
    (b"{'summary': 'x'}", "the body is not valid JSON at line 1 column 2"),
    (b'{"a": NaN}', "the body is not valid JSON"),
    (b'{"a": Infinity}', "the body is not valid JSON"),
    (b'{"a": ' + b"9" * 5000 + b"}", "the body is not valid JSON"),
    (b"[]", "the body must be a JSON object, not a list"),
    (b'"summary"', "the body must be a JSON object, not a string"),
    (b"null", "the body must be a JSON object, not null"),
    (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "the body is nested deeper than 64 levels"),
    (b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", "the body is nested deeper than 64 levels"),
])
def test_a_body_that_is_not_a_json_object_is_a_400_saying_why(body, expected):
    result = decode_json(body)
    assert isinstance(result, Rejected) and result.status == 400
    assert result.lines() == (expected,)


def test_a_json_object_is_decoded_at_the_deepest_allowed_nesting():
    assert decode_json(b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}") == {"a": json.loads("[" * 63 + "]" * 63)}
    assert decode_json('{"summary": "Disk full é"}'.encode()) == {"summary": "Disk full é"}


def test_a_huge_pagerduty_custom_details_is_kept_bounded():
    details = {f"key{n}": ["v" * 10_000, {"deep": [[[[[[["x"]]]]]]]}] for n in range(500)}
    body = {"event_action": "trigger", "custom_details": None,
            "payload": {"summary": "s" * 100_000, "source": "h", "severity": "error", "custom_details": details}}
    event = pagerduty.parse(body)
    assert isinstance(event, Event)
    assert len(event.summary) == SUMMARY_MAX
    assert len(event.details.encode()) <= DETAILS_MAX_BYTES
    assert event.details.endswith("…")


def test_unicode_controls_and_format_characters_never_reach_an_event():
    body = {"summary": "Dis\u202ek\x1b[2J full\u2066 \ud800 \x85", "details": "a\x00b\u200bc", "severity": "crit\u200bical"}
    event = generic.parse(body)
    assert isinstance(event, Event)
    assert event.summary == "Disk [2J full"
    assert event.details == "a bc"
    assert event.severity == "critical"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
# Bodies that look like each sender's, with any value in any field: the parsers' type checks get exercised.
KEYS = st.sampled_from([
    "version", "groupKey", "status", "alerts", "commonLabels", "commonAnnotations", "groupLabels", "title",
    "truncatedAlerts", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint", "silenceURL",
    "summary", "details", "dedup_key", "action", "severity", "links", "message", "alias", "priority", "tags",
    "description", "source", "event_action", "payload", "routing_key", "custom_details", "href", "text",
    "client_url", "timestamp", "note",
])
SHAPED = st.recursive(
    JSON | st.sampled_from(["4", "1", "firing", "resolved", "trigger", "resolve", "acknowledge", "P1", "P9",
                            "critical", "https://a.example/x", "2026-12-03T10:01:52Z", "0001-01-01T00:00:00Z"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=8),
    max_leaves=40,
)
PARSERS = [alertmanager.parse, generic.parse, opsgenie.parse_create, pagerduty.parse,
           lambda body: opsgenie.parse_action("close", "alias-1", "alias", body)]


@hypothesis_settings(max_examples=300, deadline=None)
@given(body=st.one_of(JSON, SHAPED))
def test_no_parser_raises_on_any_json_value(body):
    for parse in PARSERS:
        result = parse(body)
        assert isinstance(result, (Event, Rejected))
        if isinstance(result, Rejected):
            assert result.problems and 400 <= result.status < 500
            assert all(problem.message for problem in result.problems)
        else:
            assert len(result.summary) <= SUMMARY_MAX and "\n" not in result.summary
            assert len(result.details.encode("utf-8", "surrogatepass")) <= DETAILS_MAX_BYTES
            assert 0 < len(result.key) <= 512


@hypothesis_settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200) | SHAPED.map(lambda value: json.dumps(value).encode()))
def test_decoding_any_bytes_never_raises(body):
    assert isinstance(decode_json(body), (dict, Rejected))
