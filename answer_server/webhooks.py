"""Plivo's webhooks, every one of the same shape: verify, parse, ask the domain, render, answer.

`/plivo/<event>/<token>` for a voice code's call, `/plivo/alert/<event>/<token>`
for an alert's; the event names what Plivo reports (answer, ring, hangup,
machine) or asks for (key, menu, silence). Each is signed by Plivo
(answer_server/plivo_requests.py checks that first, and that a request which
serves a script was not served before: one insert of its nonce); each does
one indexed read and at most one conditional write before it answers; Plivo always gets
a valid document, within milliseconds, whatever fails on our side.
The keys Plivo posts (`Digits`) are never logged.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Callable

from flask import Blueprint

from answer_server import plivo_xml
from answer_server.alert_documents import bridge_document, document_for, error_document
from answer_server.plivo_requests import (
    Replays,
    call_uuid_of,
    digits_of,
    params,
    parse_hangup,
    require_plivo_signature,
    says_machine,
    valid_token,
    xml_response,
)
from answer_server.plivo_xml import (
    code_document,
    empty_document,
    goodbye_document,
    key_gate_document,
    sentence_document,
    test_call_document,
)
from voice import metrics
from voice.alert_calls import AlertCalls, Turn
from voice.bridge import ENTER as BRIDGE_ENTER
from voice.bridge import EXIT as BRIDGE_EXIT
from voice.bridge import BridgeCalls
from voice.dialing import callback_urls
from voice.languages import phrase, speech_for_number
from voice.legs import LegStore
from voice.lifecycle import CallLifecycle
from voice.log_context import log_context
from voice.models import ALERT, BRIDGE, OTP, TEST, token_for_log
from voice.otp_calls import CODE, GOODBYE, KEY_GATE, CodeTurn, OtpCalls, speech_for
from voice.test_calls import CONFIRMED as TEST_CONFIRMED
from voice.test_calls import PROMPT as TEST_PROMPT
from voice.test_calls import TestCalls, TestTurn

log = logging.getLogger(__name__)

_MEMBER = re.compile(r"[0-9A-Za-z-]{1,32}")  # a ConferenceMemberID

Fields = dict[str, str]
#: What answers one event: (token, Plivo's fields) → a Plivo XML document.
Answer = Callable[[str, Fields], bytes]


#: Events that only report (their answer is an empty document) and change a call only forward, once: the
#: same request again changes nothing and reveals nothing, so it is not refused as a replay. Plivo may send
#: one again itself, after an answer of ours it did not get; a hangup must then still land.
REPORTS = frozenset({"ring", "machine", "hangup", "conference"})


def webhook_blueprint(name: str, prefix: str, events: dict[str, Answer], *, on_error: Callable[[str, str], bytes],
                      auth_token: str, public_url: str, replays: Replays | None = None) -> Blueprint:
    """One blueprint, one route, one shape for every event of one kind of call."""
    bp = Blueprint(name, __name__, url_prefix=prefix)
    # A request that serves a call script (the code, an alert's text, a key's effect) is served once.
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url, replays=replays, replayable=REPORTS)

    @bp.route("/<event>/<token>", methods=["GET", "POST"])
    def webhook(event: str, token: str):
        answer = events.get(event)
        if answer is None:
            return xml_response(goodbye_document()), 404
        if not valid_token(token):
            return xml_response(goodbye_document())
        began = time.perf_counter()
        with log_context(call=token_for_log(token)):
            try:
                return xml_response(answer(token, params()))
            except Exception:
                # Never a 500 for Plivo: it would drop the call. An apology, in valid XML.
                log.exception("the %s webhook failed", event)
                return xml_response(on_error(event, token))
            finally:
                metrics.WEBHOOK_SECONDS.labels(event).observe(time.perf_counter() - began)

    return bp


class ProgressEvents:
    """ring, machine and hangup: the same for every call, recorded and answered with an empty document."""

    def __init__(self, legs: LegStore, lifecycle: CallLifecycle):
        self.legs = legs
        self.lifecycle = lifecycle

    def events(self) -> dict[str, Answer]:
        return {"ring": self.ring, "machine": self.machine, "hangup": self.hangup}

    def ring(self, token: str, fields: Fields) -> bytes:
        call_uuid = call_uuid_of(fields)
        leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "ring") if call_uuid else None
        if leg is not None:
            self.lifecycle.ringing(leg, call_uuid)
        return empty_document()

    def machine(self, token: str, fields: Fields) -> bytes:
        call_uuid = call_uuid_of(fields)
        if call_uuid and says_machine(fields):
            leg = self.lifecycle.bound(self.legs.get(token), token, call_uuid, "machine detection")
            if leg is not None:
                self.lifecycle.machine(leg, call_uuid)
        return empty_document()

    def hangup(self, token: str, fields: Fields) -> bytes:
        """The ending, recorded once; a retried delivery changes nothing. 200 even for unknown calls,
        so Plivo does not retry them over and over."""
        report = parse_hangup(fields)
        if report is not None:
            leg = self.lifecycle.bound(self.legs.get(token), token, report.call_uuid, "hangup")
            if leg is not None:
                self.lifecycle.hung_up(leg, report)
        return empty_document()


def otp_events(calls: OtpCalls, progress: ProgressEvents, public_url: str) -> dict[str, Answer]:
    def render(turn: CodeTurn, token: str) -> bytes:
        key_url = callback_urls(public_url, token, OTP).key
        if turn.turn == KEY_GATE:
            return key_gate_document(turn.speech, key_url)
        if turn.turn == CODE:
            return code_document(turn.code, turn.speech, key_url, intro=turn.intro)
        return goodbye_document(turn.speech, "goodbye" if turn.turn == GOODBYE else "not_valid")

    def answer(token: str, fields: Fields) -> bytes:
        """The voicemail guard (press a key), or the code itself when the guard is off."""
        call_uuid = call_uuid_of(fields)
        if not call_uuid:
            return goodbye_document()
        return render(calls.answer(token, call_uuid), token)

    def key(token: str, fields: Fields) -> bytes:
        """A key press (GetDigits action): read the code, or say goodbye."""
        call_uuid = call_uuid_of(fields)
        if not call_uuid:
            return goodbye_document()
        return render(calls.key_pressed(token, call_uuid, digits_of(fields) or ""), token)

    return {"answer": answer, "key": key, **progress.events()}


def otp_error(voice: str) -> Callable[[str, str], bytes]:
    def on_error(event: str, token: str) -> bytes:
        if event in ("ring", "machine", "hangup"):
            return empty_document()
        return goodbye_document(speech_for(None, voice), key="try_later")

    return on_error


def alert_events(calls: AlertCalls, progress: ProgressEvents, public_url: str, voice: str) -> dict[str, Answer]:
    def render(token: str, fields: Fields, next_turn: Callable[[str], object]) -> bytes:
        call_uuid = call_uuid_of(fields)
        if not call_uuid:
            return goodbye_document()
        return document_for(next_turn(call_uuid), callback_urls(public_url, token, ALERT), voice)

    def pressed(token: str, call_uuid: str, digits: str | None):
        """One key from the menu."""
        match digits:
            case "":
                return calls.key_pressed(token, call_uuid, Turn.MENU)
            case plivo_xml.DIGIT_ACK:
                return calls.acknowledge_by_phone(token, call_uuid)
            case plivo_xml.DIGIT_REPEAT:
                return calls.key_pressed(token, call_uuid, Turn.REPEAT)
            case plivo_xml.DIGIT_PASS:
                return calls.pass_on(token, call_uuid)
            case plivo_xml.DIGIT_BRIDGE:
                return calls.join_bridge(token, call_uuid)
            case _:  # another key, or a field that is not keys at all
                return calls.key_pressed(token, call_uuid, Turn.INVALID_KEY)

    return {
        # Who sent the alert, from where, and the message.
        "answer": lambda token, fields: render(token, fields, lambda uuid: calls.answer(token, uuid)),
        # After the message: the menu, or a goodbye to a machine.
        "menu": lambda token, fields: render(token, fields, lambda uuid: calls.after_message(token, uuid)),
        # The menu got no key: say it again, a few times.
        "silence": lambda token, fields: render(token, fields, lambda uuid: calls.silence(token, uuid)),
        "keys": lambda token, fields: render(token, fields,
                                             lambda uuid: pressed(token, uuid, digits_of(fields))),
        # The acknowledger in the voice bridge: enter and exit.
        "conference": lambda token, fields: conference(calls.conference_event, token, fields),
        # The hangup also moves the alert on (its followers poke the next step).
        **progress.events(),
    }


def bridge_events(calls: BridgeCalls, progress: ProgressEvents, public_url: str, voice: str) -> dict[str, Answer]:
    """The calls into an alert's voice bridge: answered into the conference; its enter and exit events."""

    def answer(token: str, fields: Fields) -> bytes:
        call_uuid = call_uuid_of(fields)
        if not call_uuid:
            return goodbye_document()
        return bridge_document(calls.answer(token, call_uuid), callback_urls(public_url, token, BRIDGE), voice)

    return {"answer": answer, "conference": lambda token, fields: conference(calls.conference_event, token, fields),
            **progress.events()}


