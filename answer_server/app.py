"""The application factory: the Flask app serving Slack, Plivo's webhooks, the API, monitoring's alerts,
schedules' calendar feeds and /healthz.

Requests only record and answer; the work they record is done by the
workers (`services.workers`), which the caller starts where they should run:
`python -m answer_server` runs them in their own process, the sandbox and
the tests in this one.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, request
from slack_bolt import App
from slack_bolt.adapter.flask.handler import SlackRequestHandler, to_flask_response
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from answer_server.api.routes import api_blueprint
from answer_server.calendars.names import CachedNames
from answer_server.calendars.routes import calendars_blueprint
from answer_server.http.request_limits import MAX_BODY_BYTES, MAX_FORM_FIELDS
from answer_server.integrations.routes import integrations_blueprint
from answer_server.metrics import add_metrics_route
from answer_server.plivo.hotline import hotline_blueprint
from answer_server.plivo.journal import CallbackJournal, Entry, JournalReplayer
from answer_server.plivo.requests import Replays
from answer_server.plivo.webhooks import (
    ALERT_HOLDS,
    BRIDGE_HOLDS,
    OTP_HOLDS,
    TEST_HOLDS,
    Outage,
    ProgressEvents,
    alert_error,
    alert_events,
    bridge_events,
    journal_apply,
    otp_error,
    otp_events,
    short_call_error,
    test_events,
    webhook_blueprint,
)
from answer_server.services import Services, build_services
from answer_server.slack_requests import (
    SlackRequest,
    carries_slack_signature,
    signed_by_slack,
)
from bot.alerts.listeners import register_alert_listeners
from bot.app import Access, create_bolt_app
from bot.codes.listeners import BotServices, register_code_listeners
from bot.directory import SlackDirectory
from bot.home.tab import register_home_listeners
from bot.hotline.listeners import register_hotline_listeners
from bot.installs.oauth import INSTALL_PATH, REDIRECT_PATH
from bot.installs.workspaces import Workspaces
from bot.integrations.manage import IntegrationCommands
from bot.oncall.listeners import register_oncall_listeners
from bot.workflows.steps import register_step_listeners
from voice import metrics
from voice.calls.dialing import LONGEST_CALL
from voice.calls.plivo import PlivoClient
from voice.clock import utcnow
from voice.log_context import log_context
from voice.queue.work import GiveUp, RetryLater
from voice.settings import Settings
from voice.store.db import database_ready
from voice.store.db import is_outage as database_is_out

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    plivo: PlivoClient | None = None,
    slack_client: WebClient | None = None,
    clock: Callable[[], datetime] = utcnow,
    poll_interval: float = 0.1,
    message_pace: float = 1.0,
    slack_post_rate: float = 1.0,
    keeps_routing: bool = True,
) -> Flask:
    """Build the whole server. Tests pass fakes or loopback-backed clients, and a clock they move;
    `message_pace` is the least time between two updates of one Slack message, `slack_post_rate`
    the most new messages a second in one channel (Slack's pace)."""
    services = build_services(settings, engine=engine, plivo=plivo, slack_client=slack_client, clock=clock,
                              poll_interval=poll_interval, message_pace=message_pace,
                              slack_post_rate=slack_post_rate, keeps_routing=keeps_routing)
    access = Access(settings.allowed_slack_users, settings.allowed_slack_channels)
    bot_services = BotServices(otp=services.otp, queue=services.queue, access=access)
    bolt = create_bolt_app(signing_secret=settings.slack_signing_secret, bot_token=settings.slack_bot_token,
                           client=services.slack_client, installs=services.installs)
    register_code_listeners(bolt, bot_services)
    register_home_listeners(bolt, queue=services.queue, access=access, record_refusal=services.otp.refuse)
    register_step_listeners(bolt, alerts=services.alerts, services=bot_services, steps=services.steps,
                            access=access, record_refusal=services.otp.refuse)
    # Who may manage integrations is who may raise alerts; a number they phone follows every call's policy.
    integration_commands = IntegrationCommands(services.integrations, public_url=settings.public_url, access=access,
                                               record_refusal=services.otp.refuse,
                                               refusal_for=services.alerts.refusal_for, clock=services.clock)
    register_alert_listeners(bolt, alerts=services.alerts, queue=services.queue, access=access,
                             # Who may place calls, and the record of refusals, are the same as for voice codes.
                             record_refusal=services.otp.refuse, form_secret=settings.slack_signing_secret,
                             integrations=integration_commands,
                             schedule_names=lambda team: [item.name for item in services.schedules.listed(team)],
                             hotlines=lambda: services.routing.current().hotlines)
    # /oncall: who may use it is who may place calls; its form is signed as the alert form is.
    register_oncall_listeners(bolt, schedules=services.schedules, queue=services.queue, access=access,
                              secret=settings.slack_signing_secret, public_url=settings.public_url,
                              record_refusal=services.otp.refuse)
    register_hotline_listeners(bolt, hotline=services.hotline, queue=services.queue, access=access,
                               record_refusal=services.otp.refuse)

    app = Flask(__name__)
    _bound_request_bodies(app)
    _add_request_ids(app)
    _add_slack_route(app, bolt, settings.slack_signing_secret)
    if services.installs:
        _add_install_routes(app, bolt)
    replayer = _add_webhooks(app, services)

    def close() -> None:
        replayer.stop()
        services.close()

    app.extensions["voicebridge"] = {
        "services": services, "workers": services.workers, "queue": services.queue, "otp": services.otp,
        "alerts": services.alerts, "legs": services.legs, "engine": services.engine, "bolt": bolt,
        "close": close,
    }
    app.register_blueprint(api_blueprint(services.otp, services.schedules, api_keys=settings.api_keys,
                                         audit_channel=settings.otp_audit_channel))
    app.register_blueprint(integrations_blueprint(services.incidents, services.integrations))
    app.register_blueprint(calendars_blueprint(services.schedules, CachedNames(_slack_name(services.workspaces)),
                                               host=urlsplit(settings.public_url).hostname or "voicebridge"))
    _add_health_route(app, services.engine)
    add_metrics_route(app, settings, services.engine)
    _add_error_pages(app)
    return app


def _slack_name(workspaces: Workspaces) -> Callable[[str, str], str | None]:
    """A person's name from Slack's users.info, or None when Slack cannot give it now (the feed then shows
    their ID: a calendar is never refused for a name)."""

    def name(team_id: str, user_id: str) -> str | None:
        try:
            return SlackDirectory(workspaces.client(team_id), None).name(user_id)
        except (GiveUp, RetryLater) as failed:
            log.info("a feed names %s by ID: %s", user_id, failed)
            return None

    return name


def _bound_request_bodies(app: Flask) -> None:
    """Every route reads at most MAX_BODY_BYTES of a body (the web server holds requests to it too):
    a larger Content-Length is answered 413 before a byte is read, and a body without one stops
    there. Forms have at most MAX_FORM_FIELDS fields (Werkzeug's parser; Plivo's has its own check).
    https://flask.palletsprojects.com/en/stable/config/#MAX_CONTENT_LENGTH"""
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
                      MAX_FORM_PARTS=MAX_FORM_FIELDS)


