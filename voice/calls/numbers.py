"""Phone numbers: parse what a person typed into a checked E.164 number."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, ValidationResult

# What people write inside a number: +1 (415) 555-0123, +44 20.7183.8750.
_ALLOWED = re.compile(r"\+[0-9 .\-()]+")


class InvalidPhoneNumber(ValueError):
    """The text is not a number we can call; `reason` says why, for a person."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PhoneNumber:
    e164: str  # +14155550123
    display: str  # +1 415-555-0123
    region: str | None  # ISO 3166 code, e.g. "US"


def parse_phone_number(text: str) -> PhoneNumber:
    """Parse an international number written with + and its country code."""
    text = text.strip()
    if not text:
        raise InvalidPhoneNumber("The number is missing.")
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            f"“{text}” does not start with + and a country code (for example +1 415 555 0123)."
        )
    if not _ALLOWED.fullmatch(text):
        raise InvalidPhoneNumber(
            f"“{text}” may contain only digits, spaces, dots, dashes and parentheses after the +."
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(_parse_failure(text, error)) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.TOO_SHORT:
        raise InvalidPhoneNumber(f"“{text}” is too short to be a phone number.")
    if reason == ValidationResult.TOO_LONG:
        raise InvalidPhoneNumber(f"“{text}” is too long to be a phone number.")
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidPhoneNumber(f"“{text}” does not start with a known country code.")
    if reason != ValidationResult.IS_POSSIBLE or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"“{text}” is not a valid number in its country's numbering plan.")
    return PhoneNumber(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        display=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        region=phonenumbers.region_code_for_number(number),
    )


def _parse_failure(text: str, error: phonenumbers.NumberParseException) -> str:
    kinds = phonenumbers.NumberParseException
    if error.error_type == kinds.TOO_LONG:
        return f"“{text}” is too long to be a phone number."
    if error.error_type in (kinds.TOO_SHORT_NSN, kinds.TOO_SHORT_AFTER_IDD):
        return f"“{text}” is too short to be a phone number."
    return f"“{text}” is not a phone number with a known country code."


def display_number(e164: str) -> str:
    """The international form of a stored E.164 number, for messages."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def parse_profile_number(text: str, default_region: str | None) -> PhoneNumber:
    """Parse the free text of a Slack profile's phone field.

    People write "(415) 555-0123", "+44 20 7183 8750" or "415.555.0123 ext 12";
    a number without a country code is read as one of `default_region`. An
    extension is dropped: a phone call cannot dial it.
    """
    text = text.strip()
    if not text:
        raise InvalidPhoneNumber("There is no phone number in the Slack profile.")
    try:
        number = phonenumbers.parse(text, default_region if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(
            f"The profile number “{text}” is not a phone number"
            + ("" if default_region else " with + and a country code")
            + "."
        ) from None
    number.extension = None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"The profile number “{text}” is not a valid number.")
    return PhoneNumber(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        display=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        region=phonenumbers.region_code_for_number(number),
    )
