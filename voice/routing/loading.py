"""ROUTING_FILE read whole: its text, its YAML, then each top-level section by its own function.

A section is one function from its node to its values (`integrations:`, `schedules:`, `hotlines:`); a
section not known is refused by name, so a file written for a newer server is not half understood by an
older one.
"""

from __future__ import annotations

from typing import Callable, Mapping

import yaml
from yaml import Node

from voice.routing.hotlines import read_hotlines
from voice.routing.integrations import read_integrations
from voice.routing.models import Routing, RoutingProblems
from voice.routing.nodes import (
    Problems,
    entries,
    is_mapping,
    is_null,
    kind_of,
    unknown_keys,
)
from voice.routing.schedules import read_schedules

#: Far above any real file; a bigger one is a mistake (or an attack) rather than routing.
MAX_BYTES = 1024 * 1024

Section = Callable[[Node, Problems, Mapping[str, str]], object]
#: Each section of the file, and the function that reads it into Routing's field of the same name.
SECTIONS: dict[str, Section] = {
    "integrations": read_integrations,
    "schedules": read_schedules,
    "hotlines": read_hotlines,
}


def load_routing(path: str, environ: Mapping[str, str]) -> Routing | RoutingProblems:
    """Read the file at `path`; `environ` holds the tokens its token_env entries name."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        return RoutingProblems((f"ROUTING_FILE: {path} cannot be read: {error.strerror or error}",))
    if len(data) > MAX_BYTES:
        return RoutingProblems((f"ROUTING_FILE: {path} is larger than {MAX_BYTES} bytes",))
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return RoutingProblems((f"ROUTING_FILE: {path} is not UTF-8 text (byte {error.start})",))
    return parse_routing(content, environ)


def parse_routing(content: str, environ: Mapping[str, str]) -> Routing | RoutingProblems:
    """The routing a file's text defines, or every problem with it."""
    problems = Problems()
    root = _compose(content, problems)
    if problems.lines:
        return RoutingProblems(problems.lines)
    values: dict[str, object] = {}
    if not is_null(root):
        if not is_mapping(root):
            problems.add(root, "", f"the file must be a mapping of sections ({', '.join(SECTIONS)}), "
                                   f"not {kind_of(root)}")
        else:
            found = entries(root, "", problems)
            unknown_keys(found, tuple(SECTIONS), "", problems, what="section")
            values = {name: SECTIONS[name](node, problems, environ)
                      for name, (_, node) in found.items() if name in SECTIONS}
    if problems.lines:
        return RoutingProblems(problems.lines)
    return Routing(**values)


def _compose(content: str, problems: Problems) -> Node | None:
    try:
        return yaml.compose(content, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as error:  # a character YAML does not allow (control characters…)
        problems.at(content.count("\n", 0, error.position) + 1,
                    f"not valid YAML: the character #x{error.character:04x} is not allowed")
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problems.at(mark.line + 1 if mark else None, f"not valid YAML: {error.problem or error.context}")
    except yaml.YAMLError as error:
        problems.at(None, f"not valid YAML: {error}")
    except RecursionError:  # PyYAML composes recursively: "[[[[…" deep enough is no routing
        problems.at(None, "not valid YAML: nested too deeply")
    return None