def _add_webhooks(app: Flask, services: Services) -> JournalReplayer:
    """Plivo's webhooks, and the journal that keeps their callbacks through a database outage; its replayer."""
    settings, voice = services.settings, services.settings.voice
    progress = ProgressEvents(services.legs, services.lifecycle)
    hooks = {  # name: (prefix, events, apology, held calls' next request)
        "plivo_alert": ("/plivo/alert", alert_events(services.alert_calls, progress, settings.public_url, voice),
                        alert_error(settings.public_url, voice), ALERT_HOLDS),
        "plivo_bridge": ("/plivo/bridge", bridge_events(services.bridge_calls, progress, settings.public_url, voice),
                         short_call_error(voice), BRIDGE_HOLDS),
        "plivo_test": ("/plivo/test", test_events(services.test_calls, progress, settings.public_url, voice),
                       short_call_error(voice), TEST_HOLDS),
        "plivo": ("/plivo", otp_events(services.otp_calls, progress, settings.public_url), otp_error(voice),
                  OTP_HOLDS),
    }
    is_outage = partial(database_is_out, engine=services.engine)
    journal = CallbackJournal(Path(settings.callback_journal_dir))
    replayer = JournalReplayer(journal, journal_apply({name: hook[1] for name, hook in hooks.items()}, is_outage))

    def keep(entry: Entry) -> None:
        journal.record(entry)
        replayer.wake()

    outage = Outage(is_outage=is_outage, keep=keep, voice=voice)
    # A nonce is kept while its call may last, and an hour more (Plivo's queue, a request held in flight).
    replays = Replays(services.used_once, keep=LONGEST_CALL + timedelta(hours=1))
    for name, (prefix, events, on_error, holds) in hooks.items():
        app.register_blueprint(webhook_blueprint(name, prefix, events, on_error=on_error, holds=holds, outage=outage,
                                                 auth_token=settings.plivo_auth_token, public_url=settings.public_url,
                                                 replays=replays))
    app.register_blueprint(hotline_blueprint(services.hotline, auth_token=settings.plivo_auth_token,
                                             public_url=settings.public_url, voice=voice,
                                             transcribe=settings.hotline_transcribe, replays=replays))
    if journal.pending():
        replayer.wake()  # what a process that died during an outage kept
    return replayer


