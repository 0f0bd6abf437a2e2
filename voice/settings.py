"""Configuration: one frozen object built from the environment at start-up.

`load_settings` reports every problem at once, one line each, so an operator
fixes a bad `.env` in one go. Values of secrets never appear in a problem line.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.calls.policy import (
    DEFAULT_NUMBER_TYPES,
    INTERNATIONAL_NETWORKS,
    NAMED_TYPES,
    NEVER_TYPES,
)
from voice.routing.loading import load_routing
from voice.routing.models import Routing, RoutingProblems
from voice.speech.voices import BASIC_VOICES, polly_voice, unaccented

DEFAULT_DATABASE_URL = "sqlite:///voicebridge.sqlite3"
DEFAULT_JOURNAL_DIR = "voicebridge-journal"

# Name, meaning and default of every variable; `python -m answer_server --help`
# prints this table, so the help cannot drift from what is read.
VARIABLES: tuple[tuple[str, str, str | None], ...] = (
    ("SLACK_BOT_TOKEN", "bot token of the Slack app (xoxb-…), for one workspace", None),
    ("SLACK_CLIENT_ID", "Client ID of the Slack app: with SLACK_CLIENT_SECRET and no SLACK_BOT_TOKEN, the app serves "
     "Slack's install flow (/slack/install) and keeps each workspace's token", ""),
    ("SLACK_CLIENT_SECRET", "Client Secret of the Slack app, for the install flow", ""),
    ("ALLOWED_SLACK_TEAMS", "installs: the Slack workspace (team) IDs that may install the app, comma-separated "
     "(empty: any workspace that has the install link)", ""),
    ("SLACK_SIGNING_SECRET", "signing secret of the Slack app; verifies Slack's requests", None),
    ("PLIVO_AUTH_ID", "Plivo Auth ID (MA… or SA…, 20 characters)", None),
    ("PLIVO_AUTH_TOKEN", "Plivo Auth Token; also verifies Plivo's callbacks", None),
    ("PLIVO_FROM_NUMBER", "caller ID, a number on the Plivo account, e.g. +14155550100", None),
    ("PUBLIC_URL", "base URL at which Plivo reaches this server, e.g. https://calls.example.com (https://; http:// "
     "only for a loopback host)", None),
    ("PLIVO_API_URL", "Plivo REST API base", "https://api.plivo.com"),
    ("SLACK_API_URL", "Slack Web API base", "https://slack.com/api/"),
    ("DATABASE_URL", "SQLAlchemy URL of the store (postgresql+psycopg://… for PostgreSQL)", DEFAULT_DATABASE_URL),
    ("HOST", "address to listen on", "0.0.0.0"),
    ("PORT", "port to listen on", "3000"),
    ("LOG_LEVEL", "how much to log: DEBUG, INFO, WARNING or ERROR", "INFO"),
    ("LOG_FORMAT", "text, or json: one JSON object per line (time, level, logger, message, and the call, alert, "
     "Slack team and request where known)", "text"),
    ("ALLOWED_COUNTRIES", "ISO codes of the countries calls may go to, comma-separated; * for all; international "
     "networks (satellite phones, international freephone: +800, +808, +870, +878, +881, +882, +883, +888, +979) "
     "only when named by their code, e.g. *,+881", "the country of PLIVO_FROM_NUMBER"),
    ("ALLOWED_NUMBER_TYPES", "number types calls may go to, comma-separated: FIXED_LINE, MOBILE, TOLL_FREE, VOIP, "
     "UAN, PAGER, VOICEMAIL (premium-rate, shared-cost, personal and unknown numbers never)",
     ",".join(sorted(DEFAULT_NUMBER_TYPES))),
    ("DEFAULT_REGION", "ISO code of the country assumed for Slack profile numbers written without +",
     "the country of PLIVO_FROM_NUMBER"),
    ("ALERT_RETRIES", "/voicealert: how many more rounds of calls when nobody acknowledges (0-10)", "2"),
    ("ALERT_RETRY_DELAY", "/voicealert: seconds between the end of a round and the next one (0-3600)", "60"),
    ("ALERT_REDIAL_DELAY", "/voicealert: seconds after a busy or unanswered call before it rings once more, "
     "through Do Not Disturb's repeated-call rule (0-600; 0: no second ring)", "60"),
    ("PLIVO_CPS", "calls placed per second at most, Plivo's outbound limit for the account, across every instance "
     "sharing the database", "2"),
    ("WEB_CONCURRENCY", "web server processes (gunicorn workers)", "2"),
    ("THREADS", "request threads in each web server process", "8"),
    ("WORK_THREADS", "threads in the worker process that place calls, and as many for everything else "
     "(Slack messages, retries, lookups)", "8"),
    ("OTP_LENGTH", "digits in a generated code (4–10)", "6"),
    ("OTP_TTL", "seconds a code stays valid", "600"),
    ("OTP_MAX_CHECKS", "wrong tries a code allows before it is dead", "5"),
    ("OTP_HASH_KEY", "key of the HMAC under which codes are stored (at least 16 characters)",
     "derived from SLACK_SIGNING_SECRET"),
    ("OTP_VOICEMAIL_GUARD", "on: the callee must press a key before the code is read", "on"),
    ("OTP_LIMIT_NUMBER_10MIN", "calls with a code to one number per 10 minutes (0: no limit)", "3"),
    ("OTP_LIMIT_NUMBER_DAY", "calls with a code to one number per 24 hours (0: no limit)", "10"),
    ("OTP_LIMIT_REQUESTER_HOUR", "calls with a code per requester (Slack user or API key) per hour (0: no limit)",
     "30"),
    ("ALERT_LIMIT_NUMBER_HOUR", "calls per hour to a number a person typed into an alert (slash command or form), "
     "counting alerts it was typed into (each once, with its rounds and second rings), calls with a code and test "
     "calls, from every workspace (0: no limit)", "5"),
    ("ALERT_LIMIT_REQUESTER_HOUR", "alerts one person may raise per hour (slash command, form or Workflow step) "
     "(0: no limit)", "30"),
    ("INTEGRATION_CALL_INTERVAL", "seconds: one integration phones at most once in this long, across its incidents; "
     "the incidents of a storm in between are listed in one line of its channel instead (0: no limit)", "300"),
    ("HOTLINE_WAIT", "seconds a hotline's caller waits for someone to take the call before voicemail", "120"),
    ("HOTLINE_LIMIT_CALLER_HOUR", "calls from one number that phone someone, per hour; past it, straight to "
     "voicemail (0: no limit)", "3"),
    ("HOTLINE_BLOCKED", "numbers (E.164, comma-separated) a hotline hangs up on after a short sentence", ""),
    ("HOTLINE_TRANSCRIBE", "1: a hotline voicemail is transcribed by Plivo (English) and the text posted", "0"),
    ("VOICE", "Plivo voice: WOMAN, MAN or an Amazon Polly voice such as Polly.Joanna; a call in a language "
     "it does not speak gets a Polly voice that does, of the same gender where Plivo has one", "WOMAN"),
    ("ALLOWED_SLACK_USERS", "Slack user IDs who may place calls, comma-separated (empty: everyone)", ""),
    ("ALLOWED_SLACK_CHANNELS", "Slack channel IDs where calls may be placed, comma-separated (empty: all)", ""),
    ("METRICS_TOKEN", "serve GET /metrics (Prometheus) to requests with Authorization: Bearer <this>, "
     "20+ characters (empty: /metrics is off)", ""),
    ("METRICS_PORT", "also serve the metrics, without a token, on 127.0.0.1:<this port> (empty: no such port)", ""),
    ("API_KEYS", "keys for the HTTP API (Authorization: Bearer), comma-separated, 20+ characters each "
     "(empty: API off)", ""),
    ("OTP_AUDIT_CHANNEL", "Slack channel ID where codes sent through the API are reported", ""),
    ("RETENTION_DAYS", "days calls, codes, alerts and refusals are kept (the App Home's history, audits), "
     "then deleted (1-3650)", "30"),
    ("CALLBACK_JOURNAL_DIR", "directory, on local disk, where Plivo's callbacks that arrive while the database is "
     "out are kept until it is back (one file per process, only while needed)", DEFAULT_JOURNAL_DIR),
    ("ROUTING_FILE", "YAML file of the integrations through which monitoring (Alertmanager, Grafana, Opsgenie- and "
     "PagerDuty-shaped clients) raises alerts; read at start-up and again on SIGHUP", ""),
)
#: Variables required only in one mode: when they may be left out.
REQUIRED_UNLESS = {"SLACK_BOT_TOKEN": "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")

# Defaults computed from other variables once those are known.
_DERIVED_DEFAULTS = {"ALLOWED_COUNTRIES", "DEFAULT_REGION", "OTP_HASH_KEY"}
_SLACK_ID = re.compile(r"[A-Z0-9]{2,20}")

_CLIENT_ID = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}")
_AUTH_ID = re.compile(r"(MA|SA)[A-Z0-9]{18}")
# Whole values only, in ASCII: str.isdigit() also takes "²" and "٣", which int() then refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
#: libphonenumber's "region" of numbers on international networks rather than in a country.
_NETWORKS_REGION = "001"


class SettingsError(Exception):
    """The environment cannot configure the server; `problems` has one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    #: Bolt's bot token; sent only to SLACK_API_URL.
    slack_bot_token: str
    #: Verifies X-Slack-Signature on every request to /slack/events.
    slack_signing_secret: str
    #: Plivo account; the token also keys X-Plivo-Signature-V3.
    plivo_auth_id: str
    plivo_auth_token: str
    #: Caller ID in E.164 form (+14155550100).
    plivo_from_number: str
    #: Public base URL without a trailing slash; callbacks are signed over it.
    public_url: str
    plivo_api_url: str = "https://api.plivo.com"
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "0.0.0.0"
    port: int = 3000
    log_level: str = "INFO"
    log_format: str = "text"
    #: ISO region codes calls may go to; None allows all ("*").
    allowed_countries: frozenset[str] | None = None
    #: Country calling codes of the international networks calls may go to (+881: satellite phones…).
    allowed_networks: frozenset[int] = frozenset()
    #: Number types calls may go to (voice/calls/policy.py's NAMED_TYPES).
    allowed_number_types: frozenset[str] = DEFAULT_NUMBER_TYPES
    #: Region for profile numbers without a country code ("415 555 0123"); None
    #: accepts only international ones.
    default_region: str | None = None
    #: /voicealert: rounds of calls after the first when nobody acknowledges.
    alert_retries: int = 2
    #: /voicealert: seconds from the end of a round to the start of the next.
    alert_retry_delay: int = 60
    #: /voicealert: seconds before a busy or unanswered call rings once more (0: it does not).
    alert_redial_delay: int = 60
    #: Create-call requests per second at most (Plivo's default account limit is 2), for the whole account.
    plivo_cps: float = 2.0
    #: gunicorn's worker processes and the threads of each: how many requests are served at once.
    web_concurrency: int = 2
    threads: int = 8
    #: Threads of the work queue's workers (each of its two pools).
    work_threads: int = 8
    otp_length: int = 6
    otp_ttl: int = 600  # seconds
    otp_max_checks: int = 5
    #: Keys the HMAC of stored codes; shared by every instance.
    otp_hash_key: str = ""
    otp_voicemail_guard: bool = True
    #: Rate limits on calls with a code; 0 disables one.
    otp_limit_number_10min: int = 3
    otp_limit_number_day: int = 10
    otp_limit_requester_hour: int = 30
    #: Limits on alerts people raise; 0 disables one.
    alert_limit_number_hour: int = 5
    alert_limit_requester_hour: int = 30
    #: Seconds between two call-outs of one integration (0: no limit).
    integration_call_interval: int = 300
    #: The hotline: the wait before voicemail, the callers' limit, who is hung up on, transcripts.
    hotline_wait: int = 120
    hotline_limit_caller_hour: int = 3
    hotline_blocked: frozenset[str] = frozenset()
    hotline_transcribe: bool = False
    voice: str = "WOMAN"
    #: Who may place calls, and where; empty means everyone / everywhere.
    allowed_slack_users: frozenset[str] = frozenset()
    allowed_slack_channels: frozenset[str] = frozenset()
    #: Bearer keys of the HTTP API; empty turns the API off.
    api_keys: tuple[str, ...] = ()
    #: GET /metrics needs this Bearer token; empty: /metrics is off.
    metrics_token: str = ""
    #: Metrics on 127.0.0.1 at this port, no token (0: none).
    metrics_port: int = 0
    otp_audit_channel: str = ""
    #: Slack's OAuth install flow (many workspaces) when both are set and slack_bot_token is empty.
    slack_client_id: str = ""
    slack_client_secret: str = ""
    #: Installs: the workspaces that may install the app; empty: any.
    allowed_slack_teams: frozenset[str] = frozenset()
    #: Days calls, codes, alerts and refusals are kept before the hourly housekeeping deletes them.
    retention_days: int = 30
    #: Where callbacks that arrive while the database is out are kept (answer_server/plivo/journal.py).
    callback_journal_dir: str = DEFAULT_JOURNAL_DIR
    #: ROUTING_FILE's path ("": none), and the integrations it held when these settings were loaded
    #: (a running server sees the file it last read well through services' RoutingHolder).
    routing_file: str = ""
    routing: Routing = Routing()

    @property
    def installs(self) -> bool:
        """Whether the app is installed in workspaces through OAuth, rather than run on one bot token."""
        return bool(self.slack_client_id and self.slack_client_secret and not self.slack_bot_token)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a log line."""
        return (*((self.slack_bot_token,) if self.slack_bot_token else ()), self.slack_signing_secret,
                self.plivo_auth_token, *((self.slack_client_secret,) if self.slack_client_secret else ()),
                self.otp_hash_key, *self.api_keys, *((self.metrics_token,) if self.metrics_token else ()))


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from `environ`, or raise SettingsError listing every problem."""
    problems: list[str] = []
    values = {name: (environ.get(name) or "").strip() for name, _, _ in VARIABLES}
    installs = bool(values["SLACK_CLIENT_ID"] or values["SLACK_CLIENT_SECRET"])
    for name, _, default in VARIABLES:
        if not values[name]:
            if name == "SLACK_BOT_TOKEN" and installs:
                continue  # many workspaces: each one's token comes from its installation
            if default is None:
                unless = f", unless {REQUIRED_UNLESS[name]}" if name in REQUIRED_UNLESS else ""
                problems.append(f"{name} is required{unless}: {_meaning(name)}")
            elif name not in _DERIVED_DEFAULTS:
                values[name] = default

    checks = (
        ("SLACK_BOT_TOKEN", _check_bot_token),
        ("PLIVO_AUTH_ID", _check_auth_id),
        ("PLIVO_FROM_NUMBER", _check_from_number),
        ("PUBLIC_URL", _check_public_url),
        ("PLIVO_API_URL", _check_base_url),
        ("SLACK_API_URL", _check_base_url),
        ("DATABASE_URL", _check_database_url),
        ("PORT", _check_port),
        ("LOG_LEVEL", _check_log_level),
        ("LOG_FORMAT", _check_log_format),
        ("ALLOWED_COUNTRIES", _check_countries),
        ("ALLOWED_NUMBER_TYPES", _check_number_types),
        ("DEFAULT_REGION", _check_region),
        ("ALERT_RETRIES", _int_between(0, 10)),
        ("ALERT_RETRY_DELAY", _int_between(0, 3600)),
        ("ALERT_REDIAL_DELAY", _int_between(0, 600)),
        ("PLIVO_CPS", _check_cps),
        ("WEB_CONCURRENCY", _int_between(1, 64)),
        ("THREADS", _int_between(1, 256)),
        ("WORK_THREADS", _int_between(1, 256)),
        ("OTP_LENGTH", _int_between(4, 10)),
        ("OTP_TTL", _int_between(60, 86400)),
        ("OTP_MAX_CHECKS", _int_between(1, 20)),
        ("OTP_HASH_KEY", _check_hash_key),
        ("OTP_VOICEMAIL_GUARD", _check_on_off),
        ("OTP_LIMIT_NUMBER_10MIN", _int_between(0, 1000)),
        ("OTP_LIMIT_NUMBER_DAY", _int_between(0, 10000)),
        ("OTP_LIMIT_REQUESTER_HOUR", _int_between(0, 10000)),
        ("ALERT_LIMIT_NUMBER_HOUR", _int_between(0, 1000)),
        ("ALERT_LIMIT_REQUESTER_HOUR", _int_between(0, 10000)),
        ("INTEGRATION_CALL_INTERVAL", _int_between(0, 86400)),
        ("HOTLINE_WAIT", _int_between(10, 3600)),
        ("HOTLINE_LIMIT_CALLER_HOUR", _int_between(0, 1000)),
        ("HOTLINE_BLOCKED", _check_numbers),
        ("HOTLINE_TRANSCRIBE", _check_flag),
        ("VOICE", _check_voice),
        ("ALLOWED_SLACK_USERS", _check_slack_ids),
        ("ALLOWED_SLACK_CHANNELS", _check_slack_ids),
        ("ALLOWED_SLACK_TEAMS", _check_slack_ids),
        ("API_KEYS", _check_api_keys),
        ("METRICS_TOKEN", _check_metrics_token),
        ("METRICS_PORT", _check_port),
        ("OTP_AUDIT_CHANNEL", _check_slack_id),
        ("RETENTION_DAYS", _int_between(1, 3650)),
        ("CALLBACK_JOURNAL_DIR", _check_journal_dir),
    )
    for name, check in checks:
        if values[name]:
            problem = check(values[name])
            if problem:
                problems.append(f"{name} {problem}")
    problems += _slack_mode_problems(values)
    routing = load_routing(values["ROUTING_FILE"], environ) if values["ROUTING_FILE"] else Routing()
    if isinstance(routing, RoutingProblems):
        problems += routing.lines  # each says ROUTING_FILE and the line
    if problems:
        raise SettingsError(problems)

    return Settings(
        slack_bot_token=values["SLACK_BOT_TOKEN"],
        slack_client_id=values["SLACK_CLIENT_ID"],
        slack_client_secret=values["SLACK_CLIENT_SECRET"],
        allowed_slack_teams=_id_set(values["ALLOWED_SLACK_TEAMS"]),
        slack_signing_secret=values["SLACK_SIGNING_SECRET"],
        plivo_auth_id=values["PLIVO_AUTH_ID"],
        plivo_auth_token=values["PLIVO_AUTH_TOKEN"],
        plivo_from_number=_e164(values["PLIVO_FROM_NUMBER"]),
        public_url=values["PUBLIC_URL"].rstrip("/"),
        plivo_api_url=values["PLIVO_API_URL"].rstrip("/"),
        slack_api_url=values["SLACK_API_URL"].rstrip("/") + "/",
        database_url=values["DATABASE_URL"],
        host=values["HOST"],
        port=int(values["PORT"]),
        log_level=values["LOG_LEVEL"].upper(),
        log_format=values["LOG_FORMAT"].lower(),
        allowed_countries=_countries(values["ALLOWED_COUNTRIES"], values["PLIVO_FROM_NUMBER"]),
        allowed_networks=_networks(values["ALLOWED_COUNTRIES"], values["PLIVO_FROM_NUMBER"]),
        allowed_number_types=frozenset(name.upper() for name in _split(values["ALLOWED_NUMBER_TYPES"])),
        default_region=values["DEFAULT_REGION"].upper() or _region_of(values["PLIVO_FROM_NUMBER"]),
        alert_retries=int(values["ALERT_RETRIES"]),
        alert_retry_delay=int(values["ALERT_RETRY_DELAY"]),
        alert_redial_delay=int(values["ALERT_REDIAL_DELAY"]),
        plivo_cps=float(values["PLIVO_CPS"]),
        web_concurrency=int(values["WEB_CONCURRENCY"]),
        threads=int(values["THREADS"]),
        work_threads=int(values["WORK_THREADS"]),
        otp_length=int(values["OTP_LENGTH"]),
        otp_ttl=int(values["OTP_TTL"]),
        otp_max_checks=int(values["OTP_MAX_CHECKS"]),
        otp_hash_key=values["OTP_HASH_KEY"] or derive_hash_key(values["SLACK_SIGNING_SECRET"]),
        otp_voicemail_guard=values["OTP_VOICEMAIL_GUARD"].lower() == "on",
        otp_limit_number_10min=int(values["OTP_LIMIT_NUMBER_10MIN"]),
        otp_limit_number_day=int(values["OTP_LIMIT_NUMBER_DAY"]),
        otp_limit_requester_hour=int(values["OTP_LIMIT_REQUESTER_HOUR"]),
        alert_limit_number_hour=int(values["ALERT_LIMIT_NUMBER_HOUR"]),
        alert_limit_requester_hour=int(values["ALERT_LIMIT_REQUESTER_HOUR"]),
        integration_call_interval=int(values["INTEGRATION_CALL_INTERVAL"]),
        hotline_wait=int(values["HOTLINE_WAIT"]),
        hotline_limit_caller_hour=int(values["HOTLINE_LIMIT_CALLER_HOUR"]),
        hotline_blocked=frozenset(_e164(number) for number in _split(values["HOTLINE_BLOCKED"])),
        hotline_transcribe=values["HOTLINE_TRANSCRIBE"] == "1",
        voice=unaccented(values["VOICE"]),  # Polly.Céline -> Polly.Celine, as Plivo's SDKs spell it
        allowed_slack_users=_id_set(values["ALLOWED_SLACK_USERS"]),
        allowed_slack_channels=_id_set(values["ALLOWED_SLACK_CHANNELS"]),
        api_keys=tuple(_split(values["API_KEYS"])),
        otp_audit_channel=values["OTP_AUDIT_CHANNEL"],
        metrics_token=values["METRICS_TOKEN"],
        metrics_port=int(values["METRICS_PORT"] or 0),
        retention_days=int(values["RETENTION_DAYS"]),
        callback_journal_dir=values["CALLBACK_JOURNAL_DIR"],
        routing_file=values["ROUTING_FILE"],
        routing=routing,
    )


