"""What an alert call does next: the answer, the menu and its keys, machines, the end.

Each callback Plivo sends for a call of an alert comes here; the answer is a
`CallTurn`, which the answer server turns into Plivo XML. Each reads the call
and its alert once (a join) and writes at most once. Acknowledging is handed
to the AlertService, whose first acknowledgement wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from voice.alerts.bridge import ENTER as BRIDGE_ENTER
from voice.alerts.bridge import BridgeService, Entry
from voice.alerts.models import ACKNOWLEDGED, CANCELLED, AlertRecord
from voice.alerts.plan import later_link
from voice.alerts.service import AlertService
from voice.alerts.store import AlertStore
from voice.calls.legs import LegStore
from voice.calls.lifecycle import CallLifecycle
from voice.calls.models import Leg
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Menus in a row without a key before the call says goodbye (after the first one).
MENU_REPEATS = 3


class Turn(str, Enum):
    """What a call does next; the answer server turns it into Plivo XML."""

    PLAY = "play"  # who sent it, from where, and the message; then the menu
    MENU = "menu"
    REPEAT = "repeat"  # the message again, then the menu
    INVALID_KEY = "invalid_key"  # "Sorry, that key is not valid", then the menu
    ACKNOWLEDGED = "acknowledged"  # "Acknowledged. Thank you." and hang up
    PASSED = "passed"  # pressed 3: passed on to the next link; goodbye
    BRIDGE = "bridge"  # pressed 9 after acknowledging: into the voice bridge
    TAKEN = "taken"  # someone else acknowledged it first
    CANCELLED = "cancelled"  # the alert was cancelled in Slack
    NO_INPUT = "no_input"  # the menu went unanswered too often
    HANG_UP = "hang_up"  # an answering machine: it has heard the message once
    ENDED = "ended"  # this call already ended (Plivo's hangup came first): a goodbye, nothing else
    UNKNOWN = "unknown"  # no such call, or an event about another Plivo call


@dataclass(frozen=True)
class CallTurn:
    turn: Turn
    alert: AlertRecord | None = None
    leg: Leg | None = None
    can_pass: bool = False  # the menu offers 3: a later link of the chain can take the alert
    entry: Entry | None = None  # Turn.BRIDGE: the conference, and whether the requester is being called


class AlertCalls:
    def __init__(self, alerts: AlertService, store: AlertStore, legs: LegStore, lifecycle: CallLifecycle,
                 bridge: BridgeService):
        self.alerts = alerts
        self.store = store
        self.legs = legs
        self.lifecycle = lifecycle
        self.bridge = bridge
        #: Whoever took a hotline call entered its room (voice/hotline sets this): (alert id) -> None.
        self.room_entered: Callable[[int], None] = lambda alert_id: None

    def answer(self, token: str, call_uuid: str) -> CallTurn:
        """What to play when the call is answered."""
        found = self._live(token, call_uuid, "answer")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        answered = self.lifecycle.answered(leg, call_uuid, needs_secret=False)
        if answered is None:
            return CallTurn(Turn.ENDED, alert, leg)
        return self._turn(answered, alert, Turn.PLAY)

    def after_message(self, token: str, call_uuid: str) -> CallTurn:
        """The message has been spoken: the menu for a person, nothing more for a machine."""
        found = self._live(token, call_uuid, "menu request")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if leg.silences:
            self._write(lambda conn: self.legs.reset_silences(conn, token))
        return self._turn(leg, alert, Turn.HANG_UP if leg.machine else Turn.MENU)

    def silence(self, token: str, call_uuid: str) -> CallTurn:
        """The menu got no key: play it again, up to MENU_REPEATS times."""
        found = self._live(token, call_uuid, "menu timeout")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if leg.machine:
            return self._turn(leg, alert, Turn.HANG_UP)
        repeats = self._write(lambda conn: self.legs.count_silence(conn, token))
        return self._turn(leg, alert, Turn.MENU if repeats <= MENU_REPEATS else Turn.NO_INPUT)

    def key_pressed(self, token: str, call_uuid: str, turn: Turn) -> CallTurn:
        """A key other than the acknowledgement: `turn` unless the alert is over."""
        found = self._live(token, call_uuid, "key press")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if leg.silences:
            self._write(lambda conn: self.legs.reset_silences(conn, token))
        return self._turn(leg, alert, turn)

    def acknowledge_by_phone(self, token: str, call_uuid: str) -> CallTurn:
        """The callee pressed the acknowledgement key; the first one wins."""
        found = self._live(token, call_uuid, "key press")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if alert.status == ACKNOWLEDGED or alert.status == CANCELLED:
            return self._turn(leg, alert, Turn.ACKNOWLEDGED)
        if self.alerts.acknowledge_call(leg, alert):
            return CallTurn(Turn.ACKNOWLEDGED, alert, leg)
        # Someone was first, a moment ago: say who.
        return self._turn(leg, self.store.get(leg.alert_id), Turn.ACKNOWLEDGED)

    def join_bridge(self, token: str, call_uuid: str) -> CallTurn:
        """Pressed 9: the acknowledger into the voice bridge, and the requester called; else "not valid"."""
        found = self._live(token, call_uuid, "key press")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if self.bridge.may_open(alert, leg):
            return CallTurn(Turn.BRIDGE, alert, leg, entry=self.bridge.open(alert, leg))
        return self._turn(leg, alert, Turn.INVALID_KEY)

    def conference_event(self, token: str, call_uuid: str, action: str, member: str | None) -> None:
        """Plivo's conference callback for this call (the acknowledger, in the voice bridge; or whoever took a
        hotline call, in its caller's room)."""
        found = self.store.leg_with_alert(token)
        if not found or self.lifecycle.bound(found[0], token, call_uuid, "conference") is None:
            return
        leg, alert = found
        if alert.hotline_call is not None:
            if action == BRIDGE_ENTER:
                self.room_entered(alert.id)
            return
        self.bridge.conference_event(leg, action, member)

    def pass_on(self, token: str, call_uuid: str) -> CallTurn:
        """The callee pressed 3: the next link is called now; "not valid" where there is none."""
        found = self._live(token, call_uuid, "key press")
        if isinstance(found, CallTurn):
            return found
        leg, alert = found
        if leg.passed_at is not None or (alert.open and self.alerts.pass_on(leg, alert)):
            return CallTurn(Turn.PASSED, alert, leg)  # (the first time, or Plivo retrying the keypress)
        return self._turn(leg, self.store.get(leg.alert_id) or alert, Turn.INVALID_KEY)

    # -- internals -------------------------------------------------------------------------------

    def _live(self, token: str, call_uuid: str, event: str) -> tuple[Leg, AlertRecord] | CallTurn:
        """The leg and its alert, if the call may still play; else the turn that changes nothing."""
        found = self.store.leg_with_alert(token)
        if found is None:
            return CallTurn(Turn.UNKNOWN)
        leg, alert = found
        if self.lifecycle.bound(leg, token, call_uuid, event) is None:
            return CallTurn(Turn.UNKNOWN)
        if leg.ended:
            return CallTurn(Turn.ENDED, alert, leg)
        return leg, alert

    def _write(self, change):
        with transaction(self.lifecycle.engine) as conn:
            return change(conn)

    @staticmethod
    def _turn(leg: Leg, alert: AlertRecord, wanted: Turn) -> CallTurn:
        """`wanted`, unless the alert was taken or cancelled meanwhile."""
        if alert.status == ACKNOWLEDGED:
            # This very call acknowledged it when Plivo retries the keypress.
            return CallTurn(Turn.ACKNOWLEDGED if alert.resolved_leg == leg.id else Turn.TAKEN, alert, leg)
        if alert.status == CANCELLED:
            return CallTurn(Turn.CANCELLED, alert, leg)
        return CallTurn(wanted, alert, leg, can_pass=later_link(alert, leg))
