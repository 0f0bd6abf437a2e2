"""The alert state machine, pure: which calls come next, and what each call's state is.

An alert walks through positions: round 0 stage 0, round 0 stage 1, …, then
round 1 stage 0, and so on, `rounds * stages` positions in all. At each
position every target of that stage is called at once. When all those calls
have ended and nobody acknowledged, the next stage is called at once; after
the last stage, the next round starts `retry_delay` seconds later; after the
last round, the alert is given up ("Nobody acknowledged").

A link whose people are still being looked up in Slack (the alert's numbers
were called first, while Slack failed) is not over until they are found and
called: the walk waits there, and goes on once they are.

Two things bend that walk. A call that ends busy or unanswered rings once
more `redial_delay` seconds later (phones let a second call within minutes
through Do Not Disturb) before it counts as missed; a voicemail or a refused
number does not. A callee who presses 3 passes the alert on: the next link is
called at once, as if theirs had ended unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from voice.alerts.models import ACTIVE, AlertRecord
from voice.calls.models import ANSWERED, RINGING, Leg
from voice.calls.outcomes import Outcome


@dataclass(frozen=True)
class Redial:
    """Ring `target` of `position` once more, at `at`: its first call was busy or unanswered."""

    position: int
    target: int
    at: datetime


@dataclass(frozen=True)
class Wait:
    """Calls at the current position are still going (or are to ring once more: `redials`)."""

    redials: tuple[Redial, ...] = ()


@dataclass(frozen=True)
class Advance:
    """Call the targets of `position`, at `at` (now, or after the retry delay)."""

    position: int
    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """Every round ended and nobody acknowledged."""


@dataclass(frozen=True)
class Over:
    """The alert was acknowledged, cancelled or given up: nothing more to do."""


Step = Wait | Advance | GiveUp | Over


def next_step(alert: AlertRecord, legs: Sequence[Leg], now: datetime) -> Step:
    """What to do given every call placed for the alert so far."""
    if alert.status != ACTIVE:
        return Over()
    current = [leg for leg in legs if leg.position == alert.position]
    awaited = alert.awaited_stages
    if not any(leg.passed_at for leg in current):
        redials = tuple(_redials(alert, current))
        if redials or any(not leg.ended for leg in current):
            return Wait(redials)
        if alert.position >= 0 and alert.position % alert.stages in awaited:
            return Wait()  # its people are still being looked up: they are called once found
    following = alert.position + 1
    # Positions where nobody is left to call are passed over (not one whose people are still looked up).
    while (following < alert.positions and not targets_at(alert, following, legs)
           and following % alert.stages not in awaited):
        following += 1
    if following >= alert.positions:
        return GiveUp()
    if alert.position >= 0 and following // alert.stages > alert.position // alert.stages:
        # A new round: give whoever missed the call a moment before ringing again.
        return Advance(following, now + timedelta(seconds=alert.retry_delay))
    # The first call, or the next link of the chain: as soon as the current one ends.
    return Advance(following, now)


#: How a call ends for it to ring once more.
REDIALLED = (Outcome.BUSY, Outcome.NO_ANSWER)


def _redials(alert: AlertRecord, current: Sequence[Leg]) -> Iterable[Redial]:
    """The second rings the current position still owes (due now or later)."""
    seconds = {leg.target for leg in current if leg.attempt > 0}
    for leg in current:
        if leg.target not in seconds and rings_again(alert, leg):
            yield Redial(leg.position, leg.target, leg.ended_at + timedelta(seconds=alert.redial_delay))


def rings_again(alert: AlertRecord, leg: Leg) -> bool:
    """Whether this ended call of the open alert is to ring once more (if it has not yet)."""
    return (alert.open and alert.redial_delay > 0 and leg.attempt == 0 and leg.ended and leg.ended_at is not None
            and leg.outcome in REDIALLED and not leg.machine and not leg.permanent and not leg.stop_requested
            and leg.passed_at is None and leg.position == alert.position)


def later_link(alert: AlertRecord, leg: Leg) -> bool:
    """Whether the chain has a link after this call's, in this round, to pass the alert on to."""
    if not alert.open or leg.position is None or leg.position != alert.position:
        return False
    stage = leg.position % alert.stages
    return any(target.stage > stage for target in alert.targets)


def targets_at(alert: AlertRecord, position: int, earlier: Iterable[Leg]) -> list[int]:
    """Indexes of the targets to call at `position`.

    All of that stage's targets, except those whose call Plivo refused outright
    before (a barred destination, bad credentials): calling again cannot help.
    """
    stage = position % alert.stages
    hopeless = {leg.target for leg in earlier if leg.permanent}
    return [index for index, target in enumerate(alert.targets) if target.stage == stage and index not in hopeless]


# A call's state as the Slack message shows it.
WAITING = "waiting"  # not called yet (a later link of the chain)
QUEUED = "queued"
UNCONFIRMED = "not confirmed by Plivo; it may still ring"
TROUBLE = "Plivo is having trouble; still trying"  # its create-calls fail (5xx, no connection): tried again
RINGING_STATE = "ringing"
ANSWERED_STATE = "answered"
VOICEMAIL = "voicemail"
BUSY = "busy"
NO_ANSWER = "no answer"
FAILED = "failed"
ACKNOWLEDGED_STATE = "acknowledged"
CANCELLED_STATE = "cancelled"
NOT_ACKNOWLEDGED = "answered, not acknowledged"
PASSED_ON = "passed on"
CALLING_AGAIN = " — calling again"  # after busy or no answer, while the second ring is to come

_ENDINGS = {
    Outcome.ANSWERED: NOT_ACKNOWLEDGED,
    Outcome.VOICEMAIL: VOICEMAIL,
    Outcome.BUSY: BUSY,
    Outcome.NO_ANSWER: NO_ANSWER,
    Outcome.FAILED: FAILED,
    Outcome.CANCELLED: CANCELLED_STATE,
}


def ending_state(leg: Leg) -> str:
    """How an ended call ended, in the words of its line."""
    return _ENDINGS.get(leg.outcome, FAILED)


def leg_state(alert: AlertRecord, leg: Leg | None) -> str:
    """The state of one call, for the line of its recipient."""
    if leg is None:
        return WAITING
    if leg.id == alert.resolved_leg:
        return ACKNOWLEDGED_STATE
    if leg.passed_at is not None:
        return PASSED_ON
    if leg.machine:
        return VOICEMAIL
    if leg.stop_requested and (not leg.ended or leg.outcome in (Outcome.ANSWERED, Outcome.CANCELLED)):
        # We stopped it because someone else took the alert.
        return CANCELLED_STATE
    if leg.ended:
        ending = ending_state(leg)
        return ending + CALLING_AGAIN if rings_again(alert, leg) else ending
    if leg.status == ANSWERED:
        return ANSWERED_STATE
    if leg.status == RINGING:
        return RINGING_STATE
    if leg.unconfirmed:
        return UNCONFIRMED
    if leg.retrying:
        return TROUBLE
    return QUEUED


def latest_legs(legs: Iterable[Leg]) -> dict[int, Leg]:
    """The most recent call of each target, by target index."""
    latest: dict[int, Leg] = {}
    for leg in legs:
        if leg.target is None:
            continue  # a call into the voice bridge, not to a target
        current = latest.get(leg.target)
        if current is None or (leg.position, leg.id) > (current.position, current.id):
            latest[leg.target] = leg
    return latest
