"""Every object the server runs on, built once from the settings: stores, services, the queue's work.

Both the web server and the workers build the same `Services` (create_app
for the one, `python -m answer_server worker` for the other), so either can
run alone, in any number of processes, on one database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.alerts.bridge import BridgeJoining
from bot.alerts.opening import AlertOpening
from bot.alerts.reports import AlertReports
from bot.alerts.storms import StormReports
from bot.codes.reports import CallReports
from bot.delivery import Notices, PostLimiter, WorkspaceMessages
from bot.directory import SlackDirectory
from bot.home.tab import AppHome
from bot.hotline.callbacks import CallBackClicks
from bot.hotline.reports import HotlineReports
from bot.installs.oauth import (
    Installs,
    forget_expired_states,
    installation_store,
    oauth_settings,
)
from bot.installs.workspaces import (
    InstalledWorkspaces,
    OneWorkspace,
    StoredBotAuthorize,
    Workspaces,
)
from bot.oncall.covers import Covers
from bot.oncall.handoffs import HandOffs
from bot.workflows.steps import StepCompletion
from voice.alerts.bridge import BridgeCalls, BridgeFollowers, BridgeService
from voice.alerts.calls import AlertCalls
from voice.alerts.service import AlertFollowers, AlertService, alert_limits
from voice.alerts.store import AlertStore
from voice.calls.dialing import DialConfig, Dialler, keep_trying
from voice.calls.legs import LegStore
from voice.calls.lifecycle import PLACE, CallLifecycle
from voice.calls.models import ALERT, BRIDGE, OTP, TEST
from voice.calls.plivo import PlivoClient
from voice.calls.policy import DestinationPolicy
from voice.clock import utcnow
from voice.codes.calls import OtpCalls, OtpFollowers
from voice.codes.service import OtpConfig, OtpService, default_limits
from voice.codes.store import OtpStore
from voice.hotline.callbacks import CallBacks
from voice.hotline.service import HotlineConfig, HotlineService
from voice.hotline.store import HotlineStore
from voice.incidents.integrations import IntegrationStore
from voice.incidents.service import IncidentService
from voice.queue.ratelimit import SlotLimiter
from voice.queue.work import WorkQueue
from voice.queue.workers import Policy, Pool, Registry, Workers
from voice.retention import Retention
from voice.routing.holder import RoutingHolder
from voice.schedules.service import ScheduleService
from voice.schedules.store import ScheduleStore
from voice.settings import Settings, derive_hash_key
from voice.store.db import make_engine, transaction
from voice.store.migrate import prepare_database
from voice.store.once import UsedOnce
from voice.store.sealing import SecretBox
from voice.testcall.calls import TestCalls, TestFollowers
from voice.workflows.steps import WorkflowSteps

#: Deletes, every hour, what is kept no longer (voice/retention.py), and expired install links.
HOUSEKEEPING = "queue.housekeeping"
#: Erases, every few minutes, the response_urls Slack no longer honours (30 minutes, 5 uses).
FORGET_REPLY_URLS = "queue.forget_reply_urls"
REPLY_URL_SWEEP = 300.0


@dataclass
class Services:
    settings: Settings
    engine: Engine
    queue: WorkQueue
    legs: LegStore
    lifecycle: CallLifecycle
    otp: OtpService
    otp_calls: OtpCalls
    alerts: AlertService
    alert_store: AlertStore
    alert_calls: AlertCalls
    bridge: BridgeService
    bridge_calls: BridgeCalls
    test_calls: TestCalls
    steps: WorkflowSteps
    slack_client: WebClient
    workspaces: Workspaces
    #: Slack's install flow, when the app is installed in many workspaces (Settings.installs).
    installs: Installs | None
    #: What may be used once (Plivo's request nonces, install links' states).
    used_once: UsedOnce
    workers: Workers
    #: ROUTING_FILE's integrations as this process last read them well (replaced on SIGHUP).
    routing: RoutingHolder
    #: Every integration (the file's, written there when it is read, and Slack's), and their incidents.
    integrations: IntegrationStore
    incidents: IncidentService
    #: On-call schedules (the file's and Slack's), their overrides, and the hand-off.
    schedules: ScheduleService
    #: Calls to the hotline numbers of ROUTING_FILE.
    hotline: HotlineService
    clock: Callable[[], datetime]

    def close(self) -> None:
        """Stop the workers (if they run) and let go of the database."""
        self.workers.stop()
        self.engine.dispose()


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


def build_services(
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
) -> Services:
    """`keeps_routing`: this process writes ROUTING_FILE's integrations and schedules to the database and
    checks every schedule's hand-off (the worker process does; the web processes, many, read them)."""
    engine = engine or make_engine(settings.database_url)
    box = SecretBox(otp_key(settings))
    prepare_database(engine, box)
    queue = WorkQueue(engine, clock=clock)
    legs = LegStore(engine)
    policy = DestinationPolicy(settings.allowed_countries, settings.plivo_from_number,
                               allowed_types=settings.allowed_number_types, allowed_networks=settings.allowed_networks)
    lifecycle = CallLifecycle(engine, legs, queue, clock=clock,
                              followers={OTP: OtpFollowers(queue, clock), ALERT: AlertFollowers(queue),
                                         BRIDGE: BridgeFollowers(queue), TEST: TestFollowers(queue)})
    otp = OtpService(engine, OtpStore(engine), legs, queue, otp_config(settings), policy=policy, box=box,
                     clock=clock)
    alert_store = AlertStore(engine)
    alerts = AlertService(engine, alert_store, legs, queue, policy=policy, retries=settings.alert_retries,
                          retry_delay=settings.alert_retry_delay, redial_delay=settings.alert_redial_delay,
                          limits=alert_limits(settings.alert_limit_number_hour, settings.alert_limit_requester_hour),
                          clock=clock)
    plivo = plivo or PlivoClient(settings.plivo_api_url, settings.plivo_auth_id, settings.plivo_auth_token)
    bridge = BridgeService(engine, alert_store, legs, queue, plivo=plivo, voice=settings.voice, clock=clock)
    # No retries inside slack_sdk: a retried chat.postMessage could post twice; the work queue decides.
    slack_client = slack_client or WebClient(token=settings.slack_bot_token or None,
                                             base_url=settings.slack_api_url, timeout=10, retry_handlers=[])
    used_once = UsedOnce(engine, clock)
    workspaces, installs = _workspaces(settings, engine, slack_client, box, used_once, clock)

    registry = Registry()
    Dialler(legs, lifecycle, plivo, SlotLimiter(engine, "plivo.create_call", settings.plivo_cps),
            DialConfig(settings.public_url, settings.plivo_from_number, voicemail_guard=settings.otp_voicemail_guard,
                       keep_trying=keep_trying(settings.otp_ttl, settings.alert_retry_delay)),
            sends=SlotLimiter(engine, "plivo.create_call.sent", settings.plivo_cps)).register(registry)
    alerts.register(registry)
    bridge.register(registry)
    messages = WorkspaceMessages(workspaces, PostLimiter(engine, slack_post_rate))
    CallReports(messages, legs, pace=message_pace).register(registry)
    alert_reports = AlertReports(messages, alerts, alert_store, pace=message_pace)
    alert_reports.register(registry)
    Notices(messages).register(registry)
    integrations = IntegrationStore(engine)
    if keeps_routing:
        integrations.sync_file(settings.routing.integrations, clock())
    incidents = IncidentService(engine, alerts, integrations, queue, call_interval=settings.integration_call_interval,
                                clock=clock)
    StormReports(messages, incidents, pace=message_pace).register(registry)
    schedules = ScheduleService(engine, ScheduleStore(engine), queue, feed_key=otp_key(settings), clock=clock)
    if keeps_routing:
        schedules.sync_file(settings.routing.schedules)
        schedules.catch_up()
    schedules.register(registry)
    HandOffs(engine, schedules, queue, workspaces).register(registry)
    routing = RoutingHolder(settings.routing)
    hotline = HotlineService(engine, HotlineStore(engine), alerts, alert_store, queue, plivo,
                             lambda number: routing.current().hotline(number),
                             HotlineConfig(settings.public_url, wait=settings.hotline_wait,
                                           limit_per_hour=settings.hotline_limit_caller_hour,
                                           blocked=settings.hotline_blocked, transcribe=settings.hotline_transcribe,
                                           plivo_api_url=settings.plivo_api_url),
                             clock=clock)
    hotline.register(registry)
    alert_calls = AlertCalls(alerts, alert_store, legs, lifecycle, bridge)
    alert_calls.room_entered = hotline.taker_joined
    alert_reports.hotline_changed = hotline.changed
    callbacks = CallBacks(hotline, bridge)
    HotlineReports(messages, hotline, alerts, callbacks, pace=message_pace).register(registry)
    directory_of = lambda team_id, lookups=None: SlackDirectory(  # noqa: E731
        workspaces.client(team_id), settings.default_region, lookups,
        on_call=lambda name, skip: schedules.recipient(name, skip, team_id))
    CallBackClicks(callbacks, queue, directory_of, alerts.refusal_for).register(registry)
    AlertOpening(alerts, alert_store, queue, directory_of, record_refusal=otp.refuse).register(registry)
    BridgeJoining(bridge, alert_store, queue, directory_of, alerts.refusal_for).register(registry)
    test_calls = TestCalls(engine, legs, lifecycle, queue, clock=clock)
    steps = WorkflowSteps(engine, box, queue, clock=clock)
    StepCompletion(steps, alerts, legs, settings.slack_api_url).register(registry)
    Covers(schedules, queue, directory_of).register(registry)
    AppHome(test_calls, queue, directory_of, workspaces, alerts.refusal_for, schedules=schedules,
            public_url=settings.public_url).register(registry)
    retention = Retention(engine, days=settings.retention_days, clock=clock)
    registry.add(HOUSEKEEPING, lambda item: _housekeeping(queue, retention, installs, used_once),
                 Policy(rest=3600.0))
    registry.add(FORGET_REPLY_URLS, lambda item: _again(queue, FORGET_REPLY_URLS, retention.forget_reply_urls),
                 Policy(rest=REPLY_URL_SWEEP))
    with transaction(engine) as conn:
        queue.poke(conn, HOUSEKEEPING, "forget")
        queue.poke(conn, FORGET_REPLY_URLS, "forget")
    workers = Workers(queue, registry, [
        # Dialling waits for PLIVO_CPS slots: its own threads, so Slack updates never queue behind it.
        Pool("dial", settings.work_threads, frozenset({PLACE})),
        Pool("general", settings.work_threads),
    ], poll_interval=poll_interval)

    return Services(
        settings=settings, engine=engine, queue=queue, legs=legs, lifecycle=lifecycle, otp=otp,
        otp_calls=OtpCalls(legs, lifecycle, box, voice=settings.voice, voicemail_guard=settings.otp_voicemail_guard),
        alerts=alerts, alert_store=alert_store, alert_calls=alert_calls,
        bridge=bridge, bridge_calls=BridgeCalls(bridge, alert_store, legs, lifecycle), test_calls=test_calls, steps=steps,
        slack_client=slack_client, workspaces=workspaces, installs=installs, used_once=used_once, workers=workers,
        routing=routing, integrations=integrations, incidents=incidents,
        schedules=schedules, hotline=hotline, clock=clock,
    )


