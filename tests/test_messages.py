"""Slack wording: pure functions over a call record."""

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from bot.messages import calling_reply, escape, format_duration, status_blocks, status_text, usage_reply
from voice.models import ANSWERED, CALLING, ENDED, QUEUED, RINGING, CallRecord, Requester
from voice.numbers import parse_phone_number
from voice.outcomes import Outcome

CALL = CallRecord(
    token="tok", kind="otp", to_number="+14155550123", requester=Requester("U0ANA", "C1"),
    status=QUEUED, created_at=datetime(2026, 11, 29, tzinfo=timezone.utc), code_length=6, request_uuid="r-1",
)
HEAD = ":telephone_receiver: Voice code to +1 415-555-0123 requested by <@U0ANA>: "


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({"status": QUEUED}, "calling…"),
        ({"status": CALLING}, "calling…"),
        ({"status": RINGING}, "ringing…"),
        ({"status": ANSWERED}, "answered, reading the code…"),
        ({"status": ENDED, "outcome": Outcome.ANSWERED, "duration": 21}, ":white_check_mark: answered, 21 s"),
        ({"status": ENDED, "outcome": Outcome.ANSWERED, "duration": 65}, ":white_check_mark: answered, 1 min 5 s"),
        ({"status": ENDED, "outcome": Outcome.BUSY}, ":no_entry_sign: busy"),
        ({"status": ENDED, "outcome": Outcome.NO_ANSWER}, ":no_entry_sign: no answer"),
        ({"status": ENDED, "outcome": Outcome.CANCELLED}, ":heavy_multiplication_x: cancelled"),
        ({"status": ENDED, "outcome": Outcome.FAILED, "cause": "the number is out of service"},
         ":x: failed: the number is out of service"),
        ({"status": ENDED, "outcome": Outcome.FAILED, "cause": "Plivo said <no> & left", "request_uuid": None},
         ":x: failed: the call could not be placed. Plivo said &lt;no&gt; &amp; left"),
    ],
)
def test_the_status_line_says_where_the_call_is(changes, state):
    call = replace(CALL, **changes)
    assert status_text(call) == HEAD + state
    assert status_blocks(call) == [{"type": "section", "text": {"type": "mrkdwn", "text": HEAD + state}}]


def test_the_ack_masks_the_code():
    assert calling_reply(parse_phone_number("+14155550123"), 6) == \
        ":telephone_receiver: Calling +1 415-555-0123… (code ••••••)"


def test_a_refusal_says_the_problem_then_the_usage():
    reply = usage_reply("The code is missing: put it after the number.")
    first, second = reply.split("\n", 1)
    assert first == ":warning: The code is missing: put it after the number."
    assert second.startswith("Usage: `/voiceotp <number> <code>`")


def test_outside_text_cannot_mention_anyone():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_durations_read_naturally():
    assert [format_duration(s) for s in (None, 0, 59, 60, 125)] == \
        ["duration unknown", "0 s", "59 s", "1 min 0 s", "2 min 5 s"]
