"""What an alert call does next: the answer, the menu and its keys, machines, the end.

Each callback Plivo sends for a call of an alert comes here; the answer is a
`CallTurn`, which the answer server turns into Plivo XML. Acknowledging and
the end of a call are handed to the AlertService, which moves the alert on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from voice.alert_models import ACKNOWLEDGED, CANCELLED, AlertRecord, Leg
from voice.alerts import AlertService
from voice.binding import is_foreign
from voice.models import HangupReport, token_for_log
from voice.outcomes import Outcome, classify_hangup

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


class AlertCalls:
    def __init__(self, alerts: AlertService):
        self.alerts = alerts
        self.store = alerts.store

    def ringing(self, token: str, call_uuid: str) -> None:
        leg = self._leg(token, call_uuid, "ring")
        if leg and self.store.mark_ringing(token, call_uuid):
            self.alerts.notify(leg.alert_id)

    def answer(self, token: str, call_uuid: str) -> CallTurn:
        """What to play when the call is answered; the first answer is reported."""
        found = self._live(token, call_uuid, "answer")
        if isinstance(found, CallTurn):
            return found
        bound = self.store.bind_answer(token, call_uuid, self.alerts.clock())
        if bound is None:
            return CallTurn(Turn.UNKNOWN)
        leg, first = bound
        if first:
            self.alerts.notify(leg.alert_id)
        return self._turn(leg, Turn.PLAY)

    def machine(self, token: str, call_uuid: str) -> None:
        """Plivo's machine detection heard an answering machine on this call."""
        leg = self._leg(token, call_uuid, "machine detection")
        if leg and not leg.ended and self.store.mark_machine(token, call_uuid):
            log.info("alert %s: call %s reached voicemail", leg.alert_id, token_for_log(token))
            self.alerts.notify(leg.alert_id)

    def after_message(self, token: str, call_uuid: str) -> CallTurn:
        """The message has been spoken: the menu for a person, nothing more for a machine."""
        leg = self._live(token, call_uuid, "menu request")
        if isinstance(leg, CallTurn):
            return leg
        self.store.reset_silences(token)
        return self._turn(leg, Turn.HANG_UP if leg.machine else Turn.MENU)

    def silence(self, token: str, call_uuid: str) -> CallTurn:
        """The menu got no key: play it again, up to MENU_REPEATS times."""
        leg = self._live(token, call_uuid, "menu timeout")
        if isinstance(leg, CallTurn):
            return leg
        if leg.machine:
            return self._turn(leg, Turn.HANG_UP)
        repeats = self.store.count_silence(token)
        return self._turn(leg, Turn.MENU if repeats <= MENU_REPEATS else Turn.NO_INPUT)

    def key_pressed(self, token: str, call_uuid: str, turn: Turn) -> CallTurn:
        """A key other than the acknowledgement: `turn` unless the alert is over."""
        leg = self._live(token, call_uuid, "key press")
        if isinstance(leg, CallTurn):
            return leg
        self.store.reset_silences(token)
        return self._turn(leg, turn)

    def acknowledge_by_phone(self, token: str, call_uuid: str) -> CallTurn:
        """The callee pressed the acknowledgement key; the first one wins."""
        leg = self._live(token, call_uuid, "key press")
        if isinstance(leg, CallTurn):
            return leg
        self.alerts.acknowledge_call(leg)
        return self._turn(leg, Turn.ACKNOWLEDGED)

    def hangup(self, token: str, report: HangupReport) -> None:
        """Record how a call ended, once, and move the alert on."""
        leg = self._leg(token, report.call_uuid, "hangup")
        if leg is None or leg.ended:
            return
        if leg.machine:
            outcome, cause = Outcome.VOICEMAIL, None
        else:
            ending = classify_hangup(report.call_status, report.cause_code, report.cause_name,
                                     answered=leg.answered_at is not None)
            outcome, cause = ending.outcome, ending.cause
        self.alerts.end_call(leg, outcome, cause, call_uuid=report.call_uuid)

    # -- internals -------------------------------------------------------------------

    def _leg(self, token: str, call_uuid: str, event: str) -> Leg | None:
        """The leg this event is about; None when there is none, or it is bound to another Plivo call."""
        leg = self.store.leg(token)
        if leg is None or is_foreign(token, leg.call_uuid, call_uuid, event):
            return None
        return leg

    def _live(self, token: str, call_uuid: str, event: str) -> Leg | CallTurn:
        """The leg, if it may still play; else the turn that says goodbye and changes nothing."""
        leg = self._leg(token, call_uuid, event)
        if leg is None:
            return CallTurn(Turn.UNKNOWN)
        if leg.ended:
            return CallTurn(Turn.ENDED, self.store.get(leg.alert_id), leg)
        return leg

    def _turn(self, leg: Leg, wanted: Turn) -> CallTurn:
        """`wanted`, unless the alert was taken or cancelled meanwhile."""
        alert = self.store.get(leg.alert_id)
        if alert.status == ACKNOWLEDGED:
            # This very call acknowledged it when Plivo retries the keypress.
            return CallTurn(Turn.ACKNOWLEDGED if alert.resolved_leg == leg.id else Turn.TAKEN, alert, leg)
        if alert.status == CANCELLED:
            return CallTurn(Turn.CANCELLED, alert, leg)
        return CallTurn(wanted, alert, leg)
