"""The schedule form: `/oncall new` opens it empty, `/oncall edit <name>` filled in; a submission read into a
schedule, or what is wrong, field by field. Pure.

The form opens at once (a trigger lasts 3 seconds), then is updated with what Slack is asked for meanwhile:
the workspace's user groups (a select in place of the group's ID) and, for a new schedule, the opener's
time zone. An updated field gets a new block ID, since Slack keeps a field's state (and ignores its new
initial value) when its block ID stays the same; a submission is read by action ID, wherever it is.
What the form was opened from travels in `private_metadata`, signed (bot.app.sign_metadata).
https://docs.slack.dev/surfaces/modals
https://docs.slack.dev/reference/block-kit/block-elements/multi-select-menu-element
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from zoneinfo import available_timezones

from bot.app import sign_metadata, verified_metadata
from bot.messages import input_block, option, plain_text
from bot.oncall.commands import SUBCOMMANDS
from voice.schedules.models import Rotation, ScheduleDef
from voice.schedules.parsing import (
    Problem,
    parse_date,
    parse_handoff,
    parse_shift,
    parse_time_zone,
)
from voice.schedules.store import ScheduleRecord

CALLBACK_ID = "oncall_schedule_form"
# Action IDs of the form's fields (the block IDs are these, or these and a revision).
NAME, ZONE, MEMBERS, SHIFT, HANDOFF, START = "name", "time_zone", "rotation", "shift", "handoff", "start"
GROUP, GROUP_ID, CHANNEL = "user_group", "user_group_id", "channel"

MAX_MEMBERS = 100  # as in the routing file (voice/routing/schedules.py)
_NAME = re.compile(r"[a-z0-9-]{1,40}")
_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP = re.compile(r"S[A-Z0-9]{2,20}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}")
#: The IANA zones a person picks from: the regions' cities (not the legacy aliases), and UTC.
_REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
            "Pacific")
_PURPOSE = "voicebridge oncall form"


@dataclass(frozen=True)
class Opened:
    """Whom the form is for, where it was opened, where to reply; the schedule edited (None: a new one)."""

    user_id: str
    channel_id: str
    team_id: str
    reply_url: str | None
    editing: str | None = None


@dataclass(frozen=True)
class FormErrors:
    """What is wrong, by block ID: Slack shows each under its field (`response_action: errors`)."""

    errors: dict[str, str]


def schedule_form(opened: Opened, secret: str, *, schedule: ScheduleRecord | None = None,
                  groups: list[tuple[str, str]] | None = None, time_zone: str | None = None,
                  start: date | None = None, revision: int = 0) -> dict:
    """The modal. `schedule`: the one edited; `groups`: the workspace's user groups (id, handle), or None
    while unknown (the group's ID is typed); `time_zone` to start from; `revision`: 1 and on for updates."""
    rotation = schedule.rotation if schedule else None
    zone_now = rotation.time_zone if rotation else time_zone
    blocks: list[dict] = []
    if schedule is None:
        blocks.append(input_block(NAME, "Name", {"type": "plain_text_input", "action_id": NAME, "max_length": 40,
                                            "placeholder": plain_text("backend")},
                             hint="Lower-case letters, digits and -. Used in /oncall and in schedule:<name>."))
    else:
        blocks.append({"type": "section", "block_id": "schedule", "text": {
            "type": "mrkdwn", "text": f"Schedule *{schedule.name}*"}})
    blocks += [
        input_block(_revised(ZONE, revision), "Time zone", {
            "type": "external_select", "action_id": ZONE, "min_query_length": 2,
            "placeholder": plain_text("Type a city, e.g. Berlin"),
            **({"initial_option": option(zone_now, zone_now)} if zone_now else {})},
            hint="The hand-off time and the shifts' days are this time zone's."),
        input_block(MEMBERS, "Rotation", {"type": "multi_users_select", "action_id": MEMBERS,
                                     "placeholder": plain_text("Choose people, in turn"),
                                     **({"initial_users": list(rotation.members)} if rotation and
                                        rotation.members else {})},
               hint="In the order they take shifts: the first chosen is on call first."),
        input_block(SHIFT, "Shift", {"type": "plain_text_input", "action_id": SHIFT, "max_length": 10,
                                "initial_value": rotation.shift.written() if rotation else "weekly"},
               hint="daily, weekly, <n>d (days) or <n>h (hours), e.g. 12h"),
        input_block(HANDOFF, "Hand-off", {"type": "plain_text_input", "action_id": HANDOFF, "max_length": 20,
                                     "initial_value": rotation.handoff.written() if rotation else "monday 09:00"},
               hint="A time, e.g. 09:00; for weekly shifts a weekday and a time, e.g. monday 09:00."),
        input_block(START, "Starts", {"type": "datepicker", "action_id": START, **(
            {"initial_date": (rotation.start if rotation else start).isoformat()} if rotation or start else {})},
            hint="The first person's first shift starts at the first hand-off on or after this day."),
        _group_input(schedule.user_group if schedule else None, groups, revision),
        input_block(CHANNEL, "Channel for hand-off notices", {
            "type": "multi_conversations_select", "action_id": CHANNEL, "max_selected_items": 1,
            "placeholder": plain_text("Choose a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            **({"initial_conversations": [schedule.channel]} if schedule and schedule.channel else {})},
            optional=True, hint="Told who is on call at each hand-off."),
    ]
    return {
        "type": "modal", "callback_id": CALLBACK_ID,
        "title": plain_text("Edit schedule" if schedule else "New on-call schedule"),
        "submit": plain_text("Save" if schedule else "Create"), "close": plain_text("Cancel"), "blocks": blocks,
        "private_metadata": sign_metadata(asdict(opened), secret, _PURPOSE),
    }


def verified_opening(metadata: str, secret: str) -> Opened | None:
    """What we wrote when we opened the form, or None for anything we did not sign."""
    fields = verified_metadata(metadata, secret, _PURPOSE)
    try:
        return Opened(**fields) if fields is not None else None
    except TypeError:
        return None


def _group_input(current: str | None, groups: list[tuple[str, str]] | None, revision: int) -> dict:
    hint = "Kept equal to who is on call, so that mentioning it reaches them."
    if groups is None:
        return input_block(_revised(GROUP, revision), "User group", {
            "type": "plain_text_input", "action_id": GROUP_ID, "max_length": 21, "placeholder": plain_text("S0123ABCD"),
            **({"initial_value": current} if current else {})}, optional=True,
            hint=hint + " Its ID: in Slack, the group's menu, Copy group ID.")
    known = dict(groups[:99])
    if current and current not in known:
        known = {current: current} | known
    element = {"type": "multi_static_select", "action_id": GROUP, "max_selected_items": 1,
               "placeholder": plain_text("Choose a user group"),
               "options": [option(f"@{handle}"[:75], group_id) for group_id, handle in known.items()]}
    if current:
        element["initial_options"] = [option(f"@{known[current]}"[:75], current)]
    if not known:
        return _group_input(current, None, revision)  # Slack shows no select without options
    return input_block(_revised(GROUP, revision), "User group", element, optional=True, hint=hint)


def zone_options(query: str) -> list[dict]:
    """The time zones whose IANA name holds what the person typed ("new york", "berlin"), for the form's
    select: Slack asks as they type (an external select), so the form itself stays small: every option of a
    static select would come back in each submission. Those whose city starts with it first; at most 100."""
    typed = "_".join((query or "").strip().lower().split())
    found = [name for name in _zones() if typed in name.lower()]
    found.sort(key=lambda name: (not name.split("/")[-1].lower().startswith(typed), name))
    return [option(name, name) for name in found[:100]]


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return ("UTC", *sorted(name for name in available_timezones() if name.split("/")[0] in _REGIONS))


def _revised(block: str, revision: int) -> str:
    return f"{block}_{revision}" if revision else block


# -- a submission ----------------------------------------------------------------------------------------


def read_schedule(values: dict, editing: str | None) -> ScheduleDef | FormErrors:
    """The schedule a submitted form describes (named `editing`, or the typed name), or what is wrong."""
    fields = {action: (block, field) for block, actions in values.items() if isinstance(actions, dict)
              for action, field in actions.items() if isinstance(field, dict)}
    errors: dict[str, str] = {}

    def value(action: str, key: str = "value"):
        return (fields.get(action) or (None, {}))[1].get(key)

    def problem(action: str, message: str) -> None:
        errors[(fields.get(action) or (action, None))[0]] = message[:1].upper() + message[1:]

    name = editing or str(value(NAME) or "").strip()
    if not editing and not _NAME.fullmatch(name):
        problem(NAME, "A name is 1 to 40 lower-case letters, digits and -, e.g. backend.")
    elif not editing and name in {*SUBCOMMANDS, "help"}:
        problem(NAME, f"“{name}” is a word of /oncall itself; choose another name.")
    time_zone = parse_time_zone(str((value(ZONE, "selected_option") or {}).get("value") or ""))
    if isinstance(time_zone, Problem):
        problem(ZONE, "Choose the schedule's time zone.")
    members = tuple(dict.fromkeys(user for user in value(MEMBERS, "selected_users") or []
                                  if isinstance(user, str) and _USER.fullmatch(user)))
    if not members:
        problem(MEMBERS, "Choose who takes shifts, in the order they take them.")
    elif len(members) > MAX_MEMBERS:
        problem(MEMBERS, f"A rotation has at most {MAX_MEMBERS} people.")
    shift = parse_shift(str(value(SHIFT) or ""))
    handoff = parse_handoff(str(value(HANDOFF) or ""), shift) if not isinstance(shift, Problem) else None
    start = parse_date(str(value(START, "selected_date") or ""))
    for action, read in ((SHIFT, shift), (HANDOFF, handoff), (START, start)):
        if isinstance(read, Problem):
            problem(action, read.message)
    group = _chosen(value(GROUP, "selected_options"), "value") or str(value(GROUP_ID) or "").strip() or None
    if group is not None and not _GROUP.fullmatch(group):
        problem(GROUP_ID if GROUP_ID in fields else GROUP, "A user group's ID starts with S, e.g. S0123ABCD.")
    channel = _chosen(value(CHANNEL, "selected_conversations"))
    if channel is not None and not _CHANNEL.fullmatch(channel):
        problem(CHANNEL, "Choose a channel.")
    if errors:
        return FormErrors(errors)
    return ScheduleDef(name, Rotation(time_zone, members, shift, handoff, start), user_group=group, channel=channel)


def _chosen(selected, key: str | None = None) -> str | None:
    """The one item of a single-item multi-select, if one was chosen."""
    if not isinstance(selected, list) or not selected:
        return None
    item = selected[0].get(key) if key and isinstance(selected[0], dict) else selected[0]
    return item if isinstance(item, str) else None
