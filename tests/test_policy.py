"""Destinations refused before any call: own number, fraud-prone types, other countries."""

import pytest

from voice.numbers import parse_phone_number
from voice.policy import DestinationPolicy, refusal_for

US_ONLY = DestinationPolicy(allowed_countries=frozenset({"US"}), own_number="+14155550100")
ANYWHERE = DestinationPolicy(allowed_countries=None, own_number="+14155550100")


@pytest.mark.parametrize("number", ["+14155550123", "+18005550123", "+12125550199"])
def test_ordinary_numbers_in_an_allowed_country_may_be_called(number):
    assert refusal_for(parse_phone_number(number), US_ONLY) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+14155550100", "+1 415-555-0100 is this app's own caller ID; it cannot call itself."),
        ("+19005550123", "+1 900-555-0123 is refused: this app never calls premium-rate numbers."),
        ("+448712345678", "+44 871 234 5678 is refused: this app never calls premium-rate numbers."),
        ("+447012345678", "+44 70 1234 5678 is refused: this app never calls personal (follow-me) numbers"),
        ("+33899123456", "is refused: this app never calls premium-rate numbers."),
    ],
)
def test_fraud_prone_numbers_are_refused_wherever_they_are(number, reason):
    assert reason in refusal_for(parse_phone_number(number), ANYWHERE)


def test_a_country_outside_the_allowed_list_is_refused_and_named():
    reason = refusal_for(parse_phone_number("+34612345678"), US_ONLY)
    assert reason == ("+34 612 34 56 78 is in Spain, which this workspace does not call (allowed: US). "
                      "An admin can change ALLOWED_COUNTRIES.")


def test_star_allows_every_country():
    assert refusal_for(parse_phone_number("+34612345678"), ANYWHERE) is None
