"""A PostgreSQL cluster of a test's own, to stop (`pg_ctl stop -m immediate`, as a crash) and start again.

initdb in a temporary directory and a free port on 127.0.0.1, trust authentication, no fsync (a test's
data need not survive a power cut, only PostgreSQL's own crash). PostgreSQL refuses to run as root: as root, its commands run as the
`postgres` user (runuser). Skips the test where PostgreSQL's binaries are not installed.
https://www.postgresql.org/docs/current/app-pg-ctl.html
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.server_process import free_port


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PrivatePostgres:
    def __init__(self):
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
        self.root = Path(tempfile.mkdtemp(prefix="voicebridge-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # fsync off: what a commit wrote survives PostgreSQL's crash (it is in the system's cache), not the
        # machine's. Commits stay synchronous: an immediate stop must not lose what was acknowledged.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-o", options,
                  "start")

    def stop_immediately(self) -> None:
        """As a crash: every connection dropped at once, no checkpoint (recovery runs at the next start)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(self._as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"),
                       capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *command: str) -> None:
        done = subprocess.run(self._as_postgres(*command), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stdout}{done.stderr}")

    @staticmethod
    def _as_postgres(*command: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)
