"""The application factory: builds every I/O object once and wires the routes."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Callable

from flask import Flask, Response, jsonify, request
from slack_bolt import App
from slack_bolt.adapter.flask.handler import to_flask_response
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from werkzeug.exceptions import HTTPException

from answer_server.alert_routes import alert_blueprint
from answer_server.api import api_blueprint
from answer_server.plivo_routes import plivo_blueprint
from bot.alert_listeners import register_alert_listeners
from bot.alert_reporter import AlertReporter
from bot.app import Access, BotServices, create_bolt_app
from bot.directory import SlackDirectory
from bot.reporter import SlackReporter
from bot.slack_request import SlackRequest, signed_by_slack
from voice.alert_calls import AlertCalls
from voice.alert_store import AlertStore
from voice.alerts import AlertService
from voice.calls import CallConfig, CallService
from voice.clock import utcnow
from voice.models import CallRecord
from voice.otp import OtpConfig, OtpService, default_limits
from voice.otp_store import OtpStore
from voice.plivo import PlivoClient
from voice.policy import DestinationPolicy
from voice.scheduler import Scheduler
from voice.sealing import SecretBox
from voice.settings import Settings, derive_hash_key
from voice.store import Store
from voice.throttle import RateLimiter

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    plivo: PlivoClient | None = None,
    slack_client: WebClient | None = None,
    listener_executor: Executor | None = None,
    report_executor: Executor | None = None,
    background_executor: Executor | None = None,
    slack_update_interval: float = 1.0,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    """Build the whole server. Tests pass fakes or loopback-backed clients.

    `background_executor` runs alert work that must not hold up a webhook
    (placing the next calls, stopping the others); `slack_update_interval` is
    the least time between two updates of one alert message.
    """
    store = store or Store.from_url(settings.database_url)
    store.ready()  # creates the tables when the database is up; /healthz retries
    plivo = plivo or PlivoClient(settings.plivo_api_url, settings.plivo_auth_id, settings.plivo_auth_token,
                                 throttle=RateLimiter(settings.plivo_cps))
    slack_client = slack_client or WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10
    )
    # One worker: a call's updates reach Slack in the order they happened.
    report_executor = report_executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-report")
    # Bolt's lazy listeners (placing calls) run here; ours so it can be drained on shutdown.
    listener_executor = listener_executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-lazy")

    def defer(work: Callable[[], None]) -> None:
        report_executor.submit(_logged, work)

    def notify(call: CallRecord) -> None:
        defer(lambda: reporter.publish(call.token))

    calls = CallService(
        store,
        plivo,
        CallConfig(
            public_url=settings.public_url,
            from_number=settings.plivo_from_number,
            policy=DestinationPolicy(settings.allowed_countries, settings.plivo_from_number),
            box=SecretBox(otp_key(settings)),
            voice=settings.voice,
            voicemail_guard=settings.otp_voicemail_guard,
        ),
        notify=notify,
        defer=defer,
        clock=clock,
    )
    otp = OtpService(OtpStore(store.engine), calls, otp_config(settings), clock)
    reporter = SlackReporter(slack_client, calls.get, calls.attach_message, calls.spend_reply_use)
    services = BotServices(
        calls=calls,
        otp=otp,
        reporter=reporter,
        access=Access(settings.allowed_slack_users, settings.allowed_slack_channels),
        defer=defer,
    )
    bolt = create_bolt_app(
        signing_secret=settings.slack_signing_secret,
        bot_token=settings.slack_bot_token,
        client=slack_client,
        services=services,
        listener_executor=listener_executor,
    )
    background_executor = background_executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="alert-work")
    alerts, scheduler, alert_reporter = _add_alerts(
        settings, store, plivo, slack_client, bolt, calls.config.policy, services,
        background_executor=background_executor,
        report_executor=report_executor,
        slack_update_interval=slack_update_interval,
        clock=clock,
    )

    app = Flask(__name__)
    app.extensions["voicebridge"] = {
        "calls": calls, "otp": otp, "store": store, "reporter": reporter, "bolt": bolt, "defer": defer,
        "alerts": alerts, "scheduler": scheduler, "alert_reporter": alert_reporter,
        "close": lambda: _drain(listener_executor, background_executor, report_executor),
    }
    _add_slack_route(app, bolt, settings.slack_signing_secret)
    app.register_blueprint(
        plivo_blueprint(calls, auth_token=settings.plivo_auth_token, public_url=settings.public_url)
    )
    app.register_blueprint(
        # Calls asked for through the API are placed on the lazy-listener pool, like
        # Slack's: a slow Plivo must not hold up the single reporting worker.
        api_blueprint(otp, calls, reporter, lambda work: listener_executor.submit(_logged, work),
                      api_keys=settings.api_keys, audit_channel=settings.otp_audit_channel)
    )
    app.register_blueprint(
        alert_blueprint(AlertCalls(alerts), auth_token=settings.plivo_auth_token, public_url=settings.public_url)
    )
    _add_health_route(app, store)
    _add_error_pages(app)
    return app


def _add_alerts(
    settings: Settings,
    store: Store,
    plivo: PlivoClient,
    slack_client: WebClient,
    bolt: App,
    policy: DestinationPolicy,
    services: BotServices,
    *,
    background_executor: Executor,
    report_executor: Executor,
    slack_update_interval: float,
    clock: Callable[[], datetime],
) -> tuple[AlertService, Scheduler, AlertReporter]:
    """/voicealert: the alert service on its scheduler, its Slack side, its listeners."""
    scheduler = Scheduler(store.engine, clock=clock, executor=background_executor)
    alerts = AlertService(
        AlertStore(store.engine),
        plivo,
        scheduler,
        public_url=settings.public_url,
        from_number=settings.plivo_from_number,
        policy=policy,  # the same destinations are refused as for voice codes
        retries=settings.alert_retries,
        retry_delay=settings.alert_retry_delay,
        notify=lambda alert_id: reporter.changed(alert_id),
        gave_up=lambda alert_id: report_executor.submit(reporter.gave_up, alert_id),
        clock=clock,
    )
    reporter = AlertReporter(slack_client, alerts.view, alerts.attach_message, interval=slack_update_interval)
    register_alert_listeners(
        bolt, alerts=alerts, directory=SlackDirectory(slack_client, settings.default_region), reporter=reporter,
        # Who may place calls, and the record of refusals, are the same as for voice codes.
        access=services.access, record_refusal=services.otp.refuse,
    )
    return alerts, scheduler, reporter


def otp_key(settings: Settings) -> str:
    """OTP_HASH_KEY: keys the codes' hashes and seals their clear digits."""
    # Settings built in code (tests, the sandbox) may leave the key out.
    return settings.otp_hash_key or derive_hash_key(settings.slack_signing_secret)


