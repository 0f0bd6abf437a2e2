"""What the figures were measured on: they only compare within one machine and one run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.servers import ROOT, gunicorn_version


def machine_info() -> dict:
    return {
        "nproc": _nproc(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "git": _git(),
        "gunicorn": gunicorn_version(),
        "wrk": _wrk_version(),
    }


def _nproc() -> int | None:
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True, timeout=5, check=False).stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return os.cpu_count()


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git() -> dict:
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # Dirty: tracked files differ from the commit. Untracked files (bench/ itself, before it is
    # committed) are counted apart, so they do not hide whether the server code was the commit's.
    tracked = run("status", "--porcelain", "--untracked-files=no")
    untracked = run("ls-files", "--others", "--exclude-standard")
    return {"commit": run("rev-parse", "--short", "HEAD"), "root": str(ROOT),
            "dirty": None if tracked is None else bool(tracked),
            "untracked_files": None if untracked is None else len(untracked.splitlines())}


def _wrk_version() -> str | None:
    try:
        done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else None


def session_cpu_seconds(sid: int) -> float:
    """User and system CPU time of every live process of session `sid` (a server and its children)."""
    return sum(seconds for _, seconds in session_processes(sid).values())


def session_processes(sid: int) -> dict[int, tuple[str, float]]:
    """Each live process of session `sid`: its command line and its user and system CPU time so far."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if int(fields[3]) == sid:  # proc(5): session is field 6, utime 14, stime 15
            found[int(entry)] = (command, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return found
