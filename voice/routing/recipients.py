"""An integration's `call:`, whom it phones, in /voicealert's recipients syntax written with IDs:
`S0BACKEND > U0LEAD > +14155550100`, or `schedule:backend` for whoever that schedule has on call. Spaces or commas between recipients: phoned at once; `>`
between them: the links of an escalation chain; `lang=xx` anywhere: the language every call speaks.
People and user groups are named by their Slack IDs, since a file cannot @-mention anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.routing.models import GROUP, NUMBER, SCHEDULE, USER, RecipientRef
from voice.routing.nodes import shown
from voice.speech.languages import (
    UnknownLanguage,
    parse_language_tag,
    supported_languages,
)

#: Bounds on one `call:`, far above any real chain.
MAX_CHARS = 2000
MAX_LINKS = 10
MAX_RECIPIENTS = 50
#: Bad recipients named one by one before the rest are only counted.
MAX_NAMED = 5

_GAP = re.compile(r"[\s,]+")
_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP = re.compile(r"S[A-Z0-9]{2,20}")
# E.164: + and at most 15 digits, written together (a space would start another recipient).
_NUMBER = re.compile(r"\+[0-9]{1,15}")
_SCHEDULE = re.compile(r"[a-z0-9-]{1,40}")
# <@U123>, <@U123|ana>, <!subteam^S123|@oncall>: what a mention looks like in Slack's own text.
_MENTION = re.compile(r"<[@!](?:subteam\^)?([A-Z0-9]+)(?:\|[^<>]*)?>")
_SPACED_NUMBER = re.compile(r"\+[0-9]{1,4}(?:[ .()\-]+[0-9]+)+")
_DIGITS = re.compile(r"[0-9]+")
_LANG = re.compile(r"lang=(.*)", re.IGNORECASE)


@dataclass(frozen=True)
class Chain:
    stages: tuple[tuple[RecipientRef, ...], ...]
    lang: str | None


def parse_call(text: str) -> Chain | list[str]:
    """The chain `text` writes, or every problem with it (messages without location)."""
    if len(text) > MAX_CHARS:
        return [f"is {len(text)} characters long; at most {MAX_CHARS}"]
    if written := _miswritten(text):
        return written
    links = [[token for token in _GAP.split(link) if token] for link in text.split(">")]
    problems: list[str] = []
    langs = [token for link in links for token in link if _LANG.fullmatch(token)]
    lang = _language(langs, problems)
    links = [[token for token in link if not _LANG.fullmatch(token)] for link in links]
    if len(links) > 1 and not all(links):
        problems.append("“>” goes between two links of the chain, with someone on each side "
                        "(e.g. S0BACKEND > U0LEAD)")
    elif not links[0]:
        problems.append("names nobody to phone: Slack user IDs (U…), user group IDs (S…), numbers (+14155550100) "
                        "or schedule:<name>")
    if len(links) > MAX_LINKS:
        problems.append(f"has {len(links)} links; at most {MAX_LINKS}")
    read = [[recipient(token) for token in link] for link in links]
    bad = [found for link in read for found in link if isinstance(found, str)]
    problems += bad[:MAX_NAMED]
    if len(bad) > MAX_NAMED:
        problems.append(f"and {len(bad) - MAX_NAMED} more that are not recipients")
    # Someone named twice in one link is phoned once, as in /voicealert.
    stages = tuple(tuple(dict.fromkeys(found for found in link if not isinstance(found, str))) for link in read)
    count = sum(len(stage) for stage in stages)
    if count > MAX_RECIPIENTS:
        problems.append(f"names {count} recipients; at most {MAX_RECIPIENTS}")
    return problems if problems else Chain(stages, lang)


def _miswritten(text: str) -> list[str]:
    """Slack mentions and numbers with spaces: they would be split apart (at `>`, at spaces), so they are
    told first, each as a whole."""
    problems = [f"{shown(match[0])} is a Slack mention; write the bare ID ({match[1]})"
                for match in _MENTION.finditer(text)]
    problems += [f"{shown(match[0])}: write a number without spaces, dashes or dots "
                 f"(+{re.sub('[^0-9]', '', match[0])})" for match in _SPACED_NUMBER.finditer(text)]
    return problems[:MAX_NAMED]


def recipient(token: str) -> RecipientRef | str:
    """One recipient, or why `token` is none."""
    if token.lower().startswith("schedule:"):
        name = token[len("schedule:"):]
        if _SCHEDULE.fullmatch(name):
            return RecipientRef(SCHEDULE, name)
        return f"{shown(token)}: a schedule's name is 1 to 40 lowercase letters, digits and dashes (schedule:backend)"
    if _USER.fullmatch(token):
        return RecipientRef(USER, token)
    if _GROUP.fullmatch(token):
        return RecipientRef(GROUP, token)
    if _NUMBER.fullmatch(token):
        try:
            return RecipientRef(NUMBER, parse_phone_number(token).e164)
        except InvalidPhoneNumber as error:
            return error.reason.rstrip(".")  # too short, unknown country code…, in voice/calls/numbers.py's words
    if _DIGITS.fullmatch(token):
        return (f"{shown(token)} is not a recipient: a number is written with + and its country code, without "
                "spaces (+14155550100)")
    if token.startswith("+"):
        return f"{shown(token)} is not a number in E.164 form: + and up to 15 digits, with no spaces (+14155550100)"
    if token.startswith(("@", "<")):
        return (f"{shown(token)} is a name or a mention; use the Slack ID: a person's member ID (U…, in their "
                "profile: ⋮ → Copy member ID) or a user group's ID (S…)")
    if _USER.fullmatch(token.upper()) or _GROUP.fullmatch(token.upper()):
        return f"{shown(token)}: Slack IDs are written in capitals ({token.upper()})"
    return (f"{shown(token)} is not a recipient: a Slack user ID (U… or W…), a user group ID (S…) or a number "
            "in E.164 form (+14155550100)")


def language_of(written: str) -> str | list[str]:
    """A `lang:` (or `lang=`) value: the language calls speak, or why it is none."""
    try:
        return parse_language_tag(written)
    except UnknownLanguage:
        return [f"{shown(written)} is not a language calls speak; use one of {', '.join(supported_languages())}"]


def _language(tokens: list[str], problems: list[str]) -> str | None:
    found: set[str] = set()
    for token in tokens:
        try:
            found.add(parse_language_tag(_LANG.fullmatch(token)[1]))
        except UnknownLanguage:
            problems.append(f"{shown(token)} is not a language calls speak; use one of "
                            f"{', '.join(supported_languages())} (e.g. lang=es)")
    if len(found) > 1:
        problems.append(f"names {len(found)} languages ({', '.join(sorted(found))}); give one")
    return found.pop() if len(found) == 1 else None
