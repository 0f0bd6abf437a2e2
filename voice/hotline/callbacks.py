"""Calling a hotline's caller back from Slack.

A callback is an alert of its own whose voice bridge is a fresh room: taken by whoever clicked Call back
(so its bridge opens with their call, which is placed at once), its requester is the caller, phoned in once
the clicker is in the room (voice/alerts/bridge.py). Its legs, their callbacks, hang-ups and the bound on a
lone wait are the bridge's. One callback of a call runs at a time, and a call is called back at most
CALLBACKS_PER_CALL times.

Each callback is the alert raised for the request "the nth callback of call X": the alerts table's unique
request_id makes the nth happen once, whoever clicks at the same moment, and finds a call's callbacks in
one indexed read.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Callable, Sequence

from voice.alerts.bridge import BridgeService
from voice.alerts.models import ACKNOWLEDGED, VIA_SLACK, AlertRecord, AlertView
from voice.calls.limits import serialise
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number
from voice.hotline.callers import masked
from voice.hotline.models import (
    ENDED,
    REPORT_HOTLINE,
    VOICEMAIL,
    InboundCall,
)
from voice.hotline.service import HotlineService
from voice.store.db import reading, transaction

log = logging.getLogger(__name__)

#: Times one hotline call may be called back (as JOINS_PER_PERSON bounds the joins of a voice bridge).
CALLBACKS_PER_CALL = 3

# Why a click on Call back phones nobody.
GONE = "gone"  # no such call
WITHHELD = "withheld"  # no number to call
NOT_OVER = "not_over"  # the caller is still waiting, or talking with whoever took it
UNDER_WAY = "under_way"  # a callback of this call is going on
USED_UP = "used_up"  # CALLBACKS_PER_CALL reached
CALLER_REFUSED = "caller_refused"  # the call policy refuses the caller's number


@dataclass(frozen=True)
class NoCallBack:
    why: str
    by: str | None = None  # UNDER_WAY: who clicked it
    reason: str | None = None  # CALLER_REFUSED: the policy's words


def callback_requests(call_id: int) -> tuple[str, ...]:
    """The requests of a call's callbacks, in order: its nth callback is the alert raised for the nth."""
    return tuple(f"hotline:{call_id}:callback:{n}" for n in range(1, CALLBACKS_PER_CALL + 1))


def may_call_back(call: InboundCall) -> bool:
    """Whether the call's message offers Call back: a known number, and a call that is over (or in voicemail)."""
    return call.caller is not None and call.status in (VOICEMAIL, ENDED)


def callback_refusal(call: InboundCall | None, callbacks: Sequence[AlertRecord],
                     caller_refusal: Callable[[str], str | None]) -> NoCallBack | None:
    """Why this call cannot be called back now (its callbacks so far, oldest first); None: it can. Pure."""
    if call is None:
        return NoCallBack(GONE)
    if call.caller is None:
        return NoCallBack(WITHHELD)
    if not may_call_back(call):
        return NoCallBack(NOT_OVER)
    if callbacks and callbacks[-1].bridge_ended_at is None:
        return NoCallBack(UNDER_WAY, by=callbacks[-1].resolved_by)
    if len(callbacks) >= CALLBACKS_PER_CALL:
        return NoCallBack(USED_UP)
    if reason := caller_refusal(call.caller):
        return NoCallBack(CALLER_REFUSED, reason=reason)
    return None


class CallBacks:
    """The callbacks of the calls `hotline` answers, placed through `bridge`."""

    def __init__(self, hotline: HotlineService, bridge: BridgeService):
        self.hotline = hotline
        self.bridge = bridge
        self.engine, self.store, self.alerts = hotline.engine, hotline.store, hotline.alerts
        self.alert_store, self.queue, self.clock = hotline.alert_store, hotline.queue, hotline.clock

    def refusal(self, call_id: int) -> NoCallBack | None:
        """Why the call cannot be called back now, before anyone's number is looked up."""
        call = self.store.get(call_id)
        with reading(self.engine) as conn:
            done = self.alert_store.for_requests(conn, callback_requests(call_id))
        return callback_refusal(call, done, self._caller_refusal)

    def call_back(self, call_id: int, user_id: str, number: str, language: str | None) -> NoCallBack | None:
        """Phone `user_id` at `number` (their profile's, in their `language`) into a fresh room; the caller
        follows once they are in. Checked and stored under the call's lock: two clicks at once, one callback."""
        now = self.clock()
        with transaction(self.engine) as conn:
            serialise(conn, f"hotline-callback:{call_id}")
            call = self.store.get_in(conn, call_id)
            done = self.alert_store.for_requests(conn, callback_requests(call_id))
            if refused := callback_refusal(call, done, self._caller_refusal):
                return refused
            line = self.hotline.hotlines(call.hotline)
            requester = Requester(user_id="", channel_id=call.channel or "", team_id=call.team_id)
            alert_id = self.alerts.add_in(
                conn, requester=requester, sender_name=call.name, message="", recipients=None, status=ACKNOWLEDGED,
                columns={"hotline_call": call.id, "bridge_room": f"hotline-{secrets.token_hex(10)}",
                         "bridge_started_at": now, "requester_number": call.caller,
                         # The caller hears the hotline's language, as its greeting.
                         "requester_locale": line.lang if line else None,
                         "resolved_at": now, "resolved_via": VIA_SLACK, "resolved_by": user_id},
                now=now, rounds=1, request_id=callback_requests(call_id)[len(done)])
            if alert_id is None:  # a click at the same moment stored this nth callback first
                return NoCallBack(UNDER_WAY)
            self.bridge.call_in(conn, alert_id, number, Requester(user_id, call.channel or "", call.team_id), now,
                                language)
            self.store.called_back(conn, call.id, user_id)
            self.queue.poke(conn, REPORT_HOTLINE, str(call.id))
        log.info("hotline call %s: called back from Slack (alert %s)", call_id, alert_id)
        return None

    def of(self, call: InboundCall) -> list[AlertView]:
        """The call's callbacks with their calls, oldest first (none read for a call never called back)."""
        if call.callback_by is None:
            return []
        with reading(self.engine) as conn:
            done = self.alert_store.for_requests(conn, callback_requests(call.id))
        return [AlertView(alert, tuple(self.alerts.legs.of_alert(alert.id))) for alert in done]

    def _caller_refusal(self, number: str) -> str | None:
        """The call policy's words, the caller's number in them masked as the channel shows it."""
        parsed = parse_phone_number(number)
        reason = self.alerts.refusal_for(parsed)
        return reason.replace(parsed.display, masked(number)) if reason else None
