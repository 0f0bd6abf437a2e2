"""Alerts: call people until one acknowledges, then stop every other call.

The order of calls is decided by voice.alert_plan (pure); this module does the
I/O around it: the store, Plivo, and jobs in the scheduler, so a retry due in a
minute survives a restart and runs once across instances. Each change is
reported through `notify(alert_id)`, so the Slack side can show it without this
package knowing Slack exists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Callable

from voice.alert_models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    EXHAUSTED,
    VIA_PHONE,
    VIA_SLACK,
    AlertRecord,
    AlertView,
    Leg,
    NewAlert,
)
from voice.alert_plan import Advance, GiveUp, next_step, targets_at
from voice.alert_store import AlertStore
from voice.clock import utcnow
from voice.models import ANSWERED, QUEUED, HangupReport
from voice.numbers import PhoneNumber
from voice.outcomes import Outcome, classify_hangup
from voice.plivo import OutboundCall, PlivoClient, PlivoError
from voice.policy import DestinationPolicy, refusal_for
from voice.scheduler import Scheduler

log = logging.getLogger(__name__)

#: Seconds an alert call rings before it counts as unanswered; voicemail
#: usually picks up within ~30 s, and machine detection then takes over.
RING_TIMEOUT = 45
#: Hard cap on an answered alert call: a 1000-character message takes about
#: 70 s to speak, plus the menus.
TIME_LIMIT = 300
#: Menus in a row without a key before the call says goodbye (after the first one).
MENU_REPEATS = 3
#: A call with no final report from Plivo after this long is closed as failed,
#: so the escalation does not wait forever for a lost callback.
LEG_STALE_AFTER = timedelta(minutes=10)

STEP_JOB = "alert.step"  # subject "<alert id>:<position>": call the targets of a position
STOP_JOB = "alert.stop"  # subject "<alert id>": stop every call of a taken alert


@dataclass(frozen=True)
class AlertUrls:
    answer: str
    hangup: str
    ring: str
    machine: str
    menu: str
    keys: str
    silence: str


def alert_callback_urls(public_url: str, token: str) -> AlertUrls:
    """The URLs Plivo calls back for one alert call: they carry only its token."""
    base = f"{public_url.rstrip('/')}/plivo/alert"
    return AlertUrls(*(f"{base}/{kind}/{token}" for kind in
                       ("answer", "hangup", "ring", "machine", "menu", "keys", "silence")))


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
    UNKNOWN = "unknown"  # no such call


@dataclass(frozen=True)
class CallTurn:
    turn: Turn
    alert: AlertRecord | None = None
    leg: Leg | None = None


@dataclass(frozen=True)
class Taking:
    """The result of acknowledging or cancelling from Slack."""

    won: bool  # False when someone else got there first
    alert: AlertRecord | None


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        plivo: PlivoClient,
        scheduler: Scheduler,
        *,
        public_url: str,
        from_number: str,
        policy: DestinationPolicy | None = None,
        retries: int = 2,
        retry_delay: int = 60,
        notify: Callable[[int], None] = lambda alert_id: None,
        gave_up: Callable[[int], None] = lambda alert_id: None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.plivo = plivo
        self.scheduler = scheduler
        self.public_url = public_url
        self.from_number = from_number
        self.policy = policy or DestinationPolicy(allowed_countries=None, own_number=from_number)
        self.retries = retries
        self.retry_delay = retry_delay
        self.notify = notify  # the alert changed: its Slack message should follow
        self.gave_up = gave_up  # nobody acknowledged after the last round
        self.clock = clock
        scheduler.register(STEP_JOB, self._run_step)
        scheduler.register(STOP_JOB, self._run_stop)

    # -- raising an alert ---------------------------------------------------------

    def refusal_for(self, number: PhoneNumber) -> str | None:
        """Why `number` may not be called (the same policy as every call); None if it may."""
        return refusal_for(number, self.policy)

    def open_alert(self, new: NewAlert, request_id: str | None = None) -> AlertRecord | None:
        """Store an alert; None if `request_id` was seen before. Call start() to ring."""
        if not new.targets:
            raise ValueError("an alert needs someone to call")
        return self.store.add_alert(
            new, request_id=request_id, rounds=self.retries + 1, retry_delay=self.retry_delay, now=self.clock()
        )

    def start(self, alert_id: int) -> None:
        """Place the first calls."""
        self.evaluate(alert_id)

    def attach_message(self, alert_id: int, via: str, channel: str | None = None, ts: str | None = None) -> None:
        self.store.attach_message(alert_id, via, channel, ts)

    def get(self, alert_id: int) -> AlertRecord | None:
        return self.store.get(alert_id)

    def view(self, alert_id: int) -> AlertView | None:
        alert = self.store.get(alert_id)
        return AlertView(alert, tuple(self.store.legs(alert_id))) if alert else None

    # -- Plivo's callbacks -------------------------------------------------------

    def ringing(self, token: str, call_uuid: str) -> None:
        leg = self.store.leg(token)
        if leg and self.store.mark_ringing(token, call_uuid):
            self.notify(leg.alert_id)

    def answer(self, token: str, call_uuid: str) -> CallTurn:
        """What to play when the call is answered; the first answer is reported."""
        bound = self.store.bind_answer(token, call_uuid, self.clock())
        if bound is None:
            return CallTurn(Turn.UNKNOWN)
        leg, first = bound
        if first:
            self.notify(leg.alert_id)
        return self._turn(leg, Turn.PLAY)

    def machine(self, token: str) -> None:
        """Plivo's machine detection heard an answering machine on this call."""
        leg = self.store.leg(token)
        if leg and self.store.mark_machine(token):
            log.info("alert %s: call %s reached voicemail", leg.alert_id, _short(token))
            self.notify(leg.alert_id)

    def after_message(self, token: str) -> CallTurn:
        """The message has been spoken: the menu for a person, nothing more for a machine."""
        leg = self.store.leg(token)
        if leg is None:
            return CallTurn(Turn.UNKNOWN)
        self.store.reset_silences(token)
        return self._turn(leg, Turn.HANG_UP if leg.machine else Turn.MENU)

    def silence(self, token: str) -> CallTurn:
        """The menu got no key: play it again, up to MENU_REPEATS times."""
        leg = self.store.leg(token)
        if leg is None:
            return CallTurn(Turn.UNKNOWN)
        if leg.machine:
            return self._turn(leg, Turn.HANG_UP)
        repeats = self.store.count_silence(token)
        return self._turn(leg, Turn.MENU if repeats <= MENU_REPEATS else Turn.NO_INPUT)

    def key_pressed(self, token: str, turn: Turn) -> CallTurn:
        """A key other than the acknowledgement: `turn` unless the alert is over."""
        leg = self.store.leg(token)
        if leg is None:
            return CallTurn(Turn.UNKNOWN)
        self.store.reset_silences(token)
        return self._turn(leg, turn)

    def acknowledge_by_phone(self, token: str) -> CallTurn:
        """The callee pressed the acknowledgement key; the first one wins."""
        leg = self.store.leg(token)
        if leg is None:
            return CallTurn(Turn.UNKNOWN)
        alert = self.store.get(leg.alert_id)
        target = alert.targets[leg.target]
        won = self.store.resolve(
            alert.id, status=ACKNOWLEDGED, from_statuses=(ACTIVE, EXHAUSTED), now=self.clock(),
            resolved_via=VIA_PHONE, resolved_by=target.user_id, resolved_name=target.name,
            resolved_number=target.number, resolved_leg=leg.id,
        )
        if won:
            log.info("alert %s acknowledged by phone (call %s)", alert.id, _short(token))
            self._stop_everything(alert.id)
        return self._turn(leg, Turn.ACKNOWLEDGED)

    def hangup(self, token: str, report: HangupReport) -> None:
        """Record how a call ended, once, and move the alert on."""
        leg = self.store.leg(token)
        if leg is None or leg.ended:
            return
        if leg.machine:
            outcome, cause = Outcome.VOICEMAIL, None
        else:
            ending = classify_hangup(report.call_status, report.cause_code, report.cause_name,
                                     answered=leg.answered_at is not None)
            outcome, cause = ending.outcome, ending.cause
        self._end(leg, outcome, cause)

    # -- Slack's buttons ---------------------------------------------------------

    def acknowledge(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone took the alert in Slack: calls stop, as for a keypress."""
        won = self.store.resolve(
            alert_id, status=ACKNOWLEDGED, from_statuses=(ACTIVE, EXHAUSTED), now=self.clock(),
            resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name,
        )
        if won:
            log.info("alert %s acknowledged in Slack", alert_id)
            self._stop_everything(alert_id)
        return Taking(won, self.store.get(alert_id))

    def cancel(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone cancelled the alert in Slack: every call stops."""
        won = self.store.resolve(
            alert_id, status=CANCELLED, from_statuses=(ACTIVE,), now=self.clock(),
            resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name,
        )
        if won:
            log.info("alert %s cancelled in Slack", alert_id)
            self._stop_everything(alert_id)
        return Taking(won, self.store.get(alert_id))

    # -- moving on ---------------------------------------------------------------

    def evaluate(self, alert_id: int) -> None:
        """Decide what comes next for the alert, and arrange it."""
        alert = self.store.get(alert_id)
        if alert is None:
            return
        now = self.clock()
        step = next_step(alert, self.store.legs(alert_id), now)
        if isinstance(step, Advance):
            subject = f"{alert.id}:{step.position}"
            if step.at > now:
                self.store.set_next_at(alert.id, step.at)
                if self.scheduler.schedule(STEP_JOB, subject, step.at):
                    log.info("alert %s: nobody acknowledged; next round at %s", alert.id, step.at.isoformat())
                    self.notify(alert.id)
            else:
                self.scheduler.run_soon(STEP_JOB, subject)
        elif isinstance(step, GiveUp) and self.store.give_up(alert.id, alert.position, now):
            log.info("alert %s: nobody acknowledged after %s rounds", alert.id, alert.rounds)
            self.notify(alert.id)
            self.gave_up(alert.id)

    def expire_stale(self, max_age: timedelta = LEG_STALE_AFTER) -> int:
        """Close calls Plivo never reported the end of; how many were closed."""
        closed = 0
        for leg in self.store.unfinished_legs_before(self.clock() - max_age):
            if self._end(leg, Outcome.FAILED, "no final report came back from Plivo"):
                closed += 1
        return closed

    # -- jobs ----------------------------------------------------------------------

    def _run_step(self, subject: str) -> None:
        """Call every target of a position (once, however often the job runs)."""
        alert_id, position = (int(part) for part in subject.split(":"))
        alert = self.store.get(alert_id)
        if alert is None or not alert.open:
            return
        new_legs = [(index, alert.targets[index].number, secrets.token_urlsafe(24))
                    for index in targets_at(alert, position, self.store.legs(alert_id))]
        if not self.store.open_position(alert_id, position, new_legs, self.clock()):
            return
        self.notify(alert_id)
        for leg in self.store.legs(alert_id, position):
            if leg.status == QUEUED:
                self._dial(leg)
        # Should every call have ended already (all refused by Plivo), move on now.
        self.evaluate(alert_id)

    def _run_stop(self, subject: str) -> None:
        alert = self.store.get(int(subject))
        if alert is None:
            return
        for leg in self.store.request_stop(alert.id, keep_leg=alert.resolved_leg):
            self._stop(leg)
        self.notify(alert.id)

    # -- internals -------------------------------------------------------------------

    def _turn(self, leg: Leg, wanted: Turn) -> CallTurn:
        """`wanted`, unless the alert was taken or cancelled meanwhile."""
        alert = self.store.get(leg.alert_id)
        if alert.status == ACKNOWLEDGED:
            # This very call acknowledged it when Plivo retries the keypress.
            return CallTurn(Turn.ACKNOWLEDGED if alert.resolved_leg == leg.id else Turn.TAKEN, alert, leg)
        if alert.status == CANCELLED:
            return CallTurn(Turn.CANCELLED, alert, leg)
        return CallTurn(wanted, alert, leg)

    def _stop_everything(self, alert_id: int) -> None:
        # Off the caller's thread: Plivo's keypress request must not wait on N
        # hang-ups. Kept as a job first, so a crash before it runs only delays it.
        self.scheduler.run_soon(STOP_JOB, str(alert_id))
        self.notify(alert_id)

    def _dial(self, leg: Leg) -> None:
        if not self.store.claim_for_dial(leg.id):
            # Taken before this call was placed: it never rings.
            if self.store.finish_leg(leg.id, outcome=Outcome.CANCELLED, now=self.clock(), only_if_queued=True):
                self.notify(leg.alert_id)
            return
        urls = alert_callback_urls(self.public_url, leg.token)
        try:
            request_uuid = self.plivo.create_call(OutboundCall(
                from_number=self.from_number,
                to_number=leg.to_number,
                answer_url=urls.answer,
                hangup_url=urls.hangup,
                ring_url=urls.ring,
                ring_timeout=RING_TIMEOUT,
                time_limit=TIME_LIMIT,
                machine_detection_url=urls.machine,
                machine_detection="true",  # report only: the machine still records the message
            ))
        except PlivoError as error:
            self._end(leg, Outcome.FAILED, str(error), permanent=error.permanent)
            return
        log.info("alert %s: call %s placed: request %s", leg.alert_id, _short(leg.token), request_uuid)
        dialled = self.store.mark_dialled(leg.id, request_uuid)
        if dialled and dialled.stop_requested:
            # The alert was taken while Plivo was placing this call.
            self._stop(dialled)

    def _stop(self, leg: Leg) -> None:
        """Stop one call: a queued one never rings, a ringing one is cancelled, an answered one hung up."""
        if self.store.finish_leg(leg.id, outcome=Outcome.CANCELLED, now=self.clock(), only_if_queued=True):
            self.notify(leg.alert_id)
            return
        try:
            if leg.status == ANSWERED and leg.call_uuid:
                self.plivo.hang_up(leg.call_uuid)
            elif leg.request_uuid:
                self.plivo.cancel_request(leg.request_uuid)
                # It may have been answered in between; then only its call UUID stops it.
                now = self.store.leg(leg.token)
                if now and now.status == ANSWERED and now.call_uuid:
                    self.plivo.hang_up(now.call_uuid)
            # No request UUID yet: the dialler stops it as soon as Plivo gives one.
        except PlivoError as error:
            # Its next webhook hears "already acknowledged" and hangs up anyway.
            log.warning("alert %s: could not stop call %s: %s", leg.alert_id, _short(leg.token), error)

    def _end(self, leg: Leg, outcome: Outcome, cause: str | None, *, permanent: bool = False) -> bool:
        ended = self.store.finish_leg(leg.id, outcome=outcome, cause=cause, permanent=permanent, now=self.clock())
        if not ended:
            return False
        log.info("alert %s: call %s ended: %s", leg.alert_id, _short(leg.token), outcome.value)
        self.notify(leg.alert_id)
        self.evaluate(leg.alert_id)
        return True


def _short(token: str) -> str:
    # Enough of the token to follow a call through the log, not enough to use it.
    return token[:6]
