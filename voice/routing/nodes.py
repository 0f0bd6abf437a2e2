"""Reading YAML's node tree (yaml.compose) rather than the objects yaml.safe_load builds: each node
knows its line, so every problem can say where it is, and keys given twice can be told (a loader
keeps the last one silently). Scalars are taken as the text written, never constructed: a value
only counts as text if YAML reads it as text (`lang: no` is YAML's false, `name: 123` a number).
https://yaml.org/spec/1.1/#id858600 (YAML 1.1's types, which PyYAML follows)
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from yaml import MappingNode, Node, ScalarNode, SequenceNode

STR = "tag:yaml.org,2002:str"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
NULL = "tag:yaml.org,2002:null"
_READ_AS = {"tag:yaml.org,2002:bool": "true or false", "tag:yaml.org,2002:int": "a number",
            "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:timestamp": "a date"}
#: How much of a value a problem line shows.
SHOWN = 60


@dataclass
class Problems:
    """Problem lines, `ROUTING_FILE line 7: integrations[0].channel: …`, in the file's order."""

    found: list[tuple[int, str]] = field(default_factory=list)

    def add(self, node: Node, where: str, message: str) -> None:
        self.at(line_of(node), f"{where}: {message}" if where else message)

    def at(self, line: int | None, message: str) -> None:
        """A problem on `line` (None: with the file as a whole), on one line whatever the message holds."""
        message = " ".join(message.splitlines())
        self.found.append((line or 0, f"ROUTING_FILE line {line}: {message}" if line else f"ROUTING_FILE: {message}"))

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(text for _, text in sorted(self.found, key=lambda found: found[0]))


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


def shown(value: str) -> str:
    """A value quoted for a problem line: bounded, and with anything unprintable escaped."""
    cut = value if len(value) <= SHOWN else value[:SHOWN] + "…"
    return json.dumps(cut, ensure_ascii=not cut.isprintable())


def is_mapping(node: Node) -> bool:
    """A plain mapping: one with a tag of its own (`!!python/object:…`) is not one we read."""
    return isinstance(node, MappingNode) and node.tag == MAP


def is_list(node: Node) -> bool:
    return isinstance(node, SequenceNode) and node.tag == SEQ


def kind_of(node: Node) -> str:
    if is_mapping(node):
        return "a mapping"
    if is_list(node):
        return "a list"
    if not isinstance(node, ScalarNode):
        return f"a value tagged {shown(node.tag)}"
    if node.tag == NULL:
        return "empty"
    if node.tag == STR:
        return "text"
    return _READ_AS.get(node.tag, f"a value tagged {shown(node.tag)}")


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == NULL)


def text(node: Node, where: str, problems: Problems, *, secret: bool = False) -> str | None:
    """The text of a scalar YAML reads as text; else a problem and None. A secret's value is never shown."""
    if isinstance(node, ScalarNode) and node.tag == STR:
        return node.value
    if isinstance(node, ScalarNode) and node.tag in _READ_AS and not secret:
        problems.add(node, where, f"must be text, and YAML reads {node.value} as {_READ_AS[node.tag]}: "
                                  f"put it in quotes (\"{node.value}\")")
    else:
        problems.add(node, where, f"must be text, not {kind_of(node)}")
    return None


def entries(node: MappingNode, where: str, problems: Problems) -> dict[str, tuple[ScalarNode, Node]]:
    """A mapping's keys (as written) to (key node, value node); a key given twice, or that is no text, is a problem."""
    found: dict[str, tuple[ScalarNode, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or is_null(key_node):
            problems.add(key_node, where, f"a key must be a name, not {kind_of(key_node)}")
            continue
        key = key_node.value
        if key == "<<":
            problems.add(key_node, where, "merge keys (<<) are not supported: write each key out")
        elif key in found:
            problems.add(key_node, _join(where, key),
                         f"given twice (first on line {line_of(found[key][0])}): say it once")
        else:
            found[key] = (key_node, value_node)
    return found


def unknown_keys(found: dict[str, tuple[ScalarNode, Node]], known: tuple[str, ...], where: str,
                 problems: Problems, what: str = "key") -> None:
    for key, (key_node, _) in found.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.add(key_node, where, f"unknown {what} {shown(key)}{hint}; the known {what}s are: "
                                          + ", ".join(known))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def section_items(node: Node, section: str, limit: int, problems: Problems) -> list[Node]:
    """A section's entries (`integrations:`, `schedules:`): a list of at most `limit`; none if absent or wrong."""
    if is_null(node):
        return []
    if not is_list(node):
        problems.add(node, section, f"must be a list of {section} (each starting with “- name:”), not {kind_of(node)}")
        return []
    if len(node.value) > limit:
        problems.add(node, section, f"{len(node.value)} {section}; at most {limit}")
        return []
    return list(node.value)


def entry_values(node: Node, where: str, keys: tuple[str, ...], required: tuple[str, ...],
                 problems: Problems) -> dict[str, Node] | None:
    """A section entry's values by key (null ones left out): a mapping of `keys` with every one of `required`,
    each problem added; None when it is no mapping at all."""
    if not is_mapping(node):
        problems.add(node, where, f"must be a mapping of {', '.join(keys)}, not {kind_of(node)}")
        return None
    found = entries(node, where, problems)
    unknown_keys(found, keys, where, problems)
    value = {key: value_node for key, (_, value_node) in found.items() if not is_null(value_node)}
    for key in required:
        if key not in value:
            problems.add(node, where, f"{key} is required")
    return value


def no_two_alike(read: list, section: str, field: str, problems: Problems) -> None:
    """`field` is unique among a section's entries (read: (node, value or None) pairs): each repeat is a problem."""
    first: dict[str, int] = {}
    for index, (item, found) in enumerate(read):
        if found is None:
            continue
        value = getattr(found, field)
        if value in first:
            problems.add(item, f"{section}[{index}].{field}", f"{shown(value)} is already the {field} of "
                                                              f"{section}[{first[value]}]; {field}s are unique")
        first.setdefault(value, index)
