"""Waking the workers of other processes the moment work is committed, instead of at their next poll.

The workers poll the queue now and then in any case (a lost wake-up only
delays an item to the next poll); a wake-up makes a call go out within
milliseconds of the acknowledgement even when the request was served by
another process.

- PostgreSQL: NOTIFY on a channel, sent in the transaction that added the
  work, so it is delivered when (and only if) that transaction commits, to
  every instance that LISTENs (https://www.postgresql.org/docs/current/sql-notify.html).
- SQLite (one host): a datagram on a Unix socket in Linux's abstract
  namespace, named after the database file, sent after the commit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import threading
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

log = logging.getLogger(__name__)

CHANNEL = "voicebridge_work"


class WakeUp:
    """Tells other processes' workers that there is work (a no-op where no means is known)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._address = _socket_address(engine)
        self._sender: socket.socket | None = None

    def in_transaction(self, conn: Connection) -> None:
        """Called inside the transaction that adds work (PostgreSQL notifies on commit)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    def after_commit(self) -> None:
        """Called once the work is committed (SQLite: a datagram to the local workers)."""
        if self._address is None:
            return
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            self._sender.sendto(b"w", self._address)
        except OSError:
            pass  # nobody listening (no worker here, or it is busy): it polls anyway

    def listen(self, woken: Callable[[], None]) -> Callable[[], None] | None:
        """Call `woken` whenever another process says there is work; returns a stop function."""
        if self.engine.dialect.name == "postgresql":
            return _listen_postgresql(self.engine, woken)
        if self._address is not None:
            return _listen_socket(self._address, woken)
        return None


def _socket_address(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite" or not sys.platform.startswith("linux"):
        return None
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        return None
    digest = hashlib.sha256(os.path.abspath(database).encode()).hexdigest()[:24]
    return f"\0voicebridge-{digest}"  # the abstract namespace: no file to clean up


def _listen_socket(address: str, woken: Callable[[], None]) -> Callable[[], None] | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        log.info("another worker process listens for wake-ups on this database; this one polls")
        return None
    sock.settimeout(1.0)
    stopped = threading.Event()

    def loop() -> None:
        while not stopped.is_set():
            try:
                sock.recv(64)
            except socket.timeout:
                continue
            except OSError:
                return
            woken()

    threading.Thread(target=loop, name="work-wakeup", daemon=True).start()

    def stop() -> None:
        stopped.set()
        sock.close()

    return stop


def _listen_postgresql(engine: Engine, woken: Callable[[], None]) -> Callable[[], None]:
    stopped = threading.Event()

    def loop() -> None:
        while not stopped.is_set():
            try:
                raw = engine.raw_connection()
                try:
                    driver = raw.driver_connection
                    driver.autocommit = True
                    driver.execute(f"LISTEN {CHANNEL}")
                    while not stopped.is_set():
                        for _ in driver.notifies(timeout=1.0, stop_after=1):
                            woken()
                finally:
                    raw.invalidate()  # the connection LISTENs: never hand it back to the pool
            except Exception:
                if not stopped.is_set():
                    log.warning("listening for new work failed; polling meanwhile", exc_info=True)
                    stopped.wait(5.0)

    threading.Thread(target=loop, name="work-wakeup", daemon=True).start()
    return stopped.set
