"""GET /schedules/<name>.ics?token=…: a schedule's feed, for whoever holds its link.

The token is in the URL because calendar clients subscribe to a URL and send nothing else (no header, no
login), as Google's and Outlook's "subscribe from URL" do. So the link is the secret: a wrong or missing
token and a schedule that does not exist get the same 404 as any unknown path, the token is checked in
constant time (ScheduleService.feed_allows), and nothing logs the URL with its query (the server keeps
no access log; answer_server/logs.py removes a `token=` from any line that would carry one).
"""

from __future__ import annotations

from typing import Callable, Collection

from flask import Blueprint, Response, abort, request

from answer_server.calendars.feed import REFRESH, feed_window, people_in, render_feed
from voice.schedules.service import ScheduleService

#: Given a workspace and user IDs: the names Slack has for them (those it has).
Names = Callable[[str, Collection[str]], dict[str, str]]


def calendars_blueprint(schedules: ScheduleService, names: Names, *, host: str) -> Blueprint:
    bp = Blueprint("calendars", __name__)

    @bp.get("/schedules/<name>.ics")
    def feed(name: str):
        # One value of token, whatever else the query holds; a repeated or empty one is simply wrong.
        tokens = request.args.getlist("token")
        if len(tokens) != 1 or not schedules.feed_allows(name, tokens[0]):
            abort(404)
        schedule = schedules.get(name)
        now = schedules.clock()
        window = feed_window(schedule.rotation, now) if schedule else None
        timeline = schedules.timeline(name, *window) if window else None
        if schedule is None or timeline is None:
            abort(404)  # removed since the token was checked
        people = names(schedule.team_id, people_in(timeline))
        response = Response(render_feed(name, schedule.rotation, timeline, people, now, host), 200,
                            content_type="text/calendar; charset=utf-8")
        # Private: the URL is a secret, so no shared cache may keep the answer under it.
        response.headers["Cache-Control"] = f"private, max-age={int(REFRESH.total_seconds())}"
        response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
        return response

    return bp
