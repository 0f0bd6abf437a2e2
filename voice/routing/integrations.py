"""The `integrations:` section: each one's name, token, channel, whom it phones and which severities do.

The file never holds a token in clear: `token_env` names an environment variable holding it (read
when the file is), `token_sha256` gives its digest; only the digest is kept either way.
"""

from __future__ import annotations

import re
from typing import Mapping

from yaml import Node

from voice.intake.credentials import token_digest
from voice.routing.models import SEVERITIES, IntegrationDef
from voice.routing.nodes import (
    Problems,
    entries,
    is_list,
    is_mapping,
    is_null,
    kind_of,
    section_items,
    shown,
    text,
    unknown_keys,
)
from voice.routing.recipients import language_of, parse_call

KEYS = ("name", "token_env", "token_sha256", "channel", "call", "lang", "phone")
MAX_INTEGRATIONS = 1000
#: A token shorter than this is guessable: refused (a random 32-character one is what `openssl rand -hex 16` gives).
MIN_TOKEN = 16
MAX_TOKEN = 1024

_NAME = re.compile(r"[a-z0-9-]{1,40}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}")
# Printable ASCII without spaces: what fits in `Authorization: Bearer …`, a query string or JSON as it is.
_TOKEN = re.compile(r"[!-~]+")
_SEVERITY = {severity.lower(): severity for severity in SEVERITIES}


def read_integrations(node: Node, problems: Problems, environ: Mapping[str, str]) -> tuple[IntegrationDef, ...]:
    read = [(item, integration(item, f"integrations[{index}]", problems, environ))
            for index, item in enumerate(section_items(node, "integrations", MAX_INTEGRATIONS, problems))]
    _no_two_alike(read, problems)
    return tuple(found for _, found in read if found is not None)


def integration(node: Node, where: str, problems: Problems, environ: Mapping[str, str]) -> IntegrationDef | None:
    """One integration, or None with its problems added."""
    if not is_mapping(node):
        problems.add(node, where, f"must be a mapping of {', '.join(KEYS)}, not {kind_of(node)}")
        return None
    before = len(problems.found)
    found = entries(node, where, problems)
    if "token" in found:
        problems.add(found.pop("token")[0], f"{where}.token",
                     "a token is never written in this file: give token_env (the name of an environment variable "
                     "holding it) or token_sha256 (its SHA-256 in hex)")
    unknown_keys(found, KEYS, where, problems)
    value = {key: value_node for key, (_, value_node) in found.items() if not is_null(value_node)}
    for key in ("name", "channel"):
        if key not in value:
            problems.add(node, where, f"{key} is required")
    name = _checked(value, "name", where, problems, _name)
    digest = _token(node, value, where, problems, environ)
    channel = _checked(value, "channel", where, problems, _channel)
    lang = _checked(value, "lang", where, problems, language_of)
    phone = _phone(found["phone"][1], f"{where}.phone", problems) if "phone" in found else None
    chain = _checked(value, "call", where, problems, parse_call)
    if "call" not in value and phone != ():
        problems.add(node, where, "call is required (whom to phone), unless phone: [] says its alerts never phone")
    if chain is not None and chain.lang and lang and chain.lang != lang:
        problems.add(value["call"], f"{where}.call", f"lang={chain.lang} differs from lang: {lang}; give one")
    if len(problems.found) > before:
        return None
    return IntegrationDef(name=name, token_sha256=digest, channel=channel, stages=chain.stages if chain else (),
                          lang=lang or (chain.lang if chain else None), phone=phone)


def _checked(value: dict[str, Node], key: str, where: str, problems: Problems, check):
    """A text field through `check` (its value, or the problems with it), or None if absent or wrong."""
    if key not in value:
        return None
    written = text(value[key], f"{where}.{key}", problems)
    if written is None:
        return None
    result = check(written)
    if isinstance(result, list):
        for problem in result:
            problems.add(value[key], f"{where}.{key}", problem)
        return None
    return result


def _name(written: str) -> str | list[str]:
    if _NAME.fullmatch(written):
        return written
    return [f"{shown(written)} must be 1 to 40 lowercase letters, digits and dashes (e.g. backend-prod)"]


