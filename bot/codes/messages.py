"""Every word the bot says about voice codes in Slack, and a code's status message. Pure.

One place to check that a code never reaches a message: nothing here is
ever given one, only its length.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bot.messages import API_PREFIX, format_duration
from bot.mrkdwn import escape, mention, slack_text
from voice.calls.lifecycle import NOT_CONFIRMED, PLIVO_TROUBLE
from voice.calls.models import ANSWERED, RINGING, Leg
from voice.calls.numbers import PhoneNumber, display_number
from voice.calls.outcomes import Outcome
from voice.codes.models import CheckResult

USAGE = escape(
    "Usage:\n"
    "• `/voiceotp <number>`: call the number and read it a new code (never shown here)\n"
    "• `/voiceotp <number> <code>`: call and read your own code, 4 to 10 digits\n"
    "• `/voiceotp check <number> <code>`: check the code the person tells you\n"
    "Add `lang=es` (en, es, fr, de, pt, it, hi) to choose the language; by default it is the number's country's. "
    "The number needs a + and its country code, e.g. `/voiceotp +1 415 555 0123`."
)


def usage_reply(problem: str | None = None) -> str:
    """A refusal: what was wrong, then how to use the command."""
    return f"{slack_text(':warning: ', problem)}\n{USAGE}" if problem else USAGE


def calling_reply(number: PhoneNumber, code_length: int | None) -> str:
    """The requester's ephemeral acknowledgement; the code is masked, a generated one never shown."""
    if code_length is None:
        return slack_text(f":telephone_receiver: Calling {number.display}… with a new code, which is never shown "
                          f"here. When they tell you the code, check it with `/voiceotp check {number.e164} <code>`.")
    return slack_text(f":telephone_receiver: Calling {number.display}… (code {'•' * code_length})")


def check_reply(number: PhoneNumber, result: CheckResult) -> str:
    """The answer to `/voiceotp check`: verified, wrong (with tries left), expired…"""
    shown = number.display
    if result.valid:
        return slack_text(f":white_check_mark: verified: the code for {shown} is correct.")
    if result.outcome == "wrong":
        tries = "1 try" if result.attempts_left == 1 else f"{result.attempts_left} tries"
        return slack_text(f":x: wrong code ({tries} left).")
    if result.outcome == "dead":
        return slack_text(f":x: wrong code, and no tries are left: the code for {shown} is dead. "
                          f"Request a new one with `/voiceotp {number.e164}`.")
    if result.outcome == "expired":
        return slack_text(f":hourglass: expired: the code for {shown} is no longer valid. Request a new one.")
    if result.outcome == "already_verified":
        return slack_text(f"The code for {shown} was already verified; request a new one to verify again.")
    return slack_text(f"No code is waiting for {shown}. Request one first with `/voiceotp {number.e164}`.")


def verified_announcement(number: PhoneNumber, user_id: str, code_length: int) -> str:
    """Posted in the channel when a check succeeds; the code stays masked."""
    return slack_text(f":white_check_mark: The code for {number.display} was verified by ", mention(user_id),
                      f" ({'•' * code_length}).")


def status_text(call: Leg) -> str:
    """The channel's status line for a call, in its current state."""
    if call.requester.user_id.startswith(API_PREFIX):
        label = call.requester.user_id.removeprefix(API_PREFIX)
        head = slack_text(f":lock: Voice code to {mask_number(call.to_number)} requested through the API (key {label})")
    else:
        head = slack_text(f":telephone_receiver: Voice code to {display_number(call.to_number)} requested by ",
                          mention(call.requester.user_id))
    return f"{head}: {slack_text(_state(call))}"


def status_blocks(call: Leg) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": status_text(call)}}]


def mask_number(e164: str) -> str:
    """+1 415-555-0123 → +1 415-•••-0123: enough to recognise, not enough to reuse."""
    shown = display_number(e164)
    digits = [i for i, ch in enumerate(shown) if ch.isdigit()]
    hidden = set(digits[-7:-4])  # the three digits before the last four
    return "".join("•" if i in hidden else ch for i, ch in enumerate(shown))


def _state(call: Leg) -> str:
    if call.ended:
        return _ending(call)
    if call.machine_at is not None:
        return ":vhs: voicemail answered: the code is not read, hanging up…"
    if call.status == ANSWERED:
        return "answered, reading the code…" if call.code_read_at else "answered, waiting for a key press…"
    if call.status == RINGING:
        return "ringing…"
    if call.unconfirmed:
        return f":hourglass: {NOT_CONFIRMED}…"
    if call.retrying:
        return f":hourglass: {PLIVO_TROUBLE}…"
    return "calling…"


def _ending(call: Leg) -> str:
    extras = "".join(f" · {part}" for part in (_duration(call), format_cost(call.cost)) if part)
    if call.outcome is Outcome.ANSWERED:
        if call.kind == "otp" and call.code_read_at is None:
            return f":warning: answered, but no key was pressed: code not read{extras}"
        return f":white_check_mark: code read{extras}" if call.kind == "otp" else f":white_check_mark: answered{extras}"
    if call.outcome is Outcome.VOICEMAIL:
        return f":vhs: voicemail: code not read{extras}"
    if call.outcome is Outcome.BUSY:
        return ":no_entry_sign: busy"
    if call.outcome is Outcome.NO_ANSWER:
        return ":no_entry_sign: no answer"
    if call.outcome is Outcome.CANCELLED:
        return ":heavy_multiplication_x: cancelled"
    # Plain text: status_text escapes the whole state once.
    cause = call.cause or "an unknown reason"
    # Plivo refused the request itself: no call UUID ever came back. (A hangup
    # callback always carries one, even when it beats the create-call reply.)
    if call.request_uuid is None and call.call_uuid is None and call.confirm_by is None:
        return f":x: failed: the call could not be placed. {cause}"
    return f":x: failed: {cause}"


def _duration(call: Leg) -> str | None:
    return format_duration(call.duration) if call.duration is not None else None


def format_cost(cost: str | None) -> str | None:
    """Plivo's "0.00850" → "$0.0085"; at least cents, no trailing zeros beyond them."""
    if cost is None:
        return None
    try:
        amount = Decimal(cost)
    except InvalidOperation:
        return None
    text = f"{amount:.5f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"
