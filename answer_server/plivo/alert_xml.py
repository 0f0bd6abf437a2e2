"""An alert call's next turn as Plivo XML, in the callee's language. Pure."""

from __future__ import annotations

from answer_server.plivo.xml import (
    alert_document,
    alert_intro,
    already_acknowledged,
    bridge_offer_document,
    cancelled_by,
    conference_document,
    goodbye_document,
    into_room_document,
    menu_document,
    number_as_name,
    sentence_document,
)
from voice.alerts.bridge import TURN_ALONE, TURN_GONE, BridgeTurn
from voice.alerts.calls import CallTurn, Turn
from voice.alerts.models import AlertRecord
from voice.calls.dialing import BRIDGE_TIME_LIMIT, CallUrls
from voice.calls.models import Leg
from voice.speech.languages import Speech, phrase, speech_for_number


def document_for(turn: CallTurn, urls: CallUrls, voice: str) -> bytes:
    """The Plivo XML for what the call does next."""
    alert = turn.alert
    speech = callee_speech(alert, turn.leg, voice)
    say = lambda key, **fields: phrase(speech.code, key, **fields)  # noqa: E731 - one line per turn below
    if alert is not None and alert.hotline_call is not None:
        return _hotline_turn(turn, urls, speech)
    match turn.turn:
        case Turn.PLAY:
            return alert_document(alert_intro(alert.sender_name, alert.channel_name, speech,
                                              monitoring=alert.incident is not None), alert.message,
                                  urls.menu, speech)
        case Turn.MENU:
            return menu_document(urls.key, urls.silence, speech=speech, pass_on=turn.can_pass)
        case Turn.REPEAT:
            return menu_document(urls.key, urls.silence, before=[alert.message], speech=speech,
                                 pass_on=turn.can_pass)
        case Turn.INVALID_KEY:
            return menu_document(urls.key, urls.silence, before=[say("alert_invalid_key")], speech=speech,
                                 pass_on=turn.can_pass)
        case Turn.PASSED:
            return sentence_document(say("alert_passed_on"), speech)
        case Turn.ACKNOWLEDGED:
            # "Acknowledged", then the voice bridge on offer: 9 to talk to whoever raised the alert,
            # where someone could be on it (the requester's number, or a channel to join from).
            if alert.requester_number or alert.requester.channel_id:
                return bridge_offer_document(urls.key, None if alert.incident else alert.sender_name, speech)
            return sentence_document(say("alert_acknowledged"), speech)
        case Turn.BRIDGE:
            return _into_bridge(turn, urls, speech)
        case Turn.TAKEN:
            return sentence_document(already_acknowledged(taker_name(alert, speech), speech), speech)
        case Turn.CANCELLED:
            return sentence_document(cancelled_by(alert.resolved_name or phrase(speech.code, "someone"), speech), speech)
        case Turn.NO_INPUT:
            return sentence_document(say("alert_no_input"), speech)
        case Turn.HANG_UP | Turn.ENDED:
            return sentence_document(say("goodbye"), speech)
        case _:
            return goodbye_document(speech)


def _into_bridge(turn: CallTurn, urls: CallUrls, speech: Speech) -> bytes:
    requester = turn.alert.sender_name
    if turn.entry.requester_called:
        return conference_document(turn.entry.room, urls.conference,
                                   phrase(speech.code, "bridge_connecting", name=requester), speech,
                                   time_limit=BRIDGE_TIME_LIMIT)
    # Nobody to call: the channel may still join; the wait alone is bounded (voice/alerts/bridge.py, ALONE).
    said = phrase(speech.code, "bridge_team") if turn.alert.incident else \
        phrase(speech.code, "bridge_unreachable", name=requester)
    return conference_document(turn.entry.room, urls.conference, said, speech, time_limit=BRIDGE_TIME_LIMIT)


