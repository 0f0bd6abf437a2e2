"""Every word the bot says about alerts in Slack, and the alert message's blocks. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.messages import escape, format_duration
from voice.alert_models import ACKNOWLEDGED, ACTIVE, CANCELLED, EXHAUSTED, VIA_PHONE, AlertRecord, AlertView, Skipped
from voice.alert_plan import (
    ACKNOWLEDGED_STATE,
    ANSWERED_STATE,
    BUSY,
    CANCELLED_STATE,
    FAILED,
    NO_ANSWER,
    NOT_ACKNOWLEDGED,
    QUEUED,
    RINGING_STATE,
    VOICEMAIL,
    WAITING,
    latest_legs,
    leg_state,
)
from voice.numbers import display_number

ACK_ACTION = "alert_acknowledge"
CANCEL_ACTION = "alert_cancel"

ALERT_USAGE = (
    "Usage: `/voicealert <who> <message>`, for example "
    "`/voicealert @alice > @bob > +14155550199 The database is down`.\n"
    "Who: @people, @user-groups, or numbers with + and the country code, written without spaces. "
    "Separated by spaces or commas they are called at once; separated by `>` one after the other, "
    "each only if nobody before acknowledged. The message (up to 1000 characters) is read to each "
    "person, who presses 1 to acknowledge."
)

# A section's text holds at most 3000 characters (Block Kit).
_SECTION_MAX = 2900

NOT_CALLED = "not called"  # the alert ended before this link of the chain was reached
_STATE_ICONS = {
    WAITING: ":double_vertical_bar:",
    QUEUED: ":hourglass_flowing_sand:",
    RINGING_STATE: ":bell:",
    ANSWERED_STATE: ":speaking_head_in_silhouette:",
    VOICEMAIL: ":mailbox_with_mail:",
    BUSY: ":no_entry_sign:",
    NO_ANSWER: ":no_bell:",
    FAILED: ":x:",
    ACKNOWLEDGED_STATE: ":white_check_mark:",
    CANCELLED_STATE: ":heavy_multiplication_x:",
    NOT_ACKNOWLEDGED: ":speaking_head_in_silhouette:",
    NOT_CALLED: ":heavy_minus_sign:",
}
# What the line says, where the state's name alone would not be enough.
_STATE_WORDS = {
    VOICEMAIL: "voicemail — not acknowledged",
    WAITING: "waiting for the earlier calls",
}


def alert_usage_reply(problem: str | None = None) -> str:
    return f":warning: {escape(problem)}\n{ALERT_USAGE}" if problem else ALERT_USAGE


def starting_reply(people: int) -> str:
    """The requester's immediate acknowledgement."""
    return f":rotating_light: Raising the alert: looking up {people} recipient{'s' if people != 1 else ''}…"


def not_called_reply(skipped: tuple[Skipped, ...], nobody_left: bool) -> str:
    """Tells the requester who will not be called, and why."""
    lines = [f"• {item.label}: {escape(item.reason)}" for item in skipped]
    head = ":no_entry: Nobody can be called, so no call was placed:" if nobody_left else \
        ":warning: Not calling everyone:"
    return "\n".join([head, *lines])


def failure_reply(problem: str) -> str:
    return f":x: {escape(problem)}"


def alert_text(view: AlertView) -> str:
    """The notification text: who raised it, the message, where it stands."""
    alert = view.alert
    return f":rotating_light: Alert from <@{alert.requester.user_id}>: {escape(alert.message)[:300]} — {_status(alert, None)}"


def alert_blocks(view: AlertView) -> list[dict]:
    alert = view.alert
    blocks = [
        _section(f":rotating_light: *Alert* from <@{alert.requester.user_id}>\n{_quote(alert.message)}"),
        _section(_status(alert, view)),
    ]
    blocks += [_section(chunk) for chunk in _chunks(_recipient_lines(view))]
    buttons = _buttons(alert)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"alert-{alert.id}", "elements": buttons})
    return blocks


def gave_up_text(alert: AlertRecord) -> str:
    """Posted in the alert's thread, so the requester is notified (an edit notifies nobody)."""
    rounds = f"{alert.rounds} round{'s' if alert.rounds != 1 else ''} of calls"
    return (f"<@{alert.requester.user_id}> :warning: Nobody acknowledged the alert after {rounds}. "
            "You can still acknowledge it here.")