def _meaning(name: str) -> str:
    return next(meaning for n, meaning, _ in VARIABLES if n == name)


def _slack_mode_problems(values: dict[str, str]) -> list[str]:
    """One workspace (SLACK_BOT_TOKEN) or installs (SLACK_CLIENT_ID + SLACK_CLIENT_SECRET), not both."""
    client_id, client_secret = values["SLACK_CLIENT_ID"], values["SLACK_CLIENT_SECRET"]
    if not (client_id or client_secret):
        return []
    if values["SLACK_BOT_TOKEN"]:
        return ["SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set: set SLACK_BOT_TOKEN for one "
                "workspace, or the client ID and secret (and no bot token) to install the app in many, not both"]
    if not client_id:
        return ["SLACK_CLIENT_ID is required with SLACK_CLIENT_SECRET: Basic Information → App Credentials"]
    if not client_secret:
        return ["SLACK_CLIENT_SECRET is required with SLACK_CLIENT_ID: Basic Information → App Credentials"]
    if not _CLIENT_ID.fullmatch(client_id):
        return ["SLACK_CLIENT_ID must look like 1234567890.1234567890 (Basic Information → App Credentials)"]
    return []


def _check_bot_token(value: str) -> str | None:
    if not value.startswith("xoxb-"):
        return "must be a bot token starting with xoxb-"
    return None


