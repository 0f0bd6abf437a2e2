"""Parse `/voicealert` text: who to call, in which order, and the message. Pure.

`/voicealert <recipients> <message>`: the recipients are the leading tokens,
each a number with +, a user mention or a user group, as Slack sends them when
the command escapes (`should_escape: true`): `<@U123>`, `<@U123|ana>`,
`<!subteam^S123|@oncall>`, or `schedule:<name>` (whoever that on-call schedule has on call).
Spaces or commas between them: called at once.
`>` between them: an escalation chain. Slack escapes a typed `>` as `&gt;`.
`lang=<tag>` among them makes every call speak that language. The first token
that is none of these starts the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.directory import GROUP, NUMBER, SCHEDULE, USER, Recipient
from bot.messages import CommandError, HelpRequest
from bot.mrkdwn import ANY_MARKUP, GROUP_MARKUP, TEL_MARKUP, USER_MARKUP, unescape
from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.speech.languages import (
    UnknownLanguage,
    parse_language_tag,
    supported_languages,
)
from voice.speech.text import is_blank

MESSAGE_MAX = 1000

_GAP = re.compile(r"[\s,]+")
_CHAIN = re.compile(r">|&gt;")
# schedule:backend: whoever that schedule has on call when the alert is raised.
_SCHEDULE = re.compile(r"schedule:([a-z0-9-]{1,40})(?=[\s,]|&gt;|>|$)")
# A number is one token (spaces separate recipients) made of what numbers are
# written with; "+5%" is the start of a message, not a number.
_NUMBER = re.compile(r"\+[0-9().\-]+(?=[\s,<>]|&gt;|$)")
_FIRST_WORD = re.compile(r"\+\S*")
_DIGIT_GROUP = re.compile(r"[\s,]+\(?[0-9][0-9()\-.]*(?=[\s,]|$)")
_LANG = re.compile(r"lang=(\S*)(?=[\s,]|$)", re.IGNORECASE)
# channel_name values Slack sends where a channel has no name to say aloud.
_UNNAMED_CHANNELS = {"directmessage", "privategroup", ""}


@dataclass(frozen=True)
class AlertRequest:
    #: Each stage is called at once; stage n+1 only if nobody in stage n acknowledged.
    stages: tuple[tuple[Recipient, ...], ...]
    #: As Slack sent it (escaped, with markup); see plain_message.
    message: str
    #: A checked `lang=` tag: every call speaks it, whatever each person's Slack locale.
    language: str | None = None


def parse_voicealert(text: str) -> AlertRequest | HelpRequest | CommandError:
    text = (text or "").strip()
    if not text:
        return CommandError("Tell me who to call and what to say.")
    if text.lower() in ("help", "-h", "--help", "?"):
        return HelpRequest()
    stages: list[list[Recipient]] = [[]]
    position = 0
    language = None
    expect_recipient = True  # at the start and after ">"
    while True:
        gap = _GAP.match(text, position)
        position = gap.end() if gap else position
        if lang := _LANG.match(text, position):
            try:
                language = parse_language_tag(lang[1])
            except UnknownLanguage:
                choices = ", ".join(supported_languages())
                return CommandError(f"“{lang[0]}” is not a language I speak; use one of {choices} (e.g. lang=es).")
            position = lang.end()
            continue
        chain = _CHAIN.match(text, position)
        if chain:
            if expect_recipient:
                return CommandError("“>” goes between two recipients: `@first > @second message`.")
            stages.append([])
            position, expect_recipient = chain.end(), True
            continue
        recipient, end = _recipient_at(text, position)
        if isinstance(recipient, CommandError):
            return recipient
        if recipient is None:
            break
        if recipient not in stages[-1]:
            stages[-1].append(recipient)
        position, expect_recipient = end, False

    message = text[position:].strip()
    if not stages[0] and text.startswith("+"):
        # A number, but not one we can read: say what is wrong with it.
        return _number_problem(unescape(_FIRST_WORD.match(text)[0]))
    if not stages[0]:
        return CommandError(
            "Start with who to call: @someone, a @user-group, or a number with + and its country code."
        )
    if expect_recipient:
        return CommandError("Nothing follows the last “>”: put who to call next after it.")
    if is_blank(plain_message(message)):
        return CommandError("The message is missing: put it after the people to call.")
    length = len(plain_message(message))
    if length > MESSAGE_MAX:
        return CommandError(f"The message is {length} characters long; the limit is {MESSAGE_MAX}.")
    return AlertRequest(stages=tuple(tuple(stage) for stage in stages), message=message, language=language)


def typed_numbers(stages: tuple[tuple[Recipient, ...], ...]) -> tuple[str, ...]:
    """The numbers a person typed among the recipients (E.164), each once: what the number limit counts."""
    return tuple(dict.fromkeys(recipient.id for stage in stages for recipient in stage if recipient.kind == NUMBER))


def _recipient_at(text: str, position: int) -> tuple[Recipient | CommandError | None, int]:
    if match := USER_MARKUP.match(text, position):
        return Recipient(USER, match[1], f"<@{match[1]}>"), match.end()
    if match := GROUP_MARKUP.match(text, position):
        return Recipient(GROUP, match[1], f"<!subteam^{match[1]}>"), match.end()
    if match := _SCHEDULE.match(text, position):
        return Recipient(SCHEDULE, match[1], f"schedule:{match[1]}"), match.end()
    match = TEL_MARKUP.match(text, position) or _NUMBER.match(text, position)
    if not match:
        return None, position
    written = unescape(match[1] if match.re is TEL_MARKUP else match[0])
    try:
        number = parse_phone_number(written)
    except InvalidPhoneNumber as error:
        if _DIGIT_GROUP.match(text, match.end()):
            # "+1 415 555 0123": the space made the rest look like the message.
            return CommandError(f"{error.reason} Write each number without spaces, e.g. +14155550123."), position
        return CommandError(error.reason), position
    return Recipient(NUMBER, number.e164, number.display), match.end()


def _number_problem(written: str) -> CommandError:
    try:
        parse_phone_number(written)
    except InvalidPhoneNumber as error:
        return CommandError(error.reason)
    return CommandError(f"“{written}” must stand alone, separated from the message by a space.")


def plain_message(message: str, names: dict[str, str] | None = None, unnamed: str | None = None) -> str:
    """The message as a person reads or hears it: Slack's markup and escapes undone.

    `<@U123>` becomes "@" and the name in `names` (from the directory), else
    its handle (`<@U123|ana>`), else `unnamed` if given (else its ID); a link
    its label or its address, `&lt;` `<` again.
    """
    names = names or {}

    def readable(match: re.Match) -> str:
        target, _, label = match[1].partition("|")
        if target.startswith("@"):
            name = names.get(target[1:]) or label
            return "@" + name if name else unnamed or "@" + target[1:]
        if target.startswith("#"):
            return "#" + (label or "channel")
        if target.startswith("!subteam^"):
            return label if label.startswith("@") else "@" + (label or "group")
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return label or target.removeprefix("mailto:").removeprefix("tel:")

    return unescape(ANY_MARKUP.sub(readable, message))


def mentioned_users(message: str) -> list[str]:
    """IDs of users mentioned in the message without a name, to look up."""
    return [match[1] for match in re.finditer(r"<@([UW][A-Z0-9]+)>", message)]


def spoken_channel(command: dict) -> str | None:
    """The channel's name to say aloud; None for DMs and channels Slack gives no name."""
    name = command.get("channel_name") or ""
    if name in _UNNAMED_CHANNELS or name.startswith("mpdm-") or command.get("channel_id", "").startswith("D"):
        return None
    return name
