"""One simulated Plivo call: its values, its endings and the thread-safe controls
(keys pressed, hang-up requests) that the console and the REST API use on it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from answer_server.sandbox.destinations import Destination

BILL_RATE = "0.0085"  # USD per minute, about Plivo's US outbound rate
BILL_INTERVAL = 60  # Plivo bills answered calls per started minute


@dataclass(frozen=True)
class Ending:
    """How a call ended, in the fields of Plivo's hangup callback."""

    status: str  # CallStatus
    code: int  # HangupCauseCode
    cause: str  # HangupCause
    name: str  # HangupCauseName
    source: str  # HangupSource

    def by(self, source: str) -> "Ending":
        return Ending(self.status, self.code, self.cause, self.name, source)


# Codes and names: https://docs.plivo.com/docs/voice/troubleshooting/hangup-causes
NORMAL = Ending("completed", 4000, "NORMAL_CLEARING", "Normal Hangup", "Callee")
END_OF_XML = Ending("completed", 4010, "NORMAL_CLEARING", "End Of XML Instructions", "Plivo")
CANCELLED = Ending("cancel", 1000, "ORIGINATOR_CANCEL", "Canceled", "API Request")
INVALID_DESTINATION = Ending("failed", 2000, "UNALLOCATED_NUMBER", "Invalid Destination Address", "Carrier")
BUSY = Ending("busy", 3010, "USER_BUSY", "Busy Line", "Callee")
REJECTED = Ending("busy", 3020, "CALL_REJECTED", "Rejected", "Callee")
NO_ANSWER = Ending("no-answer", 3030, "NO_ANSWER", "No Answer", "Carrier")
ANSWER_URL_ERROR = Ending("completed", 7011, "ANSWER_URL_ERROR", "Error Reaching Answer URL", "Error")
ACTION_URL_ERROR = Ending("completed", 7012, "ACTION_URL_ERROR", "Error Reaching Action URL", "Error")
INVALID_ANSWER_XML = Ending("completed", 8011, "INVALID_ANSWER_XML", "Invalid Answer XML", "Error")
INVALID_ACTION_XML = Ending("completed", 8012, "INVALID_ACTION_XML", "Invalid Action XML", "Error")

OUTBOUND, INBOUND = "outbound", "inbound"

# Who asked for a hang-up; the driver turns this into an Ending from the call's state.
BY_API = "api"
BY_CALLEE = "callee"


class CallEnded(Exception):
    def __init__(self, reason: "Ending | str"):
        super().__init__(str(reason))
        self.reason = reason


class Transferred(Exception):
    """The API moved the call to another document (Plivo's transfer): what it was doing stops there."""

    def __init__(self, url: str, method: str = "POST"):
        super().__init__(url)
        self.url, self.method = url, method


class SimClock:
    """Simulated time: `speed` simulated seconds pass per real second."""

    def __init__(self, speed: float = 1.0):
        self.speed = speed
        self._origin = datetime.now(timezone.utc)
        self._start = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._start) * self.speed)

    def real(self, simulated_seconds: float) -> float:
        return simulated_seconds / self.speed


class CallControl:
    """What other threads can do to a call: press keys, speak into a recording, move it, ask it to end."""

    def __init__(self, clock: SimClock):
        self._clock = clock
        self._cond = threading.Condition()
        self._keys: list[str] = []
        self._said: list[str] = []
        self._stop: Ending | str | None = None
        self._transfer: Transferred | None = None
        self.listening = False  # keys count only while a GetDigits/GetInput (or a Record) listens
        self.recording = False  # what the caller says counts only while a Record records

    def stop(self, reason: Ending | str) -> bool:
        """Ask the call to end; False if an end was already asked for."""
        with self._cond:
            if self._stop is not None:
                return False
            self._stop = reason
            self._cond.notify_all()
            return True

    def transfer(self, url: str, method: str = "POST") -> bool:
        """Move the call to the document at `url` (Plivo's transfer); False once it is ending."""
        with self._cond:
            if self._stop is not None:
                return False
            self._transfer = Transferred(url, method)
            self._cond.notify_all()
            return True

    def press(self, keys: str) -> bool:
        """Press keys; whether anything was listening for them."""
        with self._cond:
            if self.listening:
                self._keys.extend(keys)
                self._cond.notify_all()
            return self.listening

    def say(self, text: str) -> bool:
        """The caller speaks; whether a recording heard it."""
        with self._cond:
            if self.recording:
                self._said.append(text)
                self._cond.notify_all()
            return self.recording

    def listen(self, on: bool, *, record: bool = False) -> None:
        with self._cond:
            self.listening, self.recording = on, on and record
            self._keys.clear()
            self._said.clear()

    def has_keys(self) -> bool:
        with self._cond:
            return bool(self._keys)

    def next_said(self) -> str | None:
        with self._cond:
            return self._said.pop(0) if self._said else None

    def wake(self) -> None:
        """Something a pause may wait for changed elsewhere (a conference started or ended)."""
        with self._cond:
            self._cond.notify_all()

    def check(self) -> None:
        with self._cond:
            self._check()

    def _check(self) -> None:
        if self._stop is not None:
            raise CallEnded(self._stop)
        if self._transfer is not None:
            moved, self._transfer = self._transfer, None
            raise moved

    def pause(self, seconds: float, *, until_key: bool = False, until: Callable[[], bool] | None = None) -> None:
        """Let `seconds` of call time pass, or less: until a key (`until_key`), something said into a recording,
        or `until()` (which must not wait on this call). Raises CallEnded if the call is ended meanwhile, and
        Transferred if it is moved."""
        deadline = time.monotonic() + self._clock.real(seconds)
        with self._cond:
            while self._stop is None and self._transfer is None and not (until_key and (self._keys or self._said)):
                if until is not None and until():
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)
            self._check()

    def next_key(self, seconds: float) -> str | None:
        """The next key pressed within `seconds` of call time, or None."""
        self.pause(seconds, until_key=True)
        with self._cond:
            return self._keys.pop(0) if self._keys else None


@dataclass(frozen=True)
class Line:
    """One line of what the callee hears (or of what happens on the call)."""

    kind: str  # speak | play | pause | keys | pressed | said | event | error
    text: str


@dataclass
class SimCall:
    call_uuid: str
    request_uuid: str
    from_number: str
    to_number: str
    request: dict  # the create-call body
    destination: Destination
    control: CallControl
    started_at: datetime
    state: str = "queued"  # queued → ringing → answered → ended
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ending: Ending | None = None
    transcript: list[Line] = field(default_factory=list)
    direction: str = OUTBOUND

    @property
    def phone(self) -> str:
        """The number of the phone this call rings (or, for an inbound call, that places it)."""
        return self.from_number if self.direction == INBOUND else self.to_number

    def duration(self) -> int:
        if not (self.answered_at and self.ended_at):
            return 0
        return max(1, round((self.ended_at - self.answered_at).total_seconds()))

    def bill_duration(self) -> int:
        return math.ceil(self.duration() / BILL_INTERVAL) * BILL_INTERVAL

    def total_cost(self) -> str:
        return f"{self.bill_duration() / 60 * float(BILL_RATE):.5f}"


def plivo_time(moment: datetime | None) -> str:
    """Plivo's `yyyy-MM-dd HH:mm:ss`; empty for a moment that never came."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""
