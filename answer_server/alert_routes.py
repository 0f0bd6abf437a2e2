"""Plivo's webhooks for alert calls: answer, the menu and its keys, machine detection,
ring and hangup. Each is signed by Plivo, checked as for voice codes.

The keys Plivo posts (`Digits`) are never logged.
"""

from __future__ import annotations

import logging
from typing import Callable

from flask import Blueprint

from answer_server import plivo_xml
from answer_server.plivo_requests import (
    add_progress_routes,
    call_uuid_of,
    digits_of,
    params,
    require_plivo_signature,
    says_machine,
    valid_token,
    xml_response,
)
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
    empty_document,
    goodbye_document,
    menu_document,
    number_as_name,
    sentence_document,
)
from voice.alert_calls import AlertCalls, CallTurn, Turn
from voice.alert_models import AlertRecord
from voice.alerts import AlertUrls, alert_callback_urls

log = logging.getLogger(__name__)

TRY_AGAIN = "Sorry, something went wrong on our side. Please try again."


def alert_blueprint(alerts: AlertCalls, *, auth_token: str, public_url: str) -> Blueprint:
    bp = Blueprint("plivo_alert", __name__, url_prefix="/plivo/alert")
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url)

    def script(token: str, next_turn: Callable[[], CallTurn], *, on_error: Turn) -> bytes:
        """Plivo always gets a valid document: on our failure, an apology (and the menu again)."""
        if not valid_token(token):
            return goodbye_document()
        urls = alert_callback_urls(public_url, token)
        try:
            return document_for(next_turn(), urls)
        except Exception:
            log.exception("an alert call's script failed")
            if on_error is Turn.MENU:
                return menu_document(urls.keys, urls.silence, before=[TRY_AGAIN])
            return sentence_document(ALERT_TRY_LATER)

    @bp.route("/answer/<token>", methods=["GET", "POST"])
    def answer(token: str):
        """Who sent the alert, from where, and the message."""
        call_uuid = call_uuid_of(params())
        if not call_uuid:
            return xml_response(goodbye_document())
        return xml_response(script(token, lambda: alerts.answer(token, call_uuid), on_error=Turn.HANG_UP))

    @bp.route("/menu/<token>", methods=["GET", "POST"])
    def menu(token: str):
        """After the message: the menu for a person, a goodbye for a machine."""
        call_uuid = call_uuid_of(params())
        return xml_response(script(token, lambda: alerts.after_message(token, call_uuid), on_error=Turn.MENU))

    @bp.route("/silence/<token>", methods=["GET", "POST"])
    def silence(token: str):
        """The menu got no key: say it again, a few times."""
        call_uuid = call_uuid_of(params())
        return xml_response(script(token, lambda: alerts.silence(token, call_uuid), on_error=Turn.MENU))

    @bp.route("/keys/<token>", methods=["GET", "POST"])
    def keys(token: str):
        """One key from the menu."""
        fields = params()
        digits, call_uuid = digits_of(fields), call_uuid_of(fields)

        def pressed() -> CallTurn:
            match digits:
                case "":
                    return alerts.key_pressed(token, call_uuid, Turn.MENU)
                case plivo_xml.DIGIT_ACK:
                    return alerts.acknowledge_by_phone(token, call_uuid)
                case plivo_xml.DIGIT_REPEAT:
                    return alerts.key_pressed(token, call_uuid, Turn.REPEAT)
                case _:  # another key, or a field that is not keys at all
                    return alerts.key_pressed(token, call_uuid, Turn.INVALID_KEY)

        return xml_response(script(token, pressed, on_error=Turn.MENU))

    @bp.route("/machine/<token>", methods=["GET", "POST"])
    def machine(token: str):
        """Plivo's asynchronous machine detection: Machine=true while the call goes on."""
        fields = params()
        call_uuid = call_uuid_of(fields)
        if valid_token(token) and call_uuid and says_machine(fields):
            alerts.machine(token, call_uuid)
        return xml_response(empty_document())

    # The hangup also moves the alert on: the next link, the next round, or giving up.
    add_progress_routes(bp, alerts)
    return bp


def document_for(turn: CallTurn, urls: AlertUrls) -> bytes:
    """The Plivo XML for what the call does next."""
    alert = turn.alert
    match turn.turn:
        case Turn.PLAY:
            return alert_document(alert_intro(alert.sender_name, alert.channel_name), alert.message, urls.menu)
        case Turn.MENU:
            return menu_document(urls.keys, urls.silence)
        case Turn.REPEAT:
            return menu_document(urls.keys, urls.silence, before=[alert.message])
        case Turn.INVALID_KEY:
            return menu_document(urls.keys, urls.silence, before=[INVALID_KEY])
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


def taker_name(alert: AlertRecord) -> str:
    """Who acknowledged, as a callee should hear it."""
    if alert.resolved_name:
        return alert.resolved_name
    if alert.resolved_number:
        return number_as_name(alert.resolved_number)
    return "someone else"