def conference(record: Callable[[str, str, str, str | None], None], token: str, fields: Fields) -> bytes:
    """Plivo's conference callback: who entered or left (and their member ID); its body is ignored."""
    call_uuid = call_uuid_of(fields)
    action = fields.get("ConferenceAction", "")
    member = fields.get("ConferenceMemberID", "")
    if call_uuid and action in (BRIDGE_ENTER, BRIDGE_EXIT):
        record(token, call_uuid, action, member if _MEMBER.fullmatch(member) else None)
    return empty_document()


def alert_error(public_url: str, voice: str) -> Callable[[str, str], bytes]:
    def on_error(event: str, token: str) -> bytes:
        if event in ("ring", "machine", "hangup", "conference"):
            return empty_document()
        # We failed: reading the callee's language could fail too, so the configured voice's English.
        return error_document(event, callback_urls(public_url, token, ALERT), speech_for(None, voice))

    return on_error


def test_events(calls: TestCalls, progress: ProgressEvents, public_url: str, voice: str) -> dict[str, Answer]:
    """The App Home's test call: the prompt, the key that confirms it, and the usual progress events."""

    def render(turn: TestTurn, token: str) -> bytes:
        leg = turn.leg
        speech = speech_for_number(leg.to_number, leg.language, voice) if leg else speech_for(None, voice)
        if turn.turn == TEST_PROMPT:
            return test_call_document(callback_urls(public_url, token, TEST).key, speech)
        if turn.turn == TEST_CONFIRMED:
            return sentence_document(phrase(speech.code, "alert_acknowledged"), speech)
        return goodbye_document(speech)

    def answer(token: str, fields: Fields) -> bytes:
        call_uuid = call_uuid_of(fields)
        return render(calls.answer(token, call_uuid), token) if call_uuid else goodbye_document()

    def keys(token: str, fields: Fields) -> bytes:
        call_uuid = call_uuid_of(fields)
        if not call_uuid:
            return goodbye_document()
        return render(calls.key_pressed(token, call_uuid, digits_of(fields) or ""), token)

    return {"answer": answer, "keys": keys, **progress.events()}


def short_call_error(voice: str) -> Callable[[str, str], bytes]:
    """For calls with no menu (the voice bridge's, the App Home's test call): an apology, in XML."""
    def on_error(event: str, token: str) -> bytes:
        if event in ("ring", "machine", "hangup", "conference"):
            return empty_document()
        return goodbye_document(speech_for(None, voice), key="try_later")

    return on_error
