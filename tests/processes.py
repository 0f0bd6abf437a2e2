"""Helpers for tests that run the server as a separate process."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen) -> None:
    """Ask the process to stop (SIGTERM), and kill it if it has not within 5 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
