"""Destinations refused before any call: own number, fraud-prone types, number types people do not
answer, international networks, other countries."""

from dataclasses import replace

import pytest

from voice.calls.numbers import parse_phone_number
from voice.calls.policy import DestinationPolicy, refusal_for

US_ONLY = DestinationPolicy(allowed_countries=frozenset({"US"}), own_number="+14155550100")
ANYWHERE = DestinationPolicy(allowed_countries=None, own_number="+14155550100")
#: As a server whose caller ID is British runs by default: ALLOWED_COUNTRIES is its country.
UK = DestinationPolicy(allowed_countries=frozenset({"GB"}), own_number="+442071838750")


@pytest.mark.parametrize("number", ["+14155550123", "+12125550199"])
def test_ordinary_numbers_in_an_allowed_country_may_be_called(number):
    assert refusal_for(parse_phone_number(number), US_ONLY) is None


@pytest.mark.parametrize("number", ["+442071838751", "+447400123456"])
def test_fixed_lines_and_mobiles_are_called_by_default(number):
    assert refusal_for(parse_phone_number(number), UK) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+447640123456", "+44 76 4012 3456 is a pager number; calls to pagers are not allowed. "
                          "An admin can allow them in ALLOWED_NUMBER_TYPES."),
        ("+445512345678", "+44 55 1234 5678 is a corporate (UAN) number; calls to corporate numbers are not "
                          "allowed. An admin can allow them in ALLOWED_NUMBER_TYPES."),
        ("+445612345678", "+44 56 1234 5678 is a VoIP number; calls to VoIP numbers are not allowed. "
                          "An admin can allow them in ALLOWED_NUMBER_TYPES."),
    ],
)
def test_with_a_uk_caller_id_pagers_corporate_and_voip_numbers_are_refused_by_default(number, reason):
    assert refusal_for(parse_phone_number(number), UK) == reason


def test_a_toll_free_number_is_refused_by_default_and_called_once_allowed():
    number = parse_phone_number("+18005550123")
    assert refusal_for(number, US_ONLY) == ("+1 800-555-0123 is a toll-free number; calls to toll-free numbers are "
                                            "not allowed. An admin can allow them in ALLOWED_NUMBER_TYPES.")
    allowed = replace(US_ONLY, allowed_types=frozenset({"FIXED_LINE", "MOBILE", "TOLL_FREE"}))
    assert refusal_for(number, allowed) is None


def test_a_named_type_is_called_and_us_numbers_need_fixed_lines_or_mobiles():
    pagers = replace(UK, allowed_types=frozenset({"MOBILE", "PAGER"}))
    assert refusal_for(parse_phone_number("+447640123456"), pagers) is None
    assert "is a fixed-line number; calls to fixed lines are not allowed" in refusal_for(
        parse_phone_number("+442071838751"), pagers)
    # libphonenumber cannot tell a US fixed line from a mobile: either allowed will do; neither will not.
    us = parse_phone_number("+14155550123")
    assert refusal_for(us, replace(US_ONLY, allowed_types=frozenset({"MOBILE"}))) is None
    assert refusal_for(us, replace(US_ONLY, allowed_types=frozenset({"TOLL_FREE"}))) == (
        "+1 415-555-0123 is a fixed-line or mobile number; calls to fixed lines and mobiles are not allowed. "
        "An admin can allow them in ALLOWED_NUMBER_TYPES.")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+881612345678", "+881 6 123 45678 is on an international network (+881: satellite phones such as Iridium "
                          "and Globalstar), which this workspace does not call. An admin can add +881 to "
                          "ALLOWED_COUNTRIES."),
        ("+870773111632", "+870 773 111 632 is on an international network (+870: Inmarsat satellite phones), which "
                          "this workspace does not call. An admin can add +870 to ALLOWED_COUNTRIES."),
    ],
)
def test_satellite_numbers_are_refused_even_when_every_country_is_allowed(number, reason):
    assert refusal_for(parse_phone_number(number), ANYWHERE) == reason


def test_an_international_network_named_is_called_and_only_that_one():
    iridium = replace(ANYWHERE, allowed_networks=frozenset({881}))
    assert refusal_for(parse_phone_number("+881612345678"), iridium) is None
    assert "+870" in refusal_for(parse_phone_number("+870773111632"), iridium)
    # A network named alone is no country: the countries are still the list's.
    assert refusal_for(parse_phone_number("+881612345678"), replace(US_ONLY, allowed_networks=frozenset({881}))) \
        is None


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
