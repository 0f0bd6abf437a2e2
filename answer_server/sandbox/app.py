"""The sandbox: the real application, with Slack and Plivo replaced by stand-ins
served from the same process under /sandbox/…, and a console to drive them; the
built-in integration sandbox-demo, which the console's Alertmanager alerts; and
the built-in hotline "Sandbox on call", which the console's caller phones, and the built-in on-call
schedule sandbox-oncall.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Callable

from flask import Flask, Response, request

from answer_server.app import create_app
from answer_server.sandbox.composer import Composer
from answer_server.sandbox.console import console_blueprint
from answer_server.sandbox.events import Changes
from answer_server.sandbox.hotline import ANSWER_PATH, HANGUP_PATH, with_hotline
from answer_server.sandbox.monitoring import DemoAlertmanager, new_token, with_demo
from answer_server.sandbox.oncall import SandboxOncall, with_oncall
from answer_server.sandbox.plivo_sim import (
    PlivoSimulator,
    plivo_blueprint,
    recordings_blueprint,
)
from answer_server.sandbox.slack_sim import slack_blueprint
from answer_server.sandbox.slack_workspace import SlackWorkspace
from voice.clock import utcnow
from voice.settings import Settings

SERVER_THREADS = 16  # the app calls itself over HTTP, and each console holds one live stream

log = logging.getLogger(__name__)

#: The names the sandbox answers to, with or without a port: loopback's only. A page on another
#: site could point its own name at 127.0.0.1 (DNS rebinding) and drive the console as if it were
#: the person's own browser; its requests still name that site in their Host header.
LOOPBACK_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?", re.IGNORECASE)


def create_sandbox_app(settings: Settings, *, speed: float = 1.0, demo_token: str | None = None,
                       clock: Callable[[], datetime] = utcnow) -> Flask:
    """create_app(settings) unchanged but for the integration sandbox-demo, the hotline "Sandbox on call" and the
    schedule sandbox-oncall beside ROUTING_FILE's, plus the /sandbox blueprints (and only here). `demo_token`:
    sandbox-demo's token (default: a new one). `clock`: the app's (tests move it; SANDBOX_SPEED paces the
    simulated calls only).

    One process: the stand-ins keep their state in memory, so the workers run
    here too, started with the app, rather than in a process of their own.
    """
    demo_token = demo_token or new_token()
    settings = with_oncall(with_hotline(with_demo(settings, demo_token)), clock())
    app = create_app(settings, poll_interval=0.02, clock=clock)
    _answer_loopback_names_only(app)
    changes = Changes()
    workspace = SlackWorkspace(on_change=changes.touch)
    sim = PlivoSimulator(settings.plivo_auth_id, settings.plivo_auth_token, speed=speed, on_change=changes.touch,
                         recordings_url=f"{settings.plivo_api_url}/recordings")
    for line in settings.routing.hotlines:  # each hotline's number is linked to the app's hotline application
        sim.link_number(line.number, settings.public_url + ANSWER_PATH, settings.public_url + HANGUP_PATH)
    composer = Composer(workspace, app_url=settings.public_url, signing_secret=settings.slack_signing_secret)
    app.register_blueprint(plivo_blueprint(sim))
    app.register_blueprint(recordings_blueprint(sim))
    app.register_blueprint(slack_blueprint(workspace, settings.slack_bot_token))
    alertmanager = DemoAlertmanager(settings.public_url, demo_token, on_change=changes.touch)
    oncall = SandboxOncall(app.extensions["voicebridge"]["services"].schedules, workspace, clock)
    oncall.begin()  # before the workers: this run's first hand-off is the first one its console sees
    app.register_blueprint(console_blueprint(workspace, sim, composer, changes, alertmanager, oncall))
    app.extensions["sandbox"] = {"simulator": sim, "workspace": workspace, "composer": composer, "changes": changes,
                                 "alertmanager": alertmanager, "oncall": oncall}
    app.extensions["voicebridge"]["workers"].start()
    return app


def _answer_loopback_names_only(app: Flask) -> None:
    def check_host():
        host = request.headers.get("Host", "")
        if LOOPBACK_HOST.fullmatch(host):
            return None
        shown = repr(host[:80])
        log.warning("refused a request for the host %s: the sandbox answers only to loopback names", shown)
        return Response(f"misdirected request: the sandbox answers only at 127.0.0.1, localhost or [::1] "
                        f"(with its port), and this request was for {shown}\n", 421, mimetype="text/plain")

    # First of all the checks, before any route's (the API's own come before ours otherwise).
    app.before_request_funcs.setdefault(None, []).insert(0, check_host)
