"""A loopback stand-in for VoiceBridge's alert intake: records every request and answers as the server will.

For learning what a real sender (Alertmanager) puts on the wire before, or apart from, the real server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(compare=False)

    def json(self):
        return json.loads(self.body)


class IntakeRecorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def __enter__(self) -> "IntakeRecorder":
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                recorder._handle(self)

            def do_PUT(self):  # noqa: N802 Alertmanager's Opsgenie update_alerts
                recorder._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def matching(self, method: str, path_prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def wait_for(self, predicate: Callable[[list[Recorded]], object], timeout: float = 10.0, context: str = ""):
        """Poll until `predicate(requests so far)` is truthy; its value. `context` is added to a timeout's message."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = list(self.requests)
            value = predicate(seen)
            if value:
                return value
            if time.monotonic() > deadline:
                summary = "\n".join(f"{r.method} {r.path} {r.query} {r.body[:300]!r}" for r in seen)
                raise AssertionError(f"timed out after {timeout} s; received:\n{summary}\n{context}")
            time.sleep(0.05)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        recorded = Recorded(handler.command, url.path, {k: v[-1] for k, v in parse_qs(url.query).items()},
                            dict(handler.headers.items()), body, time.time())
        with self._lock:
            self.requests.append(recorded)
        status, answer = self._answer(recorded)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _answer(recorded: Recorded) -> tuple[int, dict]:
        if recorded.path.startswith("/opsgenie/"):
            # https://docs.opsgenie.com/docs/alert-api (every Alert API request is answered so)
            return 202, {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())}
        if recorded.path == "/pagerduty/v2/enqueue":
            # https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty
            dedup_key = json.loads(recorded.body or b"{}").get("dedup_key")
            return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return 202, {"status": "accepted"}
