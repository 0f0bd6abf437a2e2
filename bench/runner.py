"""Running one scenario: its own temp files and processes, a time limit, and an error field if it fails.

A scenario is `fn(ctx, stack) -> dict`: everything it starts or creates is
registered on `stack`, which is closed after the time limit has been lifted, so
the clean-up itself is never cut short and no process or file outlives a failure.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress, on stderr: stdout carries only the JSON."""
    print(f"[bench {time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


class ScenarioTimeout(Exception):
    pass


@contextmanager
def deadline(seconds: float, what: str):
    """Raise ScenarioTimeout in the main thread after `seconds`: a stuck wait ends instead of hanging.

    SIGALRM interrupts sleeps and socket waits of the main thread, where every
    scenario runs; the worker threads it waits for all have their own timeouts.
    """
    def expire(_signum, _frame):
        raise ScenarioTimeout(f"{what} did not finish within {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Context:
    quick: bool
    log_dir: Path
    generator: str  # "wrk" or "python"
    postgres_url: str
    failures: list[str] = field(default_factory=list)

    def pick(self, full, quick):
        return quick if self.quick else full

    def logs_for(self, name: str) -> Path:
        path = self.log_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def workdir(stack: ExitStack, name: str) -> Path:
        """A temporary directory (databases, request files), removed when `stack` closes."""
        path = Path(tempfile.mkdtemp(prefix=f"voicebridge-bench-{name}-"))
        stack.callback(shutil.rmtree, path, ignore_errors=True)
        return path


def isolated(ctx: Context, name: str, budget: float, fn: Callable[[Context, ExitStack], dict]) -> dict:
    """Run `fn` within `budget` seconds; on any failure, a result with "error" (and where the logs are)."""
    say(f"{name}: start")
    began = time.monotonic()
    stack = ExitStack()
    result: dict
    try:
        try:
            with deadline(budget, name):
                result = fn(ctx, stack)
        finally:
            stack.close()  # outside the deadline: stopping servers must not be interrupted
    except Exception as error:  # noqa: BLE001 — one scenario failing must not lose the others
        ctx.failures.append(name)
        logs = ctx.logs_for(name)
        result = {"error": f"{type(error).__name__}: {error}", "logs": str(logs)}
        (logs / "bench-traceback.txt").write_text(traceback.format_exc())
        say(f"{name}: FAILED: {result['error']} (logs in {logs})")
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    say(f"{name}: done in {result['elapsed_s']} s")
    return result
