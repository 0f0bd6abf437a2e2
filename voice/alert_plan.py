"""The alert state machine, pure: which calls come next, and what each call's state is.

An alert walks through positions: round 0 stage 0, round 0 stage 1, …, then
round 1 stage 0, and so on, `rounds * stages` positions in all. At each
position every target of that stage is called at once. When all those calls
have ended and nobody acknowledged, the next stage is called at once; after
the last stage, the next round starts `retry_delay` seconds later; after the
last round, the alert is given up ("Nobody acknowledged").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from voice.alert_models import ACTIVE, AlertRecord
from voice.models import ANSWERED, RINGING, Leg
from voice.outcomes import Outcome


@dataclass(frozen=True)
class Wait:
    """Calls at the current position are still going."""


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
    if any(not leg.ended for leg in legs if leg.position == alert.position):
        return Wait()
    following = alert.position + 1
    # Positions where nobody is left to call are passed over.
    while following < alert.positions and not targets_at(alert, following, legs):
        following += 1
    if following >= alert.positions:
        return GiveUp()
    if alert.position >= 0 and following // alert.stages > alert.position // alert.stages:
        # A new round: give whoever missed the call a moment before ringing again.
        return Advance(following, now + timedelta(seconds=alert.retry_delay))
    # The first call, or the next link of the chain: as soon as the current one ends.
    return Advance(following, now)


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
RINGING_STATE = "ringing"
ANSWERED_STATE = "answered"
VOICEMAIL = "voicemail"
BUSY = "busy"
NO_ANSWER = "no answer"
FAILED = "failed"
ACKNOWLEDGED_STATE = "acknowledged"
CANCELLED_STATE = "cancelled"
NOT_ACKNOWLEDGED = "answered, not acknowledged"

_ENDINGS = {
    Outcome.ANSWERED: NOT_ACKNOWLEDGED,
    Outcome.VOICEMAIL: VOICEMAIL,
    Outcome.BUSY: BUSY,
    Outcome.NO_ANSWER: NO_ANSWER,
    Outcome.FAILED: FAILED,
    Outcome.CANCELLED: CANCELLED_STATE,
}


def leg_state(alert: AlertRecord, leg: Leg | None) -> str:
    """The state of one call, for the line of its recipient."""
    if leg is None:
        return WAITING
    if leg.id == alert.resolved_leg:
        return ACKNOWLEDGED_STATE
    if leg.machine:
        return VOICEMAIL
    if leg.stop_requested and (not leg.ended or leg.outcome in (Outcome.ANSWERED, Outcome.CANCELLED)):
        # We stopped it because someone else took the alert.
        return CANCELLED_STATE
    if leg.ended:
        return _ENDINGS.get(leg.outcome, FAILED)
    if leg.status == ANSWERED:
        return ANSWERED_STATE
    if leg.status == RINGING:
        return RINGING_STATE
    if leg.unconfirmed:
        return UNCONFIRMED
    return QUEUED


def latest_legs(legs: Iterable[Leg]) -> dict[int, Leg]:
    """The most recent call of each target, by target index."""
    latest: dict[int, Leg] = {}
    for leg in legs:
        current = latest.get(leg.target)
        if current is None or (leg.position, leg.id) > (current.position, current.id):
            latest[leg.target] = leg
    return latest
