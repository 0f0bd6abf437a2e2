"""Parsing `/voiceotp` text: pure, no server."""

import pytest
from hypothesis import given, strategies as st

from bot.commands import CommandError, HelpRequest, OtpRequest, parse_voiceotp


@pytest.mark.parametrize(
    ("text", "e164", "code"),
    [
        ("+14155550123 483920", "+14155550123", "483920"),
        ("+1 (415) 555-0123 483920", "+14155550123", "483920"),
        ("+1 415.555.0123 1234", "+14155550123", "1234"),
        ("  +1 415 555 0123   0000000000 ", "+14155550123", "0000000000"),
        ("+44 20 7183 8750 0042", "+442071838750", "0042"),
        ("<tel:+14155550123|+1 415 555 0123> 483920", "+14155550123", "483920"),
    ],
)
def test_it_takes_the_last_token_as_the_code_and_the_rest_as_the_number(text, e164, code):
    request = parse_voiceotp(text)
    assert request == OtpRequest(number=request.number, code=code)
    assert request.number.e164 == e164


@pytest.mark.parametrize("text", ["help", "HELP", "--help", "?"])
def test_it_recognises_a_request_for_help(text):
    assert parse_voiceotp(text) == HelpRequest()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Tell me which number to call and which code to read."),
        ("   ", "Tell me which number to call and which code to read."),
        ("483920", "The number to call is missing: put it before the code."),
        ("+14155550123", "The code is missing: put it after the number."),
        ("+1 415 555 0123", "The code is missing: put it after the number."),
        ("+14155550123 123", "The code must be 4 to 10 digits; yours has 3."),
        ("+14155550123 12345678901", "The code must be 4 to 10 digits; yours has 11."),
        ("+14155550123 12a4", "The code must be 4 to 10 digits, with nothing else in it."),
        ("+14155550123 ١٢٣٤٥٦", "The code must be 4 to 10 digits, with nothing else in it."),
        ("14155550123 483920", "“14155550123” does not start with + and a country code (for example +1 415 555 0123)."),
        ("+1 415 555 0123x 483920", "“+1 415 555 0123x” may contain only digits, spaces, dots, dashes and parentheses after the +."),
        ("+1415555 483920", "“+1415555” is too short to be a phone number."),
        ("+999 1234567 483920", "“+999 1234567” is not a phone number with a known country code."),
        ("+15551234567 483920", "“+15551234567” is not a valid number in its country's numbering plan."),
        ("+1 415 555 0123 4567 8901 483920", "is too long to be a phone number."),
    ],
)
def test_it_refuses_bad_input_with_a_specific_problem(text, problem):
    result = parse_voiceotp(text)
    assert isinstance(result, CommandError)
    assert problem in result.problem


def test_a_refusal_never_repeats_a_malformed_code():
    result = parse_voiceotp("+14155550123 48392x")
    assert "48392" not in result.problem


@given(st.text(max_size=80))
def test_any_text_gives_a_request_help_or_an_error(text):
    result = parse_voiceotp(text)
    assert isinstance(result, (OtpRequest, HelpRequest, CommandError))
    if isinstance(result, OtpRequest):
        assert result.code.isascii() and result.code.isdigit() and 4 <= len(result.code) <= 10
        assert result.number.e164.startswith("+")
