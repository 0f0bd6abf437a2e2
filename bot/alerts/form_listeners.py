"""Bolt listeners for the alert form: opening it (a bare `/voicealert`, the message shortcut) and its submission.

Opening a modal needs the request's `trigger_id` within 3 seconds, so
views.open runs as a Bolt lazy listener, after the acknowledgement has gone
(https://docs.slack.dev/tools/bolt-python/concepts/lazy-listeners). A
submission is checked field by field; what is wrong is shown under its
field (`response_action: errors`); what is right is recorded as the command
would record it, and the form closes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Callable

from slack_bolt import App
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.alerts.commands import plain_message, spoken_channel, typed_numbers
from bot.alerts.form import (
    CALLBACK_ID,
    MESSAGE,
    NUMBERS,
    SHORTCUT_ID,
    USERS,
    FormErrors,
    Origin,
    alert_form,
    message_link,
    read_submission,
    verified_origin,
)
from bot.alerts.messages import failure_reply
from bot.app import Access
from bot.directory import NUMBER, user_groups
from bot.messages import plain_reply, rate_limit_text
from bot.mrkdwn import slack_text
from voice.alerts.service import AlertService
from voice.calls.limits import Refused
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number

log = logging.getLogger(__name__)

#: What a person is told when the form could not open (a stale trigger, Slack busy).
NOT_OPENED = ("The alert form could not be opened in time. Type /voicealert again, or "
              "`/voicealert <who> <message>` (see /voicealert help).")


#: The names of the on-call schedules a workspace may phone: (team ID) -> names.
ScheduleNames = Callable[[str], list[str]]


def register_form_listeners(app: App, *, alerts: AlertService, access: Access, secret: str,
                            record_refusal: Callable[..., None],
                            schedule_names: ScheduleNames = lambda team: []) -> None:
    app.shortcut(SHORTCUT_ID)(ack=lambda ack: ack(), lazy=[_open_from_message(secret, access, schedule_names)])
    app.view(CALLBACK_ID)(_submitted(alerts, access, secret, record_refusal))


def open_form_lazily(secret: str, access: Access, schedule_names: ScheduleNames = lambda team: []):
    """The lazy half of a bare /voicealert: the form, opened with the command's trigger."""
    def open_form(body: dict, client) -> None:
        if (body.get("text") or "").strip() or access.refusal(body.get("user_id", ""), body.get("channel_id", "")):
            return  # a command with text was handled by the command itself; a refusal was said
        origin = Origin(channel_id=body.get("channel_id", ""), user_id=body.get("user_id", ""),
                        team_id=body.get("team_id", ""), channel_name=spoken_channel(body),
                        reply_url=body.get("response_url"))
        _open(client, body.get("trigger_id"), origin, secret, message="", schedules=schedule_names(origin.team_id))

    return open_form


def _open_from_message(secret: str, access: Access, schedule_names: ScheduleNames):
    def open_form(body: dict, client) -> None:
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id", "")
        team = body.get("team") or {}
        if denied := access.refusal((body.get("user") or {}).get("id", ""), channel):
            _tell(body.get("response_url"), denied[1])  # before the form: nobody fills it in for nothing
            return
        origin = Origin(channel_id=channel, user_id=(body.get("user") or {}).get("id", ""),
                        team_id=team.get("id", ""), channel_name=spoken_channel(
                            {"channel_name": (body.get("channel") or {}).get("name"), "channel_id": channel}),
                        reply_url=body.get("response_url"),
                        link=message_link(team.get("domain"), channel, message.get("ts", "")))
        _open(client, body.get("trigger_id"), origin, secret, message=plain_message(message.get("text") or ""),
              schedules=schedule_names(origin.team_id))

    return open_form


