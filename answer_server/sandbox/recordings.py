"""The simulated recordings of <Record>: what the caller said and for how long, kept in memory for the run,
each at a URL of the sandbox's own (a real one is an MP3 at media.plivo.com). Its page says what was said:
nothing here makes sound."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Recording:
    id: str
    url: str
    call_uuid: str
    seconds: float
    said: tuple[str, ...]
    at: datetime

    def page(self) -> str:
        said = "\n".join(f"  “{line}”" for line in self.said) or "  (nothing: silence)"
        return (f"A simulated recording of the VoiceBridge sandbox (no audio: a real one is an MP3 from Plivo).\n\n"
                f"Recording {self.id}, call {self.call_uuid}, {self.seconds:.1f} s, "
                f"at {self.at:%Y-%m-%d %H:%M:%S} UTC. The caller said:\n{said}\n")


class Recordings:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._by_id: dict[str, Recording] = {}

    def add(self, call_uuid: str, seconds: float, said: list[str], at: datetime) -> Recording:
        recording_id = secrets.token_hex(16)
        recording = Recording(recording_id, f"{self.base_url}/{recording_id}", call_uuid, seconds, tuple(said), at)
        with self._lock:
            self._by_id[recording_id] = recording
        return recording

    def get(self, recording_id: str) -> Recording | None:
        with self._lock:
            return self._by_id.get(recording_id)
