"""An alert's voice bridge: the acknowledger, the requester and anyone from the channel, in one call.

After acknowledging, the callee may press 9: their call enters a Plivo
conference named for the alert, and the requester's profile number is called
into it. Anyone in the channel can join from the alert message (Join the
call); each is called at their profile number. Every call into the bridge is a
leg like any other (the same destination policy, PLIVO_CPS pacing and outcome
reporting); Plivo's conference callbacks say who is in, and the bridge ends
when the last one leaves and nobody is still being called into it.

A hotline call's callback (voice/hotline) is a bridge too, opened from Slack: its alert is taken by whoever
clicked Call back, whose call goes in first; their entry phones the alert's requester, the caller.
https://www.plivo.com/docs/voice/xml/conference
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Connection, Engine

from voice.alerts.models import ACKNOWLEDGED, REPORT_ALERT, AlertRecord, RequesterPhone
from voice.alerts.store import AlertStore
from voice.calls.legs import LegStore
from voice.calls.lifecycle import PLACE, STOP
from voice.calls.models import BRIDGE, Leg, Requester
from voice.calls.plivo import PlivoClient
from voice.clock import event_time
from voice.queue.work import WorkQueue
from voice.speech.languages import phrase, speech_for_number
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Settles a bridge after a call in it ended: marks it out, and ends the bridge when it is empty.
SETTLE = "bridge.settle"  # subject: alert id
#: The requester's call into the bridge ended unanswered: tell the acknowledger, and bound their wait.
UNREACHABLE = "bridge.unreachable"  # subject: alert id
#: Ends the call of whoever is still alone in the bridge, ALONE_LIMIT after the requester was missed.
ALONE = "bridge.alone"  # subject: alert id
#: Calls someone from the channel into the bridge (the Slack side looks their number up); also the
#: requester, when their number was not read yet when the bridge opened (Slack was failing).
JOIN = "bridge.join"  # subject: "<alert id>:<user id>"; payload {reply_url, team}

#: How long someone waits alone in the bridge (the requester missed, everyone else left) before it ends.
ALONE_LIMIT = 300
#: On a hotline's callback nobody else can join: once told the caller did not answer, the call ends this
#: long after (time for the sentence).
CALLBACK_MISSED_LIMIT = 15
#: Times one person may be called into one alert's bridge from Join the call.
JOINS_PER_PERSON = 3

# Conference events, as Plivo's callbackUrl reports them (ConferenceAction).
ENTER = "enter"
EXIT = "exit"


@dataclass(frozen=True)
class Entry:
    """What the acknowledger's call does on pressing 9."""

    room: str
    requester_called: bool  # False: the requester cannot be reached; wait a bounded time


def room_for(alert_id: int) -> str:
    """A conference name nobody can guess (Plivo's names are account-wide), and no personal data."""
    return f"vb-alert-{alert_id}-{secrets.token_hex(6)}"


def opens_callback(alert: AlertRecord, leg: Leg) -> bool:
    """On a hotline call's callback, the call of whoever clicked Call back (who took its alert): it goes into
    the room first, and its entry phones the caller (the alert's requester)."""
    return (alert.hotline_call is not None and leg.purpose == BRIDGE and leg.requester is not None
            and leg.requester.user_id == alert.resolved_by)


