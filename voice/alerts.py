"""Alerts: call people until one acknowledges, then stop every other call.

The order of calls is decided by voice.alert_plan (pure), what each call says
and hears by voice.alert_calls; this module does the I/O around them: the
store, Plivo, and jobs in the scheduler, so a retry due in a minute survives a
restart and runs once across instances. Each change is reported through
`notify(alert_id)`, so the Slack side can show it without this package knowing
Slack exists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from voice.calls import NEVER_RANG, UNCONFIRMED_GRACE
from voice.clock import utcnow
from voice.models import ANSWERED, QUEUED, token_for_log
from voice.numbers import PhoneNumber
from voice.outcomes import Outcome
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

    # -- taking it: the first acknowledgement (or a cancel) wins ------------------

    def acknowledge(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone took the alert in Slack: calls stop, as for a keypress."""
        won = self._take(alert_id, ACKNOWLEDGED, resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name)
        return Taking(won, self.store.get(alert_id))

    def cancel(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone cancelled the alert in Slack: every call stops."""
        won = self._take(alert_id, CANCELLED, resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name)
        return Taking(won, self.store.get(alert_id))

    def acknowledge_call(self, leg: Leg) -> bool:
        """The callee of `leg` pressed the acknowledgement key; whether theirs was the first."""
        target = self.store.get(leg.alert_id).targets[leg.target]
        return self._take(
            leg.alert_id, ACKNOWLEDGED, resolved_via=VIA_PHONE, resolved_by=target.user_id,
            resolved_name=target.name, resolved_number=target.number, resolved_leg=leg.id,
        )

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

    def end_call(self, leg: Leg, outcome: Outcome, cause: str | None, *, permanent: bool = False,
                 call_uuid: str | None = None) -> bool:
        """Record how a call ended, once, and move the alert on; whether this ended it."""
        ended = self.store.finish_leg(leg.id, outcome=outcome, cause=cause, permanent=permanent, now=self.clock(),
                                      call_uuid=call_uuid)
        if not ended:
            return False
        log.info("alert %s: call %s ended: %s", leg.alert_id, token_for_log(leg.token), outcome.value)
        self.notify(leg.alert_id)
        self.evaluate(leg.alert_id)
        return True

    def expire_stale(self, max_age: timedelta = LEG_STALE_AFTER) -> int:
        """Close calls Plivo never reported the end of; how many were closed."""
        closed = 0
        for leg in self.store.unconfirmed_legs_before(self.clock()):
            # Its time to ring is over and Plivo never called back: it was never placed.
            if self.end_call(leg, Outcome.FAILED, NEVER_RANG + "."):
                closed += 1
        for leg in self.store.unfinished_legs_before(self.clock() - max_age):
            if self.end_call(leg, Outcome.FAILED, "no final report came back from Plivo"):
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

    def _take(self, alert_id: int, status: str, **who) -> bool:
        """Acknowledge or cancel, if nobody did first; then every other call stops."""
        # Acknowledging after "nobody acknowledged" is still welcome; cancelling is not.
        from_statuses = (ACTIVE, EXHAUSTED) if status == ACKNOWLEDGED else (ACTIVE,)
        if not self.store.resolve(alert_id, status=status, from_statuses=from_statuses, now=self.clock(), **who):
            return False
        log.info("alert %s %s %s", alert_id, status, "by phone" if who.get("resolved_via") == VIA_PHONE else "in Slack")
        # Off the caller's thread: Plivo's keypress request must not wait on N
        # hang-ups. Kept as a job first, so a crash before it runs only delays it.
        self.scheduler.run_soon(STOP_JOB, str(alert_id))
        self.notify(alert_id)
        return True

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
            if error.placed_unknown:
                # It may ring: the alert waits for its callbacks (or its time to ring
                # to pass) rather than ringing the same phone again at once.
                self.store.mark_unconfirmed(leg.id, self.clock() + timedelta(seconds=RING_TIMEOUT) + UNCONFIRMED_GRACE)
                log.warning("alert %s: Plivo did not confirm call %s; it may still ring",
                            leg.alert_id, token_for_log(leg.token))
                self.notify(leg.alert_id)
                return
            self.end_call(leg, Outcome.FAILED, str(error), permanent=error.permanent)
            return
        log.info("alert %s: call %s placed: request %s", leg.alert_id, token_for_log(leg.token), request_uuid)
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
            log.warning("alert %s: could not stop call %s: %s", leg.alert_id, token_for_log(leg.token), error)
