"""Bolt listeners for `/voicealert` and the alert message's two buttons.

As for /voiceotp, each listener only records and answers: the alert (its
recipients as typed) and the work of looking them up go into the database in
one transaction, and the requester hears "Raising the alert…" at once. The
lookups in Slack's directory and the calls happen in the workers
(bot/alerts/opening.py, voice/alerts/service.py).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Callable, Sequence

from slack_bolt import App

from bot.alerts.commands import (
    AlertRequest,
    parse_voicealert,
    plain_message,
    spoken_channel,
    typed_numbers,
)
from bot.alerts.form_listeners import open_form_lazily, register_form_listeners
from bot.alerts.messages import (
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
from bot.clicks import ClickGuard, RecordRefusal, click_of, phone_clicker
from bot.delivery import NOTICE, notice_payload
from bot.directory import NUMBER
from bot.hotline.listing import hotlines_text, is_hotlines
from bot.integrations.commands import is_integrations
from bot.integrations.manage import IntegrationCommands
from bot.messages import (
    ACKNOWLEDGE,
    CANCEL,
    Act,
    CommandError,
    HelpRequest,
    rate_limit_reply,
)
from voice.alerts.bridge import JOIN
from voice.alerts.models import Skipped
from voice.alerts.service import AlertService, Taking
from voice.calls.limits import Refused
from voice.calls.numbers import parse_phone_number
from voice.hotline.models import HotlineDef
from voice.queue.work import WorkQueue
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Looks up the display name of whoever took an alert in Slack (bot/alerts/opening.py).
TAKER = "alert.taker"




def register_alert_listeners(
    app: App,
    *,
    alerts: AlertService,
    queue: WorkQueue,
    access: Access = Access(),
    record_refusal: RecordRefusal = lambda **refusal: None,
    form_secret: str | None = None,
    integrations: IntegrationCommands | None = None,
    schedule_names: Callable[[str], list[str]] = lambda team: [],
    hotlines: Callable[[], Sequence[HotlineDef]] = lambda: (),
) -> None:
    voicealert = _voicealert(alerts, access, record_refusal, form=form_secret is not None,
                             integrations=integrations, hotlines=hotlines)
    if form_secret is not None:
        # Nothing after /voicealert: the form opens (a lazy listener: after the acknowledgement).
        app.command("/voicealert")(ack=voicealert, lazy=[open_form_lazily(form_secret, access, schedule_names)])
        register_form_listeners(app, alerts=alerts, access=access, secret=form_secret,
                                record_refusal=record_refusal, schedule_names=schedule_names)
    else:
        app.command("/voicealert")(voicealert)
    # Every button asks who may act, as the command does, and acts only on an alert of the clicker's workspace.
    guard = ClickGuard(alert_workspace(alerts), queue, access, record_refusal)
    # Acknowledge: calls stop, as for a keypress. Cancel (Slack confirms first): every call stops.
    app.action(ACK_ACTION)(_clicker(alerts.acknowledge, queue, guard, ACKNOWLEDGE))
    app.action(CANCEL_ACTION)(_clicker(alerts.cancel, queue, guard, CANCEL))
    # Join the call: the clicker is phoned into the voice bridge (bot/alerts/bridge.py looks them up).
    app.action(JOIN_ACTION)(phone_clicker(queue, guard, JOIN))


def _voicealert(alerts: AlertService, access: Access, record_refusal: RecordRefusal, *, form: bool = False,
                integrations: IntegrationCommands | None = None,
                hotlines: Callable[[], Sequence[HotlineDef]] = lambda: ()):
    def voicealert(ack, command) -> None:
        """Answer at once: the usage, a specific error or refusal, "Raising the alert…", or, with
        nothing after the command, nothing (the form opens). `/voicealert integrations …` is answered
        by bot/integrations (an alert starts with whom to phone, never with that word)."""
        if integrations is not None and is_integrations(command.get("text")):
            return ack(**integrations.answer(command))
        requester = requester_of(command)
        if is_hotlines(command.get("text")):
            if denied := access.refusal(requester.user_id, requester.channel_id):
                return ack(text=denied[1], response_type="ephemeral")
            return ack(text=hotlines_text(hotlines()), response_type="ephemeral")
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


def alert_workspace(alerts: AlertService) -> Callable[[int], str | None]:
    """The workspace of an alert, by its id; None when it is gone."""
    def workspace(alert_id: int) -> str | None:
        alert = alerts.get(alert_id)
        return alert.requester.team_id if alert else None

    return workspace


def _clicker(take: Callable[[int, str, str], Taking], queue: WorkQueue, guard: ClickGuard, act: Act):
    def on_click(ack, body) -> None:
        """Take the alert for whoever clicked, if they may; tell them (only them) if not, or if someone was first."""
        ack()
        click = click_of(body)
        if click is None or not guard.allows(click, act):
            return
        taking = take(click.subject, click.user_id, click.name)
        with transaction(queue.engine) as conn:
            if taking.won:
                # Their display name, for the callees still to hear who took it.
                queue.enqueue(conn, TAKER, f"{click.subject}:{click.user_id}", key=f"{TAKER}:{click.subject}")
            else:
                queue.enqueue(conn, NOTICE, str(click.subject), payload=notice_payload(
                    too_late_reply(taking.alert), reply_url=click.reply_url, ephemeral=True, team=click.team_id))

    return on_click
