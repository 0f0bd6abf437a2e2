"""What a voice code's call does next: the voicemail guard, the code, a goodbye.

Each of Plivo's requests for a voice-code call comes here as a `CodeTurn`,
which the answer server turns into Plivo XML. The code is opened (unsealed)
only to be read, on the call that answered, never to a machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Connection

from voice.calls.legs import LegStore
from voice.calls.lifecycle import COST, CallLifecycle
from voice.calls.models import ANSWERED, Leg
from voice.log_context import token_for_log
from voice.queue.work import WorkQueue
from voice.speech.languages import Speech, choose_speech, speech_for_number
from voice.store.sealing import SecretBox
from voice.workflows.steps import CALL_STEP, poke_steps

log = logging.getLogger(__name__)

#: The digit that repeats the code once it has been read.
DIGIT_REPEAT = "1"
#: Tells the requester how a voice code's call stands (handled on the Slack side).
REPORT_CALL = "report.call"

# What the call does next.
KEY_GATE = "key_gate"  # "Press any key to hear your code"
CODE = "code"  # the code, digit by digit, twice; then "press 1 to hear it again"
GOODBYE = "goodbye"  # after the code, another key: goodbye
NOT_VALID = "not_valid"  # an unknown, ended or silenced call: "this call is no longer valid"


@dataclass(frozen=True)
class CodeTurn:
    turn: str
    speech: Speech
    code: str | None = None  # only for CODE
    intro: bool = False  # CODE straight after the answer (no voicemail guard)


def speech_for(leg: Leg | None, voice: str) -> Speech:
    """The language and voice of a call: its `lang=`, else its number's country."""
    if leg is None:
        return choose_speech(None, None, voice)
    return speech_for_number(leg.to_number, leg.language, voice)


def visible_change(before: Leg | None, after: Leg) -> bool:
    """Whether the requester would see a difference in the status message."""
    if before is None:
        return True
    shown = ("status", "machine_at", "code_read_at", "outcome", "cost", "confirm_by", "cause", "retrying_since")
    return any(getattr(before, name) != getattr(after, name) for name in shown)


class OtpFollowers:
    """What follows a change of a voice code's call: the status message, the cost."""

    def __init__(self, queue: WorkQueue, clock: Callable[[], datetime]):
        self.queue = queue
        self.clock = clock

    def changed(self, conn: Connection, before: Leg | None, after: Leg) -> None:
        if visible_change(before, after):
            self.queue.poke(conn, REPORT_CALL, after.token)
        newly_ended = after.ended and not (before and before.ended)
        if newly_ended:
            poke_steps(self.queue, conn, CALL_STEP, after.token)  # a Workflow Builder step may wait on it
        if newly_ended and after.cost is None and after.duration and after.call_uuid:
            # Plivo's call record has the cost a moment after the hangup.
            self.queue.enqueue(conn, COST, after.token, key=f"{COST}:{after.token}",
                               due_at=self.clock() + timedelta(seconds=2))


class OtpCalls:
    def __init__(self, legs: LegStore, lifecycle: CallLifecycle, box: SecretBox, *, voice: str,
                 voicemail_guard: bool):
        self.legs = legs
        self.lifecycle = lifecycle
        self.box = box
        self.voice = voice
        self.voicemail_guard = voicemail_guard

    def answer(self, token: str, call_uuid: str) -> CodeTurn:
        """Plivo's answer request: the voicemail guard, or the code at once; goodbye for a dead call."""
        found = self.legs.with_secret(token)
        leg, sealed = found if found else (None, None)
        speech = speech_for(leg, self.voice)
        leg = self.lifecycle.bound(leg, token, call_uuid, "answer")
        code = self._open(leg, sealed)
        if code is None:
            return CodeTurn(NOT_VALID, speech)
        read_now = not self.voicemail_guard
        if leg.status == ANSWERED and leg.call_uuid == call_uuid and (leg.code_read_at or not read_now):
            answered = leg  # Plivo asks again for the same call: nothing to write
        else:
            answered = self.lifecycle.apply(leg, lambda conn: self.legs.answered(
                conn, token, call_uuid, self.lifecycle.clock(), needs_secret=True, read_code=read_now))
        if answered is None:
            return CodeTurn(NOT_VALID, speech)
        if read_now:
            return CodeTurn(CODE, speech, code, intro=True)
        return CodeTurn(KEY_GATE, speech)

    def key_pressed(self, token: str, call_uuid: str, digits: str) -> CodeTurn:
        """A key: before the code is read any key opens it (the voicemail guard); after, only DIGIT_REPEAT."""
        found = self.legs.with_secret(token)
        leg, sealed = found if found else (None, None)
        speech = speech_for(leg, self.voice)
        leg = self.lifecycle.bound(leg, token, call_uuid, "key press")
        if leg is None or leg.ended or not digits:
            return CodeTurn(NOT_VALID if leg is None or leg.ended or leg.code_read_at is None else GOODBYE, speech)
        if leg.code_read_at is not None and digits != DIGIT_REPEAT:
            return CodeTurn(GOODBYE, speech)
        code = self._open(leg, sealed)
        if code is None or leg.machine:
            return CodeTurn(NOT_VALID, speech)
        if leg.code_read_at is not None and leg.call_uuid == call_uuid:
            return CodeTurn(CODE, speech, code)  # read before, on this call: read again, nothing to write
        read = self.lifecycle.apply(leg, lambda conn: self.legs.code_read(conn, token, call_uuid,
                                                                          self.lifecycle.clock()))
        return CodeTurn(CODE, speech, code) if read else CodeTurn(NOT_VALID, speech)

    def _open(self, leg: Leg | None, sealed: str | None) -> str | None:
        if leg is None or leg.ended or sealed is None:
            return None
        code = self.box.open(sealed, leg.token)
        if code is None:
            # Sealed under another OTP_HASH_KEY (a rotated key): this call cannot read it.
            log.warning("call %s: its code cannot be opened with this OTP_HASH_KEY", token_for_log(leg.token))
        return code