class BridgeService:
    def __init__(self, engine: Engine, store: AlertStore, legs: LegStore, queue: WorkQueue, *,
                 plivo: PlivoClient, voice: str, clock: Callable[[], datetime]):
        self.engine = engine
        self.store = store
        self.legs = legs
        self.queue = queue
        self.plivo = plivo
        self.voice = voice
        self.clock = clock

    def register(self, registry) -> None:
        from voice.queue.workers import Policy

        registry.add(SETTLE, lambda item: self.settle(int(item.subject)))
        registry.add(UNREACHABLE, lambda item: self.requester_missed(int(item.subject)), Policy(attempts=5))
        registry.add(ALONE, lambda item: self.end_if_alone(int(item.subject)), Policy(attempts=5))

    def may_open(self, alert: AlertRecord, leg: Leg) -> bool:
        """Only the call that acknowledged the alert opens its bridge."""
        return alert.status == ACKNOWLEDGED and alert.resolved_leg == leg.id and not leg.ended

    def open(self, alert: AlertRecord, leg: Leg) -> Entry:
        """The acknowledger pressed 9: the bridge (named once), and the requester called into it once."""
        now = self.clock()
        with transaction(self.engine) as conn:
            first = self.store.open_bridge(conn, alert.id, room_for(alert.id), now)
            room = self.store.get_in(conn, alert.id).bridge_room
            if first and alert.requester_number:
                self.call_in(conn, alert.id, alert.requester_number, alert.requester, now, alert.requester_locale)
            elif first and alert.requester_unknown:
                # Their number was not read when the alert opened (Slack failing): read it now, then call.
                subject = f"{alert.id}:{alert.requester.user_id}"
                self.queue.enqueue(conn, JOIN, subject, key=f"{JOIN}:{subject}:requester",
                                   payload={"team": alert.requester.team_id, "requester": True})
            elif first:
                self._bound_the_wait(conn, alert.id, "unreachable")  # nobody to call: the channel may still join
            self.queue.poke(conn, REPORT_ALERT, str(alert.id))
        if first:
            log.info("alert %s: voice bridge opened", alert.id)
        return Entry(room, requester_called=bool(alert.requester_number) or alert.requester_unknown)

    def requester_unreachable(self, alert_id: int, phone: RequesterPhone) -> None:
        """The requester's number, read once the bridge was open, cannot be called: the channel sees why,
        and whoever waits in the bridge waits a bounded time."""
        with transaction(self.engine) as conn:
            self.store.named(conn, alert_id, sender_name=None, message=None, requester_phone=phone)
            self._bound_the_wait(conn, alert_id, "unreachable")
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))

    def join(self, alert_id: int, user_id: str, number: str, team_id: str, language: str | None = None) -> str | None:
        """Call someone from the channel into the bridge; why not, when not (a sentence for them).
        One join at a time per alert (a double click, two workers): checked and placed under its row's lock."""
        with transaction(self.engine) as conn:
            if not self.store.lock(conn, alert_id):
                return "This alert no longer exists."
            alert = self.store.get_in(conn, alert_id)
            if not alert.bridge_open:
                return "The voice bridge of this alert has ended."
            mine = [leg for leg in self.legs.of_alert_in(conn, alert_id)
                    if leg.purpose == BRIDGE and leg.requester and leg.requester.user_id == user_id]
            if any(not leg.ended for leg in mine):
                return "You are being called into the voice bridge already."
            if len(mine) >= JOINS_PER_PERSON:
                return f"You have been called into this voice bridge {JOINS_PER_PERSON} times already."
            who = Requester(user_id=user_id, channel_id=alert.requester.channel_id, team_id=team_id)
            self.call_in(conn, alert_id, number, who, self.clock(), language)
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))
        return None

    def conference_event(self, leg: Leg, action: str, member: str | None = None) -> None:
        """Plivo's conference callback for one call: it entered or left the bridge."""
        now = event_time(self.clock)
        with transaction(self.engine) as conn:
            if action == ENTER:
                changed = self.legs.entered_bridge(conn, leg.token, now, member)
                if changed and leg.purpose != BRIDGE:
                    # The acknowledger is in: if the requester's call failed meanwhile, they hear it now.
                    self.queue.poke(conn, UNREACHABLE, str(leg.alert_id))
                elif changed:
                    self._callback_opened(conn, leg)
            elif action == EXIT:
                changed = self.legs.left_bridge(conn, leg.token, now)
                if changed and self.store.end_bridge_if_empty(conn, leg.alert_id, now):
                    log.info("alert %s: voice bridge ended", leg.alert_id)
                elif changed:
                    self._bound_the_wait(conn, leg.alert_id, leg.token)  # whoever is left alone, waits a while
                    self._callback_left(conn, leg.alert_id)
            else:
                return  # digits, floor and record events change nothing here
            if changed:
                self.queue.poke(conn, REPORT_ALERT, str(leg.alert_id))

    def others_in(self, leg: Leg) -> bool:
        """Whether anyone but this call is in the bridge now."""
        return any(other.id != leg.id and other.bridge_joined_at and not other.bridge_left_at and not other.ended
                   for other in self.legs.of_alert(leg.alert_id))

    def settle(self, alert_id: int) -> None:
        """A call ended: if it was still in the bridge it is out now (Plivo's exit may come late or never)."""
        now = self.clock()
        with transaction(self.engine) as conn:
            gone = [leg for leg in self.legs.of_alert(alert_id)
                    if leg.ended and leg.bridge_joined_at and not leg.bridge_left_at]
            for leg in gone:
                self.legs.left_bridge(conn, leg.token, leg.ended_at or now)
            if self.store.end_bridge_if_empty(conn, alert_id, now):
                log.info("alert %s: voice bridge ended", alert_id)
            elif gone:
                self._bound_the_wait(conn, alert_id, gone[0].token)  # whoever is left alone, waits a while
                self._callback_left(conn, alert_id)
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))

    def requester_missed(self, alert_id: int) -> None:
        """The requester did not answer: the acknowledger, alone in the bridge, hears so, and their
        call ends ALONE_LIMIT later unless someone joins."""
        alert = self.store.get(alert_id)
        if alert is None or not alert.bridge_open:
            return
        calls = self.legs.of_alert(alert_id)
        if not any(leg.purpose == BRIDGE and leg.ended and leg.answered_at is None and leg.requester
                   and leg.requester.user_id == alert.requester.user_id for leg in calls):
            return  # someone else's call into the bridge was missed: nobody waits for them
        waiting = self._alone_in(alert)
        if waiting is None or not waiting.bridge_member:
            return
        speech = speech_for_number(waiting.to_number, self._language_of(alert, waiting), self.voice)
        if alert.hotline_call is not None:  # a callback: the caller did not answer, and nobody else can join
            text, limit = phrase(speech.code, "hotline_no_answer"), CALLBACK_MISSED_LIMIT
        else:
            text, limit = phrase(speech.code, "bridge_unreachable", name=alert.sender_name), ALONE_LIMIT
        if self.plivo.speak_to_member(alert.bridge_room, waiting.bridge_member, text, voice=speech.voice,
                                      language=speech.plivo_language):
            with transaction(self.engine) as conn:
                self._bound_the_wait(conn, alert_id, "missed", limit)

    def end_if_alone(self, alert_id: int) -> None:
        """Still alone in the bridge, and nobody on the way: that call ends (the wait is bounded)."""
        alert = self.store.get(alert_id)
        waiting = self._alone_in(alert) if alert is not None and alert.bridge_open else None
        if waiting is not None and waiting.call_uuid:
            log.info("alert %s: nobody joined the voice bridge; its last call ends", alert_id)
            self.plivo.hang_up(waiting.call_uuid)

    def _bound_the_wait(self, conn: Connection, alert_id: int, why: str, limit: int = ALONE_LIMIT) -> None:
        """Look `limit` seconds from now whether one call waits alone in the bridge, and end it if so."""
        self.queue.enqueue(conn, ALONE, str(alert_id), key=f"{ALONE}:{alert_id}:{why}",
                           due_at=self.clock() + timedelta(seconds=limit))

    def _callback_opened(self, conn: Connection, leg: Leg) -> None:
        """Whoever clicked Call back is in the callback's room: the caller is phoned into it (their entry
        is recorded once, so the caller is phoned once)."""
        alert = self.store.get_in(conn, leg.alert_id)
        if opens_callback(alert, leg) and alert.requester_number:
            self.call_in(conn, alert.id, alert.requester_number, alert.requester, self.clock(),
                         alert.requester_locale)
            log.info("alert %s: the hotline's caller is being called back", alert.id)

    def _callback_left(self, conn: Connection, alert_id: int) -> None:
        """Whoever clicked Call back left before the caller came in: the caller's call stops, rather than
        ring on into an empty room."""
        alert = self.store.get_in(conn, alert_id)
        if alert.hotline_call is None:
            return
        calls = self.legs.of_alert_in(conn, alert_id)
        if any(opens_callback(alert, leg) and not (leg.ended or leg.bridge_left_at) for leg in calls):
            return
        for leg in calls:
            if (leg.purpose == BRIDGE and not opens_callback(alert, leg) and not leg.ended
                    and not leg.bridge_joined_at and self.legs.request_stop_of(conn, leg.token)):
                self.queue.poke(conn, STOP, leg.token)

    def _alone_in(self, alert: AlertRecord) -> Leg | None:
        """The one call in the bridge, when nobody else is in it or being called into it."""
        calls = self.legs.of_alert(alert.id)
        inside = [leg for leg in calls if leg.bridge_joined_at and not leg.bridge_left_at and not leg.ended]
        coming = [leg for leg in calls if leg.purpose == BRIDGE and not leg.ended and not leg.bridge_joined_at]
        return inside[0] if len(inside) == 1 and not coming else None

    @staticmethod
    def _language_of(alert: AlertRecord, leg: Leg) -> str | None:
        if leg.purpose == BRIDGE:
            return leg.language
        target = alert.target_of(leg)
        return target.language if target else None

    def call_in(self, conn: Connection, alert_id: int, number: str, who: Requester, now: datetime,
                language: str | None) -> None:
        """A call to `who` at `number` into the alert's bridge, placed as every call is (PLIVO_CPS, its
        outcome reported), in the caller's transaction."""
        token = self.legs.add_bridge_leg(conn, alert_id, number, secrets.token_urlsafe(24), who, now, language)
        self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")


class BridgeFollowers:
    """What follows a change of a call into the bridge: the alert's message, settling when it ends,
    and, when it ended unanswered, word to whoever waits in the bridge."""

    def __init__(self, queue: WorkQueue):
        self.queue = queue

    def changed(self, conn: Connection, before: Leg | None, after: Leg) -> None:
        self.queue.poke(conn, REPORT_ALERT, str(after.alert_id))
        if after.ended and not (before and before.ended):
            self.queue.poke(conn, SETTLE, str(after.alert_id))
            if after.answered_at is None:
                self.queue.poke(conn, UNREACHABLE, str(after.alert_id))


# -- the calls into the bridge ---------------------------------------------------------------------

TURN_JOINING = "joining"  # into the conference, with a word of who is waiting
TURN_ALONE = "alone"  # everyone else has left: goodbye
TURN_GONE = "gone"  # no such call, another Plivo call's event, or the call ended


@dataclass(frozen=True)
class BridgeTurn:
    turn: str
    alert: AlertRecord | None = None
    leg: Leg | None = None

    @property
    def is_requester(self) -> bool:
        return bool(self.alert and self.leg and self.leg.requester
                    and self.leg.requester.user_id == self.alert.requester.user_id)


class BridgeCalls:
    """Plivo's callbacks for the calls into the bridge (the requester, and people from the channel)."""

    def __init__(self, bridge: BridgeService, store: AlertStore, legs: LegStore, lifecycle):
        self.bridge = bridge
        self.store = store
        self.legs = legs
        self.lifecycle = lifecycle

    def answer(self, token: str, call_uuid: str) -> BridgeTurn:
        leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "answer")
        if leg is None:
            return BridgeTurn(TURN_GONE)
        alert = self.store.get(leg.alert_id)
        answered = self.lifecycle.answered(leg, call_uuid, needs_secret=False)
        if answered is None or alert is None:
            return BridgeTurn(TURN_GONE, alert, leg)
        if not alert.bridge_open or not (opens_callback(alert, answered) or self._someone_waits(alert, answered)):
            return BridgeTurn(TURN_ALONE, alert, answered)
        return BridgeTurn(TURN_JOINING, alert, answered)

    def conference_event(self, token: str, call_uuid: str, action: str, member: str | None) -> None:
        leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "conference")
        if leg is not None:
            self.bridge.conference_event(leg, action, member)

    def _someone_waits(self, alert: AlertRecord, leg: Leg) -> bool:
        """Someone else is in the bridge, or the acknowledger's call, live, is on its way in."""
        if self.bridge.others_in(leg):
            return True
        return any(other.id == alert.resolved_leg and not other.ended and not other.bridge_left_at
                   for other in self.legs.of_alert(alert.id))
