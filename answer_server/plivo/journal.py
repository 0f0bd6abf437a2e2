"""Plivo's callbacks that could not be recorded (the database was out): kept on local disk, applied once it is back.

Plivo does not send a callback again because we could not record it. Its webhooks are retried by default
only when the connection fails or no reply comes within the read timeout, once, all within 55 s
(`rp=ct,rt`, `rc=1`, `tt=55000`); a 5xx is retried only where the URL asks for it with `#rp=5xx`, and
then at most 5 times within those 55 s (https://www.plivo.com/docs/voice/concepts/callback-configurations/,
for answer_url, hangup_url, ring_url, machine_detection_url, the XML's action and callbackUrl). Only
answer_url has more: 3 tries, then fallback_url (https://www.plivo.com/docs/voice/api/call/make-a-call).
So a 5xx would not carry a hangup through a database restart, and a 200 tells Plivo it is done.

What a callback only reports (the ring, machine detection, the hangup, the voice bridge's enter and exit)
is therefore written here before Plivo gets its answer: one JSON line in an append-only file of this
process, fsync'd. Once the database answers again, each line is applied by the same code the webhook runs,
in the order they came, as of the moment each came (voice/clock.py's `arrived_at`). That code changes a
call only forward and once, so a line applied twice (a crash between applying it and forgetting it)
changes nothing the second time.

Each process writes a file of its own, created on its first line, and holds an exclusive lock on it
(flock) for as long as it lives; a file nobody holds is a dead process's, and the next process that
looks adopts it. A line holds only what a progress event reads: never Digits, never a code.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

#: The fields a progress event reads (answer_server/plivo/requests.py): all a line keeps.
KEPT_FIELDS = ("CallUUID", "CallStatus", "HangupCause", "HangupCauseCode", "HangupCauseName", "Duration",
               "TotalCost", "Machine", "ConferenceAction", "ConferenceMemberID")
_MAX_FIELD = 128  # longer values are not of Plivo's shapes, and are refused when applied anyway
_PREFIX = "callbacks-"
_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Entry:
    """One callback kept: which webhook (`hook`, its blueprint) and event, the call's token, and its fields."""

    hook: str
    event: str
    token: str
    fields: dict[str, str]
    arrived: datetime


def kept_fields(fields: dict[str, str]) -> dict[str, str]:
    """Only what a progress event reads, each value bounded."""
    return {name: fields[name][:_MAX_FIELD] for name in KEPT_FIELDS if name in fields}


def entry_line(entry: Entry) -> bytes:
    """One entry as one line of JSON. Pure."""
    return json.dumps({"hook": entry.hook, "event": entry.event, "token": entry.token,
                       "fields": kept_fields(entry.fields), "arrived": entry.arrived.isoformat()},
                      separators=(",", ":")).encode() + b"\n"


