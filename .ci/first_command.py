"""What a new user does first, run by `.ci/run` with the Python of a virtualenv built from requirements.txt alone.

1. The README's first command, `python -m answer_server --sandbox`, from the repository's root, on a free port.
   Through the console's JSON endpoints (as the console page drives it): one `/voiceotp` until the channel's
   message says the code was read, one `/voicealert` until it is acknowledged on the callee's keypad, and
   the console's test alert (Alertmanager's webhook to sandbox-demo) until @alice's phone rings, then its resolve.
   Then the server is stopped by its PID.
2. `python -m answer_server` (no sandbox) with a minimal `.env`: it must start and answer `GET /healthz`.

Standard library only: what it proves is that requirements.txt is enough. Any failure exits non-zero with
the server's output, so CI fails when the product cannot start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # the new user's virtualenv
STARTUP = 30.0
STEP = 30.0


class Failed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                                    timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, probe: Callable[[], object], timeout: float = STEP):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise Failed(f"timed out waiting for {what}")


class Server:
    """A server process started as a person would, stopped by its PID."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise Failed(f"{self.name} exited with status {self.process.returncode}")
        return True

    def stop(self) -> None:
        """SIGTERM by PID; the process (and, for the real server, its worker) must be gone within 25 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(25)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise Failed(f"{self.name} did not stop within 25 s of SIGTERM") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """Stopped by its PID whatever happened; its output shown when a step failed."""
        if error is not None:
            print(self.output(), file=sys.stderr)
        self.stop()
        print(f"first command: {self.name} (PID {self.process.pid}) stopped on SIGTERM", flush=True)


def base_env(**extra: str) -> dict[str, str]:
    # Only what a shell gives a person: no PYTHONPATH from CI, no proxies, no TEST_DATABASE_URL.
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
           "PYTHONUNBUFFERED": "1"}
    return env | extra


def sandbox(workdir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with Server("the sandbox", [PYTHON, "-m", "answer_server", "--sandbox"], cwd=ROOT,
                env=base_env(PORT=str(port), SANDBOX_SPEED="20",
                             DATABASE_URL=f"sqlite:///{workdir / 'sandbox.sqlite3'}"),
                log=workdir / "sandbox.log") as server:
        wait_for("the console line", lambda: server.alive() and "Sandbox console:" in server.output(), STARTUP)

        def state() -> dict:
            status, body = request("GET", f"{url}/sandbox/api/state")
            return json.loads(body) if status == 200 else {}

        def command(text: str) -> None:
            status, body = request("POST", f"{url}/sandbox/api/command", {"text": text, "channel": "C0SANDBOX"})
            if status != 200 or json.loads(body) != {"ok": True}:
                raise Failed(f"the console refused {text!r}: {status} {body[:200]!r}")

        def press_when_asked(to: str, digits: str) -> None:
            call = wait_for(f"a call to {to} listening for keys", lambda: next(
                (c for c in state()["calls"] if c["to"] == to and c["listening"] and c["state"] != "ended"), None))
            status, body = request("POST", f"{url}/sandbox/api/calls/{call['call_uuid']}/digits",
                                   {"digits": digits})
            if status != 200 or not json.loads(body).get("ok"):
                raise Failed(f"the keypad refused {digits}: {status} {body[:200]!r}")

        def message_with(text: str) -> Callable[[], object]:
            return lambda: server.alive() and next((m for m in state()["messages"] if text in m["text"]), None)

        command("/voiceotp +14155550123")
        press_when_asked("+14155550123", "5")
        wait_for("the channel to say the code was read", message_with("code read · "))
        print("first command: /voiceotp called, the code was read, the channel says so", flush=True)

        command("/voicealert @alice The database is down")
        press_when_asked("+14155550101", "1")
        wait_for("the channel to say the alert was acknowledged", message_with("*Acknowledged*"))
        print("first command: /voicealert rang @alice, her 1 acknowledged it, the channel says so", flush=True)

        # The console's "Send a test alert": the server posts Alertmanager's webhook to sandbox-demo.
        earlier = {c["call_uuid"] for c in state()["calls"]}
        status, body = request("POST", f"{url}/sandbox/api/monitoring/alert", {})
        if status != 200 or not json.loads(body).get("ok"):
            raise Failed(f"the test alert was not accepted: {status} {body[:300]!r}")
        wait_for("@alice's phone to ring for sandbox-demo", lambda: server.alive() and next(
            (c for c in state()["calls"] if c["to"] == "+14155550101" and c["call_uuid"] not in earlier
             and "sandbox-demo" in " ".join(line["text"] for line in c["transcript"])), None))
        status, body = request("POST", f"{url}/sandbox/api/monitoring/resolve", {})
        if status != 200 or not json.loads(body).get("ok"):
            raise Failed(f"the resolve was not accepted: {status} {body[:300]!r}")
        wait_for("the channel to say Alertmanager resolved it", message_with("Resolved by Alertmanager"))
        print("first command: a test alert as Alertmanager rang @alice, its resolve shows in the channel", flush=True)


MINIMAL_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1-first-command-check",
    "SLACK_SIGNING_SECRET": "first-command-signing-secret",
    "PLIVO_AUTH_ID": "MAFIRSTCOMMANDCHECK0",
    "PLIVO_AUTH_TOKEN": "first-command-plivo-token",
    "PLIVO_FROM_NUMBER": "+14155550100",
    "PUBLIC_URL": "https://calls.example.com",
}


def real_server(workdir: Path) -> None:
    """The server without --sandbox: settings from a minimal .env in its working directory."""
    port = free_port()
    env_file = MINIMAL_ENV | {"PORT": str(port), "HOST": "127.0.0.1",
                              "DATABASE_URL": f"sqlite:///{workdir / 'voicebridge.sqlite3'}"}
    (workdir / ".env").write_text("".join(f"{name}={value}\n" for name, value in env_file.items()))
    with Server("the server", [PYTHON, "-m", "answer_server"], cwd=workdir, env=base_env(PYTHONPATH=str(ROOT)),
                log=workdir / "server.log") as server:
        def healthy() -> bool:
            server.alive()
            status, body = request("GET", f"http://127.0.0.1:{port}/healthz")
            return status == 200 and json.loads(body) == {"status": "ok"}

        wait_for("GET /healthz to answer ok", healthy, STARTUP)
        print("first command: python -m answer_server with a minimal .env answers /healthz", flush=True)


def main() -> int:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="voicebridge-first-command-") as scratch:
        try:
            sandbox(Path(scratch))
            real_server(Path(scratch))
        except Failed as failure:
            print(f"first command FAILED: {failure}", file=sys.stderr)
            return 1
    print(f"first command: all steps passed in {time.monotonic() - began:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