def _open(client, trigger_id: str | None, origin: Origin, secret: str, *, message: str,
          schedules: list[str] = ()) -> None:
    """Open the form at once (the trigger lasts 3 seconds), then add the workspace's user groups."""
    try:
        opened = client.views_open(trigger_id=trigger_id,
                                   view=alert_form(origin, secret, message=message, schedules=schedules))
    except SlackApiError as error:
        log.info("the alert form did not open: %s", error.response.get("error"))
        _tell(origin.reply_url, NOT_OPENED)
        return
    view = opened.get("view") if isinstance(opened.get("view"), dict) else {}
    groups = user_groups(client) if view.get("id") else []
    if groups:
        try:  # the hash: Slack refuses the update if the person changed the form meanwhile
            client.views_update(view_id=view["id"], hash=view.get("hash"),
                                view=alert_form(origin, secret, groups=groups, message=message,
                                                schedules=schedules))
        except SlackApiError as error:
            log.info("the alert form's user groups were not added: %s", error.response.get("error"))


def _submitted(alerts: AlertService, access: Access, secret: str, record_refusal: Callable[..., None]):
    def on_submit(ack, body: dict) -> None:
        view = body.get("view") or {}
        user = body.get("user") or {}
        origin = verified_origin(view.get("private_metadata", ""), secret)
        if origin is None or origin.user_id != user.get("id"):
            log.warning("refused a form submission whose origin we did not sign")
            return ack(response_action="errors", errors={
                MESSAGE: "This form was not opened by VoiceBridge for you. Open it again with /voicealert."})
        requester = Requester(user_id=origin.user_id, channel_id=origin.channel_id,
                              team_id=(body.get("team") or {}).get("id", origin.team_id), reply_url=origin.reply_url)
        if denied := access.refusal(requester.user_id, requester.channel_id):
            kind, reply = denied
            record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
            return ack(response_action="errors", errors={USERS: _plain(reply)})
        request = read_submission((view.get("state") or {}).get("values") or {})
        if isinstance(request, FormErrors):
            return ack(response_action="errors", errors=request.errors)
        if refused := _numbers_refused(request, alerts):
            return ack(response_action="errors", errors={NUMBERS: refused})
        try:
            alerts.request(
                requester=requester, sender_name=user.get("name") or user.get("username") or "a Slack user",
                channel_name=origin.channel_name, message=plain_message(request.message),
                recipients={"stages": [[asdict(r) for r in stage] for stage in request.stages],
                            "message": request.message, "language": None},
                # One alert per form, however often Slack delivers its submission.
                request_id=f"view:{view.get('id', '')}"[:128], source_link=origin.link,
                typed_numbers=typed_numbers(request.stages))
        except Refused as refused:
            record_refusal(source="slack", requester=requester, number=refused.number, kind=refused.kind,
                           reason=str(refused))
            # Under the numbers for a number's limit; under the people for the requester's own.
            return ack(response_action="errors", errors={NUMBERS if refused.number else USERS: rate_limit_text(
                str(refused), refused.frees_at, alerts.clock())})
        except Exception:
            log.exception("storing an alert from the form failed")
            return ack(response_action="errors", errors={MESSAGE: _plain(failure_reply(
                "Something went wrong on our side and the alert was not raised. Please try again."))})
        ack()

    return on_submit


def _numbers_refused(request, alerts: AlertService) -> str | None:
    """The first typed number the call policy refuses, and why (no call goes to a refused number)."""
    for stage in request.stages:
        for recipient in stage:
            if recipient.kind == NUMBER and (reason := alerts.refusal_for(parse_phone_number(recipient.id))):
                return f"{recipient.label}: {reason}"
    return None


def _plain(reply: str) -> str:
    # A field's error is plain text: our replies' mrkdwn (emoji codes, backticks) would show as typed.
    return plain_reply(reply).replace("`", "")


def _tell(reply_url: str | None, text: str) -> None:
    if not reply_url:
        return
    try:
        WebhookClient(reply_url, timeout=5).send(text=slack_text(text), response_type="ephemeral")
    except Exception:  # noqa: BLE001 - a note that could not be sent changes nothing else
        log.info("could not tell the user the form did not open")

