"""Bolt listeners for `/oncall`, its form, and the buttons of its messages.

As every listener, these only read and record, and answer at once: who is on call comes from the database
(voice/schedules), a change is written there, and whatever needs Slack's Web API runs elsewhere: an
override's times are read in the typing person's Slack time zone by the workers (bot/oncall/covers.py),
the form opens in a Bolt lazy listener (bot/oncall/form_listeners.py), and a button's answer replaces its
message through the work queue. Every reply is ephemeral: only the person who asked sees it (the feed link
is in it). Who may use /oncall is who may place calls (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS); each
workspace sees its own schedules and the routing file's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from slack_bolt import App

from bot.app import Access, requester_of
from bot.delivery import NOTICE, notice_payload
from bot.messages import CommandError, HelpRequest
from bot.oncall.commands import (
    Cover,
    Delete,
    Edit,
    Listing,
    ListOverrides,
    NewSchedule,
    RotateFeed,
    Show,
    parse_oncall,
)
from bot.oncall.context import Oncall
from bot.oncall.covers import cover_payload, enqueue_cover
from bot.oncall.form_listeners import open_form_lazily, register_form_listeners
from bot.oncall.texts import (
    DELETE_SCHEDULE,
    ONCALL_USAGE,
    REMOVE_OVERRIDE,
    covering_reply,
    delete_message,
    deleted_reply,
    feed_rotated_reply,
    feed_url,
    file_defined_reply,
    listing_reply,
    not_covered_reply,
    overrides_message,
    removed_note,
    schedule_reply,
    usage_reply,
)
from bot.oncall.timeline import AHEAD, SHIFTS_AHEAD, now_and_next, stretches
from voice.calls.models import Requester
from voice.queue.work import WorkQueue
from voice.schedules.parsing import Problem, parse_moment
from voice.schedules.service import ScheduleService
from voice.schedules.store import SLACK, ScheduleRecord
from voice.store.db import transaction

log = logging.getLogger(__name__)

_OVERRIDE_VALUE = re.compile(r"([a-z0-9-]{1,40}):([0-9]{1,12})")
_NAME_VALUE = re.compile(r"[a-z0-9-]{1,40}")


def register_oncall_listeners(app: App, *, schedules: ScheduleService, queue: WorkQueue, access: Access,
                              secret: str, public_url: str, record_refusal: Callable[..., None] = lambda **r: None
                              ) -> None:
    oncall = Oncall(schedules, queue, access, public_url, record_refusal)
    # /oncall new and /oncall edit open the form after the acknowledgement (a lazy listener).
    app.command("/oncall")(ack=_command(oncall), lazy=[open_form_lazily(oncall, secret)])
    register_form_listeners(app, oncall=oncall, secret=secret)
    app.action(REMOVE_OVERRIDE)(_remove_override(oncall))
    app.action(DELETE_SCHEDULE)(_delete(oncall))


def _command(oncall: Oncall):
    def command(ack, command: dict) -> None:
        """Answer at once: the usage, a specific error or refusal, or what was asked for."""
        request = parse_oncall(command.get("text", ""))
        if isinstance(request, HelpRequest):
            return ack(ONCALL_USAGE)
        if isinstance(request, CommandError):
            return ack(usage_reply(request.problem))
        requester = requester_of(command)
        if refused := oncall.refused(requester):
            return ack(refused)
        if isinstance(request, Listing):
            return ack(_listing(oncall, requester.team_id))
        if isinstance(request, NewSchedule):
            return ack()  # the form opens
        schedule = oncall.visible(request.name, requester.team_id)
        if schedule is None:
            return ack(oncall.unknown(request.name, requester.team_id))
        if isinstance(request, (Edit, Delete)) and schedule.defined_in != SLACK:
            return ack(file_defined_reply(schedule.name))
        if isinstance(request, Show):
            now = oncall.schedules.clock()
            shifts = stretches(oncall.schedules.timeline(schedule.name, now, now + SHIFTS_AHEAD) or [])
            return ack(schedule_reply(schedule, shifts, now, now + SHIFTS_AHEAD, oncall.feed(schedule.name)))
        if isinstance(request, RotateFeed):
            token = oncall.schedules.rotate_feed(schedule.name)
            log.info("schedule %s: its calendar feed's token was replaced", schedule.name)
            return ack(feed_rotated_reply(schedule.name, feed_url(oncall.public_url, schedule.name, token)))
        if isinstance(request, Cover):
            return ack(_cover(oncall, schedule, request, requester, command))
        if isinstance(request, ListOverrides):
            text, blocks = overrides_message(schedule, oncall.schedules.overrides(schedule.name))
            return ack(text=text, blocks=blocks)
        if isinstance(request, Delete):
            text, blocks = delete_message(schedule.name, len(oncall.schedules.overrides(schedule.name)))
            return ack(text=text, blocks=blocks)
        ack()  # Edit: the form opens

    return command


def _listing(oncall: Oncall, team_id: str) -> str:
    now = oncall.schedules.clock()
    rows = []
    for schedule in oncall.schedules.listed(team_id):
        current, following = now_and_next(oncall.schedules.timeline(schedule.name, now, now + AHEAD) or [])
        if current is not None:
            rows.append((schedule, current, following))
    return listing_reply(rows, now, now + AHEAD)


def _cover(oncall: Oncall, schedule: ScheduleRecord, request: Cover, requester: Requester, command: dict) -> str:
    """A time that cannot be read is said at once (in any time zone it cannot); the rest is the workers'."""
    now = oncall.schedules.clock()
    for typed in (request.start, request.end):
        if typed is not None and isinstance(read := parse_moment(typed, now, schedule.rotation.time_zone),
                                            Problem):
            return not_covered_reply(f"“{typed}”: {read.message}.")
    with transaction(oncall.queue.engine) as conn:
        enqueue_cover(oncall.queue, conn, cover_payload(schedule.name, request.user, request.start, request.end,
                                                        requester, at=now),
                      key=command.get("trigger_id"))
    return covering_reply(schedule.name, request.user or requester.user_id)


