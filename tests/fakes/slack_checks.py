"""What Slack would refuse or show wrongly in a message we send, as lists of problems.

Block Kit is checked with Slack's own models (slack_sdk.models: `Block.parse_all`,
then `validate_json()` on each block, and a round trip that loses no field);
text is checked as Slack reads mrkdwn: every `<` opens a control sequence we
meant, every `&` is an escape, nothing is escaped twice, no control characters.
https://docs.slack.dev/messaging/formatting-message-text
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

# The control sequences the app may mean, at a `<`.
_CONTROL = re.compile(
    r"<(?:@[UW][A-Z0-9]+(?:\|[^<>]*)?"
    r"|#C[A-Z0-9]+(?:\|[^<>]*)?"
    r"|!subteam\^[A-Z0-9]+(?:\|[^<>]*)?"
    r"|!(?:here|channel|everyone)"
    r"|!date\^[0-9]+\^[^|<>]+\|[^<>]+"
    r"|(?:https?|mailto|tel):[^|<>\s]+(?:\|[^<>]+)?)>"
)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_TWICE = re.compile(r"&amp;(?:amp|lt|gt);")
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def mrkdwn_problems(text: str) -> list[str]:
    problems = []
    if _TWICE.search(text):
        problems.append(f"text escaped twice: {_around(text, _TWICE.search(text).start())!r}")
    if _UNFIT.search(text):
        problems.append(f"control character in text: {_around(text, _UNFIT.search(text).start())!r}")
    position = 0
    while position < len(text):
        ch = text[position]
        if ch == "<":
            control = _CONTROL.match(text, position)
            if not control:
                problems.append(f"raw '<' that is no control sequence: {_around(text, position)!r}")
                position += 1
                continue
            position = control.end()
            continue
        if ch == "&" and not _ENTITY.match(text, position):
            problems.append(f"raw '&' that is no escape: {_around(text, position)!r}")
        if ch == ">" and position > 0 and text[position - 1] != "\n":
            problems.append(f"raw '>' outside a quote: {_around(text, position)!r}")
        position += 1
    return problems


def block_kit_problems(blocks: Any, most: int = 50) -> list[str]:
    """`most`: a message holds 50 blocks, a modal or Home tab 100."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return [f"blocks is not a list: {type(blocks).__name__}"]
    if len(blocks) > most:
        return [f"{len(blocks)} blocks; at most {most} fit"]
    problems = []
    for index, (raw, block) in enumerate(zip(blocks, Block.parse_all(blocks))):
        if block is None:
            problems.append(f"block {index} is not a Block Kit block: {raw!r:.200}")
            continue
        try:
            block.validate_json()
            round_trip = block.to_dict()  # validates again, and drops what slack_sdk does not know
        except SlackObjectFormationError as error:
            problems.append(f"block {index}: {error}")
            continue
        if round_trip != raw:
            problems.append(f"block {index} has fields Slack does not know: {raw!r:.300}")
        problems += [f"block {index}: {problem}" for text in _mrkdwn_texts(raw) for problem in mrkdwn_problems(text)]
    return problems


def message_problems(payload: dict) -> list[str]:
    """A chat.postMessage / chat.update / response_url payload."""
    problems = []
    text = payload.get("text")
    if payload.get("blocks") and not text:
        problems.append("blocks without a top-level text (the notification would be empty)")
    if isinstance(text, str):
        if len(text) > 40000:
            problems.append(f"text of {len(text)} characters; Slack truncates beyond 40000")
        problems += mrkdwn_problems(text)
    return problems + block_kit_problems(payload.get("blocks"))


def view_problems(view: Any) -> list[str]:
    """A modal or Home tab as views.open / views.update / views.publish send it: Slack's View model, its blocks."""
    if not isinstance(view, dict):
        return [f"view is not an object: {type(view).__name__}"]
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as error:
        return [f"view: {error}"]
    return block_kit_problems(view.get("blocks") or [], most=100)


def _mrkdwn_texts(node: Any):
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mrkdwn_texts(value)


def _around(text: str, position: int) -> str:
    return text[max(0, position - 30): position + 30]
