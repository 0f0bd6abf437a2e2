"""A schedule's shifts as an iCalendar feed (RFC 5545, with RFC 7986's calendar properties). Pure.

Built with the icalendar library (https://icalendar.readthedocs.io/). Every time is UTC (a `Z` time
needs no VTIMEZONE; each client shows it in its reader's zone). A calendar client replaces what it showed
with each fetch and matches events by UID, so a UID must name the same shift on every fetch: it is the
schedule, the start and the person, and the feed's window starts and ends on shift boundaries rather
than at the moment of the request, so no event's start moves from one fetch to the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from icalendar import Calendar, Event, vDuration, vText

from voice.schedules.models import Rotation, Segment
from voice.schedules.rotation import shift_index, shift_start

#: The feed's window: the shifts of the next 8 weeks, and those of the week just past (who was on call
#: last night is a question people ask their calendar too).
AHEAD = timedelta(weeks=8)
BEHIND = timedelta(weeks=1)
#: How often a client should fetch again: an override added for tonight shows within the hour. Apple's
#: and Thunderbird's clients read REFRESH-INTERVAL, Outlook X-PUBLISHED-TTL; Google fetches on its own
#: schedule whatever the feed says.
REFRESH = timedelta(hours=1)
PRODID = "-//VoiceBridge//On-call schedules//EN"


def feed_window(rotation: Rotation, now: datetime) -> tuple[datetime, datetime]:
    """From the start of the shift under way a week ago to the end of the one under way 8 weeks ahead."""
    return _boundary(rotation, now - BEHIND, 0), _boundary(rotation, now + AHEAD, 1)


def _boundary(rotation: Rotation, at: datetime, later: int) -> datetime:
    """The start (later=0) or the end (later=1) of the shift under way at `at`; before the rotation starts,
    the UTC midnight before (0) or after (1) `at`, which also stays put from one fetch to the next."""
    index = shift_index(rotation, at)
    if index is not None:
        return shift_start(rotation, index + later)
    midnight = at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=later)


def people_in(segments: Iterable[Segment]) -> set[str]:
    """Everyone a feed of these segments names: who is on call, whose shift it is, who was passed over."""
    found: set[str] = set()
    for segment in segments:
        found.update(person for person in (segment.user, segment.scheduled, *segment.skipped) if person)
    return found


def event_uid(schedule: str, segment: Segment, host: str) -> str:
    """The same for the same person's stretch from the same start, on every fetch (RFC 5545 3.8.4.7)."""
    return f"{schedule}-{segment.start:%Y%m%dT%H%M%SZ}-{segment.user}@{host}"


def describe(schedule: str, segment: Segment, names: Mapping[str, str]) -> str:
    """The event's DESCRIPTION: whose shift it is, and whether an override made it theirs."""
    def name(user: str) -> str:
        return names.get(user, user)

    if segment.is_override:
        instead = (f" in place of {name(segment.scheduled)}"
                   if segment.scheduled and segment.scheduled != segment.user else "")
        text = f"{name(segment.user)} is on call for {schedule}: an override{instead}."
    else:
        text = f"{name(segment.user)} is on call for {schedule}: their shift in the rotation (no override)."
    if segment.skipped:
        passed = ", ".join(name(person) for person in segment.skipped)
        text += f" Passed over: {passed} (deactivated in Slack)."
    return text


def render_feed(schedule: str, rotation: Rotation, segments: Sequence[Segment], names: Mapping[str, str],
                now: datetime, host: str) -> bytes:
    """The iCalendar document: one VEVENT per stretch of time someone is on call (none for nobody)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # PUBLISH: a feed to subscribe to, not an invitation (RFC 5546 3.2.1); DTSTAMP is then when it was made.
    calendar.add("method", "PUBLISH")
    title = f"On call: {schedule}"
    about = (f"Who is on call for {schedule} (VoiceBridge), overrides included. Shifts: "
             f"{rotation.shift.written()}, from {rotation.handoff.written()} ({rotation.time_zone}).")
    # NAME and DESCRIPTION are RFC 7986's; X-WR-CALNAME and X-WR-CALDESC what Google and Apple read. All
    # are TEXT, whose commas and semicolons are escaped (RFC 5545 3.3.11): vText says so, as the library
    # knows no type for a name it does not know.
    calendar.add("name", vText(title))
    calendar.add("x-wr-calname", vText(title))
    calendar.add("description", vText(about))
    calendar.add("x-wr-caldesc", vText(about))
    # RFC 7986 5.7 requires VALUE=DURATION on REFRESH-INTERVAL; Microsoft's X-PUBLISHED-TTL is a duration too.
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    stamp = now.astimezone(timezone.utc).replace(microsecond=0)
    for segment in segments:
        if segment.user is None:
            continue
        event = Event()
        event.add("uid", event_uid(schedule, segment, host))
        event.add("dtstamp", stamp)
        event.add("dtstart", segment.start.astimezone(timezone.utc))
        event.add("dtend", segment.end.astimezone(timezone.utc))
        event.add("summary", f"On call: {names.get(segment.user, segment.user)}")
        event.add("description", describe(schedule, segment, names))
        # Being on call does not make anyone busy: a week-long busy block would empty their free/busy.
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
