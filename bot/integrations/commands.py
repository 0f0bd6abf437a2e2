"""Parse `/voicealert integrations …` as Slack sends it (`should_escape: true`). Pure.

- `/voicealert integrations` (or `… list`): the workspace's integrations and the file's.
- `/voicealert integrations add <name> <recipients>`: the recipients in /voicealert's syntax as Slack
  sends it (`<@U123|ana>`, `<!subteam^S1|@oncall>`, +E.164, `&gt;` between the links of a chain,
  `lang=`), turned into the IDs an integration keeps and checked as ROUTING_FILE's `call:` is.
- `/voicealert integrations rotate <name>`, `… remove <name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.messages import CommandError, HelpRequest
from bot.mrkdwn import ANY_MARKUP, GROUP_MARKUP, TEL_MARKUP, USER_MARKUP, unescape
from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.routing.recipients import Chain, parse_call, recipient

#: The word after /voicealert that means "integrations", not "phone these people".
WORD = "integrations"

_NAME = re.compile(r"[a-z0-9-]{1,40}")
_WORDS = re.compile(r"\S+")
_GAP = re.compile(r"[\s,]+")
# Numbers, pieces of a number written with spaces, and `lang=`: parse_call explains these best.
_FOR_PARSE_CALL = re.compile(r"[+0-9(]|lang=", re.IGNORECASE)


@dataclass(frozen=True)
class Listing:
    pass


@dataclass(frozen=True)
class Adding:
    name: str
    chain: Chain


@dataclass(frozen=True)
class Rotating:
    name: str


@dataclass(frozen=True)
class Removing:
    name: str


Request = Listing | Adding | Rotating | Removing | HelpRequest | CommandError


def is_integrations(text: str | None) -> bool:
    """Whether /voicealert's text is about integrations (an alert starts with whom to phone, never this word)."""
    words = (text or "").split(maxsplit=1)
    return bool(words) and words[0].lower() == WORD


def parse_integrations(text: str) -> Request:
    words = (text or "").split(maxsplit=2)[1:]  # after "integrations"
    if not words or words[0].lower() == "list":
        return Listing() if len(words) <= 1 else CommandError("`list` takes nothing after it.")
    verb, rest = words[0].lower(), " ".join(words[1:])
    if verb in ("help", "-h", "--help", "?"):
        return HelpRequest()
    if verb == "add":
        return _adding(rest)
    if verb in ("rotate", "remove"):
        names = rest.split()
        if len(names) != 1:
            return CommandError(f"Give `{verb}` the integration's name, and nothing else: "
                                f"`/voicealert integrations {verb} backend-prod`.")
        if problem := name_problem(names[0]):
            return CommandError(problem)
        return Rotating(names[0]) if verb == "rotate" else Removing(names[0])
    return CommandError(f"“{unescape(words[0])}” is not something integrations do: "
                        "`add`, `rotate` or `remove`, or nothing to list them.")


def name_problem(name: str) -> str | None:
    """Why `name` cannot name an integration; None if it can. ROUTING_FILE's rule: [a-z0-9-]{1,40}."""
    if _NAME.fullmatch(name):
        return None
    shown = unescape(name)
    if shown.startswith(("<", "@", "+", "&")):
        return "Start with the integration's name, then whom it phones: " \
               "`/voicealert integrations add backend-prod @oncall > @lead`."
    hint = f" (e.g. {name.lower()})" if _NAME.fullmatch(name.lower()) else " (e.g. backend-prod)"
    return f"“{shown[:60]}” cannot name an integration: use 1 to 40 lowercase letters, digits and dashes{hint}."


def _adding(rest: str) -> Adding | CommandError:
    parts = rest.split(maxsplit=1)
    if not parts:
        return CommandError("Give the new integration a name and whom it phones: "
                            "`/voicealert integrations add backend-prod @oncall > @lead`.")
    name = parts[0]
    if problem := name_problem(name):
        return CommandError(problem)
    written = parts[1] if len(parts) > 1 else ""
    call = call_of(written)
    if isinstance(call, CommandError):
        return call
    if not call.strip(" ,>") or not any(word for word in _GAP.split(call.replace(">", " "))
                                        if word and not word.lower().startswith("lang=")):
        return CommandError(f"Say whom *{name}* phones after its name: @people, @user-groups or numbers with + "
                            "and the country code, with `>` between the links of a chain.")
    chain = parse_call(call)
    if isinstance(chain, list):
        return CommandError("These recipients cannot be used: " + "; ".join(chain) + ".")
    return Adding(name, chain)


def call_of(written: str) -> str | CommandError:
    """Slack's text of recipients as an integration's `call:` (IDs, numbers, `>`, `lang=`), or what in it is
    nobody to phone."""
    # A person, a user group, a number Slack made a link of: their ID (or number) is kept.
    text = USER_MARKUP.sub(lambda found: f" {found[1]} ", written)
    text = GROUP_MARKUP.sub(lambda found: f" {found[1]} ", text)
    text = TEL_MARKUP.sub(lambda found: f" {_number(found[1])} ", text)
    if other := ANY_MARKUP.search(text):  # any other (<#C1|ops>, <!here>, <https://…>): nobody to phone
        target, _, label = other[1].partition("|")
        if target.startswith("#"):
            return CommandError(f"“#{label or 'channel'}” is a channel: mention the people or user groups to phone.")
        if target.startswith("!"):  # <!here>, <!channel>: Slack shows them as @here, @channel
            target = "@" + target[1:].split("^")[0]
        return CommandError(f"“{label or target}” is nobody to phone: mention people (@name) or user groups "
                            "(@group), or write numbers with + and the country code.")
    text = unescape(text)
    for word in _WORDS.findall(_GAP.sub(" ", text.replace(">", " "))):
        if _FOR_PARSE_CALL.match(word) or not isinstance(recipient(word), str):
            continue  # an ID, or what parse_call says best what is wrong with (a number, a language)
        if word.startswith("@"):
            return CommandError(f"“{word[:60]}” is not a person or user group Slack knows here: pick them from the "
                                "list Slack shows as you type @.")
        return CommandError(f"“{word[:60]}” is nobody to phone: mention people (@name) or user groups (@group), "
                            "or write numbers with + and the country code.")
    return " ".join(text.split())


def _number(written: str) -> str:
    """A number Slack made a link of, as E.164 when it reads as one (else as written, for parse_call to say why)."""
    try:
        return parse_phone_number(unescape(written)).e164
    except InvalidPhoneNumber:
        return "".join(unescape(written).split())
