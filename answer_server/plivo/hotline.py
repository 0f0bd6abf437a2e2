"""The hotline's webhooks: the Plivo application's answer and hangup URLs (`/plivo/hotline/answer`,
`/plivo/hotline/hangup`, for every call to a hotline number) and each call's own (`/plivo/hotline/<event>/
<token>`: the wait sound, the room's events, the voicemail prompt, the recording and its transcript).
Every one is signed by Plivo and checked first (V3); those that serve a script are served once per nonce.
Plivo always gets a valid document; nothing a caller says or keys is logged.
https://www.plivo.com/docs/voice/xml/request (an inbound call's fields: CallUUID, From, To, Direction)
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint

from answer_server.plivo.requests import (
    Replays,
    call_uuid_of,
    params,
    require_plivo_signature,
    valid_token,
    xml_response,
)
from answer_server.plivo.xml import (
    empty_document,
    goodbye_document,
    sentence_document,
    still_trying_document,
    voicemail_document,
    waiting_room_document,
)
from voice.hotline.models import HotlineDef
from voice.hotline.service import (
    GOODBYE,
    LEAVE_MESSAGE,
    NOT_IN_SERVICE,
    REFUSE,
    WAIT,
    HotlineService,
)
from voice.speech.languages import Speech, phrase, speech_for_number

log = logging.getLogger(__name__)

#: Events that only report, served again when Plivo sends them again (a hangup must land).
REPORTS = frozenset({"hangup", "conference", "transcribed"})
_SECONDS = re.compile(r"[0-9]{1,7}")


def hotline_blueprint(hotline: HotlineService, *, auth_token: str, public_url: str, voice: str,
                      transcribe: bool, replays: Replays | None = None) -> Blueprint:
    bp = Blueprint("hotline", __name__, url_prefix="/plivo/hotline")
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url, replays=replays, replayable=REPORTS)
    base = public_url.rstrip("/") + "/plivo/hotline"

    def speech(line: HotlineDef | None, to: str = "") -> Speech:
        return speech_for_number(line.number if line else to, line.lang if line else None, voice)

    @bp.post("/answer", defaults={"event": "answer"})
    def answer(event: str):
        fields = params()
        call_uuid = call_uuid_of(fields)
        if not call_uuid or fields.get("Direction", "inbound") != "inbound":
            return xml_response(goodbye_document())
        try:
            incoming = hotline.incoming(call_uuid, fields.get("From"), fields.get("To"))
        except Exception:
            log.exception("the hotline's answer webhook failed")
            return xml_response(goodbye_document(key="try_later"))
        said = speech(incoming.hotline, fields.get("To", ""))
        call = incoming.call
        if incoming.what == NOT_IN_SERVICE:
            return xml_response(sentence_document(phrase(said.code, "hotline_not_in_service"), said))
        if incoming.what == REFUSE:
            return xml_response(sentence_document(phrase(said.code, "hotline_refused"), said))
        if incoming.what == WAIT and call is not None:
            greeting = incoming.hotline.greeting or phrase(said.code, "hotline_greeting", name=incoming.hotline.name)
            return xml_response(waiting_room_document(greeting, call.room, f"{base}/hold/{call.token}",
                                                      f"{base}/conference/{call.token}", said))
        if incoming.what == LEAVE_MESSAGE and call is not None:
            return xml_response(_voicemail(call.token))
        return xml_response(goodbye_document(said, key="goodbye") if incoming.what == GOODBYE else goodbye_document())

    @bp.post("/hangup", defaults={"event": "hangup"})
    def hangup(event: str):
        call_uuid = call_uuid_of(params())
        if call_uuid:
            hotline.caller_left(call_uuid)
        return xml_response(empty_document())

    @bp.route("/<event>/<token>", methods=["GET", "POST"])
    def per_call(event: str, token: str):
        if not valid_token(token) or event not in EVENTS:
            return xml_response(goodbye_document()), 404
        fields = params()
        call = hotline.by_token(token)
        if call is None:
            return xml_response(empty_document() if event in REPORTS else goodbye_document())
        said = speech(hotline.hotlines(call.hotline), call.hotline)
        if event == "hold":
            return xml_response(still_trying_document(said))
        if event == "conference":
            # The caller leaving the room while still waiting: they hung up (a move to voicemail is not
            # this: the call is no longer waiting by then, and its hangup URL says when it ends).
            if fields.get("ConferenceAction") == "exit" and call_uuid_of(fields) == call.call_uuid:
                hotline.caller_left(call.call_uuid, waiting_only=True)
            return xml_response(empty_document())
        if event == "voicemail":
            return xml_response(_voicemail(token))
        if event == "recorded":
            hotline.recorded(token, fields.get("RecordUrl"), _seconds(fields))
            return xml_response(sentence_document(phrase(said.code, "hotline_thanks"), said))
        hotline.transcribed(token, fields.get("transcription") or fields.get("Transcription"))
        return xml_response(empty_document())

    def _voicemail(token: str) -> bytes:
        call = hotline.by_token(token)
        said = speech(hotline.hotlines(call.hotline), call.hotline) if call else speech(None)
        return voicemail_document(f"{base}/recorded/{token}", f"{base}/transcribed/{token}" if transcribe else None,
                                  said)

    return bp


EVENTS = frozenset({"hold", "conference", "voicemail", "recorded", "transcribed"})


def _seconds(fields: dict[str, str]) -> int | None:
    """The recording's length: RecordingDurationMs where Plivo gives it (its RecordingDuration's unit is
    not documented for certain), else RecordingDuration as seconds."""
    milliseconds = fields.get("RecordingDurationMs", "")
    if _SECONDS.fullmatch(milliseconds):
        return round(int(milliseconds) / 1000)
    seconds = fields.get("RecordingDuration", "")
    return int(seconds) if _SECONDS.fullmatch(seconds) else None

