"""Shift arithmetic and who is on call, as every implementation must agree (issue's rules): properties over
years of shifts in several time zones, and the daylight-saving days by hand."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from voice.schedules.models import DAYS, HOURS, Handoff, Override, Rotation, ShiftLength
from voice.schedules.oncall import on_call, segments
from voice.schedules.rotation import shift, shift_at, shift_index, shifts_between

UTC = timezone.utc
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo",
         "Pacific/Chatham", "UTC", "Europe/London", "America/St_Johns")


def berlin_weekly(members=("U0ALICE", "U0BOB", "U0CAROL")) -> Rotation:
    return Rotation("Europe/Berlin", members, ShiftLength(7, DAYS), Handoff(time(9, 0), 0), date(2026, 12, 7))


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


# -- the example, by hand ---------------------------------------------------------------------


def test_the_first_shift_starts_at_the_first_handoff_on_or_after_start_with_the_first_person():
    rotation = Rotation("Europe/Berlin", ("U0ALICE", "U0BOB"), ShiftLength(7, DAYS), Handoff(time(9, 0), 0),
                        date(2026, 12, 3))  # a Thursday: the first Monday 09:00 on or after is the 7th
    first = shift(rotation, 0)
    assert local(first.start, "Europe/Berlin") == datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert first.user == "U0ALICE" and shift(rotation, 1).user == "U0BOB" and shift(rotation, 2).user == "U0ALICE"
    assert shift_at(rotation, datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) is None  # 08:59 in Berlin: not yet
    assert shift_at(rotation, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)).index == 0


def test_a_0900_handoff_stays_0900_across_both_daylight_saving_changes():
    rotation = berlin_weekly()
    starts = [item.start for item in shifts_between(
        rotation, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 11, 15, tzinfo=UTC))]
    walls = [local(moment, "Europe/Berlin") for moment in starts]
    assert {(moment.hour, moment.minute, moment.weekday()) for moment in walls} == {(9, 0, 0)}
    # The week through the spring change is 167 hours long; through the autumn one, 169 (UTC instants:
    # two aware times in one zone subtract as wall times).
    lengths = {int((b - a).total_seconds() // 3600) for a, b in zip(starts, starts[1:])}
    assert lengths == {167, 168, 169}


def test_hour_shifts_are_elapsed_hours_so_their_local_time_moves_with_daylight_saving():
    rotation = Rotation("America/New_York", ("U0A", "U0B"), ShiftLength(12, HOURS), Handoff(time(8, 0)),
                        date(2027, 3, 13))
    before, after = shift(rotation, 0), shift(rotation, 4)  # 08:00 EST on the 13th; two days on
    assert local(before.start, "America/New_York").hour == 8
    assert local(after.start, "America/New_York").hour == 9  # clocks went forward on the 14th
    assert after.start - before.start == timedelta(hours=48)


def test_a_handoff_inside_the_skipped_hour_is_one_shift_at_the_jump():
    rotation = Rotation("America/New_York", ("U0A", "U0B"), ShiftLength(1, DAYS), Handoff(time(2, 30)),
                        date(2027, 3, 13))
    day_before, jump_day, day_after = shift(rotation, 0), shift(rotation, 1), shift(rotation, 2)
    assert day_before.end == jump_day.start and jump_day.end == day_after.start
    assert local(jump_day.start, "America/New_York").strftime("%H:%M") == "03:30"  # 02:30 did not exist
    assert jump_day.end - jump_day.start == timedelta(hours=23)


def test_a_handoff_in_the_repeated_hour_is_the_first_of_the_two():
    rotation = Rotation("Europe/Berlin", ("U0A", "U0B"), ShiftLength(1, DAYS), Handoff(time(2, 30)),
                        date(2027, 10, 30))
    repeated = shift(rotation, 1)  # 2027-10-31 02:30 happens twice in Berlin
    assert repeated.start == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first
    assert repeated.end - repeated.start == timedelta(hours=25)


def test_a_start_far_in_the_past_and_one_in_the_future():
    old = Rotation("Asia/Kolkata", ("U0A", "U0B", "U0C"), ShiftLength(1, DAYS), Handoff(time(10, 0)), date(1990, 1, 1))
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    found = shift_at(old, now)
    assert found.start <= now < found.end and found.user == ("U0A", "U0B", "U0C")[found.index % 3]
    future = Rotation("Asia/Kolkata", ("U0A",), ShiftLength(1, DAYS), Handoff(time(10, 0)), date(2030, 1, 1))
    assert shift_at(future, now) is None
    assert on_call(future, (), now).user is None


# -- properties over years, in several zones ---------------------------------------------------------

rotations = st.builds(
    Rotation,
    time_zone=st.sampled_from(ZONES),
    members=st.lists(st.sampled_from(["U0A", "U0B", "U0C", "U0D"]), min_size=1, max_size=4).map(tuple),
    shift=st.one_of(st.builds(ShiftLength, st.integers(1, 30), st.just(DAYS)),
                    st.builds(ShiftLength, st.integers(1, 240), st.just(HOURS))),
    handoff=st.builds(Handoff, st.times().map(lambda t: t.replace(second=0, microsecond=0))),
    start=st.dates(date(2000, 1, 1), date(2035, 1, 1)),
)
moments = st.datetimes(datetime(1999, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(rotations, moments)
def test_every_moment_after_the_first_shift_is_in_exactly_the_shift_index_names(rotation, at):
    index = shift_index(rotation, at)
    first = shift(rotation, 0)
    if at < first.start:
        assert index is None
        return
    found = shift(rotation, index)
    assert found.start <= at < found.end
    assert found.user == rotation.members[index % len(rotation.members)]


@settings(max_examples=200, deadline=None)
@given(rotations, st.integers(0, 2000))
def test_shifts_follow_each_other_without_gap_and_day_shifts_keep_their_local_handoff(rotation, index):
    this, following = shift(rotation, index), shift(rotation, index + 1)
    assert this.end == following.start and this.start < this.end
    if rotation.shift.unit == DAYS:
        wall = local(this.start, rotation.time_zone)
        wanted = datetime.combine(wall.date(), rotation.handoff.at)
        # The local hand-off time, except on a day it does not exist (then it is later, by the jump).
        assert wall.replace(tzinfo=None) >= wanted
        assert wall.replace(tzinfo=None) - wanted <= timedelta(hours=1)
        assert (wall.date() - local(shift(rotation, 0).start, rotation.time_zone).date()).days == \
            index * rotation.shift.count
    else:
        assert this.end - this.start == timedelta(hours=rotation.shift.count)


overrides = st.lists(st.builds(
    lambda n, user, start, hours: Override(n, user, start, start + timedelta(hours=hours)),
    st.integers(1, 10_000), st.sampled_from(["U0X", "U0Y", "U0A"]),
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 3, 1), timezones=st.just(UTC)), st.integers(1, 200)),
    max_size=5, unique_by=lambda item: item.id)


@settings(max_examples=200, deadline=None)
@given(rotations.map(lambda r: Rotation(r.time_zone, r.members, r.shift, r.handoff, date(2025, 12, 1))), overrides,
       st.datetimes(datetime(2026, 1, 1), datetime(2026, 3, 1), timezones=st.just(UTC)),
       st.sets(st.sampled_from(["U0A", "U0B", "U0X"]), max_size=2))
def test_segments_cover_time_and_agree_with_on_call_and_the_latest_override_wins(rotation, items, at, inactive):
    timeline = segments(rotation, items, at, at + timedelta(days=9), inactive)
    assert timeline[0].start == at and timeline[-1].end == at + timedelta(days=9)
    assert all(a.end == b.start for a, b in zip(timeline, timeline[1:]))
    for segment in timeline:
        assert segment.user not in inactive
        covering = [item for item in items if item.start <= segment.start < item.end and item.user not in inactive]
        if covering:
            assert segment.override == max(covering, key=lambda item: item.id)
        else:
            scheduled = shift_at(rotation, segment.start)
            active = [user for user in rotation.members if user not in inactive]
            assert segment.user == (None if not active else segment.user)
            assert segment.user is None or segment.user in active
            assert segment.scheduled == (scheduled.user if scheduled else None)
    now = on_call(rotation, items, at, inactive)
    assert now.start <= at < now.end and now.user == timeline[0].user


def test_a_deactivated_person_is_passed_over_and_named_never_a_silent_gap():
    rotation = berlin_weekly()
    at = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)  # Alice's first week
    found = on_call(rotation, (), at, inactive={"U0ALICE"})
    assert (found.user, found.scheduled, found.skipped) == ("U0BOB", "U0ALICE", ("U0ALICE",))
    nobody = on_call(rotation, (), at, inactive={"U0ALICE", "U0BOB", "U0CAROL"})
    assert nobody.user is None and nobody.skipped == ("U0ALICE", "U0BOB", "U0CAROL")


def test_bob_covers_for_alice_from_friday_evening_to_monday_morning_and_the_later_override_wins():
    rotation = berlin_weekly()
    friday = datetime(2026, 12, 11, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    monday = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)  # 09:00: the hand-off to Bob anyway
    bob = Override(1, "U0BOB", friday, monday)
    carol = Override(2, "U0CAROL", friday + timedelta(hours=24), friday + timedelta(hours=30))
    timeline = segments(rotation, (bob, carol), datetime(2026, 12, 11, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC))
    assert [(seg.user, seg.is_override) for seg in timeline] == [
        ("U0ALICE", False), ("U0BOB", True), ("U0CAROL", True), ("U0BOB", True), ("U0BOB", False)]
    assert on_call(rotation, (bob, carol), friday + timedelta(hours=1)).end == friday + timedelta(hours=24)