def otp_config(settings: Settings) -> OtpConfig:
    return OtpConfig(
        length=settings.otp_length,
        ttl=timedelta(seconds=settings.otp_ttl),
        max_checks=settings.otp_max_checks,
        hash_key=otp_key(settings),
        limits=default_limits(
            settings.otp_limit_number_10min, settings.otp_limit_number_day, settings.otp_limit_requester_hour
        ),
    )


def _drain(*executors: Executor) -> None:
    """Finish the work in hand (calls being placed, reports being sent), then stop."""
    for executor in executors:
        executor.shutdown(wait=True)


def _logged(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        log.exception("background work failed")


def _add_slack_route(app: Flask, bolt: App, signing_secret: str) -> None:
    verifier = SignatureVerifier(signing_secret)

    @app.post("/slack/events")
    def slack_events():
        raw = request.get_data()
        if not signed_by_slack(verifier, raw, request.headers):
            # Nothing of the request is logged: its body may hold a code and a response_url.
            log.warning("refused a Slack request with a missing, invalid or stale signature")
            return jsonify(error="invalid request"), 401
        # Bolt's Flask adapter, with our request class (see bot/slack_request.py).
        slack_request = SlackRequest(
            body=raw.decode("utf-8", "replace"),
            query=request.query_string.decode("utf-8"),
            headers=request.headers,
        )
        return to_flask_response(bolt.dispatch(slack_request))


def _add_health_route(app: Flask, store: Store) -> None:
    @app.get("/healthz")
    def healthz():
        if store.ready():
            return jsonify(status="ok")
        return jsonify(status="unavailable", database="unreachable"), 503


def _add_error_pages(app: Flask) -> None:
    # Plain, short answers: nothing a caller sees includes a traceback.
    for status, text in ((404, "not found"), (405, "method not allowed")):
        app.register_error_handler(status, lambda _e, s=status, t=text: Response(t + "\n", s, mimetype="text/plain"))

    @app.errorhandler(Exception)
    def internal_error(error):
        if isinstance(error, HTTPException) and error.code:
            return Response(f"{error.code}\n", error.code, mimetype="text/plain")
        log.exception("unhandled error on %s", request.path.rsplit("/", 1)[0])
        return Response("internal error\n", 500, mimetype="text/plain")
