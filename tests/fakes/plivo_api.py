"""A loopback fake of Plivo's create-call API, for tests of the whole server process.

`responses` covers the REST calls made inside the test process; a server
started as a separate process needs a real HTTP peer instead.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class FakePlivoApi:
    def __init__(self, auth_id: str, auth_token: str):
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.created: list[dict[str, Any]] = []  # bodies of accepted create-call requests
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.reply: tuple[int, dict] | None = None  # override: (status, body) for create-call
        self.delay = 0.0
        # Create-calls as they arrived: (time.time(), body), before any delay or hold.
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        # While cleared, create-call requests wait (a Plivo that got the request and has not answered).
        self.answering = threading.Event()
        self.answering.set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def start(self, port: int = 0) -> "FakePlivoApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                fake._handle(self)

            def do_DELETE(self):  # noqa: N802
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuse_connections(self) -> None:
        """Close the port: every connection is refused, as when Plivo's API cannot be reached."""
        self.stop()

    def accept_connections(self) -> None:
        """Open the same port again (Plivo is back)."""
        self.start(port=int(self.base_url.rsplit(":", 1)[1]))

    def __enter__(self) -> "FakePlivoApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out; Plivo saw {self.requests}")

    def _note_arrival(self, at: float, raw: bytes) -> None:
        with self._lock:
            self.arrivals.append((at, _json_or_empty(raw)))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        creating = handler.command == "POST" and handler.path == f"/v1/Account/{self.auth_id}/Call/"
        with self._lock:
            self.requests.append((handler.command, handler.path))
        if creating:
            self._note_arrival(time.time(), raw)
        if self.delay:
            time.sleep(self.delay)
        if creating:
            self.answering.wait()
        expected = "Basic " + base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != expected:
            return self._send(handler, 401, {"error": "authentication failed"})
        if creating:
            if self.reply:
                return self._send(handler, *self.reply)
            body = json.loads(raw or b"{}")
            missing = [key for key in ("from", "to", "answer_url") if not body.get(key)]
            if missing:
                return self._send(handler, 400, {"api_id": str(uuid.uuid4()), "error": f"{missing[0]} is required"})
            request_uuid = str(uuid.uuid4())
            with self._lock:
                self.created.append(body | {"request_uuid": request_uuid})
            return self._send(handler, 201, {"api_id": str(uuid.uuid4()), "message": "call fired",
                                             "request_uuid": request_uuid})
        if handler.command == "DELETE":
            return self._send(handler, 204, None)
        return self._send(handler, 404, {"error": "not found"})

    def most_in_one_second(self, jitter: float = 0.0) -> int:
        """The most create-calls that arrived within any one second (Plivo's CPS is counted so).

        `jitter`: how late this stand-in may read an arrival's time (it shares the
        interpreter of a busy test): windows are that much shorter than a second.
        """
        moments = sorted(moment for moment, _ in self.arrivals)
        window = 1.0 - jitter
        return max((sum(1 for later in moments[i:] if later - start < window) for i, start in enumerate(moments)),
                   default=0)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        try:
            handler.send_response(status)
            if data:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller is gone (killed while it waited): Plivo would not know either


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
