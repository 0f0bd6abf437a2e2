"""The App Home tab, as work: published when a person opens it and whenever their test call changes.

`app_home_opened` and the "Test call to me" button only record (the
listeners below); a worker reads the person's profile number, recent
calls and next on-call shifts and publishes the tab with views.publish, and
places the test call.
https://docs.slack.dev/reference/events/app_home_opened
"""

from __future__ import annotations

import logging
from typing import Callable

from slack_bolt import App

from bot.app import Access
from bot.delivery import slack_failures
from bot.directory import SlackDirectory
from bot.home.view import TEST_CALL_ACTION, home_view
from bot.installs.workspaces import Workspaces
from bot.messages import plain_reply
from bot.oncall.texts import feed_url, next_shifts_text
from bot.oncall.timeline import SHIFTS_AHEAD, shifts_of
from voice.calls.models import Requester
from voice.calls.numbers import PhoneNumber
from voice.queue.work import WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry
from voice.schedules.service import ScheduleService
from voice.store.db import transaction
from voice.testcall.calls import HOME, TestCalls, home_subject

log = logging.getLogger(__name__)

#: A person asked for a test call; subject "<team id>:<user id>".
TEST_REQUEST = "home.test_call"


def register_home_listeners(app: App, *, queue: WorkQueue, access: Access,
                            record_refusal: Callable[..., None] = lambda **refusal: None) -> None:
    @app.event("app_home_opened")
    def opened(event: dict, body: dict) -> None:
        if event.get("tab") not in (None, "home") or not event.get("user"):
            return  # the Messages tab: nothing of ours to show
        with transaction(queue.engine) as conn:
            queue.poke(conn, HOME, home_subject(body.get("team_id", ""), event["user"]))

    @app.action(TEST_CALL_ACTION)
    def test_call(ack, body: dict) -> None:
        ack()
        user = (body.get("user") or {}).get("id", "")
        team = (body.get("team") or {}).get("id", "") or (body.get("user") or {}).get("team_id", "")
        if not user:
            return
        # The tab is no channel: with ALLOWED_SLACK_CHANNELS set, only people ALLOWED_SLACK_USERS names may call.
        denied = access.refusal(user, None)
        if denied:
            kind, reply = denied
            record_refusal(source="slack", requester=Requester(user, "", team), number=None, kind=kind, reason=reply)
        with transaction(queue.engine) as conn:
            if denied:  # the tab says why, to this person only
                queue.enqueue(conn, HOME, home_subject(team, user), payload={"note": plain_reply(denied[1])})
            else:
                queue.enqueue(conn, TEST_REQUEST, home_subject(team, user))


class AppHome:
    def __init__(self, tests: TestCalls, queue: WorkQueue, directory_of: Callable[[str], SlackDirectory],
                 workspaces: Workspaces, refusal: Callable[[PhoneNumber], str | None], *,
                 schedules: ScheduleService | None = None, public_url: str = ""):
        self.tests = tests
        self.queue = queue
        self.directory_of = directory_of
        self.workspaces = workspaces
        self.refusal = refusal
        self.schedules = schedules
        self.public_url = public_url

    def register(self, registry: Registry) -> None:
        registry.add(HOME, self.publish, Policy(attempts=10, backoff=1.0, max_backoff=60.0))
        registry.add(TEST_REQUEST, self.place_test_call, Policy(attempts=10, backoff=1.0, max_backoff=60.0))

    def publish(self, item: WorkItem) -> None:
        team, user = item.subject.split(":", 1)
        requester = Requester(user_id=user, channel_id="", team_id=team)
        phone = self.directory_of(team).phone_of(user, self.refusal)
        view = home_view(user, phone, self.tests.recent(requester), self.tests.latest_test(requester),
                         note=(item.payload or {}).get("note"), shifts=self._shifts(team, user))
        with slack_failures("views.publish"):
            self.workspaces.client(team).views_publish(user_id=user, view=view)

    def _shifts(self, team: str, user: str) -> str | None:
        """The viewer's next shifts in the schedules their workspace sees, and the feeds of those they are in;
        None for someone in no schedule and with no shift."""
        if self.schedules is None:
            return None
        now = self.schedules.clock()
        shifts, feeds = [], []
        for schedule in self.schedules.listed(team):
            timeline = self.schedules.timeline(schedule.name, now, now + SHIFTS_AHEAD) or []
            shifts += [(schedule.name, stretch) for stretch in shifts_of(user, timeline)]
            if user in schedule.rotation.members and (token := self.schedules.feed_token(schedule.name)):
                feeds.append((schedule.name, feed_url(self.public_url, schedule.name, token)))
        if not shifts and not feeds:
            return None
        return next_shifts_text(sorted(shifts, key=lambda found: found[1].start), feeds, now, now + SHIFTS_AHEAD)

    def place_test_call(self, item: WorkItem) -> None:
        team, user = item.subject.split(":", 1)
        phone = self.directory_of(team).phone_of(user, self.refusal)
        refused = "Alerts cannot reach you: see above." if phone.number is None else self.tests.request(
            Requester(user_id=user, channel_id="", team_id=team), phone.number, phone.locale)
        if refused:
            with transaction(self.queue.engine) as conn:
                self.queue.enqueue(conn, HOME, item.subject, payload={"note": refused})  # the tab says why
