"""Slack's directory: users and user groups turned into names and phone numbers.

`users.info` (scope users:read) gives a person's name and the free-text phone
field of their profile; `usergroups.users.list` (usergroups:read) the members
of a group. Every recipient that cannot be called is kept with the reason, for
the requester.

A large group costs one `users.info` per member (Tier 4: about 100 a minute),
so the phone cap is checked as early as it can be: the people named are
counted from the groups' member lists before anyone is looked up, and the
look-ups stop at the first phone past the cap. What was read is kept in a
`Lookups` the caller may hold on to: a retry (after Slack's 429) goes on
from there instead of starting over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import slack_failures
from voice.alerts.models import RequesterPhone, Skipped, Target
from voice.calls.numbers import (
    InvalidPhoneNumber,
    PhoneNumber,
    parse_phone_number,
    parse_profile_number,
)
from voice.queue.work import GiveUp

log = logging.getLogger(__name__)

#: The most phones one alert rings in a round: a mistyped group must not call a whole company.
MAX_TARGETS = 50
#: The most people one alert may name (members of its groups included) before any is looked up: past
#: this, finding fewer than MAX_TARGETS phones among them would take hundreds of look-ups.
MAX_PEOPLE = 4 * MAX_TARGETS

# Whom an alert names, as typed (`/voicealert`, the form, a Workflow step), before any look-up.
NUMBER = "number"
USER = "user"
GROUP = "group"
SCHEDULE = "schedule"  # whoever its schedule has on call when the alert's recipients are looked up

#: Who is on call for a schedule now, passing over `skip` too: (their user ID, or None and why nobody is).
OnCallOf = Callable[[str, frozenset], "tuple[str | None, str | None]"]


@dataclass(frozen=True)
class Recipient:
    kind: str  # NUMBER, USER or GROUP
    id: str  # E.164 for a number, U… for a user, S… for a group
    label: str  # as Slack shows it: "+1 415-555-0100", "<@U123>", "<!subteam^S123>"


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str  # display name, else real name, else handle
    phone: str  # the profile's phone field, as typed
    active: bool = True  # False for deactivated users and bots
    locale: str | None = None  # their Slack language ("es-ES"), which their calls speak
    tz: str | None = None  # their Slack time zone ("Europe/Berlin"), in which times they type are read


@dataclass(frozen=True)
class Resolution:
    targets: tuple[Target, ...]
    skipped: tuple[Skipped, ...]


class TooManyRecipients(ValueError):
    """More phones than MAX_TARGETS, or more people than MAX_PEOPLE; the message says which."""


@dataclass
class Lookups:
    """What has been read from Slack's directory for one purpose (an alert's opening): read once."""

    people: dict[str, Person | str] = field(default_factory=dict)  # user ID → the person, or why not
    members: dict[str, list[str] | str] = field(default_factory=dict)  # group ID → its members, or why not


class SlackDirectory:
    def __init__(self, client: WebClient, default_region: str | None, lookups: Lookups | None = None,
                 on_call: OnCallOf | None = None):
        self._client = client
        self._default_region = default_region
        self._read = lookups if lookups is not None else Lookups()
        self._on_call = on_call

    def person(self, user_id: str) -> Person | str:
        """The person, or why they cannot be read (a sentence). Raises RetryLater while Slack is busy."""
        if user_id not in self._read.people:
            self._read.people[user_id] = self._read_person(user_id)
        return self._read.people[user_id]

    def _read_person(self, user_id: str) -> Person | str:
        try:
            with slack_failures("users.info"):
                user = self._client.users_info(user=user_id, include_locale=True)["user"]
        except GiveUp as refused:
            code = str(refused).rsplit(": ", 1)[-1]
            log.info("users.info %s failed: %s", user_id, code)
            return f"is not a user this app can see in Slack ({code})"
        profile = user.get("profile") or {}
        name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                or user.get("name") or user_id)
        return Person(user_id=user_id, name=name, phone=profile.get("phone") or "",
                      active=not user.get("deleted") and not user.get("is_bot"),
                      locale=user.get("locale") if isinstance(user.get("locale"), str) else None,
                      tz=user.get("tz") if isinstance(user.get("tz"), str) else None)

    def name(self, user_id: str) -> str | None:
        person = self.person(user_id)
        return person.name if isinstance(person, Person) else None

    def phone_of(self, user_id: str, refusal: Callable[[PhoneNumber], str | None]) -> RequesterPhone:
        """Someone's profile number as a call would dial it, or why it cannot be called; their locale."""
        person = self.person(user_id)
        number, problem = self._number_of(person)
        if number is not None:
            problem = refusal(number)
        locale = person.locale if isinstance(person, Person) else None
        return RequesterPhone(number=None if problem else number.e164, problem=problem, locale=locale)

    def members(self, group_id: str) -> list[str] | str:
        """The user IDs of a user group, or why they cannot be read. Raises RetryLater while Slack is busy."""
        if group_id not in self._read.members:
            self._read.members[group_id] = self._read_members(group_id)
        return self._read.members[group_id]

    def _read_members(self, group_id: str) -> list[str] | str:
        try:
            with slack_failures("usergroups.users.list"):
                return list(self._client.usergroups_users_list(usergroup=group_id)["users"] or [])
        except GiveUp as refused:
            code = str(refused).rsplit(": ", 1)[-1]
            log.info("usergroups.users.list %s failed: %s", group_id, code)
            return f"could not be read from Slack ({code})"

    def resolve(
        self, stages: Sequence[Sequence[Recipient]], refusal: Callable[[PhoneNumber], str | None],
        language: str | None = None, *, close_up: bool = True,
    ) -> Resolution:
        """Numbers for every recipient, stage by stage; who cannot be called, and why.

        A group is expanded to its members; someone already called in the same
        stage is called once. Stages left empty are dropped, so the chain goes on
        (`close_up`; else each target keeps the index of the stage it was typed in).
        Each call speaks `language` (the command's `lang=`) if given, else its
        person's Slack locale, else (None) the language of its number's country.
        Raises TooManyRecipients beyond MAX_PEOPLE people (before any users.info)
        or MAX_TARGETS phones (as soon as one more is found).
        """
        skipped: list[Skipped] = []
        expanded = [list(self._expand(stage, skipped)) for stage in stages]
        named = len({user_id or number.e164 for stage in expanded for _, user_id, number in stage})
        if named > MAX_PEOPLE:
            raise TooManyRecipients(f"That names {named:,} people; one alert calls at most {MAX_TARGETS} phones.")
        targets: list[Target] = []
        for typed, stage in enumerate(expanded):
            stage_index = len({target.stage for target in targets}) if close_up else typed
            seen: set[str] = set()
            for label, user_id, number in stage:
                person = self.person(user_id) if user_id else None
                if person is not None:
                    number, problem = self._number_of(person)
                    if problem:
                        skipped.append(Skipped(label, problem))
                        continue
                if reason := refusal(number):
                    skipped.append(Skipped(label, reason))
                elif number.e164 not in seen:
                    seen.add(number.e164)
                    targets.append(Target(number.e164, stage_index, user_id, person.name if person else None,
                                          language=language or (person.locale if person else None)))
                    if len(targets) > MAX_TARGETS:  # no need to look anyone else up
                        raise TooManyRecipients(
                            f"That would call more than {MAX_TARGETS} phones; one alert calls at most {MAX_TARGETS}.")
        return Resolution(tuple(targets), tuple(skipped))

    def _expand(self, stage: Sequence[Recipient], skipped: list[Skipped]):
        """(label, user ID or None, number or None) for each person of a stage."""
        for recipient in stage:
            if recipient.kind == GROUP:
                members = self.members(recipient.id)
                if isinstance(members, str) or not members:
                    skipped.append(Skipped(recipient.label, members or "has no members"))
                    continue
                yield from ((f"<@{member}>", member, None) for member in members)
            elif recipient.kind == USER:
                yield recipient.label, recipient.id, None
            elif recipient.kind == SCHEDULE:
                user_id = self._on_call_now(recipient, skipped)
                if user_id:
                    yield f"<@{user_id}>", user_id, None
            else:
                yield recipient.label, None, parse_phone_number(recipient.id)

    def _on_call_now(self, recipient: Recipient, skipped: list[Skipped]) -> str | None:
        """Who the schedule has on call now; one Slack says is deactivated is passed over (the schedule hears
        of it), and the next who can be is taken. Nobody: said, and the chain goes on to its next link."""
        if self._on_call is None:
            skipped.append(Skipped(recipient.label, "schedules are not available here"))
            return None
        passed: set[str] = set()
        while True:
            user_id, problem = self._on_call(recipient.id, frozenset(passed))
            if user_id is None:
                skipped.append(Skipped(recipient.label, problem or f"nobody is on call for {recipient.id}"))
                return None
            person = self.person(user_id)
            if isinstance(person, str) or person.active or user_id in passed:
                return user_id
            passed.add(user_id)

    def _number_of(self, person: Person | str) -> tuple[PhoneNumber | None, str | None]:
        if isinstance(person, str):
            return None, person
        if not person.active:
            return None, "is deactivated or a bot"
        if not person.phone.strip():
            return None, "has no phone number in their Slack profile"
        try:
            return parse_profile_number(person.phone, self._default_region), None
        except InvalidPhoneNumber as error:
            return None, f"has a phone number that cannot be called: {error.reason}"


def user_groups(client: WebClient) -> list[tuple[str, str]]:
    """The workspace's user groups (id, handle), for a form to offer; none if Slack will not say (no scope, busy):
    the form then asks for what it would have offered some other way."""
    try:
        found = client.usergroups_list(include_disabled=False).get("usergroups") or []
    except SlackApiError:
        return []
    return [(group["id"], group.get("handle") or group.get("name") or group["id"]) for group in found
            if isinstance(group, dict) and group.get("id")]
