"""Plivo's webhooks, every one of the same shape: verify, parse, ask the domain, render, answer.

`/plivo/<event>/<token>` for a voice code's call, `/plivo/alert/<event>/<token>`
for an alert's; the event names what Plivo reports (answer, ring, hangup,
machine) or asks for (key, menu, silence). Each is signed by Plivo
(answer_server/plivo/requests.py checks that first, and that a request which
serves a script was not served before: one insert of its nonce); each does
one indexed read and at most one conditional write before it answers; Plivo always gets
a valid document, within milliseconds, whatever fails on our side.
The keys Plivo posts (`Digits`) are never logged.

While the database is out (stopped, restarting, read-only), nothing is lost:
a callback that only reports (ring, machine, hangup, conference) is kept in
the local journal (answer_server/plivo/journal.py) and applied once the
database is back; a live call that needs the database for its next turn
(answer, menu, keys) is held: "One moment, please.", a few seconds'
silence, and the request again (the `*_HOLDS` tables), up to HOLD_LIMIT times,
rather than an apology that hangs up at once.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, request

from answer_server.plivo import xml as plivo_xml
from answer_server.plivo.alert_xml import bridge_document, document_for, error_document
from answer_server.plivo.journal import Entry
from answer_server.plivo.requests import (
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
from answer_server.plivo.xml import (
    code_document,
    empty_document,
    goodbye_document,
    hold_document,
    key_gate_document,
    sentence_document,
    test_call_document,
)
from voice import metrics
from voice.alerts.bridge import ENTER as BRIDGE_ENTER
from voice.alerts.bridge import EXIT as BRIDGE_EXIT
from voice.alerts.bridge import BridgeCalls
from voice.alerts.calls import AlertCalls, Turn
from voice.calls.dialing import callback_urls
from voice.calls.legs import LegStore
from voice.calls.lifecycle import CallLifecycle
from voice.calls.models import ALERT, BRIDGE, OTP, TEST
from voice.clock import arrived_at, utcnow
from voice.codes.calls import CODE, GOODBYE, KEY_GATE, CodeTurn, OtpCalls, speech_for
from voice.log_context import log_context, token_for_log
from voice.speech.languages import phrase, speech_for_number
from voice.testcall.calls import CONFIRMED as TEST_CONFIRMED
from voice.testcall.calls import PROMPT as TEST_PROMPT
from voice.testcall.calls import TestCalls, TestTurn

log = logging.getLogger(__name__)

_MEMBER = re.compile(r"[0-9A-Za-z-]{1,32}")  # a ConferenceMemberID
_HELD = re.compile(r"[0-9]{1,2}")

Fields = dict[str, str]
#: What answers one event: (token, Plivo's fields) → a Plivo XML document.
Answer = Callable[[str, Fields], bytes]

#: While the database is out, a live call is held this many times (about HOLD_WAIT s each), then apologised to.
HOLD_LIMIT = 12
#: For each kind of call, the request a held call makes again, by the event that could not be served: a
#: key cannot be sent again (Plivo's redirect carries no Digits), so the menu or the key gate is asked for
#: afresh, and the callee presses the key once more.
OTP_HOLDS = {"answer": "answer", "key": "answer"}
ALERT_HOLDS = {"answer": "answer", "menu": "menu", "silence": "menu", "keys": "menu"}
BRIDGE_HOLDS = {"answer": "answer"}
TEST_HOLDS = {"answer": "answer", "keys": "answer"}


@dataclass(frozen=True)
class Outage:
    """What the webhooks do while the database is out."""

    #: Whether an exception says the database is out (voice/store/db.py's is_outage), not that we are wrong.
    is_outage: Callable[[BaseException], bool]
    #: Keeps a reporting callback until it can be applied (the journal, then its replayer woken).
    keep: Callable[[Entry], None]
    voice: str


#: Events that only report (their answer is an empty document) and change a call only forward, once: the
#: same request again changes nothing and reveals nothing, so it is not refused as a replay. Plivo may send
#: one again itself, after an answer of ours it did not get; a hangup must then still land. While the
#: database is out, these are kept in the journal.
REPORTS = frozenset({"ring", "machine", "hangup", "conference"})


def webhook_blueprint(name: str, prefix: str, events: dict[str, Answer], *, on_error: Callable[[str, str], bytes],
                      holds: dict[str, str], outage: Outage, auth_token: str, public_url: str,
                      replays: Replays | None = None) -> Blueprint:
    """One blueprint, one route, one shape for every event of one kind of call."""
    bp = Blueprint(name, __name__, url_prefix=prefix)
    # A request that serves a call script (the code, an alert's text, a key's effect) is served once.
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url, replays=replays, replayable=REPORTS)
    base = public_url.rstrip("/") + prefix

    def while_out(event: str, token: str, fields: Fields) -> bytes:
        """The database is out: keep what reports, hold what needs an answer."""
        if event in REPORTS:
            try:
                outage.keep(Entry(name, event, token, fields, utcnow()))
            except OSError:
                log.exception("the database is out, and the %s callback could not be kept either: it is lost",
                              event)
            else:
                log.warning("the database is out: the %s callback is kept, and applied once it is back", event)
            return empty_document()
        again, held = holds.get(event), _held()
        if again is None or held >= HOLD_LIMIT:
            log.error("the database is out: the %s webhook could not be served", event)
            return on_error(event, token)
        log.warning("the database is out: the call waits on the line (%s, %d of %d)", event, held + 1, HOLD_LIMIT)
        return hold_document(f"{base}/{again}/{token}?held={held + 1}", speech_for(None, outage.voice),
                             first=held == 0)

    @bp.route("/<event>/<token>", methods=["GET", "POST"])
    def webhook(event: str, token: str):
        answer = events.get(event)
        if answer is None:
            return xml_response(goodbye_document()), 404
        if not valid_token(token):
            return xml_response(goodbye_document())
        began = time.perf_counter()
        fields: Fields = {}
        with log_context(call=token_for_log(token)):
            try:
                fields = params()
                return xml_response(answer(token, fields))
            except Exception as error:
                # Never a 500 for Plivo: it would drop the call. Valid XML, whatever failed.
                if outage.is_outage(error):
                    return xml_response(while_out(event, token, fields))
                log.exception("the %s webhook failed", event)
                return xml_response(on_error(event, token))
            finally:
                metrics.WEBHOOK_SECONDS.labels(event).observe(time.perf_counter() - began)

    return bp


def _held() -> int:
    """How many times this call has been held already (the `held` of a hold's Redirect, signed by Plivo)."""
    value = request.args.get("held", "")
    return int(value) if _HELD.fullmatch(value) else 0


def journal_apply(hooks: dict[str, dict[str, Answer]],
                  is_outage: Callable[[BaseException], bool]) -> Callable[[Entry], None]:
    """How a kept callback is applied once the database is back: the webhook's own answer for its event, as
    of the moment it came. An outage again raises (the rest waits); anything else is logged and dropped."""

    def apply(entry: Entry) -> None:
        answer = hooks.get(entry.hook, {}).get(entry.event)
        if answer is None or entry.event not in REPORTS or not valid_token(entry.token):
            log.warning("skipped a kept callback for no webhook of ours (%s %s)", entry.hook[:20], entry.event[:20])
            return
        with log_context(call=token_for_log(entry.token)), arrived_at(entry.arrived):
            try:
                answer(entry.token, entry.fields)
            except Exception as error:
                if is_outage(error):
                    raise
                log.exception("a kept %s callback could not be applied; it is dropped", entry.event)

    return apply


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