def parse_line(line: bytes) -> Entry | None:
    """An entry from its line; None for a line cut short (a crash mid-write) or not ours. Pure."""
    try:
        raw = json.loads(line)
        fields = raw["fields"]
        entry = Entry(hook=raw["hook"], event=raw["event"], token=raw["token"],
                      fields={str(name): str(value) for name, value in fields.items()},
                      arrived=datetime.fromisoformat(raw["arrived"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(value, str) for value in (entry.hook, entry.event, entry.token)) \
            or entry.arrived.tzinfo is None:
        return None
    return entry


class CallbackJournal:
    """This process's file of kept callbacks, in `directory`, and the files dead processes left there."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()  # one writer at a time in this process; the file is forgotten under it
        self._fd: int | None = None
        self._path: Path | None = None
        self._applied = 0  # bytes of this process's file applied so far

    def record(self, entry: Entry) -> None:
        """Keep `entry`, on disk, before the caller answers Plivo (raises OSError if it cannot)."""
        line = entry_line(entry)
        with self._lock:
            fd = self._own_file()
            os.write(fd, line)  # O_APPEND: one write, one whole line
            os.fsync(fd)

    def pending(self) -> bool:
        """Whether anything kept waits to be applied: this process's lines, or a file another left."""
        with self._lock:
            if self._fd is not None:
                return True
        return any(True for _ in self._others())

    def replay(self, apply: Callable[[Entry], None]) -> int:
        """Apply every line kept, oldest first, through `apply`; each file is forgotten once all of it is
        applied. An exception from `apply` (the database is out again) stops here: what is left stays
        kept, for the next try. How many lines were applied."""
        return self._replay_orphans(apply) + self._replay_own(apply)

    def close(self) -> None:
        """Let go of this process's file (kept if anything in it is not applied yet)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = self._path = None

    # -- internals --------------------------------------------------------------------------------

    def _own_file(self) -> int:
        if self._fd is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
            fd = os.open(self.directory / f".{name}", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # ours while we live: nobody adopts it
            path = self.directory / name
            os.rename(self.directory / f".{name}", path)  # locked before anyone looking for files can see it
            _fsync_directory(self.directory)  # the new name survives a power cut too
            self._fd, self._path, self._applied = fd, path, 0
        return self._fd

    def _replay_own(self, apply: Callable[[Entry], None]) -> int:
        applied = 0
        while True:
            with self._lock:
                if self._path is None:
                    return applied
                path, start = self._path, self._applied
            with open(path, "rb") as file:
                file.seek(start)
                data = file.read()
            done = data.rfind(b"\n") + 1  # a line still being written is left for the next pass
            for line in data[:done].splitlines(keepends=True):
                applied += _apply_line(line, apply)
                with self._lock:
                    self._applied += len(line)
            with self._lock:
                if self._fd is not None and os.fstat(self._fd).st_size == self._applied:
                    # All applied, and nothing came meanwhile (writers wait for this lock): forgotten. The
                    # name goes first, so nobody can adopt the file between the two.
                    os.unlink(self._path)
                    os.close(self._fd)
                    self._fd = self._path = None
                    return applied

    def _replay_orphans(self, apply: Callable[[Entry], None]) -> int:
        applied = 0
        for path in self._others():
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # another process adopted and finished it
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive: it applies its own
                if os.fstat(fd).st_nlink == 0:
                    continue  # finished by another process while we waited for it
                with os.fdopen(os.dup(fd), "rb") as file:
                    lines = file.read().splitlines(keepends=True)
                for line in lines:
                    applied += _apply_line(line, apply)
                os.unlink(path)
                log.info("applied the callbacks kept by a process that is gone (%s)", path.name)
            finally:
                os.close(fd)  # the lock goes with it
        return applied

    def _others(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted((path for path in self.directory.glob(f"{_PREFIX}*{_SUFFIX}") if path != self._path),
                      key=_age)


def _apply_line(line: bytes, apply: Callable[[Entry], None]) -> int:
    entry = parse_line(line)
    if entry is None:
        log.warning("skipped a kept callback that cannot be read (cut short by a crash?)")
        return 0
    apply(entry)
    return 1


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalReplayer:
    """Applies what the journal keeps, every `interval` seconds, until nothing is left: a thread of its own,
    started when a callback is kept (or a dead process's file is found), gone when the journal is empty."""

    def __init__(self, journal: CallbackJournal, apply: Callable[[Entry], None], *, interval: float = 0.5):
        self.journal = journal
        self.apply = apply
        self.interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def wake(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="callback-journal", daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self.journal.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if not self.journal.pending():
                    self._thread = None
                    return
            try:
                applied = self.journal.replay(self.apply)
            except Exception:  # noqa: BLE001 - the database is out again: the rest waits for the next pass
                log.debug("the database is still out; kept callbacks wait", exc_info=True)
            else:
                if applied:
                    log.info("applied %d callbacks kept while the database was out", applied)
            self._stopping.wait(self.interval)
        with self._lock:
            self._thread = None
