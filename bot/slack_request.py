"""Bolt's request, with Slack's body parsed by its fields rather than its text.

slack-bolt 1.30 (`slack_bolt.request.internals.parse_body`) treats any form body
that merely contains the text "payload" as an interaction (`payload=<json>`).
A slash command such as `/voicealert @ana the payload service is down` then
parses to nothing, no listener matches, and Slack shows the user
"http_client_error". Only a `payload` field makes an interaction.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.context.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context


def parse_slack_body(raw: str, content_type: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type == "application/json" or raw.startswith("{"):
        return json.loads(raw)
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in fields:  # buttons, modals, shortcuts
        return json.loads(fields["payload"])
    return fields  # slash commands


class SlackRequest(BoltRequest):
    def __init__(self, *, body: str | dict, context: dict | None = None, **kwargs):
        super().__init__(body=body, context=context, **kwargs)
        if isinstance(body, str):
            parsed = parse_slack_body(self.raw_body, self.content_type)
            if parsed != self.body:
                self.body = parsed
                self.context = build_context(BoltContext(context or {}), parsed)

    def to_copyable(self) -> "SlackRequest":
        # Lazy listeners get a copy rebuilt from the raw body: it must parse the same way.
        return SlackRequest(
            body=self.raw_body if self.mode == "http" else self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )
