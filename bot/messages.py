"""Every word the bot says in Slack, as pure functions.

One place to check that a code never reaches a message: nothing here is
ever given one, only its length.
"""

from __future__ import annotations

from voice.models import ANSWERED, RINGING, CallRecord
from voice.numbers import PhoneNumber, display_number
from voice.outcomes import Outcome

USAGE = (
    "Usage: `/voiceotp <number> <code>`, for example `/voiceotp +1 415 555 0123 483920`.\n"
    "The number needs a + and its country code (spaces, dots, dashes and parentheses are fine); "
    "the code is 4 to 10 digits. I call the number and read the code aloud, digit by digit."
)


def usage_reply(problem: str | None = None) -> str:
    """A refusal: what was wrong, then how to use the command."""
    return f":warning: {escape(problem)}\n{USAGE}" if problem else USAGE


def refusal_reply(reason: str) -> str:
    """A valid request we will not carry out (policy): why, and that no call was placed."""
    return f":no_entry: {escape(reason)} No call was placed."


def calling_reply(number: PhoneNumber, code_length: int) -> str:
    """The requester's ephemeral acknowledgement; the code is masked."""
    return f":telephone_receiver: Calling {number.display}… (code {'•' * code_length})"


def status_text(call: CallRecord) -> str:
    """The channel's status line for a call, in its current state."""
    head = (
        f":telephone_receiver: Voice code to {display_number(call.to_number)} "
        f"requested by <@{call.requester.user_id}>"
    )
    return f"{head}: {_state(call)}"


def status_blocks(call: CallRecord) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": status_text(call)}}]


def failure_reply(problem: str) -> str:
    """Told to the requester when the call could not be started at all."""
    return f":x: {escape(problem)}"


def _state(call: CallRecord) -> str:
    if call.ended:
        return _ending(call)
    if call.status == ANSWERED:
        return "answered, reading the code…"
    if call.status == RINGING:
        return "ringing…"
    return "calling…"


def _ending(call: CallRecord) -> str:
    if call.outcome is Outcome.ANSWERED:
        return f":white_check_mark: answered, {format_duration(call.duration)}"
    if call.outcome is Outcome.BUSY:
        return ":no_entry_sign: busy"
    if call.outcome is Outcome.NO_ANSWER:
        return ":no_entry_sign: no answer"
    if call.outcome is Outcome.CANCELLED:
        return ":heavy_multiplication_x: cancelled"
    cause = escape(call.cause or "an unknown reason")
    if call.request_uuid is None:
        return f":x: failed: the call could not be placed. {cause}"
    return f":x: failed: {cause}"


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "duration unknown"
    minutes, seconds = divmod(max(seconds, 0), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping, so outside text cannot mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
