"""The alert state machine, pure: positions, rounds, chains, and each call's state."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    EXHAUSTED,
    AlertRecord,
    Awaited,
    Target,
)
from voice.alerts.plan import (
    TROUBLE,
    Advance,
    GiveUp,
    Over,
    Wait,
    latest_legs,
    leg_state,
    next_step,
    targets_at,
)
from voice.calls.models import (
    ALERT,
    ANSWERED,
    CALLING,
    DIALLING,
    ENDED,
    QUEUED,
    RINGING,
    Leg,
    Requester,
)
from voice.calls.outcomes import Outcome

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
ALICE = Target("+14155550101", 0, "U1", "Alice")
BOB = Target("+14155550102", 0, "U2", "Bob")
CAROL = Target("+14155550103", 1, "U3", "Carol")
NUMBER = Target("+14155550104", 2)


def alert(targets=(ALICE, BOB), position=-1, rounds=3, delay=60, status=ACTIVE, **changes) -> AlertRecord:
    return AlertRecord(
        id=1, requester=Requester("U0", "C0"), sender_name="Ana", channel_name="ops", message="DB down",
        targets=tuple(targets), skipped=(), rounds=rounds, retry_delay=delay, position=position,
        status=status, created_at=NOW, **changes,
    )


def leg(target=0, position=0, status=ENDED, outcome=Outcome.NO_ANSWER, leg_id=None, **changes) -> Leg:
    return Leg(purpose=ALERT, id=leg_id or 10 * position + target + 1, alert_id=1, token=f"t{position}{target}",
               position=position, target=target, to_number="+1", status=status, created_at=NOW,
               outcome=outcome if status == ENDED else None, **changes)


def test_a_new_alert_calls_its_first_stage_now():
    assert next_step(alert(), [], NOW) == Advance(0, NOW)


def test_it_waits_while_any_call_of_the_position_is_going():
    assert next_step(alert(position=0), [leg(0), leg(1, status=RINGING)], NOW) == Wait()


def test_a_fan_out_retries_the_round_after_the_delay_once_every_call_ended():
    step = next_step(alert(position=0), [leg(0, outcome=Outcome.BUSY), leg(1, outcome=Outcome.VOICEMAIL)], NOW)
    assert step == Advance(1, NOW + timedelta(seconds=60))


def test_a_chain_calls_the_next_link_as_soon_as_the_current_call_ends():
    chain = alert(targets=(ALICE, CAROL, NUMBER), position=0)
    assert next_step(chain, [leg(0)], NOW) == Advance(1, NOW)
    assert next_step(replace(chain, position=1), [leg(1, position=1)], NOW) == Advance(2, NOW)
    # After the last link, the next round waits for the delay and starts over at the first.
    assert next_step(replace(chain, position=2), [leg(2, position=2)], NOW) == Advance(3, NOW + timedelta(seconds=60))
    assert targets_at(chain, 3, []) == [0]


def test_after_the_last_round_it_gives_up():
    assert alert(rounds=3).positions == 3  # one stage, three rounds
    assert next_step(alert(position=1), [leg(0, position=1), leg(1, position=1)], NOW) == Advance(2, NOW + timedelta(seconds=60))
    assert next_step(alert(position=2), [leg(0, position=2), leg(1, position=2)], NOW) == GiveUp()
    assert next_step(alert(rounds=1, position=0), [leg(0), leg(1)], NOW) == GiveUp()


@pytest.mark.parametrize("status", [ACKNOWLEDGED, CANCELLED, EXHAUSTED])
def test_an_alert_that_is_over_does_nothing_more(status):
    assert next_step(alert(position=0, status=status), [leg(0)], NOW) == Over()


def test_positions_with_nobody_left_to_call_are_passed_over():
    chain = alert(targets=(ALICE, CAROL))
    # Carol was refused outright in round 1: from then on, each round is Alice alone.
    carol_refused = leg(1, position=1, outcome=Outcome.FAILED, permanent=True)
    assert next_step(replace(chain, position=1), [leg(0), carol_refused], NOW) == Advance(2, NOW + timedelta(seconds=60))
    assert next_step(replace(chain, position=2), [leg(0), carol_refused, leg(0, position=2)], NOW) == \
        Advance(4, NOW + timedelta(seconds=60))


def test_it_gives_up_at_once_when_nobody_is_left_to_call():
    refused = leg(0, outcome=Outcome.FAILED, permanent=True)
    assert next_step(alert(targets=(ALICE,), position=0), [refused], NOW) == GiveUp()


def test_targets_refused_outright_by_plivo_are_not_called_again():
    fan_out = alert()
    earlier = [leg(0, outcome=Outcome.FAILED, permanent=True), leg(1, outcome=Outcome.FAILED)]
    assert targets_at(fan_out, 0, []) == [0, 1]
    assert targets_at(fan_out, 1, earlier) == [1]


def test_a_mixed_plan_calls_a_whole_stage_at_once():
    mixed = alert(targets=(ALICE, BOB, CAROL))
    assert mixed.stages == 2
    assert targets_at(mixed, 0, []) == [0, 1]
    assert targets_at(mixed, 1, []) == [2]
    assert targets_at(mixed, 2, []) == [0, 1]


@pytest.mark.parametrize(
    ("the_leg", "state"),
    [
        (None, "waiting"),
        (leg(status=QUEUED), "queued"),
        (leg(status=CALLING), "queued"),
        (leg(status=RINGING), "ringing"),
        (leg(status=ANSWERED), "answered"),
        (leg(status=ANSWERED, machine_at=NOW), "voicemail"),
        (leg(outcome=Outcome.VOICEMAIL, machine_at=NOW), "voicemail"),
        (leg(outcome=Outcome.BUSY), "busy"),
        (leg(outcome=Outcome.NO_ANSWER), "no answer"),
        (leg(outcome=Outcome.FAILED), "failed"),
        (leg(outcome=Outcome.ANSWERED), "answered, not acknowledged"),
        (leg(outcome=Outcome.CANCELLED), "cancelled"),
        (leg(status=RINGING, stop_requested=True), "cancelled"),
        (leg(outcome=Outcome.ANSWERED, stop_requested=True), "cancelled"),
        (leg(outcome=Outcome.BUSY, stop_requested=True), "busy"),
        (leg(outcome=Outcome.ANSWERED, leg_id=99), "acknowledged"),
    ],
)
def test_each_call_has_a_state_for_its_line(the_leg, state):
    assert leg_state(alert(status=ACKNOWLEDGED, resolved_leg=99), the_leg) == state


def test_the_latest_call_of_each_target_is_shown():
    first, retry, other = leg(0, position=0), leg(0, position=1, status=RINGING), leg(1, position=0)
    assert latest_legs([retry, first, other]) == {0: retry, 1: other}


# -- a second ring, and passing on ------------------------------------------------------------------

from voice.alerts.plan import CALLING_AGAIN, PASSED_ON, Redial, later_link  # noqa: E402


@pytest.mark.parametrize("outcome", [Outcome.BUSY, Outcome.NO_ANSWER])
def test_a_busy_or_unanswered_first_call_waits_for_its_second_ring(outcome):
    an_alert = alert(position=0, redial_delay=60)
    first = leg(0, outcome=outcome, ended_at=NOW)
    assert next_step(an_alert, [first, leg(1, outcome=Outcome.ANSWERED, ended_at=NOW)], NOW) == Wait(
        (Redial(0, 0, NOW + timedelta(seconds=60)),))
    assert leg_state(an_alert, first) == ("busy" if outcome == Outcome.BUSY else "no answer") + CALLING_AGAIN
    # Once it has rung again and ended, the position is done.
    second = leg(0, outcome=outcome, leg_id=99, attempt=1, ended_at=NOW)
    bob = leg(1, outcome=Outcome.ANSWERED, ended_at=NOW)
    assert next_step(an_alert, [first, bob, second], NOW) == Advance(1, NOW + timedelta(seconds=60))


@pytest.mark.parametrize("changes", [
    dict(outcome=Outcome.VOICEMAIL), dict(machine_at=NOW), dict(permanent=True), dict(outcome=Outcome.FAILED),
    dict(stop_requested=True), dict(passed_at=NOW),
])
def test_voicemail_a_refusal_or_a_pass_rings_only_once(changes):
    an_alert = alert(position=0, redial_delay=60, targets=(ALICE,))
    assert not isinstance(next_step(an_alert, [leg(0, ended_at=NOW, **changes)], NOW), Wait)


def test_no_second_ring_when_the_delay_is_zero():
    assert next_step(alert(position=0, targets=(ALICE,)), [leg(0, ended_at=NOW)], NOW) == Advance(
        1, NOW + timedelta(seconds=60))


def test_a_pass_moves_on_at_once_though_its_stage_mates_still_ring():
    chain = alert(targets=(ALICE, BOB, CAROL), position=0)
    passing = leg(0, status=ANSWERED, passed_at=NOW)
    assert next_step(chain, [passing, leg(1, status=RINGING)], NOW) == Advance(1, NOW)
    assert leg_state(chain, passing) == PASSED_ON


def test_only_a_call_with_a_later_link_may_pass_it_on():
    chain = alert(targets=(ALICE, CAROL), position=0)
    assert later_link(chain, leg(0, status=ANSWERED))
    assert not later_link(replace(chain, position=1), leg(1, position=1, status=ANSWERED))  # Carol: the last link
    assert not later_link(alert(position=0), leg(0, status=ANSWERED))  # one stage
    assert not later_link(replace(chain, status=ACKNOWLEDGED), leg(0, status=ANSWERED))


# -- a Slack that could not look the people up yet (their numbers were called first) -------------------

BOB_NUMBER = Target("+14155550102", 0)
LATER = Target("+14155550104", 2)  # typed in the third link; the second is people still looked up


def awaiting_alert(**changes) -> AlertRecord:
    return alert(targets=(BOB_NUMBER, LATER), links=3, awaiting=(Awaited("<@U3>", 1),), **changes)


def test_a_link_whose_people_are_still_looked_up_is_not_passed_over_but_waited_at():
    # Bob (the first link) did not answer; the second link's people are still being looked up.
    waiting = awaiting_alert(position=0)
    assert next_step(waiting, [leg(0, 0)], NOW) == Advance(1, NOW)
    assert next_step(replace(waiting, position=1), [leg(0, 0)], NOW) == Wait()
    # Looked up (nobody in it can be called, say): the chain goes on to its third link, in round 1.
    found = replace(waiting, position=1, awaiting=())
    assert next_step(found, [leg(0, 0)], NOW) == Advance(2, NOW)
    # The links are the three typed, whatever the targets say: the next round starts at position 3.
    assert next_step(replace(found, position=2), [leg(0, 0), leg(1, 2)], NOW) == Advance(3, NOW + timedelta(seconds=60))


def test_a_link_with_numbers_and_people_still_looked_up_waits_for_them_after_its_numbers_end():
    mixed = alert(targets=(BOB_NUMBER, LATER), links=3, awaiting=(Awaited("<@U1>", 0),), position=0)
    assert next_step(mixed, [leg(0, 0)], NOW) == Wait()


def test_a_call_plivo_keeps_failing_shows_it_is_still_being_tried():
    for status in (QUEUED, DIALLING):
        assert leg_state(alert(position=0), leg(0, 0, status=status, retrying_since=NOW)) == TROUBLE
    assert leg_state(alert(position=0), leg(0, 0, status=CALLING, retrying_since=NOW)) != TROUBLE