#: A request ID a proxy sent (X-Request-Id) is kept when it is of this shape; else one is made.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _add_request_ids(app: Flask) -> None:
    """Each request's ID in its log lines (LOG_FORMAT=json) and in its answer's X-Request-Id."""

    @app.before_request
    def enter():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        g.log_context = log_context(request=g.request_id)
        g.log_context.__enter__()

    @app.after_request
    def tell(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def leave(_error=None):
        entered = g.pop("log_context", None)
        if entered is not None:
            entered.__exit__(None, None, None)


def _add_slack_route(app: Flask, bolt: App, signing_secret: str) -> None:
    verifier = SignatureVerifier(signing_secret)

    def refuse():
        # Nothing of the request is logged: its body may hold a code and a response_url.
        log.warning("refused a Slack request with a missing, invalid or stale signature")
        return jsonify(error="invalid request"), 401

    @app.post("/slack/events")
    def slack_events():
        if not carries_slack_signature(request.headers):
            return refuse()  # before a byte of the body is read
        raw = request.get_data()  # at most MAX_BODY_BYTES: 413 past it
        if not signed_by_slack(verifier, raw, request.headers):
            return refuse()
        # Bolt's Flask adapter, with our request class (see answer_server/slack_requests.py).
        slack_request = SlackRequest(
            body=raw.decode("utf-8", "replace"),
            query=request.query_string.decode("utf-8"),
            headers=request.headers,
        )
        began = time.perf_counter()
        with log_context(team=slack_request.context.team_id):
            response = to_flask_response(bolt.dispatch(slack_request))
        metrics.ACK_SECONDS.labels(_kind_of(slack_request.body)).observe(time.perf_counter() - began)
        return response


def _add_install_routes(app: Flask, bolt: App) -> None:
    """Slack's OAuth install flow (many workspaces): Bolt's, through its Flask adapter."""
    handler = SlackRequestHandler(bolt)

    @app.get(INSTALL_PATH)
    def slack_install():
        return handler.handle(request)

    @app.get(REDIRECT_PATH)
    def slack_oauth_redirect():
        return handler.handle(request)


def _kind_of(body: dict) -> str:
    """A Slack request's kind, for the ack histogram: the command, or the payload's type."""
    command = body.get("command") if isinstance(body, dict) else None
    if isinstance(command, str) and command in ("/voiceotp", "/voicealert"):
        return command
    kind = body.get("type") if isinstance(body, dict) else None
    kinds = ("block_actions", "view_submission", "shortcut", "message_action", "event_callback")
    return kind if kind in kinds else "other"


def _add_health_route(app: Flask, engine: Engine) -> None:
    @app.get("/healthz")
    def healthz():
        if database_ready(engine):
            return jsonify(status="ok")
        return jsonify(status="unavailable", database="unreachable"), 503


def _add_error_pages(app: Flask) -> None:
    # Plain, short answers: nothing a caller sees includes a traceback.
    for status, text in ((404, "not found"), (405, "method not allowed")):
        app.register_error_handler(status, lambda _e, s=status, t=text: Response(t + "\n", s, mimetype="text/plain"))

    @app.errorhandler(413)
    def too_large(_error):
        cap = request.max_content_length or MAX_BODY_BYTES  # the route's own, where it has one
        return Response(f"request body too large: at most {cap} bytes\n", 413, mimetype="text/plain")

    @app.errorhandler(Exception)
    def internal_error(error):
        if isinstance(error, HTTPException) and error.code:
            return Response(f"{error.code}\n", error.code, mimetype="text/plain")
        log.exception("unhandled error on %s", request.path.rsplit("/", 1)[0])
        return Response("internal error\n", 500, mimetype="text/plain")
