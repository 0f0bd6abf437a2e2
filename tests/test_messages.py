"""Slack wording: pure functions over a call record."""

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from bot.codes.messages import (
    calling_reply,
    check_reply,
    format_cost,
    mask_number,
    status_blocks,
    status_text,
    usage_reply,
)
from bot.messages import format_duration, rate_limit_reply
from bot.mrkdwn import escape
from voice.calls.models import (
    ANSWERED,
    CALLING,
    ENDED,
    OTP,
    QUEUED,
    RINGING,
    Leg,
    Requester,
)
from voice.calls.numbers import parse_phone_number
from voice.calls.outcomes import Outcome
from voice.codes.models import CheckResult

CALL = Leg(
    id=1, token="tok", purpose=OTP, to_number="+14155550123", requester=Requester("U0ANA", "C1"),
    status=QUEUED, created_at=datetime(2026, 11, 29, tzinfo=timezone.utc), code_length=6, request_uuid="r-1",
)
AT = datetime(2026, 11, 29, 0, 1, tzinfo=timezone.utc)
HEAD = ":telephone_receiver: Voice code to +1 415-555-0123 requested by <@U0ANA>: "


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({"status": QUEUED}, "calling…"),
        ({"status": CALLING}, "calling…"),
        ({"status": RINGING}, "ringing…"),
        ({"status": ANSWERED}, "answered, waiting for a key press…"),
        ({"status": ANSWERED, "code_read_at": AT}, "answered, reading the code…"),
        ({"status": ANSWERED, "machine_at": AT}, ":vhs: voicemail answered: the code is not read, hanging up…"),
        ({"status": ENDED, "outcome": Outcome.ANSWERED, "duration": 21, "code_read_at": AT},
         ":white_check_mark: code read · 21 s"),
        ({"status": ENDED, "outcome": Outcome.ANSWERED, "duration": 65, "code_read_at": AT, "cost": "0.01700"},
         ":white_check_mark: code read · 1 min 5 s · $0.017"),
        ({"status": ENDED, "outcome": Outcome.ANSWERED, "duration": 14},
         ":warning: answered, but no key was pressed: code not read · 14 s"),
        ({"status": ENDED, "outcome": Outcome.VOICEMAIL, "duration": 9, "cost": "0.0085"},
         ":vhs: voicemail: code not read · 9 s · $0.0085"),
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
    assert second.startswith("Usage:\n• `/voiceotp &lt;number&gt;`")


def test_outside_text_cannot_mention_anyone():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_durations_read_naturally():
    assert [format_duration(s) for s in (None, 0, 59, 60, 125)] == \
        ["duration unknown", "0 s", "59 s", "1 min 0 s", "2 min 5 s"]


def test_a_generated_code_is_never_shown_even_masked():
    reply = calling_reply(parse_phone_number("+14155550123"), None)
    assert "•" not in reply and "never shown here" in reply
    assert "`/voiceotp check +14155550123 &lt;code&gt;`" in reply


@pytest.mark.parametrize(
    ("result", "reply"),
    [
        (CheckResult("verified", 5), ":white_check_mark: verified: the code for +1 415-555-0123 is correct."),
        (CheckResult("wrong", 4), ":x: wrong code (4 tries left)."),
        (CheckResult("wrong", 1), ":x: wrong code (1 try left)."),
        (CheckResult("dead", 0), ":x: wrong code, and no tries are left: the code for +1 415-555-0123 is dead. "
                                 "Request a new one with `/voiceotp +14155550123`."),
        (CheckResult("expired", 0), ":hourglass: expired: the code for +1 415-555-0123 is no longer valid. "
                                    "Request a new one."),
    ],
)
def test_each_check_result_reads_as_a_sentence(result, reply):
    assert check_reply(parse_phone_number("+14155550123"), result) == reply


def test_a_rate_limit_says_when_in_each_readers_time_zone():
    frees = datetime(2026, 11, 29, 10, 42, tzinfo=timezone.utc)
    reply = rate_limit_reply("Limit reached: at most 3 calls to one number per 10 minutes.", frees,
                             datetime(2026, 11, 29, 10, 36, tzinfo=timezone.utc))
    assert reply == (":no_entry: Limit reached: at most 3 calls to one number per 10 minutes. The next call is "
                     f"possible at <!date^{int(frees.timestamp())}^{{time}}|10:42 UTC> (in 6 min). No call was placed.")


def test_api_calls_are_reported_with_a_masked_number():
    call = replace(CALL, requester=Requester("api:k1a2b3c4", "C0AUDIT"))
    assert status_text(call) == \
        ":lock: Voice code to +1 415-•••-0123 requested through the API (key k1a2b3c4): calling…"
    assert mask_number("+442071838750") == "+44 20 7••• 8750"


def test_costs_read_as_dollars():
    assert [format_cost(c) for c in ("0.00850", "0.0170", "0.1", "1", "oops", None)] == \
        ["$0.0085", "$0.017", "$0.10", "$1.00", None, None]


def test_a_failure_reported_by_plivo_before_its_create_reply_is_not_called_unplaced():
    # The hangup callback can arrive before we store the request UUID from the create-call reply.
    call = replace(CALL, status=ENDED, outcome=Outcome.FAILED, cause="the number does not exist (invalid destination)",
                   request_uuid=None, call_uuid="c-1")
    assert status_text(call) == HEAD + ":x: failed: the number does not exist (invalid destination)"
