"""Parsing `/voiceotp` text: pure, no server."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.codes.commands import CheckRequest, OtpRequest, parse_voiceotp
from bot.messages import CommandError, HelpRequest


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
        ("", "Tell me which number to call."),
        ("   ", "Tell me which number to call."),
        ("lang=es", "Tell me which number to call."),
        ("483920", "The number to call is missing: put it before the code."),
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


@pytest.mark.parametrize("text", ["+14155550123", "+1 415 555 0123", "+1 (415) 555-0123"])
def test_without_a_code_one_will_be_generated(text):
    request = parse_voiceotp(text)
    assert request == OtpRequest(number=request.number, code=None)
    assert request.number.e164 == "+14155550123"


def test_where_both_readings_are_numbers_it_asks_for_the_number_without_spaces():
    result = parse_voiceotp("+49 30 1234567 8901")
    assert isinstance(result, CommandError)
    assert "Write the number without spaces" in result.problem
    assert "8901" not in result.problem
    assert parse_voiceotp("+493012345678901").code is None
    assert isinstance(parse_voiceotp("+4930 1234567 8901"), CommandError)
    assert parse_voiceotp("+49301234567 8901").code == "8901"


@pytest.mark.parametrize(
    ("text", "language"),
    [("+14155550123 lang=es", "es"), ("lang=pt-PT +14155550123 483920", "pt-PT"), ("+14155550123 LANG=es_mx", "es-MX")],
)
def test_a_language_option_can_go_anywhere(text, language):
    assert parse_voiceotp(text).language == language


def test_an_unknown_language_is_refused_with_the_choices():
    result = parse_voiceotp("+14155550123 lang=tlh")
    assert result == CommandError("“lang=tlh” is not a language I speak; use one of en, es, fr, de, pt, it, hi (e.g. lang=es).")


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("check +14155550123 483920", "483920"),
        ("CHECK +1 (415) 555-0123 0042", "0042"),
        ("check +14155550123", "The code to check is missing: put it after the number."),
        ("check", "Tell me the number and the code to check: `check <number> <code>`."),
        ("check +14155550123 12", "The code must be 4 to 10 digits; yours has 2."),
        ("check 483920", "The number to call is missing: put it before the code."),
    ],
)
def test_check_takes_a_number_and_the_code_typed_back(text, result):
    parsed = parse_voiceotp(text)
    if isinstance(parsed, CheckRequest):
        assert parsed.code == result and parsed.number.e164 == "+14155550123"
    else:
        assert parsed == CommandError(result)


def test_a_refusal_never_repeats_a_malformed_code():
    result = parse_voiceotp("+14155550123 48392x")
    assert "48392" not in result.problem


@given(st.text(max_size=80))
def test_any_text_gives_a_request_help_or_an_error(text):
    result = parse_voiceotp(text)
    assert isinstance(result, (OtpRequest, CheckRequest, HelpRequest, CommandError))
    if isinstance(result, (OtpRequest, CheckRequest)) and result.code is not None:
        assert result.code.isascii() and result.code.isdigit() and 4 <= len(result.code) <= 10
    if not isinstance(result, (HelpRequest, CommandError)):
        assert result.number.e164.startswith("+")
