"""Monitoring's routes: the token first (before a byte of the body where it is a header), then the
body (at most MAX_ALERT_BODY_BYTES), the event, and one transaction; answered in the sender's format.

- Alertmanager / Grafana: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- Opsgenie's Alert API: https://docs.opsgenie.com/docs/alert-api
- PagerDuty's Events API v2: https://developer.pagerduty.com/docs/send-alert-event
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Callable

from flask import Blueprint, jsonify, request

from answer_server.http.request_limits import MAX_ALERT_BODY_BYTES
from voice.incidents.integrations import IntegrationStore
from voice.incidents.models import Integration, Received
from voice.incidents.service import IncidentService
from voice.intake import alertmanager, generic, opsgenie, pagerduty
from voice.intake.credentials import (
    alertmanager_token,
    generic_token,
    opsgenie_token,
    pagerduty_token,
)
from voice.intake.decoding import decode_json
from voice.intake.models import Event, Rejected

log = logging.getLogger(__name__)

#: What a request without a known token hears: never which part was wrong.
UNAUTHORISED = "missing or unknown token"


def integrations_blueprint(incidents: IncidentService, integrations: IntegrationStore) -> Blueprint:
    routes = Blueprint("integrations", __name__)

    def known(token: str | None) -> Integration | None:
        return integrations.by_token(token) if token else None

    @routes.post("/integrations/alertmanager")
    def alertmanager_webhook():
        integration = known(alertmanager_token(request.headers))
        if integration is None:
            return _refused("alertmanager")
        return _ours(integration, alertmanager.parse, incidents)

    @routes.post("/integrations/generic")
    def generic_webhook():
        integration = known(generic_token(request.headers, request.args))
        if integration is None:
            return _refused("generic")
        return _ours(integration, generic.parse, incidents)

    @routes.post("/opsgenie/v2/alerts")
    def opsgenie_create():
        began = time.perf_counter()
        integration = known(opsgenie_token(request.headers))
        if integration is None:
            return _opsgenie({"message": "Could not authenticate"}, 401, began)
        found = _decoded()
        event = found if isinstance(found, Rejected) else opsgenie.parse_create(found)
        return _opsgenie_outcome(integration, event, incidents, began)

    @routes.route("/opsgenie/v2/alerts/<path:identifier>/<action>", methods=["POST", "PUT"])
    def opsgenie_action(identifier: str, action: str):
        began = time.perf_counter()
        integration = known(opsgenie_token(request.headers))
        if integration is None:
            return _opsgenie({"message": "Could not authenticate"}, 401, began)
        # Opsgenie's own methods: close and acknowledge are POSTs, message and description PUTs.
        known_method = {"close": "POST", "acknowledge": "POST", "message": "PUT", "description": "PUT"}.get(action)
        if known_method and request.method != known_method:
            return _opsgenie({"message": f"{request.method} is not used for {action}"}, 405, began)
        found = _decoded(empty_ok=True)
        event = found if isinstance(found, Rejected) else opsgenie.parse_action(
            action, identifier, request.args.get("identifierType"), found)
        return _opsgenie_outcome(integration, event, incidents, began)

    @routes.post("/pagerduty/v2/enqueue")
    def pagerduty_enqueue():
        found = _decoded()  # the routing key is in the body: read it first, parse it after
        if isinstance(found, Rejected):
            return jsonify(pagerduty.error_body(found)), 400
        integration = known(pagerduty_token(found))
        if integration is None:
            # PagerDuty's answer to an unknown routing key: 400, invalid event.
            log.warning("refused a PagerDuty-shaped event: %s", UNAUTHORISED)
            return jsonify({"status": "invalid event", "message": "Event object is invalid",
                            "errors": ["routing_key: is missing or unknown"]}), 400
        event = pagerduty.parse(found)
        if isinstance(event, Rejected):
            return jsonify(pagerduty.error_body(event)), 400
        incidents.receive(integration, event, request.get_data())
        return jsonify(pagerduty.accepted_body(event)), 202

    return routes


def _decoded(empty_ok: bool = False):
    """The body as a JSON object, or why not (413 past the cap, by Werkzeug, before it is read)."""
    request.max_content_length = MAX_ALERT_BODY_BYTES
    raw = request.get_data()
    if empty_ok and not raw.strip():
        return None
    return decode_json(raw)


def _refused(source: str):
    log.warning("refused a %s request: %s", source, UNAUTHORISED)
    return jsonify(error=UNAUTHORISED), 401


def _ours(integration: Integration, parse: Callable, incidents: IncidentService):
    """Alertmanager, Grafana and the generic webhook: our own answer."""
    found = _decoded()
    event = found if isinstance(found, Rejected) else parse(found)
    if isinstance(event, Rejected):
        return jsonify(event.body()), event.status
    return jsonify(_accepted(incidents.receive(integration, event, request.get_data()))), 202


def _accepted(received: Received) -> dict:
    return {"status": "accepted", "outcome": received.outcome, "incident": received.incident,
            "dedup_key": received.key}


def _opsgenie_outcome(integration: Integration, event: Event | Rejected, incidents: IncidentService,
                      began: float):
    if isinstance(event, Rejected):
        return _opsgenie(opsgenie.error_body(event), event.status, began)
    incidents.receive(integration, event, request.get_data())
    return _opsgenie({"result": "Request will be processed"}, 202, began)


def _opsgenie(body: dict, status: int, began: float):
    """Every Opsgenie answer carries `took` (seconds) and a `requestId`."""
    return jsonify(body | {"took": round(time.perf_counter() - began, 3), "requestId": str(uuid.uuid4())}), status
