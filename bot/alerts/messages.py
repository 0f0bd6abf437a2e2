"""Every word the bot says about alerts in Slack, and the alert message's blocks. Pure."""

from __future__ import annotations

import re
from datetime import datetime

from bot.alerts import incidents
from bot.messages import format_duration, fresh_block_id
from bot.mrkdwn import Markup, date, escape, escape_within, link, mention, slack_text
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    EXHAUSTED,
    POSTED,
    RESOLVED,
    VIA_PHONE,
    VIA_SOURCE,
    AlertRecord,
    AlertView,
    Skipped,
)
from voice.alerts.plan import (
    ACKNOWLEDGED_STATE,
    ANSWERED_STATE,
    BUSY,
    CALLING_AGAIN,
    CANCELLED_STATE,
    FAILED,
    NO_ANSWER,
    NOT_ACKNOWLEDGED,
    PASSED_ON,
    QUEUED,
    RINGING_STATE,
    TROUBLE,
    UNCONFIRMED,
    VOICEMAIL,
    WAITING,
    ending_state,
    latest_legs,
    leg_state,
)
from voice.calls.models import BRIDGE
from voice.calls.numbers import display_number
from voice.calls.outcomes import Outcome

ACK_ACTION = "alert_acknowledge"
CANCEL_ACTION = "alert_cancel"
JOIN_ACTION = "alert_join"  # the voice bridge: call me into it

ALERT_USAGE = escape(
    "Usage: `/voicealert <who> <message>`, for example "
    "`/voicealert @alice > @bob > +14155550199 The database is down`.\n"
    "Who: @people, @user-groups, or numbers with + and the country code, written without spaces. "
    "Separated by spaces or commas they are called at once; separated by `>` one after the other, "
    "each only if nobody before acknowledged. The message (up to 1000 characters) is read to each "
    "person, who presses 1 to acknowledge. Each call speaks its person's Slack language (a number: its "
    "country's); `lang=es` among the people makes every call speak Spanish "
    "(en, es, fr, de, pt, it, hi).\n"
    "`/voicealert integrations` lists the integrations that turn alerts from monitoring (Alertmanager, "
    "Grafana, Opsgenie or PagerDuty clients, scripts) into calls; `/voicealert integrations help` says how "
    "to add one."
)

# A section's text holds at most 3000 characters (Block Kit).
_SECTION_MAX = 2900

NOT_CALLED = "not called"  # the alert ended before this link of the chain was reached
_STATE_ICONS = {
    WAITING: ":double_vertical_bar:",
    QUEUED: ":hourglass_flowing_sand:",
    UNCONFIRMED: ":hourglass:",
    TROUBLE: ":hourglass:",
    RINGING_STATE: ":bell:",
    ANSWERED_STATE: ":speaking_head_in_silhouette:",
    VOICEMAIL: ":mailbox_with_mail:",
    BUSY: ":no_entry_sign:",
    NO_ANSWER: ":no_bell:",
    FAILED: ":x:",
    ACKNOWLEDGED_STATE: ":white_check_mark:",
    CANCELLED_STATE: ":heavy_multiplication_x:",
    NOT_ACKNOWLEDGED: ":speaking_head_in_silhouette:",
    PASSED_ON: ":arrow_heading_down:",
    BUSY + CALLING_AGAIN: ":repeat:",
    NO_ANSWER + CALLING_AGAIN: ":repeat:",
    NOT_CALLED: ":heavy_minus_sign:",
}
# What the line says, where the state's name alone would not be enough.
_STATE_WORDS = {
    VOICEMAIL: "voicemail — not acknowledged",
    WAITING: "waiting for the earlier calls",
}


def alert_usage_reply(problem: str | None = None) -> str:
    return f"{slack_text(':warning: ', problem)}\n{ALERT_USAGE}" if problem else ALERT_USAGE


def starting_reply(people: int) -> str:
    """The requester's immediate acknowledgement."""
    return slack_text(f":rotating_light: Raising the alert: looking up {people} recipient{'s' if people != 1 else ''}…")


def not_called_reply(skipped: tuple[Skipped, ...], nobody_left: bool) -> str:
    """Tells the requester who will not be called, and why."""
    lines = [slack_text("• ", recipient_label(item.label), ": ", _short(item.reason)) for item in skipped]
    head = ":no_entry: Nobody can be called, so no call was placed:" if nobody_left else \
        ":warning: Not calling everyone:"
    return "\n".join([slack_text(head), *lines])


def failure_reply(problem: str) -> str:
    return slack_text(f":x: {problem}")