# -- buttons ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    requester: Requester  # with the click's response_url: what only the clicker sees
    value: str


def _click(body: dict) -> Click | None:
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    user = body.get("user") or {}
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return Click(Requester(user.get("id", ""), channel, team, body.get("response_url")), str(value))


def _answer(oncall: Oncall, click: Click, text: str, blocks: list[dict] | None = None, *, replace: bool) -> None:
    """Said to the clicker only, in place of the message they clicked on (`replace`) or under it."""
    with transaction(oncall.queue.engine) as conn:
        oncall.queue.enqueue(conn, NOTICE, click.requester.user_id, payload=notice_payload(
            text, reply_url=click.requester.reply_url, ephemeral=True, team=click.requester.team_id,
            blocks=blocks, replace=replace))


def _remove_override(oncall: Oncall):
    def on_click(ack, body: dict) -> None:
        ack()
        click = _click(body)
        found = _OVERRIDE_VALUE.fullmatch(click.value) if click else None
        if click is None or found is None:
            return
        if refused := oncall.refused(click.requester):
            return _answer(oncall, click, refused, replace=False)
        schedule = oncall.visible(found[1], click.requester.team_id)
        if schedule is None:
            return _answer(oncall, click, oncall.unknown(found[1], click.requester.team_id), replace=False)
        before = {item.id: item for item in oncall.schedules.overrides(schedule.name)}
        removed = oncall.schedules.remove_override(schedule.name, int(found[2]))
        gone = before.get(int(found[2]))
        if removed:
            log.info("schedule %s: override %s removed from Slack", schedule.name, found[2])
        text, blocks = overrides_message(schedule, oncall.schedules.overrides(schedule.name),
                                         note=removed_note(gone.user if gone else "", removed))
        _answer(oncall, click, text, blocks, replace=True)

    return on_click


def _delete(oncall: Oncall):
    def on_click(ack, body: dict) -> None:
        ack()
        click = _click(body)
        if click is None or not _NAME_VALUE.fullmatch(click.value):
            return
        if refused := oncall.refused(click.requester):
            return _answer(oncall, click, refused, replace=False)
        schedule = oncall.visible(click.value, click.requester.team_id)
        if schedule is not None and schedule.defined_in != SLACK:
            return _answer(oncall, click, file_defined_reply(schedule.name), replace=True)
        deleted = schedule is not None and oncall.schedules.remove(schedule.name)
        if deleted:
            log.info("schedule %s: deleted from Slack", click.value)
        _answer(oncall, click, deleted_reply(click.value, deleted), replace=True)

    return on_click
