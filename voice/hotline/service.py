"""A call to a hotline, moved along. Each move is one transaction with the work that follows it.

- It comes in (`incoming`): not a hotline of ours, a blocked number, or a caller over their limit get a
  sentence (or voicemail); anyone else waits in a conference room while an alert of its own (one round of
  the hotline's chain, no second ring) phones the recipients, and the wait is bounded (HOTLINE_WAIT).
- Someone presses 1: the alert is acknowledged (the others' calls stop) and they join the room: connected.
- Nobody did (the chain ended, or the wait ran out): the caller is moved out of the room (Plivo's transfer)
  to leave a voicemail; the call-outs stop.
- The caller hangs up while waiting: every call-out stops at once.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy.engine import Connection, Engine

from voice.alerts.models import ACKNOWLEDGED, ACTIVE, CANCELLED, EXHAUSTED, RESOLVING
from voice.alerts.recipients import request_of
from voice.alerts.service import AlertService
from voice.alerts.store import AlertStore
from voice.calls.limits import serialise
from voice.calls.models import Requester
from voice.calls.plivo import PlivoError
from voice.hotline.callers import caller_number, spoken_digits
from voice.hotline.models import (
    CONNECTED,
    ENDED,
    NOBODY,
    OVER_LIMIT,
    REFUSED,
    REPORT_HOTLINE,
    REPORT_TRANSCRIPT,
    TO_VOICEMAIL,
    VOICEMAIL,
    WAIT_OVER,
    WAITING,
    HotlineDef,
    InboundCall,
)
from voice.hotline.store import HotlineStore
from voice.queue.work import RetryLater, WorkQueue
from voice.store.db import transaction

log = logging.getLogger(__name__)

# What an incoming call hears.
NOT_IN_SERVICE = "not_in_service"
REFUSE = "refuse"
WAIT = "wait"
LEAVE_MESSAGE = "leave_message"
GOODBYE = "goodbye"

#: Who stopped a hotline's call-outs, as the alert records it.
VIA_HOTLINE = "hotline"
#: A voicemail's transcript is shown up to this long.
TRANSCRIPT_MAX = 4000
_RECORDING_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[!-~]{1,2000}")
_LINK = re.compile(r"[!-~]{1,2000}")


class Transferring(Protocol):
    def transfer(self, call_uuid: str, url: str) -> None: ...


@dataclass(frozen=True)
class HotlineConfig:
    public_url: str
    wait: int = 120  # HOTLINE_WAIT, seconds
    limit_per_hour: int = 3  # HOTLINE_LIMIT_CALLER_HOUR (0: none)
    blocked: frozenset[str] = frozenset()  # HOTLINE_BLOCKED, E.164
    transcribe: bool = False  # HOTLINE_TRANSCRIBE
    #: Recording links are https; links under this URL (PLIVO_API_URL, the Plivo this server talks to) are taken
    #: as they come too: the sandbox's Plivo serves its recordings from loopback over plain http.
    plivo_api_url: str = ""


@dataclass(frozen=True)
class Incoming:
    what: str  # NOT_IN_SERVICE, REFUSE, WAIT, LEAVE_MESSAGE, GOODBYE
    hotline: HotlineDef | None = None
    call: InboundCall | None = None


class HotlineService:
    def __init__(self, engine: Engine, store: HotlineStore, alerts: AlertService, alert_store: AlertStore,
                 queue: WorkQueue, plivo: Transferring, hotlines: Callable[[str], HotlineDef | None],
                 config: HotlineConfig, *, clock: Callable[[], datetime]):
        self.engine = engine
        self.store = store
        self.alerts = alerts
        self.alert_store = alert_store
        self.queue = queue
        self.plivo = plivo
        self.hotlines = hotlines  # the hotline of a number, as ROUTING_FILE says now
        self.config = config
        self.clock = clock
        alerts.watchers.append(self._alert_over)

    def register(self, registry) -> None:
        from voice.queue.workers import Policy

        registry.add(WAIT_OVER, lambda item: self.wait_over(int(item.subject)))
        registry.add(TO_VOICEMAIL, lambda item: self.transfer(int(item.subject)),
                     Policy(attempts=10, backoff=1.0, max_backoff=10.0))

    # -- a call comes in ----------------------------------------------------------------------------

    def incoming(self, call_uuid: str, from_raw: str | None, to: str | None) -> Incoming:
        hotline = self.hotlines(caller_number(to) or "")
        if hotline is None:
            return Incoming(NOT_IN_SERVICE)
        existing = self.store.by_uuid(call_uuid)
        if existing is not None:  # Plivo asked again: the same answer
            return Incoming(_heard(existing), hotline, existing)
        caller = caller_number(from_raw)
        now = self.clock()
        values = dict(token=secrets.token_urlsafe(24), call_uuid=call_uuid, hotline=hotline.number,
                      name=hotline.name, caller=caller, room=f"hotline-{secrets.token_hex(10)}",
                      channel_id=hotline.channel, team_id=hotline.team_id, created_at=now)
        with transaction(self.engine) as conn:
            if caller is not None and caller in self.config.blocked:
                self.store.add(conn, status=REFUSED, **values)
                what = REFUSE
            else:
                serialise(conn, f"hotline-caller:{caller or 'withheld'}")
                limit = self.config.limit_per_hour
                if limit and self.store.phoned_for(conn, caller, now - timedelta(hours=1)) >= limit:
                    call_id = self.store.add(conn, status=VOICEMAIL, voicemail_reason=OVER_LIMIT, **values)
                    what = LEAVE_MESSAGE
                else:
                    call_id = self.store.add(conn, status=WAITING, **values)
                    if call_id is not None:
                        self._call_out(conn, call_id, hotline, caller, values["room"], now)
                    what = WAIT
                if call_id is not None:
                    self.queue.poke(conn, REPORT_HOTLINE, str(call_id))
        found = self.store.by_uuid(call_uuid)
        log.info("hotline call %s: %s", found.id if found else "?", what)
        return Incoming(_heard(found) if found else what, hotline, found)

    def _call_out(self, conn: Connection, call_id: int, hotline: HotlineDef, caller: str | None, room: str,
                  now: datetime) -> None:
        """The call-outs (one round of the chain) and the bound on the wait, with the call."""
        requester = Requester(user_id="", channel_id=hotline.channel, team_id=hotline.team_id)
        alert_id = self.alerts.add_in(conn, requester=requester, sender_name=hotline.name,
                                      message=spoken_digits(caller) or "",
                                      recipients=request_of(hotline.stages, hotline.lang), status=RESOLVING,
                                      columns={"hotline_call": call_id, "bridge_room": room}, now=now, rounds=1)
        self.store.set_alert(conn, call_id, alert_id)
        self.queue.enqueue(conn, WAIT_OVER, str(call_id), key=f"{WAIT_OVER}:{call_id}",
                           due_at=now + timedelta(seconds=self.config.wait))

    # -- what happens to it ---------------------------------------------------------------------------

    def caller_left(self, call_uuid: str, *, waiting_only: bool = False) -> None:
        """The caller hung up (or left the room while waiting): every call-out stops. `waiting_only`: they left
        the room, which ends the call only while it waits (the move to voicemail takes them out of it too)."""
        call = self.store.by_uuid(call_uuid)
        if call is None:
            return
        now = self.clock()
        with transaction(self.engine) as conn:
            if self.store.move(conn, call.id, (WAITING,), ENDED, ended_at=now):
                if call.alert_id is not None:
                    self.alerts.take_in(conn, call.alert_id, CANCELLED, (RESOLVING, ACTIVE, EXHAUSTED),
                                        resolved_via=VIA_HOTLINE, resolved_name="the caller, who hung up")
                log.info("hotline call %s: the caller hung up while waiting", call.id)
            elif waiting_only or not self.store.move(conn, call.id, (CONNECTED, VOICEMAIL), ENDED, ended_at=now):
                return
            self.queue.poke(conn, REPORT_HOTLINE, str(call.id))

    def taker_joined(self, alert_id: int) -> None:
        """Whoever took it entered the room: they are talking."""
        with transaction(self.engine) as conn:
            call = self.store.by_alert(conn, alert_id)
            if call is not None and self.store.note(conn, call.id, connected_at=self.clock()):
                self.queue.poke(conn, REPORT_HOTLINE, str(call.id))

    def wait_over(self, call_id: int) -> None:
        """HOTLINE_WAIT passed: nobody took it, so the caller leaves a message."""
        with transaction(self.engine) as conn:
            call = self.store.get(call_id)
            if call is not None and call.status == WAITING:
                self._to_voicemail(conn, call)

    def transfer(self, call_id: int) -> None:
        """Move the caller out of the waiting room to the voicemail prompt (a conference `exit` follows:
        not a hang-up). A call that is gone already needs no moving."""
        call = self.store.get(call_id)
        if call is None or call.status != VOICEMAIL:
            return
        try:
            self.plivo.transfer(call.call_uuid, f"{self.config.public_url}/plivo/hotline/voicemail/{call.token}")
        except PlivoError as error:
            if error.status == 404:
                return  # the caller hung up meanwhile
            raise RetryLater(f"Plivo did not move the caller to voicemail: {error}") from None

    def recorded(self, token: str, url: str | None, seconds: int | None) -> bool:
        """The voicemail was recorded; whether it was this call's (and its first)."""
        call = self.store.by_token(token)
        if call is None or not url or not self._recording_url(url):
            return False
        with transaction(self.engine) as conn:
            noted = self.store.note(conn, call.id, recording_url=url, recording_seconds=seconds)
            if noted:
                self.queue.poke(conn, REPORT_HOTLINE, str(call.id))
        return noted

    def _recording_url(self, url: str) -> bool:
        if _RECORDING_URL.fullmatch(url):
            return True
        under = self.config.plivo_api_url.rstrip("/") + "/"
        return bool(self.config.plivo_api_url) and url.startswith(under) and bool(_LINK.fullmatch(url[len(under):]))

    def transcribed(self, token: str, text: str | None) -> None:
        call = self.store.by_token(token)
        words = " ".join((text or "").split())[:TRANSCRIPT_MAX]
        if call is None or not words:
            return
        with transaction(self.engine) as conn:
            if self.store.note(conn, call.id, transcript=words):
                self.queue.enqueue(conn, REPORT_TRANSCRIPT, str(call.id), key=f"{REPORT_TRANSCRIPT}:{call.id}")

    def changed(self, call_id: int) -> None:
        """Its call-outs changed (a ring, an answer): its message is brought up to date."""
        with transaction(self.engine) as conn:
            self.queue.poke(conn, REPORT_HOTLINE, str(call_id))

    def get(self, call_id: int) -> InboundCall | None:
        return self.store.get(call_id)

    def by_token(self, token: str) -> InboundCall | None:
        return self.store.by_token(token)

    # -- internals ---------------------------------------------------------------------------------

    def _alert_over(self, conn: Connection, alert_id: int, status: str) -> None:
        """An alert is over (its transaction): if it was a hotline's call-outs, the caller is put through
        (someone pressed 1) or sent to voicemail (nobody did)."""
        call = self.store.by_alert(conn, alert_id)
        if call is None or call.status != WAITING:
            return
        if status == ACKNOWLEDGED:
            alert = self.alert_store.get_in(conn, alert_id)
            taker = alert.resolved_by or alert.resolved_number
            if self.store.move(conn, call.id, (WAITING,), CONNECTED, taker=taker):
                self.queue.poke(conn, REPORT_HOTLINE, str(call.id))
        elif status == EXHAUSTED:
            self._to_voicemail(conn, call)

    def _to_voicemail(self, conn: Connection, call: InboundCall) -> None:
        if not self.store.move(conn, call.id, (WAITING,), VOICEMAIL, voicemail_reason=NOBODY):
            return
        if call.alert_id is not None:
            self.alerts.take_in(conn, call.alert_id, CANCELLED, (RESOLVING, ACTIVE),
                                resolved_via=VIA_HOTLINE, resolved_name="voicemail")
        self.queue.enqueue(conn, TO_VOICEMAIL, str(call.id), key=f"{TO_VOICEMAIL}:{call.id}")
        self.queue.poke(conn, REPORT_HOTLINE, str(call.id))
        log.info("hotline call %s: nobody took it; to voicemail", call.id)


def _heard(call: InboundCall) -> str:
    return {WAITING: WAIT, VOICEMAIL: LEAVE_MESSAGE, REFUSED: REFUSE}.get(call.status, GOODBYE)

