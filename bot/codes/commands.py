"""Parse `/voiceotp` text into requests. Pure: no Slack, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.messages import CommandError, HelpRequest
from bot.mrkdwn import unescape
from voice.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone_number
from voice.speech.languages import (
    UnknownLanguage,
    parse_language_tag,
    supported_languages,
)

CODE_MIN, CODE_MAX = 4, 10
_CODE = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²" and "٣"
# Slack may turn a typed number into a link: <tel:+14155550123|+1 415 555 0123>.
_TEL_LINK = re.compile(r"<tel:([^|>]*)(?:\|[^>]*)?>")
_LANG = re.compile(r"lang=(.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class OtpRequest:
    number: PhoneNumber
    code: str | None  # None: generate one
    language: str | None = None  # a checked `lang=` tag


@dataclass(frozen=True)
class CheckRequest:
    number: PhoneNumber
    code: str


def parse_voiceotp(text: str) -> OtpRequest | CheckRequest | HelpRequest | CommandError:
    """`[check] <number> [code] [lang=<tag>]`; the code, if any, is the last token."""
    # Slack's links first (their < > are real), then its entities: from here on the
    # text is what the person typed, and any of it we echo is escaped once, later.
    text = unescape(_TEL_LINK.sub(r"\1", text or "")).strip()
    if not text:
        return CommandError("Tell me which number to call.")
    if text.lower() in ("help", "-h", "--help", "?"):
        return HelpRequest()
    tokens = text.split()
    language, tokens = _take_language(tokens)
    if isinstance(language, CommandError):
        return language
    if tokens and tokens[0].lower() == "check":
        return _parse_check(tokens[1:])
    return _parse_request(tokens, language)


def _take_language(tokens: list[str]) -> tuple[str | CommandError | None, list[str]]:
    rest, language = [], None
    for token in tokens:
        match = _LANG.fullmatch(token)
        if not match:
            rest.append(token)
            continue
        try:
            language = parse_language_tag(match.group(1))
        except UnknownLanguage:
            choices = ", ".join(supported_languages())
            return CommandError(f"“{token}” is not a language I speak; use one of {choices} (e.g. lang=es)."), []
    return language, rest


def _parse_request(tokens: list[str], language: str | None) -> OtpRequest | CommandError:
    if not tokens:
        return CommandError("Tell me which number to call.")
    whole = _number(" ".join(tokens))
    split = _split_code(tokens)
    if isinstance(whole, PhoneNumber) and isinstance(split, OtpRequest) and len(tokens) > 2:
        code = split.code
        return CommandError(
            f"I can't tell whether the last group, “{'•' * len(code)}”, belongs to the number or is the code. "
            "Write the number without spaces, e.g. +14155550123, then the code."
        )
    if isinstance(split, OtpRequest):
        # With the number in one token (as we ask), a last group is the code.
        return OtpRequest(split.number, split.code, language)
    if isinstance(whole, PhoneNumber):
        return OtpRequest(whole, None, language)
    return split if split is not None else CommandError(whole)


def _parse_check(tokens: list[str]) -> CheckRequest | CommandError:
    if not tokens:
        return CommandError("Tell me the number and the code to check: `check <number> <code>`.")
    split = _split_code(tokens)
    if isinstance(split, OtpRequest):
        return CheckRequest(split.number, split.code)
    if split is None:
        if isinstance(_number(" ".join(tokens)), PhoneNumber):
            return CommandError("The code to check is missing: put it after the number.")
        return CommandError(f"The code must be {CODE_MIN} to {CODE_MAX} digits, after the number.")
    return split


def _split_code(tokens: list[str]) -> OtpRequest | CommandError | None:
    """Read the last token as the code: the request, the specific problem, or None if it is no code."""
    code, rest = tokens[-1], " ".join(tokens[:-1])
    if not _CODE.fullmatch(code):
        if rest and isinstance(_number(rest), PhoneNumber):
            # Never echo the token back: it may be a mistyped code.
            return CommandError(f"The code must be {CODE_MIN} to {CODE_MAX} digits, with nothing else in it.")
        return None
    if not rest:
        if CODE_MIN <= len(code) <= CODE_MAX:
            return CommandError("The number to call is missing: put it before the code.")
        return None
    number = _number(rest)
    if not CODE_MIN <= len(code) <= CODE_MAX:
        if isinstance(number, PhoneNumber):
            return CommandError(f"The code must be {CODE_MIN} to {CODE_MAX} digits; yours has {len(code)}.")
        return None
    if isinstance(number, str):
        # Too few digits before the code to be a number: the code reading was wrong.
        return CommandError(number) if _digit_count(rest) >= 7 else None
    return OtpRequest(number, code)


def _digit_count(text: str) -> int:
    return sum(ch.isascii() and ch.isdigit() for ch in text)


def _number(text: str) -> PhoneNumber | str:
    """The number, or the reason it is not one."""
    try:
        return parse_phone_number(text)
    except InvalidPhoneNumber as error:
        return error.reason