def alert_text(view: AlertView) -> str:
    """The notification text: who raised it, the message, where it stands."""
    alert = view.alert
    return (slack_text(":rotating_light: Alert from ", _raised_by(alert), ": ")
            + escape_within(alert.message, 300) + slack_text(" — ", _status(alert)))


def alert_blocks(view: AlertView) -> list[dict]:
    alert = view.alert
    blocks = [
        _section(slack_text(":rotating_light: *Alert* from ", _raised_by(alert)) + "\n"
                 + _quote(alert.message)),
    ]
    facts = incidents.facts_line(alert.incident) if alert.incident else ""
    if facts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]})
    if alert.source_link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(
            "About ", link(alert.source_link, "this message"))}]})
    blocks.append(_section(slack_text(_status(alert))))
    closed = incidents.closed_line(alert) if alert.status != RESOLVED else None  # its status says it already
    if closed:
        blocks.append(_section(closed))
    blocks += [_section(chunk) for chunk in _chunks(_recipient_lines(view))]
    if alert.bridge_room:
        blocks.append(_section(_bridge_text(view)))
    buttons = _buttons(alert)
    if buttons:
        blocks.append({"type": "actions", "block_id": fresh_block_id(f"alert-{alert.id}", blocks), "elements": buttons})
    return blocks


def gave_up_text(alert: AlertRecord) -> str:
    """Posted in the alert's thread, so the requester is notified (an edit notifies nobody)."""
    rounds = f"{alert.rounds} round{'s' if alert.rounds != 1 else ''} of calls"
    return slack_text(_raised_by(alert), f" :warning: Nobody acknowledged the alert after {rounds}. "
                      "You can still acknowledge it here.")


def too_late_reply(alert: AlertRecord | None) -> str:
    """For a button pressed on an alert someone else already took."""
    if alert is None:
        return slack_text(":grey_question: This alert no longer exists.")
    if alert.status == ACKNOWLEDGED:
        return slack_text(":white_check_mark: ", _who(alert), f" already acknowledged this alert {_how(alert)}.")
    if alert.status == CANCELLED:
        return slack_text(":heavy_multiplication_x: ", _person(alert.resolved_by), " already cancelled this alert.")
    return slack_text(":grey_question: This alert cannot be cancelled any more.")


def recipient_label(label: str) -> str:
    """A recipient as the parser labelled it: a mention or group mention we built, else plain text."""
    if _LABEL.fullmatch(label):
        return Markup(label)
    return label


# -- parts ---------------------------------------------------------------------

_LABEL = re.compile(r"<@[UW][A-Z0-9]{1,20}>|<!subteam\^[A-Z0-9]{1,20}>")
#: A person's words (a failure's cause, why someone cannot be called) in a line of the message.
_REASON_MAX = 300


def _short(text: str) -> str:
    return Markup(escape_within(text, _REASON_MAX))


def _status(alert: AlertRecord) -> Markup:
    after = format_duration(_seconds(alert.created_at, alert.resolved_at))
    if alert.status == ACKNOWLEDGED:
        return Markup(slack_text(":white_check_mark: *Acknowledged* by ", _who(alert), f" {_how(alert)} after {after}."))
    if alert.status == CANCELLED:
        return Markup(slack_text(":heavy_multiplication_x: *Cancelled* by ", _person(alert.resolved_by),
                                 f" in Slack after {after}. Every call was stopped."))
    if alert.status == RESOLVED:
        return Markup(slack_text(":white_check_mark: Resolved by ", _who(alert), " ",
                                 date(alert.resolved_at, "at {time_secs}", f"at {alert.resolved_at:%H:%M:%S} UTC"),
                                 f", {after} after it opened, before anyone acknowledged. Every call was stopped."))
    if alert.status == POSTED:
        return Markup(slack_text(":information_source: Not phoned: this integration does not phone for severity ",
                                 (alert.incident.severity or "none") if alert.incident else "none", "."))
    if alert.status == EXHAUSTED:
        rounds = f"{alert.rounds} round{'s' if alert.rounds != 1 else ''}"
        return Markup(slack_text(f":warning: *Nobody acknowledged* after {rounds} of calls. ",
                                 _raised_by(alert)))
    if alert.next_at:
        return Markup(slack_text(f":hourglass: Nobody has acknowledged yet. Round {alert.round + 2} of {alert.rounds} "
                                 "starts ", date(alert.next_at, "at {time_secs}", f"at {alert.next_at:%H:%M:%S} UTC"),
                                 "."))
    return Markup(slack_text(f":telephone_receiver: Calling… round {alert.round + 1} of {alert.rounds}."))


def _raised_by(alert: AlertRecord) -> str:
    """Who raised the alert: a mention, its integration (monitoring), or "a Slack workflow" for a Workflow
    Builder step asked by nobody."""
    if alert.incident:
        return incidents.raised_by(alert)
    return mention(alert.requester.user_id) if alert.requester.user_id else "a Slack workflow"


