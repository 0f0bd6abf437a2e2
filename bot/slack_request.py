"""Turning Flask's request into Bolt's, with one fix to Bolt's body parsing.

slack_bolt 1.30 treats any form body that merely *contains* the word
"payload" as an interaction payload (`if "payload" in body`), finds no such
field, and hands listeners an empty body: `/voiceotp payload` or an alert
whose message mentions a payload would be answered 404 ("http_client_error").
Slash commands are plain form fields, so we parse them as such.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Request
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context


class FormSafeBoltRequest(BoltRequest):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.mode == "http" and not self.raw_body.startswith("{") and "payload" in self.raw_body:
            fields = dict(parse_qsl(self.raw_body, keep_blank_values=True))
            if "payload" not in fields:
                self.body = fields
                self.context = build_context(BoltContext(kwargs.get("context") or {}), fields)

    def to_copyable(self) -> "FormSafeBoltRequest":
        # Lazy listeners get a copy, parsed again from the raw body: keep the fix.
        return FormSafeBoltRequest(
            body=self.raw_body if self.mode == "http" else self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )


def to_bolt_request(request: Request) -> FormSafeBoltRequest:
    return FormSafeBoltRequest(
        body=request.get_data(as_text=True),
        query=request.query_string.decode("utf-8"),
        headers=request.headers,
    )
