"""A hotline call's message in Slack. Pure."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from bot.messages import format_duration
from bot.mrkdwn import Markup, mention, slack_text, web_link
from voice.alerts.models import AlertView
from voice.alerts.plan import RINGING_STATE, latest_legs, leg_state
from voice.calls.numbers import display_number
from voice.hotline.callers import masked
from voice.hotline.models import (
    CONNECTED,
    ENDED,
    OVER_LIMIT,
    VOICEMAIL,
    WAITING,
    InboundCall,
)


def hotline_text(call: InboundCall, view: AlertView | None, now: datetime) -> str:
    return slack_text(":telephone: Incoming call to ", Markup("*"), call.name, Markup("*"), " from ",
                      masked(call.caller), " — ") + _state(call, view, now)


def hotline_blocks(call: InboundCall, view: AlertView | None, now: datetime) -> list[dict]:
    head = slack_text(":telephone: Incoming call to ", Markup("*"), call.name, Markup("*"), " from ",
                      masked(call.caller))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": head + "\n" + _state(call, view, now)}}]
    cost = _cost(view)
    if cost:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cost}]})
    return blocks


def _cost(view: AlertView | None) -> str:
    """What the call-outs cost, as Plivo reports each once it ended (its call record)."""
    costs = [Decimal(leg.cost) for leg in (view.legs if view else ()) if leg.cost and _AMOUNT.fullmatch(leg.cost)]
    if not costs:
        return ""
    count = len(costs)
    return slack_text(f"{count} call-out{'s' if count != 1 else ''}: ${sum(costs):.4f} (Plivo's price)")


def transcript_text(call: InboundCall) -> str:
    return slack_text(":memo: Transcript of the voicemail (Plivo's, may be rough): ", call.transcript or "")


_AMOUNT = re.compile(r"[0-9]{1,6}(\.[0-9]{1,8})?")


def _state(call: InboundCall, view: AlertView | None, now: datetime) -> str:
    taker = _person(call.taker)
    if call.status == WAITING:
        ringing = _ringing(view)
        waited = format_duration(int((now - call.created_at).total_seconds()))
        return slack_text(f":hourglass_flowing_sand: waiting {waited} · ",
                          Markup(ringing) if ringing else "looking up who is on call…")
    if call.status == CONNECTED or (call.status == ENDED and call.taker):
        since = call.connected_at
        talk = format_duration(int(((call.ended_at or now) - since).total_seconds())) if since else None
        parts = [slack_text(":white_check_mark: connected with ", taker)]
        if talk:
            parts.append(talk)
        if call.status == ENDED:
            parts.append("ended")
        return " · ".join(parts)
    if call.status in (VOICEMAIL, ENDED) and call.voicemail_reason:
        why = ("this number called more often than the hourly limit: straight to voicemail"
               if call.voicemail_reason == OVER_LIMIT else "nobody took it")
        if call.recording_url:
            seconds = format_duration(call.recording_seconds) if call.recording_seconds is not None else "recorded"
            return slack_text(f":mailbox_with_mail: {why} · voicemail, {seconds} · ",
                              web_link(call.recording_url, "listen"))
        if call.status == ENDED:
            return slack_text(f":mailbox_with_no_mail: {why} · the caller left no message")
        return slack_text(f":mailbox: {why} · leaving a voicemail…")
    if call.status == ENDED:
        waited = format_duration(int(((call.ended_at or now) - call.created_at).total_seconds()))
        return slack_text(f":telephone_receiver: the caller hung up after {waited}, before anyone took it")
    return slack_text(call.status)


def _ringing(view: AlertView | None) -> str:
    if view is None:
        return ""
    alert = view.alert
    names = []
    for index, leg in sorted(latest_legs(view.legs).items()):
        if leg_state(alert, leg) == RINGING_STATE or not leg.ended:
            target = alert.targets[index] if index < len(alert.targets) else None
            names.append(_person(target.user_id if target and target.user_id else (target.number if target else None)))
    return slack_text("ringing ", Markup(", ".join(names)), "…") if names else ""


def _person(who: str | None) -> str:
    if not who:
        return "someone"
    if who.startswith("+"):
        return display_number(who)
    return mention(who)
