"""The server's log: one format, with secrets, request bodies and response URLs kept out.

What may never reach a log line: the configured secrets (tokens, signing
secrets, keys), a request's body (a slash command's body holds the code and a
working `response_url`), Slack's `response_url`s, which anyone holding them
can post with, a call's whole token (a request line shows it; it is cut
here as our own lines cut it), and a `token=` in a URL's query (a schedule's
calendar feed, the generic webhook: gunicorn's line for a failed request shows
the whole URL). Libraries decide for themselves what to log
(slack_bolt logs a rejected request's whole body at INFO; slack_sdk logs
request bodies and webhook URLs at DEBUG; gunicorn logs each request's line
at DEBUG), so the redaction happens here, on every record, whatever logger
wrote it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone

from voice import log_context
from voice.log_context import token_for_log

REDACTED = "[redacted]"
BODY_NOT_LOGGED = "[request body not logged]"

# Where a library's message starts to show a body: "body: …", "body_params: …",
# "json_body: …", 'Responding with status: 200 body: "…"'.
_BODY_START = re.compile(r"(?i)\b(?:body|body_params|json_body|payload|raw_body)\b\s*[:=]")
# A Slack response_url (https://hooks.slack.com/commands/T…/…/…, and the same shape on any host).
_RESPONSE_URL = re.compile(r"https?://[^\s'\"<>]*?/(?:commands|actions|workflows|triggers)/T[A-Z0-9]+/[^\s'\",)<>]*")
_LIBRARIES = ("slack_bolt", "slack_sdk")
# A call's token in a callback path (/plivo/answer/<token>, /plivo/alert/keys/<token>): request
# lines carry them (gunicorn's at DEBUG, urllib3's in the sandbox), and a token opens its call.
_CALLBACK_TOKEN = re.compile(r"(/plivo/(?:[A-Za-z_]+/){1,2})([A-Za-z0-9_-]{16,})")

# A token in a query string (?token=…, &token=…, percent-encoded or not), up to the next parameter.
_QUERY_TOKEN = re.compile(r"(?i)([?&;]token=)[^&#\s'\"<>]+")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret, every response_url and every query's token replaced, and call tokens
    shortened."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _CALLBACK_TOKEN.sub(lambda found: found[1] + token_for_log(found[2]) + "…", text)
    text = _QUERY_TOKEN.sub(lambda found: found[1] + REDACTED, text)
    return _RESPONSE_URL.sub("[response_url]", text)


def without_body(message: str) -> str:
    """A library's message cut where it starts to show a request or response body."""
    found = _BODY_START.search(message)
    return message if found is None else message[: found.start()] + BODY_NOT_LOGGED


class RedactingFormatter(logging.Formatter):
    """Format a record, then remove secrets and response_urls, tracebacks included;
    libraries' records lose any body they carry."""

    def __init__(self, fmt: str, secrets: tuple[str, ...]):
        super().__init__(fmt)
        # Very short values would redact ordinary words; no real secret is that short.
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def format(self, record: logging.LogRecord) -> str:
        if record.name.startswith(_LIBRARIES):
            record = _copy_with_message(record, without_body(record.getMessage()))
        return redact(super().format(record), self._secrets)


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context
    (call, alert, team, request, work) where known, and a traceback as `exception`; each
    string redacted as the text format's line is."""

    def __init__(self, secrets: tuple[str, ...]):
        super().__init__("%(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name.startswith(_LIBRARIES):
            message = without_body(message)
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(message, self._secrets),
        }
        context = log_context.current()  # formatted in the thread that logged, so its context
        line.update((name, redact(context[name], self._secrets)) for name in log_context.FIELDS if name in context)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info), self._secrets)
        return json.dumps(line, ensure_ascii=False)


def formatter(log_format: str, secrets: tuple[str, ...]) -> logging.Formatter:
    return JsonFormatter(secrets) if log_format == "json" else RedactingFormatter(FORMAT, secrets)


def _copy_with_message(record: logging.LogRecord, message: str) -> logging.LogRecord:
    copy = logging.makeLogRecord(record.__dict__)
    copy.msg, copy.args = message, None
    return copy


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, secrets: tuple[str, ...], log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format, secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def logging_dict(level: str, secrets: tuple[str, ...], log_format: str = "text") -> dict:
    """The same logging as a dictConfig, for gunicorn (which configures logging in each of its processes)."""
    handler = {"class": "logging.StreamHandler", "formatter": "redacting", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"redacting": {"()": formatter, "log_format": log_format, "secrets": tuple(secrets)}},
        "handlers": {"console": handler, "error_console": handler},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
