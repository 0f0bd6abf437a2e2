"""Bolt listeners for the schedule form: opening it (`/oncall new`, `/oncall edit <name>`) and its submission.

Opening a modal needs the command's `trigger_id` within 3 seconds, so views.open runs as a Bolt lazy
listener, after the acknowledgement (https://docs.slack.dev/tools/bolt-python/concepts/lazy-listeners),
and what Slack is asked for besides (the user groups, the opener's time zone) comes after it, as an
update. A submission is checked field by field; what is wrong is shown under its field; a good one is
written, the form closes, and the person is told (only them) who is on call.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.delivery import NOTICE, notice_payload
from bot.directory import user_groups
from bot.messages import plain_reply
from bot.oncall.commands import Edit, NewSchedule, parse_oncall
from bot.oncall.context import Oncall
from bot.oncall.form import (
    CALLBACK_ID,
    MEMBERS,
    NAME,
    ZONE,
    FormErrors,
    Opened,
    read_schedule,
    schedule_form,
    verified_opening,
    zone_options,
)
from bot.oncall.texts import SCHEDULES, saved_reply
from bot.oncall.timeline import AHEAD, now_and_next
from voice.calls.models import Requester
from voice.schedules.rotation import zone
from voice.schedules.store import SLACK
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: What a person is told when the form could not open (a stale trigger, Slack busy).
NOT_OPENED = "The schedule form could not be opened in time. Please type the command again."


def register_form_listeners(app: App, *, oncall: Oncall, secret: str) -> None:
    app.view(CALLBACK_ID)(_submitted(oncall, secret))
    # The time zone's select asks for its options as the person types (Slack's block_suggestion).
    app.options(ZONE)(lambda ack, payload: ack(options=zone_options(payload.get("value") or "")))


def open_form_lazily(oncall: Oncall, secret: str):
    """The lazy half of /oncall new and /oncall edit: the form, opened with the command's trigger; the
    command itself said why not, where it does not open."""
    def open_form(body: dict, client) -> None:
        request = parse_oncall(body.get("text") or "")
        if not isinstance(request, (NewSchedule, Edit)):
            return
        team, user = body.get("team_id", ""), body.get("user_id", "")
        if oncall.access.refusal(user, body.get("channel_id", ""), SCHEDULES):
            return
        schedule = oncall.visible(request.name, team) if isinstance(request, Edit) else None
        if isinstance(request, Edit) and (schedule is None or schedule.defined_in != SLACK):
            return
        opened = Opened(user_id=user, channel_id=body.get("channel_id", ""), team_id=team,
                        reply_url=body.get("response_url"), editing=schedule.name if schedule else None)
        today = oncall.schedules.clock().date()
        try:
            shown = client.views_open(trigger_id=body.get("trigger_id"), view=schedule_form(
                opened, secret, schedule=schedule, start=today))
        except SlackApiError as error:
            log.info("the schedule form did not open: %s", error.response.get("error"))
            _tell(oncall.queue, opened, NOT_OPENED)
            return
        view = shown.get("view") if isinstance(shown.get("view"), dict) else {}
        if not view.get("id"):
            return
        groups = user_groups(client)
        time_zone = None if schedule else _time_zone(client, user)
        try:  # the hash: Slack refuses the update if the form was changed by another update meanwhile
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=schedule_form(
                opened, secret, schedule=schedule, groups=groups, time_zone=time_zone, start=today, revision=1))
        except SlackApiError as error:
            log.info("the schedule form's user groups were not added: %s", error.response.get("error"))

    return open_form


def _time_zone(client, user: str) -> str | None:
    """The person's Slack time zone, for a new schedule to start from; None if Slack does not say."""
    try:
        found = (client.users_info(user=user).get("user") or {}).get("tz")
        zone(found)
    except Exception:  # noqa: BLE001 - no zone to start from: the person chooses one
        return None
    return found


def _submitted(oncall: Oncall, secret: str):
    def on_submit(ack, body: dict) -> None:
        view = body.get("view") or {}
        opened = verified_opening(view.get("private_metadata", ""), secret)
        if opened is None or opened.user_id != (body.get("user") or {}).get("id"):
            log.warning("refused a schedule form whose opening we did not sign")
            return ack(response_action="errors", errors={
                MEMBERS: "This form was not opened by VoiceBridge for you. Open it again with /oncall new."})
        requester = Requester(opened.user_id, opened.channel_id, opened.team_id, opened.reply_url)
        if refused := oncall.refused(requester):
            return ack(response_action="errors", errors={MEMBERS: plain_reply(refused).replace("`", "")})
        read = read_schedule((view.get("state") or {}).get("values") or {}, opened.editing)
        if isinstance(read, FormErrors):
            return ack(response_action="errors", errors=read.errors)
        if opened.editing is None:
            if not oncall.schedules.create(read, opened.team_id, created_by=opened.user_id):
                return ack(response_action="errors", errors={
                    NAME: f"There is a schedule “{read.name}” already; choose another name."})
            log.info("schedule %s: created from Slack", read.name)
        else:
            current = oncall.visible(read.name, opened.team_id)
            if current is None or current.defined_in != SLACK or not oncall.schedules.change(read):
                return ack(response_action="errors", errors={MEMBERS: (
                    f"The schedule “{read.name}” was deleted, or is now defined in the routing file."
                    if current is None or current.defined_in != SLACK else "The schedule could not be saved.")})
            log.info("schedule %s: changed from Slack", read.name)
        ack()
        now = oncall.schedules.clock()
        current, following = now_and_next(oncall.schedules.timeline(read.name, now, now + AHEAD) or [])
        _tell(oncall.queue, opened, saved_reply(oncall.schedules.get(read.name), opened.editing is None, current,
                                                following, now))

    return on_submit


def _tell(queue, opened: Opened, text: str) -> None:
    """Said only to whoever opened the form, where they typed the command."""
    with transaction(queue.engine) as conn:
        queue.enqueue(conn, NOTICE, opened.user_id, payload=notice_payload(
            text, reply_url=opened.reply_url, ephemeral=True, team=opened.team_id))
