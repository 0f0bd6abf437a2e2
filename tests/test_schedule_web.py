"""A schedule over HTTP: its calendar feed (GET /schedules/<name>.ics?token=…, read back with the icalendar
library as a calendar client reads it) and the API's GET /api/v1/schedules/<name>/oncall."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from answer_server import create_app
from answer_server.calendars.names import CachedNames
from tests.conftest import Clock
from voice.routing.loading import parse_routing

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
KEY = "oncall-api-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
ROUTING = f"""
schedules:
  - {{name: backend, time_zone: Europe/Berlin, rotation: [{ALICE}, {BOB}], shift: weekly,
     handoff: "monday 09:00", start: 2026-12-07}}
  - {{name: frontend, time_zone: America/New_York, rotation: [{CAROL}], shift: daily, handoff: "10:00",
     start: 2026-12-01}}
"""
#: Monday 7 December 2026, 09:00 in Berlin: Alice's first shift begins; Bob's a week later.
FIRST = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.fixture(autouse=True)
def people(fake_slack):
    for user, name in ((ALICE, "Alice Smith"), (BOB, "Bob Jones"), (CAROL, "Carol King")):
        fake_slack.add_user(user, name)


@pytest.fixture
def clock():
    return Clock(datetime(2026, 12, 16, 12, 0, tzinfo=UTC))  # a Wednesday of Bob's first week


@pytest.fixture
def app(settings, clock):
    # No workers: the hand-off's own look-ups and notices stay out of what these tests count.
    app = create_app(replace(settings, routing=parse_routing(ROUTING, {}), api_keys=(KEY,)), clock=clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def schedules(app):
    return app.extensions["voicebridge"]["services"].schedules


@pytest.fixture
def client(app):
    return app.test_client()


def fetch(client, schedules, name: str = "backend"):
    return client.get(f"/schedules/{name}.ics", query_string={"token": schedules.feed_token(name)})


def events(response) -> list:
    """The VEVENTs of a feed, in order, as a client parses them; every one with what RFC 5545 requires."""
    calendar = Calendar.from_ical(response.data)
    calendar.validate()  # PRODID and VERSION
    found = calendar.walk("VEVENT")
    for event in found:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND"} <= set(event), event
        assert event.decoded("DTEND") > event.decoded("DTSTART")
    return sorted(found, key=lambda event: event.decoded("DTSTART"))


def shown(event) -> tuple[datetime, datetime, str]:
    return event.decoded("DTSTART"), event.decoded("DTEND"), str(event["SUMMARY"])


# -- the feed -------------------------------------------------------------------------------------


def test_the_feed_is_the_shifts_of_the_next_8_weeks_as_icalendar(client, schedules, clock):
    response = fetch(client, schedules)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response.headers["Cache-Control"]
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == "On call: backend"
    assert calendar["METHOD"] == "PUBLISH"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in response.data
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in response.data

    found = events(response)
    # From the shift under way a week ago (Alice's first) to the one under way 8 weeks ahead, whole.
    assert [shown(event) for event in found] == [
        (FIRST + n * WEEK, FIRST + (n + 1) * WEEK, "On call: " + ("Alice" if n % 2 == 0 else "Bob"))
        for n in range(10)
    ]
    assert found[-1].decoded("DTEND") >= clock.now + timedelta(weeks=8)
    assert len({str(event["UID"]) for event in found}) == len(found)
    for event in found:
        assert event.decoded("DTSTAMP") == clock.now
        assert event["TRANSP"] == "TRANSPARENT"  # on call is not busy
        assert event["DTSTART"].to_ical().endswith(b"Z") and event["DTEND"].to_ical().endswith(b"Z")
        assert "(no override)" in str(event["DESCRIPTION"])


def test_each_shift_keeps_its_uid_from_one_fetch_to_the_next(client, schedules, clock):
    def by_uid():
        return {str(event["UID"]): shown(event) for event in events(fetch(client, schedules))}

    first = by_uid()
    clock.advance(hours=1)
    assert by_uid() == first
    clock.advance(days=3)  # the window has not moved a shift yet: the same events, the same UIDs
    assert by_uid() == first
    clock.advance(days=7)  # it has: one shift fewer behind, one more ahead, the others unchanged
    later = by_uid()
    assert len(later) == len(first) and len(set(later) & set(first)) == len(first) - 1
    assert all(later[uid] == first[uid] for uid in set(later) & set(first))


@pytest.mark.parametrize("now", [datetime(2027, 3, 10, 12, 0, tzinfo=UTC),  # clocks go forward on 28 March
                                 datetime(2027, 10, 10, 12, 0, tzinfo=UTC)])  # and back on 31 October
def test_across_daylight_saving_every_handoff_is_monday_09_00_in_berlin(client, schedules, clock, now):
    clock.now = now
    found = events(fetch(client, schedules))
    for event in found:
        for moment in (event.decoded("DTSTART"), event.decoded("DTEND")):
            local = moment.astimezone(BERLIN)
            assert (local.weekday(), local.hour, local.minute) == (0, 9, 0), local
    # Both sides of the change are in the window: the same 09:00 is 08:00 UTC in winter, 07:00 in summer.
    assert {event.decoded("DTSTART").hour for event in found} == {7, 8}
    assert all(later.decoded("DTSTART") == earlier.decoded("DTEND") for earlier, later in zip(found, found[1:]))


def test_an_override_shows_as_its_own_event_and_cuts_the_shift_it_covers(client, schedules, clock):
    clock.now = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # Alice's first week
    friday_evening, monday_morning = datetime(2026, 12, 11, 17, 0, tzinfo=UTC), FIRST + WEEK
    schedules.add_override("backend", CAROL, friday_evening, monday_morning, created_by=ALICE)
    found = events(fetch(client, schedules))
    assert [shown(event) for event in found[:3]] == [
        (FIRST, friday_evening, "On call: Alice"),
        (friday_evening, monday_morning, "On call: Carol"),
        (monday_morning, monday_morning + WEEK, "On call: Bob"),
    ]
    assert str(found[1]["DESCRIPTION"]) == "Carol is on call for backend: an override in place of Alice."
    assert "(no override)" in str(found[0]["DESCRIPTION"])
    assert str(found[1]["UID"]) == f"backend-20261211T170000Z-{CAROL}@voice.example.test"


def test_each_schedule_has_its_own_feed(client, schedules):
    found = events(fetch(client, schedules, "frontend"))
    assert {str(event["SUMMARY"]) for event in found} == {"On call: Carol"}
    assert fetch(client, schedules, "frontend").data != fetch(client, schedules, "backend").data


def test_a_wrong_or_missing_token_is_404_as_for_a_schedule_or_path_that_does_not_exist(client, schedules):
    nothing_here = client.get("/no/such/path")
    assert nothing_here.status_code == 404
    right = schedules.feed_token("backend")
    refused = [
        client.get("/schedules/backend.ics"),
        client.get("/schedules/backend.ics?token="),
        client.get("/schedules/backend.ics", query_string={"token": right[:-1]}),
        client.get("/schedules/backend.ics", query_string={"token": right + "x"}),
        client.get("/schedules/backend.ics", query_string={"token": schedules.feed_token("frontend")}),
        client.get("/schedules/backend.ics", query_string=[("token", right), ("token", right)]),
        client.get("/schedules/nosuch.ics", query_string={"token": right}),
        client.get("/schedules/nosuch.ics"),
    ]
    for response in refused:
        assert (response.status_code, response.data, response.mimetype) == (
            404, nothing_here.data, nothing_here.mimetype)
    assert fetch(client, schedules).status_code == 200


def test_a_rotated_token_ends_the_old_link(client, schedules):
    old = schedules.feed_token("backend")
    new = schedules.rotate_feed("backend")
    assert new != old
    assert client.get("/schedules/backend.ics", query_string={"token": old}).status_code == 404
    assert client.get("/schedules/backend.ics", query_string={"token": new}).status_code == 200


def test_a_failing_feed_logs_no_token(client, schedules, monkeypatch, caplog):
    token = schedules.feed_token("backend")

    def broken(*_args):
        raise RuntimeError("the store failed")

    monkeypatch.setattr(schedules, "timeline", broken)
    with caplog.at_level(logging.DEBUG):
        assert client.get("/schedules/backend.ics", query_string={"token": token}).status_code == 500
    assert "the store failed" in caplog.text  # the failure is logged…
    assert token not in caplog.text  # …without the link


def test_when_slack_cannot_name_people_the_feed_shows_their_ids(client, schedules, fake_slack):
    fake_slack.outage(503, "users.info")
    response = fetch(client, schedules)
    assert response.status_code == 200
    assert {str(event["SUMMARY"]) for event in events(response)} == {f"On call: {ALICE}", f"On call: {BOB}"}


def test_names_are_read_from_slack_once_for_many_fetches(client, schedules, fake_slack):
    for _ in range(3):
        assert fetch(client, schedules).status_code == 200
    assert sorted(call["user"] for call in fake_slack.calls("users.info")) == [ALICE, BOB]


class Ticks:
    """A monotonic clock that moves `step` seconds each time it is read, or when told."""

    def __init__(self, step: float = 0.0):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_name_is_kept_an_hour_and_one_slack_did_not_give_is_asked_again_after_five_minutes():
    asked: list[str] = []
    known = {ALICE: "Alice"}

    def lookup(_team, user):
        asked.append(user)
        return known.get(user)

    ticks = Ticks()
    names = CachedNames(lookup, keep=3600, retry=300, monotonic=ticks)
    assert names("T1", [ALICE, BOB]) == {ALICE: "Alice"}
    known[BOB] = "Bob"
    ticks.now += 299
    assert names("T1", [ALICE, BOB]) == {ALICE: "Alice"} and asked == [ALICE, BOB]
    ticks.now += 2
    assert names("T1", [ALICE, BOB]) == {ALICE: "Alice", BOB: "Bob"} and asked == [ALICE, BOB, BOB]
    known[ALICE] = "Alice Smith"
    ticks.now += 3600
    assert names("T1", [ALICE]) == {ALICE: "Alice Smith"}
    assert names("T2", [ALICE]) == {ALICE: "Alice Smith"} and asked.count(ALICE) == 3  # per workspace


def test_one_request_stops_asking_slack_after_its_budget():
    asked: list[str] = []
    ticks = Ticks(step=1.0)  # every look-up (and every reading of the time) takes a second

    def lookup(_team, user):
        asked.append(user)
        return user.lower()

    names = CachedNames(lookup, budget=3.0, monotonic=ticks)
    users = [f"U{n}" for n in range(10)]
    first = names("T1", users)
    assert 0 < len(first) < len(users) and len(asked) == len(first)
    assert len(names("T1", users)) > len(first)  # the next fetch goes on from there


# -- the API: who is on call ----------------------------------------------------------------------


def oncall(client, name: str = "backend", **query):
    return client.get(f"/api/v1/schedules/{name}/oncall", query_string=query, headers=AUTH)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_who_is_on_call_across_a_handoff(client):
    handoff = FIRST + WEEK
    before = oncall(client, at=iso(handoff - timedelta(seconds=1)))
    assert before.status_code == 200
    assert before.get_json() == {"schedule": "backend", "at": iso(handoff - timedelta(seconds=1)), "user": ALICE,
                                 "override": False, "shift_start": iso(FIRST), "shift_end": iso(handoff)}
    after = oncall(client, at=iso(handoff)).get_json()
    assert (after["user"], after["shift_start"], after["shift_end"]) == (BOB, iso(handoff), iso(handoff + WEEK))
    # The same moment written with Berlin's offset, with "+" as a script may leave it unencoded (a space).
    berlin = oncall(client, at="2026-12-14T09:00:00+01:00").get_json()
    assert berlin["user"] == BOB and berlin["at"] == iso(handoff)
    assert client.get("/api/v1/schedules/backend/oncall?at=2026-12-14T08:59:59+01:00", headers=AUTH
                      ).get_json()["user"] == ALICE


def test_nobody_is_on_call_before_the_rotation_starts(client):
    answer = oncall(client, at=iso(FIRST - timedelta(minutes=1))).get_json()
    assert answer["user"] is None and answer["override"] is False and answer["shift_end"] == iso(FIRST)


def test_without_at_it_is_now(client, clock):
    answer = oncall(client).get_json()
    assert (answer["at"], answer["user"]) == (iso(clock.now), BOB)


def test_an_override_is_who_is_on_call_for_its_period(client, schedules, clock):
    start, end = clock.now + timedelta(hours=2), clock.now + timedelta(hours=6)
    schedules.add_override("backend", CAROL, start, end, created_by=BOB)
    during = oncall(client, at=iso(start + timedelta(hours=1))).get_json()
    assert (during["user"], during["override"], during["shift_start"], during["shift_end"]) == (
        CAROL, True, iso(start), iso(end))
    assert oncall(client, at=iso(end)).get_json()["user"] == BOB
    around = oncall(client, at=iso(start - timedelta(minutes=1))).get_json()
    assert (around["user"], around["override"], around["shift_end"]) == (BOB, False, iso(start))


@pytest.mark.parametrize("at", ["tomorrow", "2026-12-14T09:00:00", "2026-12-14", "2026-13-01T00:00:00Z",
                                "9999-12-31T23:59:59Z", "x" * 500])
def test_a_time_that_cannot_be_read_is_400_and_says_how_to_write_one(client, at):
    response = oncall(client, at=at)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_at"
    assert "2026-12-07T09:00:00Z" in error["message"] or "years of now" in error["message"]
    assert len(error["message"]) < 300


def test_an_unknown_parameter_is_400_not_ignored(client):
    response = oncall(client, when="2026-12-14T09:00:00Z")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "unknown_parameter"


def test_an_unknown_schedule_is_404_with_the_names_that_exist(client):
    response = oncall(client, name="backnd")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "unknown_schedule" and "backend, frontend" in error["message"]


def test_the_api_needs_a_key(client):
    response = client.get("/api/v1/schedules/backend/oncall")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
