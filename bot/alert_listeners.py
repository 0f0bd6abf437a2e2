"""Bolt listeners for `/voicealert` and the alert message's two buttons.

As for /voiceotp, each listener only records and answers: the alert (its
recipients as typed) and the work of looking them up go into the database in
one transaction, and the requester hears "Raising the alert…" at once. The
lookups in Slack's directory and the calls happen in the workers
(bot/alert_opening.py, voice/alerts.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from typing import Callable

from slack_bolt import App

from bot.alert_commands import (
    NUMBER,
    AlertRequest,
    parse_voicealert,
    plain_message,
    typed_numbers,
)
from bot.alert_messages import (
    ACK_ACTION,
    ALERT_USAGE,
    CANCEL_ACTION,
    JOIN_ACTION,
    alert_usage_reply,
    failure_reply,
    not_called_reply,
    starting_reply,
    too_late_reply,
)
from bot.app import Access, requester_of
from bot.commands import CommandError, HelpRequest
from bot.messages import rate_limit_reply
from bot.reporting import NOTICE, notice_payload
from voice.alert_models import Skipped
from voice.alerts import AlertService, Taking
from voice.bridge import JOIN
from voice.db import transaction
from voice.limits import Refused
from voice.models import Requester
from voice.numbers import parse_phone_number
from voice.work import WorkQueue

log = logging.getLogger(__name__)

#: Looks up the display name of whoever took an alert in Slack (bot/alert_opening.py).
TAKER = "alert.taker"

_ALERT_ID = re.compile(r"[0-9]{1,12}")

# channel_name values Slack sends where a channel has no name to say aloud.
_UNNAMED_CHANNELS = {"directmessage", "privategroup", ""}

#: Records a refusal (who, where, which number, what kind, why), like OtpService.refuse.
RecordRefusal = Callable[..., None]


def register_alert_listeners(
    app: App,
    *,
    alerts: AlertService,
    queue: WorkQueue,
    access: Access = Access(),
    record_refusal: RecordRefusal = lambda **refusal: None,
    form_secret: str | None = None,
) -> None:
    voicealert = _voicealert(alerts, access, record_refusal, form=form_secret is not None)
    if form_secret is not None:
        # Nothing after /voicealert: the form opens (a lazy listener: after the acknowledgement).
        from bot.alert_form_listeners import open_form_lazily, register_form_listeners

        app.command("/voicealert")(ack=voicealert, lazy=[open_form_lazily(form_secret, access)])
        register_form_listeners(app, alerts=alerts, access=access, secret=form_secret,
                                record_refusal=record_refusal)
    else:
        app.command("/voicealert")(voicealert)
    # Acknowledge: calls stop, as for a keypress. Cancel (Slack confirms first): every call stops.
    app.action(ACK_ACTION)(_clicker(alerts.acknowledge, queue))
    app.action(CANCEL_ACTION)(_clicker(alerts.cancel, queue))
    # Join the call: the clicker is phoned into the voice bridge (bot/alert_bridge.py looks them up).
    app.action(JOIN_ACTION)(_joiner(queue, access, record_refusal))


def _voicealert(alerts: AlertService, access: Access, record_refusal: RecordRefusal, *, form: bool = False):
    def voicealert(ack, command) -> None:
        """Answer at once: the usage, a specific error or refusal, "Raising the alert…", or, with
        nothing after the command, nothing (the form opens)."""
        requester = requester_of(command)
        if form and not (command.get("text") or "").strip():
            if denied := access.refusal(requester.user_id, requester.channel_id):
                kind, reply = denied
                record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
                return ack(reply)
            return ack()
        request = parse_voicealert(command.get("text", ""))
        if isinstance(request, HelpRequest):
            return ack(ALERT_USAGE)
        if isinstance(request, CommandError):
            return ack(alert_usage_reply(request.problem))
        if denied := access.refusal(requester.user_id, requester.channel_id):
            kind, reply = denied
            record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
            return ack(reply)
        if refused := _all_numbers_refused(request, alerts):
            for skipped in refused:
                record_refusal(source="slack", requester=requester, number=skipped.label, kind="destination",
                               reason=skipped.reason)
            return ack(not_called_reply(refused, nobody_left=True))
        try:
            alerts.request(
                requester=requester,
                sender_name=command.get("user_name") or "a Slack user",  # until the directory says better
                channel_name=spoken_channel(command),
                message=plain_message(request.message),
                recipients={"stages": [[asdict(recipient) for recipient in stage] for stage in request.stages],
                            "message": request.message, "language": request.language},
                request_id=command.get("trigger_id"),
                typed_numbers=typed_numbers(request.stages),
            )
        except Refused as refused:
            record_refusal(source="slack", requester=requester, number=refused.number, kind=refused.kind,
                           reason=str(refused))
            return ack(rate_limit_reply(str(refused), refused.frees_at, alerts.clock()))
        except Exception:
            log.exception("storing an alert failed")
            return ack(failure_reply("Something went wrong on our side and the alert was not raised. "
                                     "Please try again."))
        ack(starting_reply(sum(len(stage) for stage in request.stages)))

    return voicealert


def _all_numbers_refused(request: AlertRequest, alerts: AlertService) -> tuple[Skipped, ...]:
    """When every recipient is a number the policy refuses: why, each; else nothing."""
    recipients = [recipient for stage in request.stages for recipient in stage]
    if any(recipient.kind != NUMBER for recipient in recipients):
        return ()
    reasons = [alerts.refusal_for(parse_phone_number(recipient.id)) for recipient in recipients]
    if not all(reasons):
        return ()
    return tuple(Skipped(recipient.label, reason) for recipient, reason in zip(recipients, reasons))


def _clicker(take: Callable[[int, str, str], Taking], queue: WorkQueue):
    def on_click(ack, body) -> None:
        """Take the alert for whoever clicked; tell them (only them) if someone was first."""
        ack()
        clicked = _click(body)
        if clicked is None:
            return
        alert_id, user_id, name = clicked
        taking = take(alert_id, user_id, name)
        with transaction(queue.engine) as conn:
            if taking.won:
                # Their display name, for the callees still to hear who took it.
                queue.enqueue(conn, TAKER, f"{alert_id}:{user_id}", key=f"{TAKER}:{alert_id}")
            else:
                queue.enqueue(conn, NOTICE, str(alert_id), payload=notice_payload(
                    too_late_reply(taking.alert), reply_url=body.get("response_url"), ephemeral=True,
                    team=(body.get("team") or {}).get("id", "")))

    return on_click


def _joiner(queue: WorkQueue, access: Access, record_refusal: RecordRefusal):
    def on_click(ack, body) -> None:
        """Join the call: who may place calls may be phoned into the bridge; told, only them, if not."""
        ack()
        clicked = _click(body)
        if clicked is None:
            return
        alert_id, user_id, _ = clicked
        team = (body.get("team") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        denied = access.refusal(user_id, channel)
        if denied:
            kind, reply = denied
            record_refusal(source="slack", requester=Requester(user_id, channel, team), number=None, kind=kind,
                           reason=reply)
        with transaction(queue.engine) as conn:
            if denied:
                queue.enqueue(conn, NOTICE, str(alert_id), payload=notice_payload(
                    denied[1], reply_url=body.get("response_url"), ephemeral=True, team=team))
            else:
                queue.enqueue(conn, JOIN, f"{alert_id}:{user_id}", payload={
                    "reply_url": body.get("response_url"), "team": team})

    return on_click


def _click(body: dict) -> tuple[int, str, str] | None:
    """(alert ID, user ID, their name as the click says it) from a button click."""
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    # Our buttons carry the alert's id; anything else (" 7\n", "7_0", "٧") is not one of ours.
    if not isinstance(value, str) or not _ALERT_ID.fullmatch(value):
        return None
    user = body.get("user") or {}
    name = user.get("name") or user.get("username") or "someone in Slack"
    return int(value), user.get("id", ""), name


def spoken_channel(command: dict) -> str | None:
    """The channel's name to say aloud; None for DMs and channels Slack gives no name."""
    name = command.get("channel_name") or ""
    if name in _UNNAMED_CHANNELS or name.startswith("mpdm-") or command.get("channel_id", "").startswith("D"):
        return None
    return name
