"""Codes, rate limits and refusals in the database, shared by every instance.

Opening a code, checking the rate limits and storing its call happen in one
transaction (serialised per number and requester on PostgreSQL), so two
instances cannot both squeeze under a limit or both hold a live code.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.calls.legs import leg_from_row
from voice.calls.limits import Limit, RateLimited, check, serialise
from voice.calls.models import OTP, Leg
from voice.clock import as_utc
from voice.codes.models import (
    DEAD,
    EXPIRED,
    LIVE,
    REPLACED,
    VERIFIED,
    CheckResult,
    CodeRecord,
    matches,
)
from voice.store.db import reading, transaction
from voice.store.schema import legs, otp_codes, refusals


@dataclass(frozen=True)
class NewCode:
    number: str
    code_hash: str
    requester_id: str
    channel_id: str
    source: str
    ttl: timedelta
    max_checks: int
    team_id: str = ""  # the requester's Slack workspace ("" for the HTTP API): their limit is counted in it
    #: Whose code it is: the Slack workspace that asked, or the API key ("api:<its fingerprint>"). One
    #: live code per number and owner: only its owner checks it, spends its tries or replaces it.
    owner: str = ""


class OtpStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def open(self, conn: Connection, code: NewCode, leg_row: dict, limits: list[Limit],
             now: datetime) -> tuple[CodeRecord, Leg]:
        """Check the limits, replace any live code for the number, store the code and its call,
        in the caller's transaction.

        Raises RateLimited, naming the first limit reached and when it frees up.
        """
        code_id = "otp_" + secrets.token_urlsafe(18)
        serialise(conn, code.number, f"{code.team_id}:{code.requester_id}")
        for limit in limits:
            self._enforce(conn, limit, code.number if limit.scope == "number" else code.requester_id,
                          code.team_id, now)
        self._retire_live(conn, code.owner, code.number, REPLACED)
        conn.execute(insert(otp_codes).values(
            id=code_id, number=code.number, live_number=code.number, team_id=code.owner, code_hash=code.code_hash,
            status=LIVE, checks_left=code.max_checks, requester_id=code.requester_id,
            channel_id=code.channel_id, source=code.source, call_token=leg_row["token"],
            created_at=now, expires_at=now + code.ttl,
        ))
        leg = conn.execute(insert(legs).values(**(leg_row | {"code_id": code_id})).returning(*legs.c)).mappings().one()
        code_row = conn.execute(select(otp_codes).where(otp_codes.c.id == code_id)).mappings().one()
        return _code(code_row), leg_from_row(leg)

    def first_limit_reached(self, limits: list[Limit], number: str, requester_id: str, team_id: str,
                            now: datetime) -> RateLimited | None:
        """A read-only look at the limits, for a quick answer before the real reservation."""
        with reading(self.engine) as conn:
            try:
                for limit in limits:
                    self._enforce(conn, limit, number if limit.scope == "number" else requester_id, team_id, now)
            except RateLimited as limited:
                return limited
        return None

    def check(self, key: str, owner: str, number: str, typed: str, now: datetime) -> CheckResult:
        """Check a typed-back code against `owner`'s live code for `number` (a workspace's, or an API
        key's), spending a try if wrong. Another owner's code is not seen: "no code"."""
        with transaction(self.engine) as conn:
            row = conn.execute(select(otp_codes).where(
                otp_codes.c.team_id == owner, otp_codes.c.live_number == number)).mappings().first()
            if row is None:
                latest = conn.execute(
                    select(otp_codes).where(otp_codes.c.team_id == owner, otp_codes.c.number == number)
                    .order_by(otp_codes.c.created_at.desc())
                ).mappings().first()
                return _finished(latest)
            if now >= as_utc(row["expires_at"]):
                self._retire_live(conn, owner, number, EXPIRED)
                return CheckResult(EXPIRED, 0, _code(row))
            if matches(key, number, typed, row["code_hash"]):
                return self._verify(conn, row, now)
            return self._spend_try(conn, row)

    def get(self, code_id: str) -> CodeRecord | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(otp_codes).where(otp_codes.c.id == code_id)).mappings().first()
        return _code(row) if row else None

    def record_refusal(self, *, source: str, requester_id: str, channel_id: str, number: str | None,
                       kind: str, reason: str, now: datetime) -> None:
        with transaction(self.engine) as conn:
            conn.execute(insert(refusals).values(
                created_at=now, source=source, requester_id=requester_id, channel_id=channel_id,
                number=number, kind=kind, reason=reason,
            ))

    def refusal_kinds(self) -> list[str]:
        """Every recorded refusal's kind, oldest first (for audits and tests)."""
        with reading(self.engine) as conn:
            return list(conn.execute(select(refusals.c.kind).order_by(refusals.c.id)).scalars())

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _enforce(conn: Connection, limit: Limit, who: str, team_id: str, now: datetime) -> None:
        if limit.maximum <= 0:
            return
        # A number's limits protect its owner, whichever workspace asks (N workspaces must not call a
        # number N times as often); a requester's are their workspace's, where their user ID belongs.
        where = [legs.c.to_number == who] if limit.scope == "number" else [legs.c.requester_id == who,
                                                                          legs.c.team_id == team_id]
        recent = list(conn.execute(
            select(legs.c.created_at)
            .where(legs.c.purpose == OTP, *where, legs.c.created_at > now - limit.window)
            .order_by(legs.c.created_at)
        ).scalars())
        check(recent, limit)

    @staticmethod
    def _retire_live(conn: Connection, owner: str, number: str, status: str) -> None:
        old = conn.execute(select(otp_codes.c.id).where(
            otp_codes.c.team_id == owner, otp_codes.c.live_number == number)).scalar()
        if old is None:
            return
        conn.execute(update(otp_codes).where(otp_codes.c.id == old).values(status=status, live_number=None))
        # A call still under way for the old code must not read it any more.
        conn.execute(update(legs).where(legs.c.code_id == old).values(secret=None))

    @staticmethod
    def _verify(conn: Connection, row: RowMapping, now: datetime) -> CheckResult:
        result = conn.execute(
            update(otp_codes)
            .where(otp_codes.c.id == row["id"], otp_codes.c.status == LIVE, otp_codes.c.checks_left > 0)
            .values(status=VERIFIED, live_number=None, verified_at=now)
        )
        if result.rowcount != 1:
            return CheckResult(DEAD, 0, _code(row))
        conn.execute(update(legs).where(legs.c.code_id == row["id"]).values(secret=None))
        fresh = conn.execute(select(otp_codes).where(otp_codes.c.id == row["id"])).mappings().one()
        return CheckResult(VERIFIED, fresh["checks_left"], _code(fresh))

    @staticmethod
    def _spend_try(conn: Connection, row: RowMapping) -> CheckResult:
        # One atomic decrement: concurrent wrong guesses each cost a try.
        last_try = otp_codes.c.checks_left <= 1
        result = conn.execute(
            update(otp_codes)
            .where(and_(otp_codes.c.id == row["id"], otp_codes.c.status == LIVE, otp_codes.c.checks_left > 0))
            .values(
                checks_left=otp_codes.c.checks_left - 1,
                status=case((last_try, DEAD), else_=otp_codes.c.status),
                live_number=case((last_try, None), else_=otp_codes.c.live_number),
            )
        )
        fresh = conn.execute(select(otp_codes).where(otp_codes.c.id == row["id"])).mappings().one()
        if result.rowcount != 1 or fresh["status"] == DEAD:
            conn.execute(update(legs).where(legs.c.code_id == row["id"]).values(secret=None))
            return CheckResult(DEAD, 0, _code(fresh))
        return CheckResult("wrong", fresh["checks_left"], _code(fresh))


def _finished(row: RowMapping | None) -> CheckResult:
    if row is None:
        return CheckResult("no_code", 0)
    outcome = {VERIFIED: "already_verified", DEAD: DEAD, EXPIRED: EXPIRED}.get(row["status"], "no_code")
    return CheckResult(outcome, 0, _code(row))


def _code(row: RowMapping) -> CodeRecord:
    return CodeRecord(
        id=row["id"],
        number=row["number"],
        status=row["status"],
        created_at=as_utc(row["created_at"]),
        expires_at=as_utc(row["expires_at"]),
        checks_left=row["checks_left"],
        requester_id=row["requester_id"],
        channel_id=row["channel_id"],
        source=row["source"],
        call_token=row["call_token"],
        verified_at=as_utc(row["verified_at"]),
    )


def code_is_expired(code: CodeRecord, now: datetime) -> bool:
    return code.status == EXPIRED or (code.status == LIVE and now >= code.expires_at)

