"""The real server, `python -m answer_server`, as a process a test starts, kills and restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import AUTH_ID, AUTH_TOKEN, BOT_TOKEN, SIGNING_SECRET
from tests.fakes.senders import Signed
from tests.processes import stop_process, wait_until_answering

ROOT = Path(__file__).resolve().parent.parent  # so `-m answer_server` imports from any cwd
STARTUP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_env() -> dict[str, str]:
    """The least a process needs: no settings at all."""
    return {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def settings_env(tmp_path: Path, port: int, slack_api_url: str, plivo_api_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_FROM_NUMBER": "+14155550100",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PLIVO_API_URL": plivo_api_url,
        "SLACK_API_URL": slack_api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'calls.sqlite3'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # The second ring has its own tests; elsewhere a missed alert call counts as missed at once.
        "ALERT_REDIAL_DELAY": "0",
    }


class ServerProcess:
    """`python -m answer_server` in `cwd`; stop() then start() restarts it on the same database and port."""

    def __init__(self, cwd: Path, env: dict[str, str], url: str, *args: str):
        self.cwd, self.env, self.url, self.args = cwd, env, url, args
        self.log_path = cwd / "server.log"  # appended to, so a restart keeps both outputs
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        with open(self.log_path, "ab") as log:
            # Its own process group: kill() takes the web server and its worker process down together.
            self.process = subprocess.Popen([sys.executable, "-m", "answer_server", *self.args], cwd=self.cwd,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until_answering(self.process, self.url + "/healthz", self.output, "the server", STARTUP_TIMEOUT)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """kill -9 of every process of the server: nothing is handed back, nothing flushed."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=5)
        self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the server output:\n{self.output()}")
            time.sleep(0.02)

    def send(self, signed: Signed, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(self.url + signed.path, data=signed.body.encode(),
                             headers=headers or signed.headers, timeout=10)

    def path_of(self, url: str) -> str:
        """The path part of a callback URL the server gave Plivo (under PUBLIC_URL)."""
        public_url = self.env.get("PUBLIC_URL", self.url).rstrip("/")
        assert url.startswith(public_url + "/"), url
        return url[len(public_url):]




class Launcher:
    """Starts servers in `cwd` (extra variables as keywords) and stops every one it started."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env
        self.started: list[ServerProcess] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None, **extra: str) -> ServerProcess:
        variables = (env or self.env) | extra
        server = ServerProcess(self.cwd, variables, f"http://{variables['HOST']}:{variables['PORT']}", *args)
        self.started.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
        if self.started:
            print(self.started[0].output())  # pytest shows it when the test failed
