"""Voice codes: request one (generated or given), check what the person typed back.

Every refusal here — a forbidden destination, a rate limit — is specific,
places no call and is recorded.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from voice import metrics
from voice.calls.legs import LegStore, new_otp_leg
from voice.calls.lifecycle import PLACE
from voice.calls.limits import Limit, RateLimited, Refused, rate_refusal
from voice.calls.models import Leg, Requester
from voice.calls.numbers import PhoneNumber
from voice.calls.policy import DestinationPolicy, refusal_for
from voice.codes.calls import REPORT_CALL
from voice.codes.models import CheckResult, CodeRecord, generate_code, hash_code
from voice.codes.store import NewCode, OtpStore
from voice.queue.work import WorkQueue
from voice.store.db import transaction
from voice.store.sealing import SecretBox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OtpConfig:
    length: int = 6
    ttl: timedelta = timedelta(minutes=10)
    max_checks: int = 5
    hash_key: str = ""
    limits: tuple[Limit, ...] = field(default_factory=tuple)


def default_limits(per_number_10min: int, per_number_day: int, per_requester_hour: int) -> tuple[Limit, ...]:
    return (
        Limit("number", timedelta(minutes=10), per_number_10min, "calls to one number per 10 minutes"),
        Limit("number", timedelta(days=1), per_number_day, "calls to one number per 24 hours"),
        Limit("requester", timedelta(hours=1), per_requester_hour, "calls by one requester per hour"),
    )


#: A code's source when an app asked through the HTTP API (else "slack").
API = "api"


@dataclass(frozen=True)
class CodeOrder:
    number: PhoneNumber
    requester: Requester
    source: str  # "slack" or API
    code: str | None = None  # None: generate one
    language: str | None = None
    request_id: str | None = None


def code_owner(requester: Requester, source: str) -> str:
    """Whose code it is: the API key that asked (its requester ID, "api:" and the key's fingerprint,
    never the key), or the Slack workspace. Only its owner can check it, spend its tries or replace it;
    the number's rate limits still count every owner's calls, as they protect the callee."""
    return requester.user_id if source == API else requester.team_id


class OtpService:
    def __init__(self, engine: Engine, store: OtpStore, legs: LegStore, queue: WorkQueue, config: OtpConfig, *,
                 policy: DestinationPolicy, box: SecretBox, clock: Callable[[], datetime]):
        self.engine = engine
        self.store = store
        self.legs = legs
        self.queue = queue
        self.config = config
        self.policy = policy
        self.box = box
        self.clock = clock

    def refusal_for(self, number: PhoneNumber) -> str | None:
        """Why `number` may not be called (country, number type, our own number); None if it may."""
        return refusal_for(number, self.policy)

    def refusal(self, order: CodeOrder) -> Refused | None:
        """What `request` would refuse now (destination, rate limits); no side effects."""
        reason = self.refusal_for(order.number)
        if reason:
            return Refused("destination", reason)
        limited = self.store.first_limit_reached(
            list(self.config.limits), order.number.e164, order.requester.user_id, order.requester.team_id, self.clock()
        )
        return rate_refusal(limited) if limited else None

    def screen(self, order: CodeOrder) -> None:
        """Refuse at once, and record, what `request` would refuse; reserves nothing."""
        refused = self.refusal(order)
        if refused:
            self._record(order, refused)
            raise refused

    def request(self, order: CodeOrder) -> tuple[CodeRecord, Leg] | None:
        """Store a new code for the number (replacing a live one), its call, and the work of
        placing and reporting it, in one transaction.

        None when `order.request_id` was seen before. Raises Refused.
        """
        now = self.clock()
        reason = self.refusal_for(order.number)
        if reason:
            self._record(order, refused := Refused("destination", reason))
            raise refused
        code = order.code or generate_code(self.config.length)
        new_code = NewCode(
            number=order.number.e164,
            code_hash=hash_code(self.config.hash_key, order.number.e164, code),
            requester_id=order.requester.user_id,
            channel_id=order.requester.channel_id,
            source=order.source,
            ttl=self.config.ttl,
            max_checks=self.config.max_checks,
            team_id=order.requester.team_id,
            owner=code_owner(order.requester, order.source),
        )
        token = secrets.token_urlsafe(24)
        row = new_otp_leg(
            token=token, to_number=order.number.e164, requester=order.requester,
            sealed_code=self.box.seal(code, token), code_length=len(code), request_id=order.request_id, now=now,
            language=order.language,
        )
        try:
            with transaction(self.engine) as conn:
                opened = self.store.open(conn, new_code, row, list(self.config.limits), now)
                # The outbox: the call is placed and reported once this commits, whatever happens next.
                self.queue.poke(conn, REPORT_CALL, token)
                self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")
            return opened
        except RateLimited as limited:
            self._record(order, refused := rate_refusal(limited))
            raise refused from None
        except IntegrityError:
            return None  # the same request delivered twice

    def check(self, number: PhoneNumber, typed: str, owner: str = "") -> CheckResult:
        """Check a code typed back to `owner` (see code_owner): a Slack workspace, or an API key."""
        return self.store.check(self.config.hash_key, owner, number.e164, typed, self.clock())

    def get(self, code_id: str) -> tuple[CodeRecord, Leg | None] | None:
        code = self.store.get(code_id)
        if code is None:
            return None
        return code, (self.legs.get(code.call_token) if code.call_token else None)

    def refuse(self, *, source: str, requester: Requester, number: str | None, kind: str, reason: str) -> None:
        """Record a refusal decided elsewhere (who may call, where)."""
        metrics.REFUSALS.labels(kind).inc()
        self.store.record_refusal(source=source, requester_id=requester.user_id, channel_id=requester.channel_id,
                                  number=number, kind=kind, reason=reason, now=self.clock())

    def _record(self, order: CodeOrder, refused: Refused) -> None:
        self.refuse(source=order.source, requester=order.requester, number=order.number.e164,
                    kind=refused.kind, reason=str(refused))
        log.info("refused a code to %s…: %s", order.number.e164[:5], refused.kind)