def too_late_reply(alert: AlertRecord | None) -> str:
    """For a button pressed on an alert someone else already took."""
    if alert is None:
        return ":grey_question: This alert no longer exists."
    if alert.status == ACKNOWLEDGED:
        return f":white_check_mark: {_who(alert)} already acknowledged this alert {_how(alert)}."
    if alert.status == CANCELLED:
        return f":heavy_multiplication_x: <@{alert.resolved_by}> already cancelled this alert."
    return ":grey_question: This alert cannot be cancelled any more."


# -- parts ---------------------------------------------------------------------


def _status(alert: AlertRecord, view: AlertView | None) -> str:
    after = format_duration(_seconds(alert.created_at, alert.resolved_at))
    if alert.status == ACKNOWLEDGED:
        return f":white_check_mark: *Acknowledged* by {_who(alert)} {_how(alert)} after {after}."
    if alert.status == CANCELLED:
        return f":heavy_multiplication_x: *Cancelled* by <@{alert.resolved_by}> in Slack after {after}. Every call was stopped."
    if alert.status == EXHAUSTED:
        return f":warning: *Nobody acknowledged* after {alert.rounds} round{'s' if alert.rounds != 1 else ''} of calls. <@{alert.requester.user_id}>"
    if alert.next_at:
        stamp = int(alert.next_at.timestamp())
        return (f":hourglass: Nobody has acknowledged yet. Round {alert.round + 2} of {alert.rounds} "
                f"starts <!date^{stamp}^at {{time_secs}}|at {alert.next_at:%H:%M:%S} UTC>.")
    return f":telephone_receiver: Calling… round {alert.round + 1} of {alert.rounds}."


def _who(alert: AlertRecord) -> str:
    if alert.resolved_by:
        return f"<@{alert.resolved_by}>"
    if alert.resolved_number:
        return display_number(alert.resolved_number)
    return "someone"


def _how(alert: AlertRecord) -> str:
    return "by phone" if alert.resolved_via == VIA_PHONE else "in Slack"


def _recipient_lines(view: AlertView) -> list[str]:
    alert = view.alert
    latest = latest_legs(view.legs)
    chain = alert.stages > 1
    lines = []
    for index, target in enumerate(alert.targets):
        leg = latest.get(index)
        state = leg_state(alert, leg)
        if alert.status != ACTIVE and state == WAITING:
            state = NOT_CALLED
        state_text = _STATE_WORDS.get(state, state)
        if leg:
            if state == FAILED and leg.cause:
                state_text = f"failed: {escape(leg.cause)}"
            if alert.rounds > 1:
                state_text += f" · call {leg.position // alert.stages + 1} of {alert.rounds}"
        who = f"<@{target.user_id}>" if target.user_id else display_number(target.number)
        prefix = f"{target.stage + 1}." if chain else "•"
        lines.append(f"{prefix} {who} {_STATE_ICONS.get(state, '')} {state_text}")
    lines += [f"• {item.label} :no_entry: not called: {escape(item.reason)}" for item in alert.skipped]
    return lines


def _buttons(alert: AlertRecord) -> list[dict]:
    if alert.status not in (ACTIVE, EXHAUSTED):
        return []
    buttons = [{
        "type": "button", "action_id": ACK_ACTION, "value": str(alert.id), "style": "primary",
        "text": {"type": "plain_text", "text": "Acknowledge"},
    }]
    if alert.status == ACTIVE:
        buttons.append({
            "type": "button", "action_id": CANCEL_ACTION, "value": str(alert.id), "style": "danger",
            "text": {"type": "plain_text", "text": "Cancel alert"},
            "confirm": {
                "title": {"type": "plain_text", "text": "Cancel this alert?"},
                "text": {"type": "mrkdwn", "text": "Every call stops and nobody else is phoned."},
                "confirm": {"type": "plain_text", "text": "Cancel alert"},
                "deny": {"type": "plain_text", "text": "Keep calling"},
                "style": "danger",
            },
        })
    return buttons


def _quote(message: str) -> str:
    quoted = "\n".join(f">{escape(line)}" for line in message.splitlines() or [""])
    return quoted if len(quoted) <= _SECTION_MAX - 100 else quoted[: _SECTION_MAX - 101] + "…"


def _chunks(lines: list[str]) -> list[str]:
    """Lines joined into texts that each fit in one section."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= _SECTION_MAX:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:_SECTION_MAX])
    return chunks


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return int((end - start).total_seconds()) if end else None

