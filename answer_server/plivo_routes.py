"""Plivo's webhooks for voice codes: answer (serves the call script), ring and hangup.

Each is signed by Plivo; answer_server/plivo_requests.py checks that first.
"""

from __future__ import annotations

import logging

from flask import Blueprint

from answer_server.plivo_requests import TOKEN, add_progress_routes, params, require_plivo_signature, xml_response
from answer_server.plivo_xml import TRY_LATER, goodbye_document, otp_document
from voice.calls import CallService

log = logging.getLogger(__name__)


def plivo_blueprint(calls: CallService, *, auth_token: str, public_url: str) -> Blueprint:
    bp = Blueprint("plivo", __name__, url_prefix="/plivo")
    require_plivo_signature(bp, auth_token=auth_token, public_url=public_url)

    @bp.route("/answer/<token>", methods=["GET", "POST"])
    def answer(token: str):
        """Serve the script that reads the code, or a polite goodbye."""
        call_uuid = params().get("CallUUID", "")
        if not TOKEN.match(token) or not call_uuid:
            return xml_response(goodbye_document())
        try:
            answer = calls.answer(token, call_uuid)
        except Exception:
            log.exception("answering a call failed")
            return xml_response(goodbye_document(TRY_LATER))
        if answer is None:
            return xml_response(goodbye_document())
        return xml_response(otp_document(answer.code))

    add_progress_routes(bp, calls)
    return bp