def _person(user_id: str | None) -> str:
    return mention(user_id) if user_id else "someone"


def _who(alert: AlertRecord) -> str:
    if alert.resolved_via == VIA_SOURCE:
        return alert.resolved_name or "the source"
    if alert.resolved_by:
        return mention(alert.resolved_by)
    if alert.resolved_number:
        return display_number(alert.resolved_number)
    return "someone"


def _how(alert: AlertRecord) -> str:
    if alert.resolved_via == VIA_SOURCE:
        return "at the source"
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
        state_text = slack_text(_STATE_WORDS.get(state, state))
        if leg:
            if state == FAILED and leg.cause:
                state_text = slack_text("failed: ", _short(leg.cause))
            if alert.rounds > 1:
                state_text += slack_text(f" · call {leg.position // alert.stages + 1} of {alert.rounds}")
            if leg.attempt:
                state_text += slack_text(" · second ring")
        who = mention(target.user_id) if target.user_id else display_number(target.number)
        prefix = f"{target.stage + 1}." if chain else "•"
        lines.append(slack_text(f"{prefix} ", who, f" {_STATE_ICONS.get(state, '')} ") + state_text)
    lines += [slack_text(f"{awaited.stage + 1}." if chain else "•", " ", recipient_label(awaited.label),
                         " :mag: being looked up in Slack…") for awaited in alert.awaiting]
    lines += [slack_text("• ", recipient_label(item.label), " :no_entry: not called: ", _short(item.reason))
              for item in alert.skipped]
    return lines


def _bridge_text(view: AlertView) -> str:
    """Who is on the voice bridge, who is being called into it, who left, and when it ended."""
    alert = view.alert
    calls = [leg for leg in view.legs if leg.bridge_joined_at or leg.purpose == BRIDGE]
    on, others = [], []
    for leg in calls:
        who = _bridge_person(alert, leg)
        if leg.bridge_joined_at and not leg.bridge_left_at and not leg.ended:
            on.append(who)
        elif leg.bridge_left_at:
            others.append(slack_text(who, " left"))
        elif leg.ended:
            ended = "answered" if leg.outcome == Outcome.ANSWERED else ending_state(leg)  # never on the bridge
            others.append(slack_text(who, " ", _STATE_ICONS.get(ended, ""), " ", ended))
        else:
            others.append(slack_text(who, " :telephone_receiver: being called"))
    if alert.bridge_ended_at:
        head = slack_text(":headphones: *Voice bridge* ended ",
                          date(alert.bridge_ended_at, "at {time_secs}", f"at {alert.bridge_ended_at:%H:%M:%S} UTC"),
                          " after ", format_duration(_seconds(alert.bridge_started_at, alert.bridge_ended_at)), ".")
    else:
        head = slack_text(":headphones: *Voice bridge*: ", Markup(", ".join(on)) if on else "nobody on the call yet",
                          ". Join the call to be phoned into it.")
    if alert.requester_problem and not alert.bridge_ended_at and not alert.incident:
        others.append(slack_text(_raised_by(alert), " could not be called: ",
                                 _short(alert.requester_problem)))
    return "\n".join([head, *(slack_text("• ") + line for line in others)])


def _bridge_person(alert: AlertRecord, leg) -> str:
    if leg.purpose == BRIDGE and leg.requester:
        return mention(leg.requester.user_id)
    target = alert.target_of(leg)
    if target and target.user_id:
        return mention(target.user_id)
    return display_number(leg.to_number)


def _buttons(alert: AlertRecord) -> list[dict]:
    if alert.bridge_open:
        return [{"type": "button", "action_id": JOIN_ACTION, "value": str(alert.id), "style": "primary",
                 "text": {"type": "plain_text", "text": "Join the call"}}]
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


def _quote(message: str, limit: int = _SECTION_MAX - 100) -> str:
    """The message as a block quote, each line escaped, shortened on the plain text to fit `limit`."""
    quoted: list[str] = []
    used = 0
    for line in message.splitlines() or [""]:
        room = limit - used - 1  # the ">"
        escaped = escape(line)
        if len(escaped) > room:
            quoted.append(">" + escape_within(line, max(room, 1)))
            break  # shortened: nothing more fits
        quoted.append(">" + escaped)
        used += len(escaped) + 2  # the ">" and the newline
    return "\n".join(quoted)


def _chunks(lines: list[str]) -> list[str]:
    """Lines joined into texts that each fit in one section (each line is far shorter than one)."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= _SECTION_MAX:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return int((end - start).total_seconds()) if end else None

