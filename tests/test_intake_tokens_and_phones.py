"""Where each sender puts its token, how a token is kept and compared, and whether an event phones."""

from __future__ import annotations

import base64
import hashlib

import pytest

from voice.intake import credentials
from voice.intake.models import Action, Event
from voice.intake.severity import most_severe, phones, phones_by_default

TOKEN = "vb_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("headers, expected", [
    ({"Authorization": f"Bearer {TOKEN}"}, TOKEN),
    ({"authorization": f"bearer  {TOKEN} "}, TOKEN),
    ({"Authorization": basic("am", TOKEN)}, TOKEN),
    ({"Authorization": basic("", TOKEN)}, TOKEN),
    ({"Authorization": basic("am", "")}, None),
    ({"Authorization": "Basic bm90LWJhc2U2NA"}, None),  # no padding: not base64
    ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, None),
    ({"Authorization": "Basic " + base64.b64encode(b"am:\xff\xfe").decode()}, None),
    ({"Authorization": f"GenieKey {TOKEN}"}, None),
    ({"Authorization": "Bearer"}, None),
    ({"Authorization": "Bearer a b"}, None),
    ({"Authorization": "Bearer " + "x" * 513}, None),
    ({"Authorization": "Bearer tok\x00en"}, None),
    ({"Authorization": ["Bearer", TOKEN]}, None),
    ({}, None),
])
def test_alertmanager_sends_a_bearer_token_or_a_basic_password(headers, expected):
    assert credentials.alertmanager_token(headers) == expected


def test_generic_takes_a_bearer_token_before_the_query():
    assert credentials.generic_token({"Authorization": f"Bearer {TOKEN}"}, {"token": "other"}) == TOKEN
    assert credentials.generic_token({}, {"token": TOKEN}) == TOKEN
    assert credentials.generic_token({"Authorization": basic("a", TOKEN)}, {}) is None
    assert credentials.generic_token({}, {"token": ""}) is None
    assert credentials.generic_token({}, {}) is None


def test_opsgenie_sends_a_geniekey():
    assert credentials.opsgenie_token({"Authorization": f"GenieKey {TOKEN}"}) == TOKEN
    assert credentials.opsgenie_token({"Authorization": f"geniekey {TOKEN}"}) == TOKEN
    assert credentials.opsgenie_token({"Authorization": f"Bearer {TOKEN}"}) is None


def test_pagerduty_sends_its_routing_key_in_the_body():
    assert credentials.pagerduty_token({"routing_key": TOKEN, "event_action": "trigger"}) == TOKEN
    assert credentials.pagerduty_token({"routing_key": [TOKEN]}) is None
    assert credentials.pagerduty_token({"event_action": "trigger"}) is None
    assert credentials.pagerduty_token([{"routing_key": TOKEN}]) is None


def test_a_mapping_that_raises_carries_no_token():
    class Hostile(dict):
        def __contains__(self, key):
            raise RuntimeError("no")

    assert credentials.alertmanager_token(Hostile()) is None


def test_a_token_is_kept_as_its_sha256_hex_and_compared_whole():
    digest = credentials.token_digest(TOKEN)
    assert digest == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert credentials.digests_match(credentials.token_digest(TOKEN), digest)
    assert not credentials.digests_match(credentials.token_digest(TOKEN + "x"), digest)
    assert not credentials.digests_match(digest[:-1], digest)
    assert not credentials.digests_match("é" * 64, digest)
    assert not credentials.digests_match(None, digest)


def event(source: str, severity: str | None, action: Action = Action.TRIGGER) -> Event:
    return Event(source=source, action=action, key="k", summary="s", severity=severity,
                 phones_by_default=phones_by_default(source, severity))


@pytest.mark.parametrize("source, severity, expected", [
    ("pagerduty", "critical", True), ("pagerduty", "error", True),
    ("pagerduty", "warning", False), ("pagerduty", "info", False),
    ("opsgenie", "P1", True), ("opsgenie", "P3", True), ("opsgenie", "P4", False), ("opsgenie", "P5", False),
    ("alertmanager", "critical", True), ("alertmanager", "Warning", False), ("alertmanager", "info", False),
    ("alertmanager", "none", False), ("alertmanager", None, True), ("alertmanager", "page", True),
    ("grafana", "none", False), ("grafana", "high", True),
    ("generic", "warning", False), ("generic", "info", False), ("generic", "none", True), ("generic", None, True),
])
def test_by_default_an_event_phones_unless_it_says_it_is_informational(source, severity, expected):
    assert phones(event(source, severity), None) is expected


@pytest.mark.parametrize("severity, expected", [
    ("critical", True), ("CRITICAL", True), ("P2", True), ("p1", True), ("error", False), ("P3", False),
    (None, False),
])
def test_a_phone_list_says_which_severities_phone(severity, expected):
    assert phones(event("opsgenie", severity), ("critical", "P1", "p2")) is expected


def test_a_phone_list_can_name_none_for_alerts_without_a_severity():
    assert phones(event("alertmanager", None), ("critical", "none"))
    assert phones(event("alertmanager", "none"), ("None",))


def test_an_empty_phone_list_phones_nothing():
    assert not phones(event("pagerduty", "critical"), ())


@pytest.mark.parametrize("action", [Action.ACKNOWLEDGE, Action.RESOLVE, Action.UPDATE])
def test_only_a_trigger_phones(action):
    assert not phones(event("pagerduty", "critical", action), None)
    assert not phones(event("pagerduty", "critical", action), ("critical",))


@pytest.mark.parametrize("severities, expected", [
    (["warning", "critical", "info"], "critical"),
    (["info", "Warning"], "Warning"),
    (["warning", "sev1"], "sev1"),
    (["", ""], None),
    ([], None),
])
def test_a_group_takes_its_most_severe_alerts_severity(severities, expected):
    assert most_severe(severities) == expected
