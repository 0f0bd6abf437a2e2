"""The sandbox's monitoring demo: the built-in integration `sandbox-demo` (#sandbox, phones @alice), and
the console's stand-in for Prometheus Alertmanager, which sends it a test alert and resolves it.

The console's buttons do what a real Alertmanager does with a `webhook_configs` receiver: a real HTTP
POST of a version-4 webhook body to /integrations/alertmanager with `Authorization: Bearer <token>`
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), so the route, the token
check, the incident, the calls and the Slack message are the real ones. The token is made for each run
and kept only here and as its hash in the store; it is never shown, in the console or in a log line.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable

import requests

from voice.intake.credentials import token_digest
from voice.routing.models import USER, IntegrationDef, RecipientRef
from voice.settings import Settings

NAME = "sandbox-demo"
CHANNEL = "C0SANDBOX"  # #sandbox
CALLS = "U0ALICE"  # @alice
ROUTE = "/integrations/alertmanager"
#: Alertmanager's "not ended yet" endsAt, on a firing alert.
NOT_ENDED = "0001-01-01T00:00:00Z"
LABELS = {"alertname": "CheckoutErrors", "service": "checkout", "instance": "checkout-1", "severity": "critical"}
SUMMARY = "Checkout errors above 5% for 2 minutes (sandbox test alert)"
SEND_TIMEOUT = 10.0


def new_token() -> str:
    return secrets.token_urlsafe(32)


def integration(token: str) -> IntegrationDef:
    return IntegrationDef(name=NAME, token_sha256=token_digest(token), channel=CHANNEL,
                          stages=((RecipientRef(USER, CALLS),),))


def with_demo(settings: Settings, token: str) -> Settings:
    """`settings` whose integrations are ROUTING_FILE's, if any, and sandbox-demo (its other sections kept)."""
    return replace(settings, routing=replace(settings.routing, integrations=(*settings.routing.integrations,
                                                                             integration(token))))


class DemoAlertmanager:
    """Sends sandbox-demo its alert group, firing or resolved, as Alertmanager would; keeps the last answer."""

    def __init__(self, app_url: str, token: str, on_change: Callable[[], None] = lambda: None):
        self._url = app_url.rstrip("/") + ROUTE
        self._token = token
        self._on_change = on_change
        self._sending = threading.Lock()  # one notification at a time, in order, as Alertmanager sends a group's
        self._lock = threading.Lock()  # what state() reads, never held across a request
        # A fresh group per run: an incident an earlier run left open in the sandbox's database (its
        # messages and calls gone with that run) is not this run's, so this run's first alert phones.
        self._group_key = f'{{}}/{{sandbox_run="{secrets.token_hex(4)}"}}:{{alertname="{LABELS["alertname"]}"}}'
        self._fired_at: datetime | None = None  # the firing alert's startsAt; None while it is not firing
        self._last: dict | None = None
        self._http = requests.Session()
        self._http.trust_env = False  # loopback only: never through a proxy

    def fire(self) -> dict:
        """The alert (re)fires: each press is a new firing, with its own startsAt, so the incident counts it."""
        with self._sending:
            fired_at = _now()
            return self._send("firing", fired_at, None, fired_at)

    def resolve(self) -> dict:
        with self._sending:
            now = _now()
            with self._lock:
                fired_at = self._fired_at
            return self._send("resolved", fired_at or now, now, None)

    def state(self) -> dict:
        """What the console shows: the integration, whether its alert fires, the last answer."""
        with self._lock:
            return {"integration": NAME, "channel": CHANNEL, "calls": CALLS, "route": ROUTE,
                    "firing": self._fired_at is not None, "last": self._last}

    def _send(self, status: str, starts_at: datetime, ends_at: datetime | None, firing: datetime | None) -> dict:
        body = webhook_body(self._group_key, status, starts_at, ends_at)
        try:
            reply = self._http.post(self._url, json=body, timeout=SEND_TIMEOUT, headers={
                "Authorization": f"Bearer {self._token}", "User-Agent": "Alertmanager (VoiceBridge sandbox)"})
        except requests.RequestException as error:
            result = {"ok": False, "sent": status, "error": f"the app did not answer: {type(error).__name__}"}
        else:
            answer = reply.json() if reply.headers.get("Content-Type", "").startswith("application/json") else {}
            result = {"ok": reply.status_code == 202, "sent": status, "status": reply.status_code, "answer": answer}
        with self._lock:
            self._last = result
            if result["ok"]:
                self._fired_at = firing
        self._on_change()
        return result


def webhook_body(group_key: str, status: str, starts_at: datetime, ends_at: datetime | None) -> dict:
    """One group of one alert, as Alertmanager's webhook sends it (version "4")."""
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status, "receiver": NAME,
        "groupLabels": {"alertname": LABELS["alertname"]}, "commonLabels": dict(LABELS),
        "commonAnnotations": {"summary": SUMMARY}, "externalURL": "",
        "alerts": [{
            "status": status, "labels": dict(LABELS), "annotations": {"summary": SUMMARY},
            "startsAt": _rfc3339(starts_at), "endsAt": _rfc3339(ends_at) if ends_at else NOT_ENDED,
            "generatorURL": "", "fingerprint": _fingerprint(LABELS),
        }],
    }


def _fingerprint(labels: dict[str, str]) -> str:
    # Alertmanager's is a 64-bit hash of the labels, as 16 hex digits; any stable one of them serves here.
    return hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(moment: datetime) -> str:
    # Sub-second, as Alertmanager writes them: two presses in one second are two firings, not one retried.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
