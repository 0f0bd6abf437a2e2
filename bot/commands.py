"""Parse slash-command text into requests. Pure: no Slack, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voice.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone_number

CODE_MIN, CODE_MAX = 4, 10
_CODE = re.compile(r"^[0-9]+$")  # ASCII only: str.isdigit() also takes "²" and "٣"
# Slack may turn a typed number into a link: <tel:+14155550123|+1 415 555 0123>.
_TEL_LINK = re.compile(r"<tel:([^|>]*)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class OtpRequest:
    number: PhoneNumber
    code: str


@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class CommandError:
    """Input we refuse; `problem` says what was wrong, in a sentence."""

    problem: str


def parse_voiceotp(text: str) -> OtpRequest | HelpRequest | CommandError:
    """`<number> <code>`: the code is the last token, the number everything before it."""
    text = _TEL_LINK.sub(r"\1", text or "").strip()
    if not text:
        return CommandError("Tell me which number to call and which code to read.")
    if text.lower() in ("help", "-h", "--help", "?"):
        return HelpRequest()
    tokens = text.split()
    code, number_text = tokens[-1], " ".join(tokens[:-1])
    if not _CODE.match(code):
        if _is_number(text):
            return CommandError("The code is missing: put it after the number.")
        # Never echo the token back: it may be a mistyped code.
        return CommandError(f"The code must be {CODE_MIN} to {CODE_MAX} digits, with nothing else in it.")
    if not number_text:
        return CommandError("The number to call is missing: put it before the code.")
    if not CODE_MIN <= len(code) <= CODE_MAX:
        if _is_number(text):
            return CommandError("The code is missing: put it after the number.")
        return CommandError(f"The code must be {CODE_MIN} to {CODE_MAX} digits; yours has {len(code)}.")
    try:
        number = parse_phone_number(number_text)
    except InvalidPhoneNumber as error:
        if _is_number(text):
            # "+1 415 555 0123" alone: the last group looked like a code.
            return CommandError("The code is missing: put it after the number.")
        return CommandError(error.reason)
    return OtpRequest(number=number, code=code)


def _is_number(text: str) -> bool:
    try:
        parse_phone_number(text)
    except InvalidPhoneNumber:
        return False
    return True
