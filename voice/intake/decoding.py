"""A request body (bytes) as JSON, or why not: the first step of every intake route."""

from __future__ import annotations

import json
from typing import Any

from voice.intake.models import Problem, Rejected, rejected

#: Deeper than any sender nests (Alertmanager: 3 levels; PagerDuty's custom_details are the sender's own),
#: and shallow enough that nothing walking the value recursively runs out of stack.
DEPTH_MAX = 64


def decode_json(body: bytes) -> dict[str, Any] | Rejected:
    """The body's JSON object, or a 400 saying what is wrong with it (never quoting it)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return rejected(400, Problem("", "the body is not UTF-8 text"))
    if not text.strip():
        return rejected(400, Problem("", "the body is empty; send a JSON object"))
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return rejected(400, Problem("", f"the body is nested deeper than {DEPTH_MAX} levels"))
    except ValueError as error:  # json.JSONDecodeError, or a NaN/Infinity, or an over-long integer
        where = f" at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        return rejected(400, Problem("", f"the body is not valid JSON{where}"))
    if not isinstance(value, dict):
        return not_an_object(value)
    if too_deep(value, DEPTH_MAX):
        return rejected(400, Problem("", f"the body is nested deeper than {DEPTH_MAX} levels"))
    return value


def not_an_object(value: Any) -> Rejected:
    """The 400 for a body that is JSON but not an object (each parser's first check)."""
    return rejected(400, Problem("", f"the body must be a JSON object, not {type_name(value)}"))


def too_deep(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` levels deep (walked without recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for item in level if isinstance(item, (dict, list))
                 for child in (item.values() if isinstance(item, dict) else item)]
        if not any(isinstance(item, (dict, list)) for item in level):
            return False
    return True


def type_name(value: Any) -> str:
    """What a JSON value is, as an error message says it: "a list", "a number", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "not JSON"


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON (RFC 8259) has no place for.
    raise ValueError(f"{name} is not JSON")