def bridge_document(turn: BridgeTurn, urls: CallUrls, voice: str) -> bytes:
    """A call into the voice bridge: the requester, or someone who joined from Slack."""
    leg = turn.leg
    speech = speech_for_number(leg.to_number if leg else "", leg.language if leg else None, voice)
    if turn.turn == TURN_GONE:
        return goodbye_document(speech)
    if turn.turn == TURN_ALONE:
        return sentence_document(phrase(speech.code, "bridge_alone"), speech)
    alert = turn.alert
    if alert.hotline_call is not None:
        # A hotline call's callback: whoever clicked Call back goes in first, then the caller (its requester).
        said = phrase(speech.code, "hotline_calling_you_back", name=alert.sender_name) if turn.is_requester \
            else phrase(speech.code, "hotline_calling_back")
        return into_room_document(alert.bridge_room, urls.conference, speech, sentence=said,
                                  time_limit=BRIDGE_TIME_LIMIT)
    if turn.is_requester:
        said = phrase(speech.code, "bridge_requester", name=taker_name(alert, speech))
    else:
        said = phrase(speech.code, "bridge_joining", sender=alert.sender_name)
    return conference_document(alert.bridge_room, urls.conference, said, speech, time_limit=BRIDGE_TIME_LIMIT)


def error_document(event: str, urls: CallUrls, speech: Speech) -> bytes:
    """What a callee hears when we failed: the menu again where there is one, else an apology."""
    if event in ("menu", "silence", "keys"):
        return menu_document(urls.key, urls.silence, before=[phrase(speech.code, "alert_try_again")], speech=speech)
    return sentence_document(phrase(speech.code, "alert_try_later"), speech)


def callee_speech(alert: AlertRecord | None, leg: Leg | None, voice: str) -> Speech:
    """The callee's language (their Slack locale, `lang=`, else their number's country) and VOICE."""
    target = alert.target_of(leg) if alert is not None and leg is not None else None
    if target is None:
        return speech_for_number(leg.to_number if leg else "", None, voice)
    return speech_for_number(target.number, target.language, voice)


def taker_name(alert: AlertRecord, speech: Speech) -> str:
    """Who acknowledged, as a callee should hear it."""
    if alert.resolved_name:
        return alert.resolved_name
    if alert.resolved_number:
        return number_as_name(alert.resolved_number, speech)
    return phrase(speech.code, "someone")


def _hotline_turn(turn: CallTurn, urls: CallUrls, speech: Speech) -> bytes:
    """A hotline's call-out: who is calling, "press 1 to take it", then the caller's room."""
    alert = turn.alert
    say = lambda key, **fields: phrase(speech.code, key, **fields)  # noqa: E731
    incoming = say("hotline_incoming", name=alert.sender_name, caller=alert.message or say("hotline_withheld"))
    match turn.turn:
        case Turn.PLAY:
            # As for an alert: the menu comes from the next request, so a voicemail records no menu.
            return alert_document(incoming, "", urls.menu, speech)
        case Turn.MENU | Turn.REPEAT | Turn.INVALID_KEY:
            before = {Turn.REPEAT: [incoming], Turn.INVALID_KEY: [say("alert_invalid_key")]}.get(turn.turn, [])
            return menu_document(urls.key, urls.silence, before=before, speech=speech, pass_on=turn.can_pass,
                                 menu_key="hotline_menu")
        case Turn.ACKNOWLEDGED:  # this call took it (a retried keypress too)
            return into_room_document(alert.bridge_room, urls.conference, speech)
        case Turn.TAKEN:
            return sentence_document(say("hotline_taken"), speech)
        case Turn.CANCELLED:
            return sentence_document(say("hotline_gone"), speech)
        case Turn.PASSED:
            return sentence_document(say("alert_passed_on"), speech)
        case Turn.NO_INPUT:
            return sentence_document(say("alert_no_input"), speech)
        case _:
            return sentence_document(say("goodbye"), speech)
