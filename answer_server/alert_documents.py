"""An alert call's next turn as Plivo XML. Pure."""

from __future__ import annotations

from answer_server.plivo_xml import (
    ACKNOWLEDGED,
    ALERT_TRY_LATER,
    GOODBYE,
    INVALID_KEY,
    NO_INPUT,
    alert_document,
    alert_intro,
    already_acknowledged,
    cancelled_by,
    goodbye_document,
    menu_document,
    number_as_name,
    sentence_document,
)
from voice.alert_calls import CallTurn, Turn
from voice.alert_models import AlertRecord
from voice.dialing import CallUrls

TRY_AGAIN = "Sorry, something went wrong on our side. Please try again."


def document_for(turn: CallTurn, urls: CallUrls) -> bytes:
    """The Plivo XML for what the call does next."""
    alert = turn.alert
    match turn.turn:
        case Turn.PLAY:
            return alert_document(alert_intro(alert.sender_name, alert.channel_name), alert.message, urls.menu)
        case Turn.MENU:
            return menu_document(urls.key, urls.silence)
        case Turn.REPEAT:
            return menu_document(urls.key, urls.silence, before=[alert.message])
        case Turn.INVALID_KEY:
            return menu_document(urls.key, urls.silence, before=[INVALID_KEY])
        case Turn.ACKNOWLEDGED:
            return sentence_document(ACKNOWLEDGED)
        case Turn.TAKEN:
            return sentence_document(already_acknowledged(taker_name(alert)))
        case Turn.CANCELLED:
            return sentence_document(cancelled_by(alert.resolved_name or "someone in Slack"))
        case Turn.NO_INPUT:
            return sentence_document(NO_INPUT)
        case Turn.HANG_UP | Turn.ENDED:
            return sentence_document(GOODBYE)
        case _:
            return goodbye_document()


def error_document(event: str, urls: CallUrls) -> bytes:
    """What a callee hears when we failed: the menu again where there is one, else an apology."""
    if event in ("menu", "silence", "keys"):
        return menu_document(urls.key, urls.silence, before=[TRY_AGAIN])
    return sentence_document(ALERT_TRY_LATER)


def taker_name(alert: AlertRecord) -> str:
    """Who acknowledged, as a callee should hear it."""
    if alert.resolved_name:
        return alert.resolved_name
    if alert.resolved_number:
        return number_as_name(alert.resolved_number)
    return "someone else"
