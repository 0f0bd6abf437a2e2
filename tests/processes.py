"""Helpers for tests that run a program (the server, a real peer) as a separate process."""

from __future__ import annotations

import subprocess
import time
from typing import Callable

import pytest
import requests


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


def wait_until_answering(process: subprocess.Popen, url: str, output: Callable[[], str], name: str,
                         timeout: float) -> None:
    """Poll `url` until it answers 200; else stop the process and fail the test with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with status {process.returncode}:\n{output()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    stop_process(process)
    pytest.fail(f"GET {url} did not answer 200 within {timeout} s; {name} output:\n{output()}")
