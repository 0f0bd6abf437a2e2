"""Bolt's request, with Slack's body parsed by its fields rather than its text.

slack-bolt 1.30 (`slack_bolt.request.internals.parse_body`) treats any form body
that merely contains the text "payload" as an interaction (`payload=<json>`).
A slash command such as `/voicealert @ana the payload service is down` then
parses to nothing, no listener matches, and Slack shows the user
"http_client_error". Only a `payload` field makes an interaction.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping
from urllib.parse import parse_qsl

from slack_bolt.context.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signed_by_slack(verifier: SignatureVerifier, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether Slack signed this request in the last five minutes (v0 signature, constant time).

    Checked here, before Bolt, because Bolt's own check logs a refused
    request's whole body (a code and a working response_url among it) and
    answers a non-numeric timestamp with a 500.
    https://docs.slack.dev/authentication/verifying-requests-from-slack/
    """
    if not carries_slack_signature(headers):
        return False
    return verifier.is_valid(raw_body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])


def carries_slack_signature(headers: Mapping[str, str]) -> bool:
    """Whether a request has Slack's signature headers, the timestamp of its shape: a request without
    them is refused before its body is read."""
    return bool(_TIMESTAMP.fullmatch(headers.get("X-Slack-Request-Timestamp", ""))
                and headers.get("X-Slack-Signature"))


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
