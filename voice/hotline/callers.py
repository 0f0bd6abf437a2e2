"""A caller's number as Plivo gives it, and how it is said and shown. Pure.

Plivo's `From` may lack the `+`, or be a word for a withheld number; a number is shown with its middle
digits hidden (the channel is not the place for a customer's full number) and said digit by digit.
"""

from __future__ import annotations

import re

from voice.calls.numbers import InvalidPhoneNumber, display_number, parse_phone_number

#: What carriers put in the caller ID of a withheld call (https://www.plivo.com/docs/voice/concepts/caller-id).
WITHHELD = frozenset({"", "anonymous", "private", "restricted", "unknown", "unavailable", "withheld", "blocked"})
_DIGITS = re.compile(r"\+?[0-9]{6,15}")


def caller_number(raw: str | None) -> str | None:
    """The caller's number in E.164, or None when it is withheld (or cannot be read as a number)."""
    written = (raw or "").strip()
    if written.lower() in WITHHELD or not _DIGITS.fullmatch(written):
        return None
    try:
        return parse_phone_number(written if written.startswith("+") else "+" + written).e164
    except InvalidPhoneNumber:
        return None


def masked(number: str | None) -> str:
    """"+1 415-•••-0123": enough to recognise a caller, not enough to call them from the channel."""
    if number is None:
        return "a withheld number"
    shown = display_number(number)
    digits = [index for index, character in enumerate(shown) if character.isdigit()]
    country = len(shown.split(" ", 1)[0]) if " " in shown else 2
    hidden = [index for index in digits if index >= country][3:-4]
    return "".join("•" if index in hidden else character for index, character in enumerate(shown))


def spoken_digits(number: str | None) -> str | None:
    """"4 1 5 5 5 5 0 1 2 3": the national digits, one by one; None when withheld (said as such)."""
    if number is None:
        return None
    shown = display_number(number)
    national = shown.split(" ", 1)[1] if " " in shown else shown
    return " ".join(character for character in national if character.isdigit())
