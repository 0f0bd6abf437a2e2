"""A real Prometheus Alertmanager as a test peer: configured, started, fed alerts and stopped by the test.

Its three receivers all point at one base URL (the server under test, or a recording stand-in):
`webhook_configs`, `opsgenie_configs` and `pagerduty_configs`, each picked by an alert's `receiver` label.
Configuration reference: https://prometheus.io/docs/alerting/latest/configuration/
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml

from tests.processes import stop_process, wait_until_answering
from tests.server_process import free_port

BINARY = "prometheus-alertmanager"  # Debian's name; upstream's release tarball calls it `alertmanager`
RECEIVERS = ("webhook", "opsgenie", "pagerduty")
STARTUP_TIMEOUT = 15.0


def alertmanager_binary() -> str:
    """The binary's path, or skip the test: CI installs it (.ci/run), a developer may not have."""
    path = shutil.which(BINARY) or shutil.which("alertmanager")
    if path is None:
        pytest.skip(f"{BINARY} is not installed (apt-get install prometheus-alertmanager)")
    return path


def config(base_url: str, token: str, *, group_wait: str = "1s", group_interval: str = "2s",
           repeat_interval: str = "5s", group_by: tuple[str, ...] = ("alertname",)) -> dict:
    """alertmanager.yml: an alert's `receiver` label (webhook, opsgenie or pagerduty) picks where it goes.

    The short intervals keep tests quick; Alertmanager's defaults are 30s, 5m and 4h.
    """
    base_url = base_url.rstrip("/")
    return {
        "route": {
            "receiver": "webhook",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": [{"receiver": name, "matchers": [f'receiver="{name}"']} for name in RECEIVERS],
        },
        "receivers": [
            {"name": "webhook", "webhook_configs": [{
                "url": f"{base_url}/integrations/alertmanager",
                "send_resolved": True,
                # Sent as `Authorization: Bearer <token>` (`type` defaults to Bearer).
                "http_config": {"authorization": {"credentials": token}},
            }]},
            {"name": "opsgenie", "opsgenie_configs": [{
                # Alertmanager appends `v2/alerts…` to api_url, so the trailing slash matters.
                "api_url": f"{base_url}/opsgenie/",
                "api_key": token,
                "send_resolved": True,
                # Also PUT the message and description of an alert that is already open.
                "update_alerts": True,
                # An empty priority is left out of the body, so Opsgenie's own default (P3) applies.
                "priority": "{{ .CommonLabels.priority }}",
            }]},
            {"name": "pagerduty", "pagerduty_configs": [{
                "url": f"{base_url}/pagerduty/v2/enqueue",
                "routing_key": token,
                "send_resolved": True,
                # Alertmanager sends `error` unless told; let a `severity` label say otherwise.
                "severity": '{{ or .CommonLabels.severity "error" }}',
            }]},
        ],
    }


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Alertmanager:
    """`prometheus-alertmanager` on a free loopback port, its config and data in `directory`.

    Use as a context manager; on exit it is stopped and its log printed, which pytest shows for a failed test.
    """

    def __init__(self, directory: Path, base_url: str, token: str, **route_options):
        self.binary = alertmanager_binary()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path = self.directory / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config(base_url, token, **route_options), sort_keys=False))
        self.log_path = self.directory / "alertmanager.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._firing: dict[frozenset, dict] = {}  # an alert's labels → the alert as it was fired

    def start(self) -> "Alertmanager":
        command = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",  # empty: a lone instance, no gossip port and no peer wait
            "--log.level=debug",  # the log then names every notification and its outcome
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        wait_until_answering(self.process, f"{self.url}/-/ready", self.output, "Alertmanager", STARTUP_TIMEOUT)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "Alertmanager":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        print(f"--- Alertmanager log ({self.log_path}) ---\n{self.output()}")

    def fire(self, labels: dict[str, str], annotations: dict[str, str] | None = None,
             generator_url: str = "") -> dict:
        """Post a firing alert through Alertmanager's API, as Prometheus does; the alert as posted.

        Firing the same labels again keeps their first startsAt, as Prometheus does while an alert stays active.
        """
        key = frozenset(labels.items())
        starts_at = self._firing[key]["startsAt"] if key in self._firing else rfc3339(datetime.now(timezone.utc))
        alert = {"labels": labels, "annotations": annotations or {}, "startsAt": starts_at,
                 "generatorURL": generator_url}
        self._post(alert)
        self._firing[key] = alert
        return alert

    def resolve(self, labels: dict[str, str]) -> dict:
        """Post the fired alert again with endsAt in the past, as Prometheus does: Alertmanager counts it resolved.

        The whole alert is posted again: Alertmanager keeps the latest annotations and generatorURL it was sent.
        """
        ends_at = rfc3339(datetime.now(timezone.utc) - timedelta(milliseconds=1))
        alert = self._firing.pop(frozenset(labels.items()), None)
        if alert is None:
            alert = {"labels": labels, "annotations": {}, "startsAt": ends_at}
        alert = alert | {"endsAt": ends_at}
        self._post(alert)
        return alert

    def alerts(self) -> list[dict]:
        """What Alertmanager holds now (GET /api/v2/alerts)."""
        reply = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        reply.raise_for_status()
        return reply.json()

    def _post(self, alert: dict) -> None:
        # https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml (postableAlerts)
        reply = requests.post(f"{self.url}/api/v2/alerts", json=[alert], timeout=5)
        assert reply.status_code == 200, f"POST /api/v2/alerts: {reply.status_code} {reply.text}\n{self.output()}"
