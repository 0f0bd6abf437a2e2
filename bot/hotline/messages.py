"""A hotline call's message in Slack, and what a click on its Call back is told. Pure."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from bot.messages import format_duration, fresh_block_id
from bot.mrkdwn import Markup, escape_within, mention, slack_text, web_link
from voice.alerts.bridge import opens_callback
from voice.alerts.models import AlertView
from voice.alerts.plan import RINGING_STATE, latest_legs, leg_state
from voice.calls.models import BRIDGE, Leg
from voice.calls.numbers import display_number
from voice.calls.outcomes import Outcome
from voice.hotline.callbacks import (
    CALLBACKS_PER_CALL,
    CALLER_REFUSED,
    NOT_OVER,
    UNDER_WAY,
    USED_UP,
    WITHHELD,
    NoCallBack,
    may_call_back,
)
from voice.hotline.callers import masked
from voice.hotline.models import (
    CONNECTED,
    ENDED,
    OVER_LIMIT,
    VOICEMAIL,
    WAITING,
    InboundCall,
)

CALL_BACK_ACTION = "hotline_call_back"  # phone me, then the caller, into one call


def hotline_text(call: InboundCall, view: AlertView | None, now: datetime,
                 callbacks: Sequence[AlertView] = ()) -> str:
    """The notification's text: the call, and its latest callback."""
    text = slack_text(":telephone: Incoming call to ", Markup("*"), call.name, Markup("*"), " from ",
                      masked(call.caller), " — ") + _state(call, view, now)
    return text + " · " + _callback(callbacks[-1], now) if callbacks else text


def hotline_blocks(call: InboundCall, view: AlertView | None, now: datetime,
                   callbacks: Sequence[AlertView] = ()) -> list[dict]:
    head = slack_text(":telephone: Incoming call to ", Markup("*"), call.name, Markup("*"), " from ",
                      masked(call.caller))
    lines = [head, _state(call, view, now), *(_callback(callback, now) for callback in callbacks)]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    cost = _cost(view)
    if cost:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cost}]})
    if may_call_back(call) and len(callbacks) < CALLBACKS_PER_CALL:
        blocks.append({"type": "actions", "block_id": fresh_block_id(f"hotline-{call.id}", blocks), "elements": [{
            "type": "button", "action_id": CALL_BACK_ACTION, "value": str(call.id),
            "text": {"type": "plain_text", "text": "Call back"}}]})
    return blocks


def no_callback_reply(refused: NoCallBack) -> str:
    """Why a click on Call back phoned nobody, for the clicker alone."""
    if refused.why == UNDER_WAY:
        who = mention(refused.by) if refused.by else "Someone"
        return slack_text(":telephone_receiver: ", who, " is calling this caller back already. "
                          "Wait until that call is over.")
    if refused.why == USED_UP:
        return slack_text(f":telephone_receiver: This caller has been called back {CALLBACKS_PER_CALL} times "
                          "already.")
    if refused.why == WITHHELD:
        return slack_text(":telephone_receiver: The caller's number was withheld: there is no number to call back.")
    if refused.why == NOT_OVER:
        return slack_text(":telephone_receiver: This call is still going on. It can be called back once it is over.")
    if refused.why == CALLER_REFUSED:
        return slack_text(":telephone_receiver: The caller's number cannot be called. ",
                          Markup(escape_within(refused.reason or "", 300)))
    return slack_text(":grey_question: This call no longer exists.")


def no_phone_reply(user_id: str, problem: str | None) -> str:
    """The clicker cannot be phoned (no usable number in their profile), for them alone."""
    return slack_text(":telephone_receiver: You cannot be phoned to call the caller back: ", mention(user_id),
                      f" {problem or 'has no usable phone number'}. Add a phone number with + and the country "
                      "code to your Slack profile, then click Call back again.")


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


def _callback(view: AlertView, now: datetime) -> str:
    """One callback as it goes: "called back by @x · calling @x…", "· calling the caller…", "· connected ·
    3 min 12 s", then "· ended"; or who did not answer."""
    alert = view.alert
    clicker = next((leg for leg in view.legs if opens_callback(alert, leg)), None)
    caller = next((leg for leg in reversed(view.legs) if leg.purpose == BRIDGE and leg is not clicker), None)
    who = mention(alert.resolved_by or "")
    parts = [slack_text(":leftwards_arrow_with_hook: called back by ", who)]
    if caller is not None and caller.bridge_joined_at:
        until = caller.bridge_left_at or caller.ended_at or alert.bridge_ended_at or now
        parts += ["connected", format_duration(int((until - caller.bridge_joined_at).total_seconds()))]
        if caller.bridge_left_at or caller.ended:
            parts.append("ended")
    elif caller is not None:
        parts.append(_missed(caller, "the caller") if caller.ended else "calling the caller…")
    elif clicker is not None and not clicker.ended:
        parts.append(slack_text("calling ", who, "…"))
    elif clicker is not None:
        parts.append(_missed(clicker, who))
    return " · ".join(parts)


def _missed(leg: Leg, who: str) -> str:
    """A call of a callback that ended before its person was in the room."""
    if leg.outcome == Outcome.FAILED:
        return slack_text(who, " could not be called: ", Markup(escape_within(leg.cause or "", 300)))
    if leg.outcome == Outcome.CANCELLED:
        return "stopped: nobody was left to talk to"
    if leg.answered_at is not None:
        return slack_text(who, " hung up")
    return slack_text(who, " did not answer")


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