def _channel(written: str) -> str | list[str]:
    if _CHANNEL.fullmatch(written):
        return written
    if written.startswith("#"):
        return [f"{shown(written)} is a channel's name; give its ID (C… or G…, at the bottom of the channel's "
                "details)"]
    return [f"{shown(written)} is not a Slack channel ID (C… or G…)"]


def _token(node: Node, value: dict[str, Node], where: str, problems: Problems,
           environ: Mapping[str, str]) -> str | None:
    """The token's digest, from token_env or token_sha256 (exactly one)."""
    if "token_env" in value and "token_sha256" in value:
        problems.add(node, where, "give token_env or token_sha256, not both")
        return None
    if "token_env" in value:
        name = text(value["token_env"], f"{where}.token_env", problems)
        problem = _env_problem(name, environ) if name is not None else None
        if problem:
            problems.add(value["token_env"], f"{where}.token_env", problem)
        return token_digest(environ[name]) if name is not None and not problem else None
    if "token_sha256" in value:
        digest = text(value["token_sha256"], f"{where}.token_sha256", problems, secret=True)
        if digest is not None and not _SHA256.fullmatch(digest):
            # Never shown: a token pasted here by mistake would reach the log.
            problems.add(value["token_sha256"], f"{where}.token_sha256",
                         "must be 64 lowercase hexadecimal digits, the SHA-256 of the token "
                         "(printf %s \"$TOKEN\" | sha256sum)")
            return None
        return digest
    problems.add(node, where, "a token is required: token_env (the name of an environment variable holding it) "
                              "or token_sha256 (its SHA-256 in hex)")
    return None


def _env_problem(name: str, environ: Mapping[str, str]) -> str | None:
    """What is wrong with the token in environment variable `name`, never showing it."""
    if not _ENV_NAME.fullmatch(name):
        return f"{shown(name)} is not the name of an environment variable (letters, digits and _)"
    token = environ.get(name)
    if token is None:
        return f"the environment variable {name} is not set"
    if not token:
        return f"the environment variable {name} is empty"
    if len(token) < MIN_TOKEN:
        return (f"the token in {name} is shorter than {MIN_TOKEN} characters: use a long random one "
                "(openssl rand -hex 32)")
    if len(token) > MAX_TOKEN:
        return f"the token in {name} is longer than {MAX_TOKEN} characters"
    if not _TOKEN.fullmatch(token):
        return (f"the token in {name} holds spaces or characters other than printable ASCII, which a sender "
                "cannot put in a header as they are")
    return None


def _phone(node: Node, where: str, problems: Problems) -> tuple[str, ...] | None:
    if not is_list(node):
        problems.add(node, where, f"must be a list of severities, e.g. [critical, P1] ([] for none), "
                                  f"not {kind_of(node)}")
        return None
    severities: list[str] = []
    for index, item in enumerate(node.value):
        written = text(item, f"{where}[{index}]", problems)
        if written is None:
            continue
        if written.lower() in _SEVERITY:
            severities.append(_SEVERITY[written.lower()])
        else:
            problems.add(item, f"{where}[{index}]", f"{shown(written)} is not a severity; the severities are: "
                                                     + ", ".join(SEVERITIES))
    return tuple(dict.fromkeys(severities))


def _no_two_alike(read: list[tuple[Node, IntegrationDef | None]], problems: Problems) -> None:
    """Names are unique, and so are tokens: a token must say which integration it is for."""
    names: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for index, (node, found) in enumerate(read):
        if found is None:
            continue
        where = f"integrations[{index}]"
        if found.name in names:
            problems.add(node, f"{where}.name", f"{shown(found.name)} is already the name of "
                                                f"integrations[{names[found.name]}]; names are unique")
        if found.token_sha256 in tokens:
            problems.add(node, where, f"its token is the same as integrations[{tokens[found.token_sha256]}]'s; "
                                      "each integration needs its own")
        names.setdefault(found.name, index)
        tokens.setdefault(found.token_sha256, index)
