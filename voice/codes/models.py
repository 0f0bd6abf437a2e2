"""One-time codes: generated with `secrets`, stored only as a keyed hash.

The clear digits live in a call's row only while that call may read them;
what stays is HMAC(key, number:code), checked in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

# A code's status only leaves LIVE once, to one of the others.
LIVE = "live"
VERIFIED = "verified"
DEAD = "dead"  # out of tries
EXPIRED = "expired"
REPLACED = "replaced"  # a newer code was requested for the number


def generate_code(length: int) -> str:
    """A uniformly random code of `length` digits; 0 is a digit like the others."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def hash_code(key: str, number: str, code: str) -> str:
    """The stored form of a code, bound to its number so a hash cannot be reused for another."""
    return hmac.new(key.encode(), f"{number}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(key: str, number: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(key, number, code), stored_hash)


@dataclass(frozen=True)
class CodeRecord:
    id: str  # opaque, public: the API's id
    number: str  # E.164
    status: str
    created_at: datetime
    expires_at: datetime
    checks_left: int
    requester_id: str
    channel_id: str
    source: str  # "slack" or "api"
    call_token: str | None = None
    verified_at: datetime | None = None


@dataclass(frozen=True)
class CheckResult:
    """What a check of a typed-back code found."""

    outcome: str  # "verified", "wrong", "dead", "expired", "no_code", "already_verified"
    attempts_left: int
    code: CodeRecord | None = None

    @property
    def valid(self) -> bool:
        return self.outcome == VERIFIED
