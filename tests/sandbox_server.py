"""The sandbox app served by waitress in a thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import requests
import waitress

from answer_server.sandbox import (
    create_sandbox_app,
    load_sandbox_settings,
    sandbox_settings,
)
from answer_server.sandbox.app import SERVER_THREADS
from voice.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningSandbox:
    url: str
    settings: Settings
    app: object

    def command(self, text: str, channel: str = "C0SANDBOX") -> requests.Response:
        return requests.post(f"{self.url}/sandbox/api/command", json={"text": text, "channel": channel}, timeout=10)

    def state(self) -> dict:
        return requests.get(f"{self.url}/sandbox/api/state", timeout=10).json()

    def press_when_asked(self, to: str, digits: str = "5") -> dict:
        """Be the callee: wait until the call to `to` listens for keys (the voicemail guard), then press."""
        call = self.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == to and c["listening"]), None))
        reply = requests.post(f"{self.url}/sandbox/api/calls/{call['call_uuid']}/digits", json={"digits": digits},
                              timeout=10)
        assert reply.json()["ok"], reply.text
        return call

    def wait_for(self, predicate, timeout: float = 15.0):
        """Poll the console's state until `predicate(state)` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            value = predicate(state)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; messages: {[m['text'] for m in state['messages']]}; "
                                     f"calls: {[(c['to'], c['state']) for c in state['calls']]}")
            time.sleep(0.05)


class ServerThread:
    def __init__(self, app, port: int):
        self._server = waitress.create_server(app, host="127.0.0.1", port=port, threads=SERVER_THREADS)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            if not self._stopping:  # close() pulls the socket out from under select(): expected then
                raise

    def stop(self) -> None:
        self._stopping = True
        self._server.close()
        # Keep-alive connections may keep the loop going a while; it is a daemon thread and stops with them.
        self._thread.join(timeout=0.5)


def start_sandbox(database_url: str, speed: float = 50) -> tuple[RunningSandbox, ServerThread]:
    port = free_port()
    settings = sandbox_settings(port, database_url)
    app = create_sandbox_app(settings, speed=speed)
    return RunningSandbox(settings.public_url, settings, app), ServerThread(app, port)


def start_loaded(tmp_path, speed: float, environ: dict[str, str] | None = None,
                 **options) -> tuple[RunningSandbox, ServerThread]:
    """A sandbox on settings read as `--sandbox` reads them, from `environ` beside a free port and a database in
    `tmp_path`; `options` are create_sandbox_app's."""
    port = free_port()
    settings, _ = load_sandbox_settings({"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
                                         **(environ or {})})
    app = create_sandbox_app(settings, speed=speed, **options)
    return RunningSandbox(settings.public_url, settings, app), ServerThread(app, port)


def stop_loaded(running: RunningSandbox, server: ServerThread) -> None:
    """Its calls hung up, its server stopped, its app closed."""
    for call in running.app.extensions["sandbox"]["simulator"].calls():
        call.control.stop("api")
    server.stop()
    running.app.extensions["voicebridge"]["close"]()