def _workspaces(settings: Settings, engine: Engine, client: WebClient, box: SecretBox, used: UsedOnce,
                clock: Callable[[], datetime]) -> tuple[Workspaces, Installs | None]:
    """One workspace on SLACK_BOT_TOKEN, or every installed workspace on its own token (sealed at rest)."""
    if not settings.installs:
        return OneWorkspace(client), None
    store = installation_store(engine, settings.slack_client_id, box, settings.allowed_slack_teams)
    workspaces = InstalledWorkspaces(store, client.base_url, timeout=client.timeout)
    return workspaces, Installs(
        settings=oauth_settings(client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                                public_url=settings.public_url, used=used, clock=clock, store=store),
        authorize=StoredBotAuthorize(workspaces), used=used)


def _housekeeping(queue: WorkQueue, retention: Retention, installs: Installs | None, used_once: UsedOnce) -> None:
    def forget() -> None:
        retention.sweep()
        used_once.forget_expired()
        if installs is not None:
            forget_expired_states(queue.engine)

    _again(queue, HOUSEKEEPING, forget)


def _again(queue: WorkQueue, kind: str, sweep: Callable[[], object]) -> None:
    """Run a periodic sweep, and poke it again: it runs once more when its rest is over."""
    sweep()
    with transaction(queue.engine) as conn:
        queue.poke(conn, kind, "forget")