def _check_auth_id(value: str) -> str | None:
    if not _AUTH_ID.fullmatch(value):
        return "must be 20 characters starting with MA or SA (see the Plivo console)"
    return None


def _check_from_number(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return "must be a number in E.164 form with + and country code, e.g. +14155550100"
    if not phonenumbers.is_valid_number(number):
        return "is not a valid phone number"
    return None


def _e164(value: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(value, None), phonenumbers.PhoneNumberFormat.E164)


def _check_base_url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # "http://[::1": an IPv6 address not closed
        hostname = None
    if not hostname or parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if parts.query or parts.fragment:
        return "must not have a query or a fragment"
    return None


def _check_public_url(value: str) -> str | None:
    """PUBLIC_URL as any base URL, and https:// unless it names this very host: Plivo fetches call
    scripts from it (a script may hold a code, or an alert's text), which plain http:// would carry
    across the network in clear."""
    problem = _check_base_url(value)
    if problem or urlsplit(value).scheme == "https" or _is_loopback(urlsplit(value).hostname):
        return problem
    return ("must be an https:// URL: Plivo fetches the call scripts, codes included, from it (http:// only for "
            "a loopback host such as 127.0.0.1 or localhost)")


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback  # 127.0.0.0/8, ::1
    except ValueError:
        return False


def _check_database_url(value: str) -> str | None:
    try:
        make_url(value)
    except ArgumentError:
        return "is not a valid SQLAlchemy URL (e.g. sqlite:///voicebridge.sqlite3)"
    return None


def _check_port(value: str) -> str | None:
    if not _WHOLE_NUMBER.fullmatch(value) or not 0 < int(value) < 65536:
        return "must be a port number from 1 to 65535"
    return None


def _check_log_level(value: str) -> str | None:
    if value.upper() not in LOG_LEVELS:
        return "must be one of " + ", ".join(LOG_LEVELS)
    return None


def _check_log_format(value: str) -> str | None:
    if value.lower() not in LOG_FORMATS:
        return "must be text or json"
    return None


def _check_countries(value: str) -> str | None:
    codes = [code.upper() for code in _split(value)]
    networks = [code for code in codes if code.startswith("+")]
    if bad := [code for code in networks if not _network_code(code)]:
        return (f"names {', '.join(bad)}, which is not an international network: name a country by its ISO code "
                f"(e.g. GB), and a network by its code ({', '.join(f'+{code}' for code in sorted(INTERNATIONAL_NETWORKS))})")
    countries = [code for code in codes if code not in networks]
    if countries == ["*"] or (not countries and networks):
        return None
    if "*" in countries:
        return "is * (every country) or a list of ISO country codes, not both (international networks may join *)"
    unknown = [code for code in countries if code not in phonenumbers.SUPPORTED_REGIONS]
    if not countries or unknown:
        return "must be ISO country codes separated by commas (e.g. US,CA,GB) or *" + (
            f"; unknown: {', '.join(unknown)}" if unknown else "")
    return None


def _network_code(token: str) -> int | None:
    """The calling code of an international network named as "+881"; None for anything else."""
    digits = token.removeprefix("+")
    return int(digits) if _WHOLE_NUMBER.fullmatch(digits) and int(digits) in INTERNATIONAL_NETWORKS else None


def _check_number_types(value: str) -> str | None:
    names = [name.upper() for name in _split(value)]
    if never := [name for name in names if name in NEVER_TYPES]:
        return (f"cannot allow {', '.join(never)}: premium-rate, shared-cost, personal and unknown numbers are "
                "never called (they are how toll fraud pays)")
    unknown = [name for name in names if name not in NAMED_TYPES]
    if not names or unknown:
        return f"must be number types separated by commas, from {', '.join(NAMED_TYPES)}" + (
            f"; unknown: {', '.join(unknown)}" if unknown else "")
    return None


def _check_region(value: str) -> str | None:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        return "must be an ISO country code such as US, GB or FR"
    return None


def _check_cps(value: str) -> str | None:
    try:
        rate = float(value)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 100:
        return "must be a number of calls per second above 0 and at most 100 (e.g. 2 or 0.5)"
    return None


def _countries(value: str, from_number: str) -> frozenset[str] | None:
    codes = {code.upper() for code in _split(value) if not code.startswith("+")}
    if "*" in codes:
        return None
    if value:
        return frozenset(codes)
    region = _region_of(from_number)
    return frozenset({region}) if region and region != _NETWORKS_REGION else frozenset()


def _networks(value: str, from_number: str) -> frozenset[int]:
    """The international networks ALLOWED_COUNTRIES names; by default, our caller ID's own, if it is on one."""
    if not value:
        value = f"+{phonenumbers.parse(from_number, None).country_code}"
    return frozenset(code for code in map(_network_code, _split(value)) if code is not None)


def _region_of(number: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or None


def derive_hash_key(signing_secret: str) -> str:
    """A key for code hashes, stable across restarts and shared by instances.

    Derived (HMAC, one-way) rather than reusing the signing secret itself.
    """
    return hmac.new(signing_secret.encode(), b"voicebridge/otp-hash-key/v1", hashlib.sha256).hexdigest()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _id_set(value: str) -> frozenset[str]:
    return frozenset(_split(value))


def _check_numbers(value: str) -> str | None:
    """A comma-separated list of numbers in E.164."""
    for written in _split(value):
        try:
            parse_phone_number(written)
        except InvalidPhoneNumber as error:
            return f"has {written!r}, which is not a number: {error.reason}"
    return None


def _check_flag(value: str) -> str | None:
    return None if value in ("0", "1") else "must be 0 or 1"


def _int_between(low: int, high: int):
    def check(value: str) -> str | None:
        if not _WHOLE_NUMBER.fullmatch(value) or not low <= int(value) <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _check_journal_dir(value: str) -> str | None:
    path = Path(value)
    if path.exists() and not path.is_dir():
        return "must be a directory (it is a file)"
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        return "must be a directory this server can write to"
    return None


def _check_hash_key(value: str) -> str | None:
    return "must be at least 16 characters" if len(value) < 16 else None


def _check_on_off(value: str) -> str | None:
    return None if value.lower() in ("on", "off") else "must be on or off"


def _check_voice(value: str) -> str | None:
    # Only voices Plivo has (voice/speech/voices.py): any other name fails every call.
    if value in BASIC_VOICES or polly_voice(unaccented(value)):
        return None
    return f"must be WOMAN, MAN or an Amazon Polly voice Plivo offers, such as Polly.Joanna ({value} is not one)"


def _check_slack_id(value: str) -> str | None:
    return None if _SLACK_ID.fullmatch(value) else "must be a Slack ID such as C0123ABCD"


def _check_slack_ids(value: str) -> str | None:
    bad = [part for part in _split(value) if not _SLACK_ID.fullmatch(part)]
    return f"must be Slack IDs separated by commas (not understood: {', '.join(bad)})" if bad else None


def _check_metrics_token(value: str) -> str | None:
    return "must be at least 20 characters" if len(value) < 20 else None


def _check_api_keys(value: str) -> str | None:
    # Never echo a key: say which position is wrong.
    short = [str(index + 1) for index, key in enumerate(_split(value)) if len(key) < 20]
    return f"keys must be at least 20 characters (key number {', '.join(short)} is shorter)" if short else None
