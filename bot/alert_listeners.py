"""Bolt listeners for `/voicealert` and the alert message's two buttons.

As for /voiceotp: an `ack` function answers within milliseconds, and a lazy
function does the slow part (looking people up in Slack, placing calls) after
Slack has its acknowledgement.
"""

from __future__ import annotations

import logging
import re
from typing import Callable

from slack_bolt import App

from bot.alert_commands import NUMBER, AlertRequest, mentioned_users, parse_voicealert, plain_message
from bot.alert_messages import (
    ACK_ACTION,
    ALERT_USAGE,
    CANCEL_ACTION,
    alert_usage_reply,
    failure_reply,
    not_called_reply,
    starting_reply,
    too_late_reply,
)
from bot.alert_reporter import AlertReporter
from bot.app import Access, requester_of
from bot.commands import CommandError, HelpRequest
from bot.directory import SlackDirectory, TooManyRecipients
from voice.alert_models import NewAlert, Skipped
from voice.alerts import AlertService, Taking
from voice.numbers import parse_phone_number

log = logging.getLogger(__name__)

_ALERT_ID = re.compile(r"[0-9]{1,12}")

# channel_name values Slack sends where a channel has no name to say aloud.
_UNNAMED_CHANNELS = {"directmessage", "privategroup", ""}


#: Records a refusal (who, where, which number, what kind, why), like OtpService.refuse.
RecordRefusal = Callable[..., None]


def register_alert_listeners(
    app: App,
    *,
    alerts: AlertService,
    directory: SlackDirectory,
    reporter: AlertReporter,
    access: Access = Access(),
    record_refusal: RecordRefusal = lambda **refusal: None,
) -> None:
    app.command("/voicealert")(
        ack=_acker(alerts, access, record_refusal), lazy=[_raiser(alerts, directory, reporter, access, record_refusal)]
    )
    # Acknowledge: calls stop, as for a keypress. Cancel (Slack confirms first): every call stops.
    app.action(ACK_ACTION)(ack=_ack_click, lazy=[_clicker(alerts.acknowledge, directory)])
    app.action(CANCEL_ACTION)(ack=_ack_click, lazy=[_clicker(alerts.cancel, directory)])


def _acker(alerts: AlertService, access: Access, record_refusal: RecordRefusal):
    def ack_voicealert(ack, command) -> None:
        """Answer at once: the usage, a specific error or refusal, or "Raising the alert…"."""
        request = parse_voicealert(command.get("text", ""))
        requester = requester_of(command)
        if isinstance(request, HelpRequest):
            ack(ALERT_USAGE)
        elif isinstance(request, CommandError):
            ack(alert_usage_reply(request.problem))
        elif denied := access.refusal(requester.user_id, requester.channel_id):
            kind, reply = denied
            record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
            ack(reply)
        elif refused := _all_numbers_refused(request, alerts):
            for skipped in refused:
                record_refusal(source="slack", requester=requester, number=skipped.label, kind="destination",
                               reason=skipped.reason)
            ack(not_called_reply(refused, nobody_left=True))
        else:
            ack(starting_reply(sum(len(stage) for stage in request.stages)))

    return ack_voicealert


def _all_numbers_refused(request: AlertRequest, alerts: AlertService) -> tuple[Skipped, ...]:
    """When every recipient is a number the policy refuses: why, each; else nothing."""
    recipients = [recipient for stage in request.stages for recipient in stage]
    if any(recipient.kind != NUMBER for recipient in recipients):
        return ()
    reasons = [alerts.refusal_for(parse_phone_number(recipient.id)) for recipient in recipients]
    if not all(reasons):
        return ()
    return tuple(Skipped(recipient.label, reason) for recipient, reason in zip(recipients, reasons))


def _raiser(alerts: AlertService, directory: SlackDirectory, reporter: AlertReporter, access: Access,
            record_refusal: RecordRefusal):
    def raise_voicealert(command, respond) -> None:
        """After the ack: find everyone's number, store the alert, post its message, then call."""
        request = parse_voicealert(command.get("text", ""))
        requester = requester_of(command)
        if (not isinstance(request, AlertRequest) or access.refusal(requester.user_id, requester.channel_id)
                or _all_numbers_refused(request, alerts)):
            return  # lazy listeners run even when the ack refused the input
        try:
            try:
                found = directory.resolve(request.stages, alerts.refusal_for)
            except TooManyRecipients as error:
                _tell(respond, failure_reply(f"{error} No call was placed."))
                return
            if found.skipped:
                for skipped in found.skipped:
                    record_refusal(source="slack", requester=requester, number=None, kind="alert_recipient",
                                   reason=f"{skipped.label}: {skipped.reason}")
                _tell(respond, not_called_reply(found.skipped, nobody_left=not found.targets))
            if not found.targets:
                return
            names = {user_id: directory.name(user_id) or "someone" for user_id in mentioned_users(request.message)}
            alert = alerts.open_alert(
                NewAlert(
                    requester=requester,
                    sender_name=directory.name(command["user_id"]) or command.get("user_name") or "a Slack user",
                    channel_name=_spoken_channel(command),
                    message=plain_message(request.message, names),
                    targets=found.targets,
                    skipped=found.skipped,
                ),
                request_id=command.get("trigger_id"),
            )
            if alert is None:
                return  # the same command delivered twice
            # Synchronous, so the message exists before Plivo can call back.
            reporter.publish(alert.id)
            alerts.start(alert.id)
        except Exception:
            log.exception("raising an alert failed")
            _tell(respond, failure_reply("Something went wrong on our side while raising the alert. "
                                         "Check the alert message, and try again if there is none."))

    return raise_voicealert


def _tell(respond, text: str) -> None:
    """An ephemeral note to whoever acted; failing to deliver it must not stop any call."""
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:
        log.warning("could not reply in Slack (response_url unreachable or used up)")


def _ack_click(ack) -> None:
    ack()


def _clicker(take: Callable[[int, str, str], Taking], directory: SlackDirectory):
    def on_click(body, respond) -> None:
        """Take the alert for whoever clicked; tell them if someone was first."""
        clicked = _click(body, directory)
        if clicked:
            taking = take(*clicked)
            if not taking.won:
                _tell(respond, too_late_reply(taking.alert))

    return on_click


def _click(body: dict, directory: SlackDirectory) -> tuple[int, str, str] | None:
    """(alert ID, user ID, their name) from a button click."""
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    # Our buttons carry the alert's id; anything else (" 7\n", "7_0", "٧") is not one of ours.
    if not isinstance(value, str) or not _ALERT_ID.fullmatch(value):
        return None
    alert_id = int(value)
    user = body.get("user") or {}
    user_id = user.get("id", "")
    name = directory.name(user_id) or user.get("username") or user.get("name") or "someone in Slack"
    return alert_id, user_id, name


def _spoken_channel(command: dict) -> str | None:
    name = command.get("channel_name") or ""
    if name in _UNNAMED_CHANNELS or name.startswith("mpdm-") or command.get("channel_id", "").startswith("D"):
        return None
    return name
