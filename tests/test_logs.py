"""The log formats: text by default, JSON with LOG_FORMAT=json; both keep secrets, bodies and
response_urls out, and JSON lines carry what the line is about."""

from __future__ import annotations

import json
import logging
import sys

from answer_server.logs import JsonFormatter, RedactingFormatter, formatter
from voice.log_context import log_context

SECRET = "xoxb-a-secret-token-value"
RESPONSE_URL = "https://hooks.slack.com/commands/T0001/123/abcdef"


def record(message: str, *args, name: str = "voice.calls.dialing", level: int = logging.INFO,
           exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, exc_info)


def test_a_json_line_has_time_level_logger_message_and_its_context():
    with log_context(call="4Onszq", request="a1b2c3d4e5f6a7b8"), log_context(team="T0001", alert=None):
        line = json.loads(JsonFormatter((SECRET,)).format(record("call %s placed", "4Onszq")))
    assert line["level"] == "INFO" and line["logger"] == "voice.calls.dialing"
    assert line["message"] == "call 4Onszq placed"
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert (line["call"], line["request"], line["team"]) == ("4Onszq", "a1b2c3d4e5f6a7b8", "T0001")
    assert "alert" not in line  # None is left out


def test_context_ends_with_its_block():
    with log_context(call="4Onszq"):
        pass
    assert "call" not in json.loads(JsonFormatter(()).format(record("later")))


def test_json_lines_are_redacted_as_text_lines_are():
    json_format, text_format = JsonFormatter((SECRET,)), RedactingFormatter("%(message)s", (SECRET,))
    library = record(f"Invalid request signature detected (body: text=%2B14155550123+483920&response_url={RESPONSE_URL})",
                     name="slack_bolt.App")
    ours = record(f"token {SECRET} and {RESPONSE_URL}")
    for made in (json_format.format(library), json_format.format(ours), text_format.format(ours)):
        assert SECRET not in made and RESPONSE_URL not in made and "483920" not in made


def test_a_call_token_in_any_loggers_request_line_is_cut_to_its_first_six_characters():
    token = "RlB1jEYdWsnX2GPnI9E2Z_JRcAEUqDT_"
    lines = [record("%s %s", "POST", f"/plivo/answer/{token}", name="gunicorn.error", level=logging.DEBUG),
             record('http://127.0.0.1:3000 "POST /plivo/alert/keys/%s HTTP/1.1" 200 312', token,
                    name="urllib3.connectionpool")]
    made = [RedactingFormatter("%(message)s", ()).format(line) for line in lines]
    assert made == ["POST /plivo/answer/RlB1jE…",
                    'http://127.0.0.1:3000 "POST /plivo/alert/keys/RlB1jE… HTTP/1.1" 200 312']
    assert json.loads(JsonFormatter(()).format(lines[0]))["message"] == "POST /plivo/answer/RlB1jE…"
    assert RedactingFormatter("%(message)s", ()).format(record("GET /plivo/answer/short")) == "GET /plivo/answer/short"


def test_a_token_in_a_urls_query_never_reaches_a_line():
    token = "Zm9vYmFyYmF6cXV4cXV1eA-feed_token"
    lines = [record("Error handling request %s %s", "GET", f"/schedules/backend.ics?token={token}",
                    name="gunicorn.error", level=logging.ERROR),
             record('"GET /integrations/generic?x=1&Token=%s HTTP/1.1" 202', token, name="urllib3.connectionpool")]
    made = [RedactingFormatter("%(message)s", ()).format(line) for line in lines]
    assert made == ["Error handling request GET /schedules/backend.ics?token=[redacted]",
                    '"GET /integrations/generic?x=1&Token=[redacted] HTTP/1.1" 202']
    assert token not in JsonFormatter(()).format(lines[0])


def test_a_traceback_is_one_json_field_and_redacted():
    try:
        raise RuntimeError(f"Slack refused {SECRET}")
    except RuntimeError:
        failed = record("posting failed", level=logging.ERROR, exc_info=sys.exc_info())
    made = JsonFormatter((SECRET,)).format(failed)
    assert "\n" not in made
    line = json.loads(made)
    assert "RuntimeError" in line["exception"] and SECRET not in line["exception"]


def test_text_stays_the_default():
    assert type(formatter("text", ())) is RedactingFormatter
    assert isinstance(formatter("json", ()), JsonFormatter)
