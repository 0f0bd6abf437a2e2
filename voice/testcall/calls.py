"""The App Home's test call: a short call to someone's own profile number, to prove alerts reach them.

"This is a test call from VoiceBridge. Press 1 to confirm." Placed, paced
and reported like any other call (the same legs, PLACE work and PLIVO_CPS),
limited per person, and shown in their App Home, which is refreshed
(`HOME` work) at every change of the call.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import desc, select, update
from sqlalchemy.engine import Connection, Engine

from voice.calls.legs import LegStore, leg_from_row, requester_values
from voice.calls.lifecycle import PLACE, CallLifecycle
from voice.calls.models import ENDED, OTP, QUEUED, TEST, Leg, Requester
from voice.clock import as_utc
from voice.queue.work import WorkQueue
from voice.store.db import reading, transaction
from voice.store.schema import alerts, legs

#: Refreshes one person's App Home; subject "<team id>:<user id>" (the Slack side publishes it).
HOME = "home.publish"

#: Test calls one person may ask for in LIMIT_WINDOW.
LIMIT = 3
LIMIT_WINDOW = timedelta(minutes=10)

# What a test call's callbacks lead to.
PROMPT = "prompt"  # "Press 1 to confirm."
CONFIRMED = "confirmed"  # the key came
GONE = "gone"  # no such call, another Plivo call's event, or it ended


@dataclass(frozen=True)
class TestTurn:
    turn: str
    leg: Leg | None = None


@dataclass(frozen=True)
class Recent:
    """One line of someone's history in their App Home: a voice code's call, a test call, or an alert."""

    kind: str  # "otp", "test" or "alert"
    at: datetime
    number: str | None  # the number called (never a code)
    outcome: str  # as the App Home says it


def home_subject(team_id: str, user_id: str) -> str:
    return f"{team_id}:{user_id}"


class TestCalls:
    def __init__(self, engine: Engine, legs_store: LegStore, lifecycle: CallLifecycle, queue: WorkQueue, *,
                 clock: Callable[[], datetime], limit: int = LIMIT):
        self.engine = engine
        self.legs = legs_store
        self.lifecycle = lifecycle
        self.queue = queue
        self.clock = clock
        self.limit = limit

    def request(self, requester: Requester, number: str, language: str | None = None) -> str | None:
        """Place a test call to `number` (the requester's own); why not, when not (a sentence)."""
        now = self.clock()
        with transaction(self.engine) as conn:
            recent = conn.execute(select(legs.c.created_at).where(
                legs.c.purpose == TEST, legs.c.requester_id == requester.user_id,
                legs.c.team_id == requester.team_id, legs.c.created_at > now - LIMIT_WINDOW)).scalars().all()
            if len(recent) >= self.limit:
                return (f"At most {self.limit} test calls in {int(LIMIT_WINDOW.total_seconds() // 60)} minutes; "
                        "try again in a few minutes.")
            token = secrets.token_urlsafe(24)
            conn.execute(legs.insert().values(
                token=token, purpose=TEST, to_number=number, status=QUEUED, created_at=now,
                **requester_values(requester), language=language[:8] if language else None, code_length=0,
                reply_uses=0, stop_requested=False, silences=0, permanent=False, attempt=0))
            self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")
            self.queue.poke(conn, HOME, home_subject(requester.team_id, requester.user_id))
        return None

    # -- Plivo's callbacks --------------------------------------------------------------------------

    def answer(self, token: str, call_uuid: str) -> TestTurn:
        leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "answer")
        answered = self.lifecycle.answered(leg, call_uuid, needs_secret=False) if leg else None
        return TestTurn(PROMPT, answered) if answered else TestTurn(GONE, leg)

    def key_pressed(self, token: str, call_uuid: str, digits: str) -> TestTurn:
        leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "key press")
        if leg is None or leg.ended:
            return TestTurn(GONE, leg)
        if digits != "1":
            return TestTurn(PROMPT, leg)
        confirmed = self.lifecycle.apply(leg, lambda conn: _confirm(conn, token, self.clock()))
        return TestTurn(CONFIRMED, confirmed or leg)

    # -- the App Home's history ----------------------------------------------------------------------

    def recent(self, requester: Requester, limit: int = 10) -> list[Recent]:
        """The person's latest voice codes' calls, test calls and alerts, newest first (never a code)."""
        with reading(self.engine) as conn:
            calls = conn.execute(select(legs).where(
                legs.c.requester_id == requester.user_id, legs.c.team_id == requester.team_id,
                legs.c.purpose.in_((OTP, TEST))).order_by(desc(legs.c.created_at)).limit(limit)).mappings().all()
            raised = conn.execute(select(alerts.c.created_at, alerts.c.status).where(
                alerts.c.requester_id == requester.user_id, alerts.c.team_id == requester.team_id)
                .order_by(desc(alerts.c.created_at)).limit(limit)).all()
        lines = [_call_line(leg_from_row(row)) for row in calls]
        lines += [Recent("alert", as_utc(created), None, status) for created, status in raised]
        return sorted(lines, key=lambda line: line.at, reverse=True)[:limit]

    def latest_test(self, requester: Requester) -> Leg | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(legs).where(
                legs.c.purpose == TEST, legs.c.requester_id == requester.user_id,
                legs.c.team_id == requester.team_id).order_by(desc(legs.c.id)).limit(1)).mappings().first()
        return leg_from_row(row) if row else None


def _confirm(conn: Connection, token: str, now: datetime) -> Leg | None:
    row = conn.execute(update(legs).where(legs.c.token == token, legs.c.confirmed_at.is_(None),
                                          legs.c.status != ENDED).values(confirmed_at=now)
                       .returning(*legs.c)).mappings().first()
    return leg_from_row(row) if row else None


def test_outcome(leg: Leg) -> str:
    """A test call's state, as the App Home says it."""
    if leg.confirmed_at:
        return "confirmed"
    if not leg.ended:
        return {"queued": "queued", "dialling": "calling…", "calling": "calling…", "ringing": "ringing",
                "answered": "answered, waiting for the key"}.get(leg.status, leg.status)
    outcome = leg.outcome.value.replace("_", " ") if leg.outcome else "failed"
    return "answered, not confirmed" if outcome == "answered" else outcome


def _call_line(leg: Leg) -> Recent:
    if leg.purpose == TEST:
        return Recent("test", leg.created_at, leg.to_number, test_outcome(leg))
    outcome = leg.outcome.value.replace("_", " ") if leg.ended and leg.outcome else leg.status
    if leg.code_read_at:
        outcome = "code read" if not leg.ended else f"code read, {outcome}"
    return Recent("otp", leg.created_at, leg.to_number, outcome)


class TestFollowers:
    """What follows a change of a test call: the person's App Home shows it."""

    def __init__(self, queue: WorkQueue):
        self.queue = queue

    def changed(self, conn: Connection, before: Leg | None, after: Leg) -> None:
        if after.requester:
            self.queue.poke(conn, HOME, home_subject(after.requester.team_id, after.requester.user_id))
