"""The processes under test: `python -m answer_server`, and gunicorn serving bench/bare_app.py.

Each is started with an explicit environment (nothing inherited but PATH, so no
proxy, token or .env of the developer's leaks in: the working directory is a
fresh temporary one), waited for on GET /healthz, and stopped with SIGTERM (then
SIGKILL) when the scenario's ExitStack closes, whether or not it failed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import requests

from bench.runner import Context, say
from bench.standins import AUTH_ID, AUTH_TOKEN, BOT_TOKEN, FROM_NUMBER, SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent  # the repository: `-m answer_server` imports from here
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# One session, never reading proxy variables: every request goes to 127.0.0.1.
http = requests.Session()
http.trust_env = False


class BenchError(Exception):
    """A scenario cannot go on; the message says why (and where the server's log is)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8"}


def voicebridge_env(*, port: int, slack_api_url: str, plivo_api_url: str, database_url: str,
                    public_url: str | None = None, **extra: str) -> dict[str, str]:
    """Every setting a server needs, with rate limits off and quiet logs; `extra` overrides."""
    settings = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PLIVO_AUTH_ID": AUTH_ID,
        "PLIVO_AUTH_TOKEN": AUTH_TOKEN,
        "PLIVO_FROM_NUMBER": FROM_NUMBER,
        "PUBLIC_URL": public_url or f"http://127.0.0.1:{port}",
        "PLIVO_API_URL": plivo_api_url,
        "SLACK_API_URL": slack_api_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "PLIVO_CPS": "100",
        # The bench sends many requests for few requesters: limits would refuse them.
        "OTP_LIMIT_NUMBER_10MIN": "0",
        "OTP_LIMIT_NUMBER_DAY": "0",
        "OTP_LIMIT_REQUESTER_HOUR": "0",
        "ALERT_LIMIT_NUMBER_HOUR": "0",
        "ALERT_LIMIT_REQUESTER_HOUR": "0",
        # Read by the rewritten server (processes x threads); today's ignores them.
        "WEB_CONCURRENCY": "2",
        "THREADS": "8",
    }
    return base_env() | settings | extra


class Process:
    """One server process, its output in `log_path`, ready once GET `ready_url` answers 200."""

    def __init__(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str], url: str,
                 log_path: Path, ready_path: str = "/healthz"):
        self.name, self.command, self.cwd, self.env = name, command, cwd, env
        self.url = url
        self.ready_url = url + ready_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Process:
        with open(self.log_path, "ab") as log:
            # A session of its own, so stop() can signal gunicorn's workers with their master.
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with status {self.process.returncode} at start-up "
                                 f"({self.last_log_line()}); log: {self.log_path}")
            try:
                if http.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name}: GET {self.ready_url} did not answer 200 within {STARTUP_TIMEOUT:.0f} s; "
                         f"log: {self.log_path}")

    def last_log_line(self) -> str:
        """The process's last line of output: usually the error that stopped it."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else "no output"

    def stop(self) -> None:
        """SIGTERM to the process group (a graceful stop), SIGKILL if it is still there after 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        began = time.monotonic()
        self._signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
            say(f"{self.name} was still running {STOP_TIMEOUT:.0f} s after SIGTERM: killed")
            return
        if time.monotonic() - began > 2:
            say(f"{self.name} took {time.monotonic() - began:.1f} s to stop after SIGTERM")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(process.pid, sig)  # the group's id is the process's own: start_new_session
        except ProcessLookupError:
            pass


def start_voicebridge(stack: ExitStack, *, name: str, workdir: Path, log_dir: Path,
                      env: dict[str, str]) -> Process:
    """`python -m answer_server` with `env`, in `workdir` (so no .env is read), stopped with `stack`."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{env['PORT']}"
    server = Process(name, [sys.executable, "-m", "answer_server"], cwd=workdir, env=env, url=url,
                     log_path=log_dir / f"{name}.log")
    stack.callback(server.stop)  # registered before start: a half-started server is stopped too
    return server.start()


def gunicorn_version() -> str | None:
    try:
        import gunicorn
    except ImportError:
        return None
    return gunicorn.__version__


def start_bare(stack: ExitStack, *, workdir: Path, log_dir: Path, workers: int = 2, threads: int = 8) -> Process:
    """bench/bare_app.py under gunicorn, gthread workers: the comparator for the webhooks."""
    if gunicorn_version() is None:
        raise BenchError(f"gunicorn is not installed in {sys.prefix}: `{sys.executable} -m pip install gunicorn`")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
               "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               "bench.bare_app:app"]
    server = Process("bare-flask", command, cwd=workdir, env=base_env(), url=f"http://127.0.0.1:{port}",
                     log_path=log_dir / "bare-flask.log")
    stack.callback(server.stop)
    return server.start()


def scenario_server(ctx: Context, stack: ExitStack, name: str, slack, plivo, *, group: str | None = None,
                    **settings: str) -> Process:
    """One `python -m answer_server` on SQLite in a temporary directory, unless `settings` say otherwise.

    Its log goes to the scenario's (`group`'s) log directory, which a failed scenario names.
    """
    workdir = ctx.workdir(stack, name)
    port = int(settings.pop("port", 0)) or free_port()
    database_url = settings.pop("database_url", None) or f"sqlite:///{workdir / 'voice.sqlite3'}"
    env = voicebridge_env(port=port, slack_api_url=slack.base_url, plivo_api_url=plivo.base_url,
                          database_url=database_url, public_url=settings.pop("public_url", None), **settings)
    return start_voicebridge(stack, name=name, workdir=workdir / "cwd", log_dir=ctx.logs_for(group or name), env=env)
