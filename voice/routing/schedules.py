"""The `schedules:` section: each one's name, time zone, rotation, shifts, hand-off, start, and the user
group and channel it keeps informed. The written forms are voice.schedules.parsing's.
"""

from __future__ import annotations

import re
from typing import Mapping

from yaml import Node, ScalarNode

from voice.routing.nodes import (
    Problems,
    entry_values,
    is_list,
    kind_of,
    no_two_alike,
    section_items,
    shown,
    text,
)
from voice.schedules.models import Rotation, ScheduleDef
from voice.schedules.parsing import (
    Problem,
    parse_date,
    parse_handoff,
    parse_shift,
    parse_time_zone,
)

KEYS = ("name", "time_zone", "rotation", "shift", "handoff", "start", "user_group", "channel")
REQUIRED = ("name", "time_zone", "rotation", "shift", "handoff", "start")
MAX_SCHEDULES = 500
MAX_MEMBERS = 100

_NAME = re.compile(r"[a-z0-9-]{1,40}")
_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP = re.compile(r"S[A-Z0-9]{2,20}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def read_schedules(node: Node, problems: Problems, environ: Mapping[str, str]) -> tuple[ScheduleDef, ...]:
    read = [(item, schedule(item, f"schedules[{index}]", problems))
            for index, item in enumerate(section_items(node, "schedules", MAX_SCHEDULES, problems))]
    no_two_alike(read, "schedules", "name", problems)
    return tuple(found for _, found in read if found is not None)


def schedule(node: Node, where: str, problems: Problems) -> ScheduleDef | None:
    """One schedule, or None with its problems added."""
    before = len(problems.found)
    value = entry_values(node, where, KEYS, REQUIRED, problems)
    if value is None:
        return None
    name = _field(value, "name", where, problems, lambda written: written if _NAME.fullmatch(written) else Problem(
        f"{shown(written)} must be 1 to 40 lowercase letters, digits and dashes (e.g. backend)"))
    time_zone = _field(value, "time_zone", where, problems, parse_time_zone)
    shift = _field(value, "shift", where, problems, parse_shift)
    handoff = _field(value, "handoff", where, problems,
                     lambda written: parse_handoff(written, shift) if shift else None)
    start = _field(value, "start", where, problems, parse_date, dates=True)
    members = _members(value["rotation"], f"{where}.rotation", problems) if "rotation" in value else None
    user_group = _field(value, "user_group", where, problems, lambda written: written if _GROUP.fullmatch(
        written) else Problem(f"{shown(written)} is not a Slack user group ID (S…)"))
    channel = _field(value, "channel", where, problems, lambda written: written if _CHANNEL.fullmatch(
        written) else Problem(f"{shown(written)} is not a Slack channel ID (C… or G…)"))
    if len(problems.found) > before or None in (name, time_zone, shift, handoff, start, members):
        return None
    return ScheduleDef(name=name, rotation=Rotation(time_zone, members, shift, handoff, start),
                       user_group=user_group, channel=channel)


def _field(value: dict[str, Node], key: str, where: str, problems: Problems, check, *, dates: bool = False):
    if key not in value:
        return None
    node = value[key]
    if dates and isinstance(node, ScalarNode) and node.tag == _TIMESTAMP:
        written = node.value  # YAML reads 2026-12-07 as a date: taken as written
    else:
        written = text(node, f"{where}.{key}", problems)
    if written is None:
        return None
    result = check(written)
    if isinstance(result, Problem):
        problems.add(node, f"{where}.{key}", result.message)
        return None
    return result


def _members(node: Node, where: str, problems: Problems) -> tuple[str, ...] | None:
    if not is_list(node):
        problems.add(node, where, f"must be a list of Slack user IDs, e.g. [U0ALICE, U0BOB], not {kind_of(node)}")
        return None
    if len(node.value) > MAX_MEMBERS:
        problems.add(node, where, f"{len(node.value)} people; at most {MAX_MEMBERS}")
        return None
    members: list[str] = []
    for index, item in enumerate(node.value):
        written = text(item, f"{where}[{index}]", problems)
        if written is None:
            continue
        if _USER.fullmatch(written):
            members.append(written)
        elif written.startswith("@") or written.startswith("<@"):
            problems.add(item, f"{where}[{index}]", f"{shown(written)} is a mention; give the person's Slack "
                                                    "member ID (U…, in their profile's ⋮ menu)")
        else:
            problems.add(item, f"{where}[{index}]", f"{shown(written)} is not a Slack user ID (U… or W…)")
    return tuple(members)
