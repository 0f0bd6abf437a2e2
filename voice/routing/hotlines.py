"""The `hotlines:` section: each Plivo number that reaches whoever is on call, its name, whom it phones (the
recipients syntax of `call:`), the channel its calls are shown in, and optionally a language and a greeting.
"""

from __future__ import annotations

import re
from typing import Mapping

from yaml import Node

from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.hotline.models import HotlineDef
from voice.routing.nodes import (
    Problems,
    entry_values,
    no_two_alike,
    section_items,
    shown,
    text,
)
from voice.routing.recipients import language_of, parse_call

KEYS = ("number", "name", "call", "channel", "lang", "greeting")
REQUIRED = ("number", "name", "call", "channel")
MAX_HOTLINES = 100
NAME_MAX = 80
GREETING_MAX = 300
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}")


def read_hotlines(node: Node, problems: Problems, environ: Mapping[str, str]) -> tuple[HotlineDef, ...]:
    read = [(item, hotline(item, f"hotlines[{index}]", problems))
            for index, item in enumerate(section_items(node, "hotlines", MAX_HOTLINES, problems))]
    no_two_alike(read, "hotlines", "number", problems)
    return tuple(found for _, found in read if found is not None)


def hotline(node: Node, where: str, problems: Problems) -> HotlineDef | None:
    before = len(problems.found)
    value = entry_values(node, where, KEYS, REQUIRED, problems)
    if value is None:
        return None
    written = {key: text(value[key], f"{where}.{key}", problems) for key in KEYS if key in value}
    number = _number(written.get("number"), value, where, problems)
    name = written.get("name")
    if name is not None and not (0 < len(name.strip()) <= NAME_MAX and name.isprintable()):
        problems.add(value["name"], f"{where}.name", f"must be 1 to {NAME_MAX} printable characters")
    channel = written.get("channel")
    if channel is not None and not _CHANNEL.fullmatch(channel):
        problems.add(value["channel"], f"{where}.channel", f"{shown(channel)} is not a Slack channel ID (C… or G…)")
    chain = parse_call(written["call"]) if written.get("call") is not None else None
    if isinstance(chain, list):
        for problem in chain:
            problems.add(value["call"], f"{where}.call", problem)
        chain = None
    lang = _lang(written.get("lang"), value, where, problems)
    greeting = written.get("greeting")
    if greeting is not None and not (0 < len(greeting.strip()) <= GREETING_MAX and greeting.isprintable()):
        problems.add(value["greeting"], f"{where}.greeting", f"must be 1 to {GREETING_MAX} printable characters")
    if len(problems.found) > before or None in (number, name, channel, chain):
        return None
    return HotlineDef(number=number, name=name.strip(), stages=chain.stages, channel=channel,
                      lang=lang or chain.lang, greeting=greeting.strip() if greeting else None)


def _number(written: str | None, value: dict, where: str, problems: Problems) -> str | None:
    if written is None:
        return None
    try:
        number = parse_phone_number(written)
    except InvalidPhoneNumber as error:
        problems.add(value["number"], f"{where}.number", error.reason)  # it quotes the number itself
        return None
    if number.e164 != written:
        problems.add(value["number"], f"{where}.number", f"write it in E.164, as Plivo shows it: {number.e164}")
        return None
    return number.e164


def _lang(written: str | None, value: dict, where: str, problems: Problems) -> str | None:
    found = language_of(written) if written is not None else None
    if isinstance(found, list):
        problems.add(value["lang"], f"{where}.lang", found[0])
        return None
    return found
