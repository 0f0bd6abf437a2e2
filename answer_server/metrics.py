"""GET /metrics (Prometheus' text format) and METRICS_PORT, and the multiprocess set-up they need.

Off unless METRICS_TOKEN is set (then each scrape must carry it as a Bearer
token) or METRICS_PORT is (then the worker process serves the same figures on
127.0.0.1 only, without a token, for a scraper on the same host).
https://prometheus.github.io/client_python/exporting/http/
"""

from __future__ import annotations

import hmac
import logging
import os

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy.engine import Engine

from voice.queue.depth import QueueCollector
from voice.settings import Settings

log = logging.getLogger(__name__)

#: Set by `python -m answer_server` before any of its processes imports prometheus_client.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def process_exited(pid: int) -> None:
    """A web worker or the worker process exited: its live figures (gauges) go with it."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(pid)


def registry_for(engine: Engine) -> CollectorRegistry:
    """What a scrape reads: every process's counters and histograms, and the work queue now."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the sandbox, the tests): this process's figures
        registry.register(_Everything())
    registry.register(QueueCollector(engine))
    return registry


class _Everything:
    def collect(self):
        return REGISTRY.collect()


def add_metrics_route(app: Flask, settings: Settings, engine: Engine) -> None:
    if not settings.metrics_token:
        return  # /metrics is off: 404, like any unknown path
    expected = f"Bearer {settings.metrics_token}".encode()

    @app.get("/metrics")
    def metrics():
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return Response("a valid metrics token is required\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(registry_for(engine)), mimetype=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})


def serve_on_port(settings: Settings, engine: Engine) -> None:
    """METRICS_PORT: the figures on 127.0.0.1, from this process (the worker process), in a thread."""
    if not settings.metrics_port:
        return
    from prometheus_client import start_http_server

    start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry_for(engine))
    log.info("metrics on http://127.0.0.1:%s/metrics", settings.metrics_port)
