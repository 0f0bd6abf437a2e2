"""An application behind Plivo's callbacks, for simulator tests: it serves the
documents a test gives it and records every request the simulator sends."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import responses

APP = "https://app.test"


@dataclass(frozen=True)
class Received:
    path: str
    url: str
    method: str
    params: dict[str, str]
    headers: dict[str, str]


class ApplicationDouble:
    def __init__(self, mock: responses.RequestsMock):
        self.documents: dict[str, object] = {}  # path → bytes, (status, content_type, bytes) or a callable
        self.received: list[Received] = []
        mock.add_callback(responses.POST, re.compile(re.escape(APP) + r"/.*"), callback=self._handle)
        mock.add_callback(responses.GET, re.compile(re.escape(APP) + r"/.*"), callback=self._handle)

    def _handle(self, request):
        path = request.path_url.split("?")[0]
        params = dict(parse_qsl(request.body or "", keep_blank_values=True)) if request.method == "POST" else dict(
            parse_qsl(request.path_url.partition("?")[2], keep_blank_values=True))
        self.received.append(Received(path, request.url, request.method, params, dict(request.headers)))
        served = self.documents.get(path, b"<Response/>")
        if callable(served):
            served = served(params)
        if isinstance(served, tuple):
            status, content_type, body = served
            return status, {"Content-Type": content_type}, body
        return 200, {"Content-Type": "text/xml"}, served

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.to(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} got {len(self.to(path))} requests; all: {[r.path for r in self.received]}")
            time.sleep(0.005)
        return self.to(path)


def create_body(to: str = "+14155550123", **extra) -> dict:
    return {
        "from": "+14155550100", "to": to,
        "answer_url": f"{APP}/answer", "answer_method": "POST",
        "ring_url": f"{APP}/ring", "hangup_url": f"{APP}/hangup", "ring_timeout": 45, "time_limit": 300,
    } | extra
