"""What a log line is about: the call, the alert, the Slack team, the request.

Set where it is known (a webhook knows its call, a worker its item, a Slack
request its team) and read by the log formatter, so a JSON line carries it
without every call to `log.info` repeating it. Context variables: each
request thread and each worker thread has its own.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

#: The fields a line may carry, in the order a JSON line shows them.
FIELDS = ("call", "alert", "team", "request", "work")

_context: ContextVar[dict[str, str]] = ContextVar("log_context", default={})


def current() -> dict[str, str]:
    return _context.get()


@contextmanager
def log_context(**fields: str | int | None) -> Iterator[None]:
    """Add `fields` (None ones left out) to every line logged inside the block."""
    known = {name: str(value) for name, value in fields.items() if value is not None and name in FIELDS}
    token = _context.set({**_context.get(), **known})
    try:
        yield
    finally:
        _context.reset(token)


def token_for_log(token: str) -> str:
    """Enough of a call's token to follow it through the log, not enough to use it."""
    return token[:6]
