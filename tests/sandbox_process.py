"""`python -m answer_server --sandbox` in its own process, for end-to-end and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import stop_process
from tests.sandbox_server import RunningSandbox, free_port

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0


class SandboxProcess:
    def __init__(self, cwd: Path, extra_env: dict[str, str] | None = None, speed: float = 20):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / "sandbox.log"
        env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
               "PORT": str(self.port), "SANDBOX_SPEED": str(speed),
               "DATABASE_URL": f"sqlite:///{cwd / 'sandbox.sqlite3'}"} | (extra_env or {})
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "answer_server", "--sandbox"], cwd=cwd, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.client = RunningSandbox(self.url, None, None)

    def wait_until_ready(self) -> str:
        """The console line the process printed, once it is serving."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the sandbox exited with {self.process.returncode}:\n{self.output()}")
            line = next((l for l in self.output().splitlines() if l.startswith("Sandbox console:")), None)
            if line:
                return line
            time.sleep(0.05)
        raise AssertionError(f"no console line within {STARTUP_TIMEOUT} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
