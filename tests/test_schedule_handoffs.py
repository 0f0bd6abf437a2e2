"""The hand-off as Slack sees it: at each change of who is on call, the schedule's user group is set to them
(usergroups.users.update), the incoming and outgoing people get a direct message and the channel a line;
once, however often the work runs and on however many instances; late after a restart that missed it."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests.core import settle, wire
from voice.routing.loading import parse_routing

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
GROUP, CHANNEL = "S0ONCALL", "C0OPS"
ROUTING = f"""
schedules:
  - name: backend
    time_zone: Europe/Berlin
    rotation: [{ALICE}, {BOB}]
    shift: weekly
    handoff: "monday 09:00"
    start: 2026-12-07
    user_group: {GROUP}
    channel: {CHANNEL}
"""
#: Monday 7 December 2026, 09:00 in Berlin: Alice's first shift begins.
FIRST = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def people(fake_slack):
    for user, name in ((ALICE, "Alice Smith"), (BOB, "Bob Jones"), (CAROL, "Carol King")):
        fake_slack.add_user(user, name, "+1 415 555 0101")
    fake_slack.add_usergroup(GROUP, [CAROL])


def schedule_core(settings, database_url, clock):
    return wire(replace(settings, routing=parse_routing(ROUTING, {})), database_url, clock)


@pytest.fixture
def core(settings, database_url, clock, plivo_rest):
    clock.now = FIRST - timedelta(minutes=1)
    services = schedule_core(settings, database_url, clock)
    yield services
    services.close()


def texts(fake_slack, channel) -> list[str]:
    return [message.text for message in fake_slack.messages(channel)]


def test_at_the_first_handoff_the_group_is_set_and_alice_and_the_channel_are_told(core, clock, fake_slack):
    settle(core)
    assert fake_slack.usergroup(GROUP) == [CAROL] and texts(fake_slack, ALICE) == []  # nobody on call yet
    clock.advance(minutes=1)
    settle(core)
    assert fake_slack.usergroup(GROUP) == [ALICE]
    (dm,) = texts(fake_slack, ALICE)
    assert dm.startswith(":pager: You are on call for *backend* from now until <!date^1797235200^")
    (line,) = texts(fake_slack, CHANNEL)
    assert line.startswith(f":pager: <@{ALICE}> is on call for *backend* until <!date^1797235200^")


def test_a_week_later_bob_takes_over_and_alice_is_told_she_is_off(core, clock, fake_slack):
    clock.advance(minutes=1)
    settle(core)
    clock.now = FIRST + timedelta(days=7)
    settle(core)
    assert fake_slack.usergroup(GROUP) == [BOB]
    assert texts(fake_slack, BOB)[0].startswith(":pager: You are on call for *backend* from now until")
    assert texts(fake_slack, ALICE)[-1].startswith(f":wave: You are no longer on call for *backend*: <@{BOB}> is, until")
    assert texts(fake_slack, CHANNEL)[-1].startswith(f":pager: <@{BOB}> is on call for *backend* from <@{ALICE}> until")
    settle(core)
    assert len(texts(fake_slack, CHANNEL)) == 2 and len(fake_slack.calls("usergroups.users.update")) == 2


def test_a_restart_that_missed_the_handoff_announces_it_late_once(settings, database_url, clock, fake_slack,
                                                                   plivo_rest):
    clock.now = FIRST - timedelta(minutes=1)
    first = schedule_core(settings, database_url, clock)
    settle(first)
    first.close()  # down over the hand-off
    clock.now = FIRST + timedelta(hours=3)
    again = schedule_core(settings, database_url, clock)
    try:
        settle(again)
        assert fake_slack.usergroup(GROUP) == [ALICE] and len(texts(fake_slack, ALICE)) == 1
    finally:
        again.close()


def test_two_instances_hand_off_once(settings, database_url, clock, fake_slack, plivo_rest):
    clock.now = FIRST - timedelta(minutes=1)
    one, two = schedule_core(settings, database_url, clock), schedule_core(settings, database_url, clock)
    try:
        settle(one)
        settle(two)
        clock.advance(minutes=2)
        threads = [threading.Thread(target=settle, args=(core,)) for core in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        settle(one)
        settle(two)
        assert len(texts(fake_slack, ALICE)) == 1 and len(texts(fake_slack, CHANNEL)) == 1
        assert fake_slack.usergroup(GROUP) == [ALICE]
    finally:
        one.close()
        two.close()


def test_an_override_hands_off_at_its_start_and_back_at_its_end(core, clock, fake_slack):
    clock.advance(minutes=1)
    settle(core)
    start = clock.now + timedelta(hours=1)
    core.schedules.add_override("backend", CAROL, start, start + timedelta(hours=4), created_by=BOB)
    settle(core)
    assert fake_slack.usergroup(GROUP) == [ALICE]  # not yet
    clock.now = start
    settle(core)
    assert fake_slack.usergroup(GROUP) == [CAROL]
    assert texts(fake_slack, CAROL)[0].endswith("(an override).")
    clock.now = start + timedelta(hours=4)
    settle(core)
    assert fake_slack.usergroup(GROUP) == [ALICE]
    assert len(texts(fake_slack, ALICE)) == 3  # on, off (to Carol), on again


def test_an_override_over_a_shift_change_is_one_hand_off_until_its_end(core, clock, fake_slack):
    clock.advance(minutes=1)
    settle(core)
    end = FIRST + timedelta(days=8)  # Carol covers Alice's last day and Bob's first
    core.schedules.add_override("backend", CAROL, clock.now + timedelta(days=6), end, created_by=BOB)
    clock.now = FIRST + timedelta(days=6)
    settle(core)
    (dm,) = texts(fake_slack, CAROL)
    assert dm == f":pager: You are on call for *backend* from now until <!date^{int(end.timestamp())}^" \
                 "{date_short_pretty} {time}|2026-12-15 08:00 UTC> (an override)."
    assert f"until <!date^{int(end.timestamp())}^" in texts(fake_slack, CHANNEL)[-1]
    clock.now = FIRST + timedelta(days=7)  # the rotation's hand-off, under the override: nothing to say
    settle(core)
    assert len(texts(fake_slack, CHANNEL)) == 2 and fake_slack.usergroup(GROUP) == [CAROL]
    clock.now = end
    settle(core)
    assert texts(fake_slack, CHANNEL)[-1].startswith(f":pager: <@{BOB}> is on call for *backend* from <@{CAROL}>")
    assert fake_slack.usergroup(GROUP) == [BOB]


def test_a_deactivated_person_is_passed_over_and_the_channel_says_so(core, clock, fake_slack):
    clock.advance(minutes=1)
    settle(core)
    fake_slack.deactivate(BOB)
    clock.now = FIRST + timedelta(days=7)  # Bob's week
    settle(core)
    assert fake_slack.usergroup(GROUP) == [ALICE]
    assert texts(fake_slack, BOB) == []
    line = texts(fake_slack, CHANNEL)[-1]
    assert f"<@{ALICE}> is on call for *backend*" in line and f"<@{BOB}> cannot be on call: deactivated" in line


def test_a_person_passed_over_is_on_call_again_once_reactivated(core, clock, fake_slack):
    clock.advance(minutes=1)
    settle(core)
    fake_slack.deactivate(ALICE)
    clock.now = FIRST + timedelta(days=7)  # Bob's week
    settle(core)
    clock.now = FIRST + timedelta(days=14)  # Alice's: passed over, Bob again
    settle(core)
    assert fake_slack.usergroup(GROUP) == [BOB]
    fake_slack.deactivate(ALICE, deleted=False)
    clock.now = FIRST + timedelta(days=21)  # Bob's week: the hand-off notices Alice is back
    settle(core)
    clock.now = FIRST + timedelta(days=28)
    settle(core)
    assert fake_slack.usergroup(GROUP) == [ALICE]
