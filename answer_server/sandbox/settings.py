"""Settings for a sandbox run: generated credentials, loopback URLs.

Only DATABASE_URL, HOST, PORT, LOG_LEVEL, SANDBOX_SPEED, INTEGRATION_CALL_INTERVAL
and ROUTING_FILE (with the variables its token_env entries name) are read from the
environment, never a credential or a URL of Slack or Plivo: the sandbox must not
reach the real Slack or Plivo, whatever `.env` holds.
"""

from __future__ import annotations

import secrets
import string
from typing import Mapping

from answer_server.sandbox.hotline import NUMBER as HOTLINE
from answer_server.sandbox.monitoring import NAME as DEMO
from answer_server.sandbox.oncall import NAME as ONCALL
from voice.routing.loading import load_routing
from voice.routing.models import Routing, RoutingProblems
from voice.settings import Settings, SettingsError, load_settings

DEFAULT_DATABASE_URL = "sqlite:///voicebridge-sandbox.sqlite3"  # apart from the real server's calls
FROM_NUMBER = "+14155550100"
#: Variables a sandbox run honours, with their sandbox defaults.
HONOURED = {"DATABASE_URL": DEFAULT_DATABASE_URL, "HOST": "127.0.0.1", "PORT": "3000", "LOG_LEVEL": "INFO",
            # 0: every new incident phones, so each test alert from the console rings (set it to see a storm).
            "INTEGRATION_CALL_INTERVAL": "0"}
SPEED_HELP = "SANDBOX_SPEED must be a positive number: 1 plays calls in real time, 20 twenty times faster"


def sandbox_settings(port: int, database_url: str = DEFAULT_DATABASE_URL, *, host: str = "127.0.0.1",
                     log_level: str = "INFO", integration_call_interval: int = 0, routing_file: str = "",
                     routing: Routing = Routing()) -> Settings:
    """Settings whose Slack and Plivo are this very server's /sandbox stand-ins."""
    base = f"http://127.0.0.1:{port}"
    return Settings(
        slack_bot_token="xoxb-sandbox-" + secrets.token_hex(16),
        slack_signing_secret=secrets.token_hex(20),
        plivo_auth_id="MA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18)),
        plivo_auth_token=secrets.token_urlsafe(30),
        plivo_from_number=FROM_NUMBER,
        public_url=base,
        plivo_api_url=f"{base}/sandbox/plivo",
        slack_api_url=f"{base}/sandbox/slack/api/",
        database_url=database_url,
        host=host,
        port=port,
        log_level=log_level,
        # As a real run defaults them: profile numbers without + are read as the caller ID's
        # country. Every country may be called, so a lang= or a foreign number can be tried.
        default_region="US",
        allowed_countries=None,
        integration_call_interval=integration_call_interval,
        routing_file=routing_file,
        routing=routing,
    )


def load_sandbox_settings(environ: Mapping[str, str]) -> tuple[Settings, float]:
    """Settings and speed for `--sandbox`, or SettingsError listing every problem."""
    values = {name: (environ.get(name) or "").strip() or default for name, default in HONOURED.items()}
    problems: list[str] = []
    try:
        # The real loader checks the honoured values, with the same messages as a real run.
        checked = load_settings({**_placeholders(values["PORT"]), **values})
    except SettingsError as error:
        problems.extend(error.problems)
    speed = _speed(environ.get("SANDBOX_SPEED"))
    if speed is None:
        problems.append(SPEED_HELP)
    routing_file = (environ.get("ROUTING_FILE") or "").strip()
    routing = _routing(routing_file, environ, problems)
    if problems:
        raise SettingsError(problems)
    settings = sandbox_settings(checked.port, checked.database_url, host=checked.host, log_level=checked.log_level,
                                integration_call_interval=checked.integration_call_interval,
                                routing_file=routing_file, routing=routing)
    return settings, speed


def _routing(path: str, environ: Mapping[str, str], problems: list[str]) -> Routing:
    """ROUTING_FILE's integrations, schedules and hotlines, beside which the sandbox adds its own; read once, at
    start."""
    if not path:
        return Routing()
    routing = load_routing(path, environ)  # token_env names variables of the environment, as for a real run
    if isinstance(routing, RoutingProblems):
        problems.extend(routing.lines)
        return Routing()
    if routing.named(DEMO):
        problems.append(f"ROUTING_FILE: {DEMO} is the sandbox's built-in integration: "
                        "give yours another name")
    if routing.hotline(HOTLINE):
        problems.append(f"ROUTING_FILE: {HOTLINE} is the sandbox's built-in hotline: give yours another number")
    if any(schedule.name == ONCALL for schedule in routing.schedules):
        problems.append(f"ROUTING_FILE: {ONCALL} is the sandbox's built-in schedule: give yours another name")
    return routing


def _placeholders(port: str) -> dict[str, str]:
    # Stand-ins for the required variables, so load_settings judges only the honoured ones.
    base = f"http://127.0.0.1:{port if port.isdigit() else 3000}"
    return {"SLACK_BOT_TOKEN": "xoxb-sandbox", "SLACK_SIGNING_SECRET": "sandbox", "PLIVO_AUTH_ID": "MA" + "X" * 18,
            "PLIVO_AUTH_TOKEN": "sandbox", "PLIVO_FROM_NUMBER": FROM_NUMBER, "PUBLIC_URL": base}


def _speed(value: str | None) -> float | None:
    try:
        speed = float(value) if value not in (None, "") else 1.0
    except ValueError:
        return None
    return speed if 0 < speed <= 1000 else None
