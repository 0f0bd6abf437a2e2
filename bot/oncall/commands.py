"""Parse `/oncall` text: which schedule, and what to do with it. Pure.

    /oncall                                        who is on call now and next, every schedule
    /oncall <name>                                 the next shifts, and the calendar feed's link
    /oncall <name> feed rotate                     a new feed link (the old one stops working)
    /oncall cover <name> [@person] until <time>    an override; @person is whoever typed it if left out
    /oncall cover <name> [@person] from <time> until <time>
    /oncall overrides <name>                       the overrides to come, each with a Remove button
    /oncall new | edit <name> | delete <name>      the schedule's form, or its deletion

The command escapes mentions (`should_escape: true`), so @person arrives as `<@U123|bob>`. A subcommand's
word wins over a schedule of that name; `/oncall show <name>` reaches any schedule. The times are only
split off here: they are read in the typing person's Slack time zone, which only Slack knows
(bot/oncall/covers.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.messages import CommandError, HelpRequest
from bot.mrkdwn import unescape


@dataclass(frozen=True)
class Listing:
    pass


@dataclass(frozen=True)
class Show:
    name: str


@dataclass(frozen=True)
class RotateFeed:
    name: str


@dataclass(frozen=True)
class Cover:
    name: str
    user: str | None  # a Slack user ID; None: whoever typed the command
    start: str | None  # as typed; None: from now
    end: str


@dataclass(frozen=True)
class ListOverrides:
    name: str


@dataclass(frozen=True)
class NewSchedule:
    pass


@dataclass(frozen=True)
class Edit:
    name: str


@dataclass(frozen=True)
class Delete:
    name: str


OncallRequest = Listing | Show | RotateFeed | Cover | ListOverrides | NewSchedule | Edit | Delete

#: The words that start a subcommand; what they take after them.
SUBCOMMANDS = {"cover": "cover <schedule> [@person] until <time>", "overrides": "overrides <schedule>",
               "new": "new", "edit": "edit <schedule>", "delete": "delete <schedule>", "show": "show <schedule>"}
_NAMED = {"overrides": ListOverrides, "edit": Edit, "delete": Delete, "show": Show}
_HELP = {"help", "-h", "--help", "?"}
_PERSON = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_PERIOD = re.compile(r"(?:from\s+(?P<start>.+?)\s+)?(?:until|till|to)\s+(?P<end>.+)", re.IGNORECASE | re.DOTALL)


def parse_oncall(text: str) -> OncallRequest | HelpRequest | CommandError:
    words = (text or "").split()
    if not words:
        return Listing()
    first = words[0].lower()
    if first in _HELP:
        return HelpRequest()
    if first == "new":
        return NewSchedule() if len(words) == 1 else CommandError(
            "`/oncall new` takes nothing after it: the form asks for the rest.")
    if first == "cover":
        return _cover(text.strip()[len(words[0]):].strip())
    if first in _NAMED:
        if len(words) != 2:
            return CommandError(f"Name one schedule: `/oncall {SUBCOMMANDS[first]}`.")
        return _NAMED[first](_schedule(words[1]))
    if len(words) == 1:
        return Show(_schedule(first))
    if len(words) == 3 and [word.lower() for word in words[1:]] == ["feed", "rotate"]:
        return RotateFeed(_schedule(first))
    return CommandError(f"I don't know “{_shown(text)}”.")


def _cover(rest: str) -> Cover | CommandError:
    usage = "`/oncall cover <schedule> [@person] until <time>` (or `from <time> until <time>`)"
    name, _, rest = rest.partition(" ")
    if not name or name.startswith("<"):
        return CommandError(f"Name the schedule first: {usage}.")
    rest = rest.strip()
    user = None
    if person := _PERSON.match(rest):
        user, rest = person[1], rest[person.end():].strip()
    elif rest.startswith("@"):
        return CommandError(f"“{_shown(rest.split()[0])}” is not someone Slack linked: pick the person from "
                            "the list Slack offers as you type @.")
    period = _PERIOD.fullmatch(rest)
    if not period or not period["end"].strip():
        return CommandError(f"Say until when: {usage}, e.g. `/oncall cover {_schedule(name)} until mon 09:00`.")
    start = unescape(period["start"].strip()) if period["start"] else None
    return Cover(_schedule(name), user, start, unescape(period["end"].strip()))


def _schedule(word: str) -> str:
    """A schedule's name as typed: names are lower case (voice/routing/schedules.py)."""
    return unescape(word).lower()


def _shown(text: str) -> str:
    """What someone typed, as a reply quotes it (plain: the reply escapes it): one line, not long."""
    line = " ".join(unescape(text).split())
    return line if len(line) <= 60 else line[:59] + "…"
