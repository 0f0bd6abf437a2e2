"""The HTTP API's requests and answers, as pure functions: parsing bodies into
values, and stored records into JSON bodies and errors. No Flask here.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from voice.calls.models import CALLING, DIALLING, Leg
from voice.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone_number
from voice.calls.outcomes import Outcome
from voice.codes.models import LIVE, VERIFIED, CheckResult, CodeRecord
from voice.codes.service import Refused
from voice.codes.store import code_is_expired
from voice.schedules.models import Segment
from voice.speech.languages import (
    UnknownLanguage,
    parse_language_tag,
    supported_languages,
)

PREFIX = "/api/v1"
#: A request body is a few dozen bytes; anything much larger is not one of ours.
MAX_BODY = 4096

_CODE = re.compile(r"[0-9]{4,10}")  # ASCII only: str.isdigit() also takes "²" and "٣"
# Printable ASCII, and short enough to fit the stored request id with its prefix.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")
_MAX_NUMBER_TEXT = 40  # longer cannot be a phone number; keeps the echo in a message short

#: How far from now `at` may be: years of shifts are cheap, but the year 9999 overflows datetime's arithmetic.
MAX_AT_DISTANCE = timedelta(days=100 * 366)
# A "+hh:mm" offset sent unencoded in a query string reads as " hh:mm" ("+" is a space in a query):
# https://url.spec.whatwg.org/#urlencoded-parsing
_SPACED_OFFSET = re.compile(r"(.*[0-9]) ([0-9]{2}(?::?[0-9]{2})?)")
_MAX_AT_TEXT = 64
_AT_HELP = ("Give at as an ISO 8601 time with its offset, e.g. 2026-12-07T09:00:00Z or "
            "2026-12-07T10:00:00%2B01:00 (a + in a URL is written %2B).")

_OTP_FIELDS = ({"to"}, {"code", "lang"})
_CHECK_FIELDS = ({"to", "code"}, set())


# -- values ------------------------------------------------------------------


@dataclass(frozen=True)
class ApiError:
    """An answer other than success: HTTP status, stable code, a sentence for a person."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ApiOtpRequest:
    number: PhoneNumber
    code: str | None  # None: generate one
    language: str | None


@dataclass(frozen=True)
class ApiCheckRequest:
    number: PhoneNumber
    code: str


# -- parsing: pure functions of the decoded body ------------------------------


def parse_otp_request(body: object) -> ApiOtpRequest | ApiError:
    """`{"to", "code"?, "lang"?}` into a request, or the first problem found."""
    fields = _fields(body, *_OTP_FIELDS)
    if isinstance(fields, ApiError):
        return fields
    number = _number(fields["to"])
    code = _code(fields.get("code"), optional=True)
    language = _language(fields.get("lang"))
    for part in (number, code, language):
        if isinstance(part, ApiError):
            return part
    return ApiOtpRequest(number, code, language)


def parse_check_request(body: object) -> ApiCheckRequest | ApiError:
    """`{"to", "code"}` into a check, or the first problem found."""
    fields = _fields(body, *_CHECK_FIELDS)
    if isinstance(fields, ApiError):
        return fields
    number = _number(fields["to"])
    code = _code(fields["code"], optional=False)
    for part in (number, code):
        if isinstance(part, ApiError):
            return part
    return ApiCheckRequest(number, code)


def _fields(body: object, required: set[str], optional: set[str]) -> dict | ApiError:
    if not isinstance(body, dict):
        return ApiError(400, "invalid_json", "The body must be a JSON object.")
    # Strict: a misspelt optional field ("language") would otherwise be dropped silently.
    unknown = sorted(set(body) - required - optional)
    if unknown:
        return ApiError(422, "unknown_field", f"Unknown field: {_quoted(unknown[0])}. "
                        f"Allowed: {', '.join(sorted(required | optional))}.")
    missing = sorted(required - set(body))
    if missing:
        return ApiError(422, "missing_field", f"The field {missing[0]} is required.")
    # null is allowed for an optional field, as many JSON encoders write it for "not set".
    present = {name: value for name, value in body.items() if not (value is None and name in optional)}
    for name, value in present.items():
        if not isinstance(value, str):
            return ApiError(422, "invalid_type", f"The field {name} must be a string.")
    return present


def _number(text: str) -> PhoneNumber | ApiError:
    if len(text) > _MAX_NUMBER_TEXT:
        return ApiError(422, "invalid_number", "to is too long to be a phone number.")
    try:
        return parse_phone_number(text)
    except InvalidPhoneNumber as error:
        return ApiError(422, "invalid_number", error.reason)


def _code(text: str | None, *, optional: bool) -> str | None | ApiError:
    if text is None and optional:
        return None
    if text is None or not _CODE.fullmatch(text):
        # Never echo the value: it may be a real code with a typo in it.
        return ApiError(422, "invalid_code", "code must be 4 to 10 digits (0-9), as a string.")
    return text


def _language(text: str | None) -> str | None | ApiError:
    if text is None:
        return None
    try:
        return parse_language_tag(text)
    except UnknownLanguage:
        return ApiError(422, "invalid_lang", f"lang {_quoted(text)} is not a language the calls speak; "
                        f"use one of {', '.join(supported_languages())} (e.g. es or es-MX).")


def _quoted(text: str) -> str:
    return json.dumps(text[:40])


def parse_idempotency_key(value: str | None, label: str) -> str | None | ApiError:
    """The stored request id for an Idempotency-Key header: scoped to the API key, so two
    apps choosing the same key do not collide."""
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        return ApiError(400, "invalid_header", "Idempotency-Key must be 1 to 100 printable ASCII characters.")
    return f"api:{label}:{value}"


def parse_oncall_query(args: Mapping[str, Sequence[str]], now: datetime) -> datetime | ApiError:
    """The moment `?at=` asks about (now when it is absent), from the query's values by name."""
    unknown = sorted(set(args) - {"at"})
    if unknown:
        return ApiError(400, "unknown_parameter", f"Unknown query parameter: {_quoted(unknown[0])}. Allowed: at.")
    given = args.get("at") or []
    if not given:
        return now
    if len(given) > 1:
        return ApiError(400, "invalid_at", "Give at once.")
    return parse_at(given[0], now)


def parse_at(text: str, now: datetime) -> datetime | ApiError:
    """An ISO 8601 time with an offset (Z or ±hh:mm), within a century of now; aware, UTC."""
    written = text.strip()
    if len(written) > _MAX_AT_TEXT:
        return ApiError(400, "invalid_at", f"at is too long to be a time. {_AT_HELP}")
    spaced = _SPACED_OFFSET.fullmatch(written)
    if spaced and "T" in written.upper():
        written = f"{spaced[1]}+{spaced[2]}"
    try:
        moment = datetime.fromisoformat(written)  # Python 3.11 reads ISO 8601's common forms, Z included
    except ValueError:
        return ApiError(400, "invalid_at", f"at {_quoted(text)} is not a time this API reads. {_AT_HELP}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return ApiError(400, "invalid_at", f"at {_quoted(text)} has no offset, so it could be any time zone's. "
                        f"{_AT_HELP}")
    # Checked before moving it to UTC: a year-1 time with a negative offset cannot even be moved.
    if abs(moment - now) > MAX_AT_DISTANCE:
        return ApiError(400, "invalid_at", f"at must be within {MAX_AT_DISTANCE.days // 366} years of now.")
    return moment.astimezone(timezone.utc)


# -- presenting: pure functions of the stored records ------------------------


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with Z, to the second (rounded down, so never later than the truth)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def call_status(call: Leg | None) -> str:
    """The API's status of a call: its progress while it lasts, how it ended after."""
    if call is None:
        return "queued"
    if not call.ended:
        # "dialling" is ours (the create-call is on its way); to an app it is calling.
        return CALLING if call.status == DIALLING else call.status
    if call.outcome is Outcome.ANSWERED and call.code_read_at is not None:
        return "completed"
    # An ended "answered" call is one where nobody pressed a key: the code was not read.
    return (call.outcome or Outcome.FAILED).value


def verification(code: CodeRecord, now: datetime) -> str:
    if code.status == LIVE and code_is_expired(code, now):
        return "expired"  # not yet retired in the store: that happens at the next check
    return code.status


def status_body(code: CodeRecord, call: Leg | None, now: datetime) -> dict:
    state = verification(code, now)
    return {
        "id": code.id,
        "to": code.number,
        "status": call_status(call),
        "ended": bool(call and call.ended),
        "code_read": bool(call and call.code_read_at),
        "verified": code.status == VERIFIED,
        "verification": state,
        # Only a live code can still be checked.
        "attempts_left": code.checks_left if state == LIVE else 0,
        "expires_at": iso(code.expires_at),
        "duration": call.duration if call else None,
        "cost": call.cost if call else None,
    }


def check_answer(result: CheckResult) -> dict | ApiError:
    """The answer to a check: 200 for right or wrong, an error when nothing can be checked."""
    if result.outcome in ("verified", "wrong"):
        return {"valid": result.valid, "attempts_left": result.attempts_left}
    if result.outcome == "dead":
        return ApiError(429, "too_many_attempts", "No tries are left: this code is dead. Request a new one.")
    if result.outcome == "expired":
        return ApiError(409, "expired", "The code has expired. Request a new one.")
    if result.outcome == "already_verified":
        return ApiError(409, "already_verified", "The code was already verified; request a new one to verify again.")
    return ApiError(404, "no_code", "No code is waiting for this number. Request one first.")


def refusal_error(refused: Refused, now: datetime) -> ApiError:
    if refused.frees_at is None:
        return ApiError(422, "destination_refused", f"{refused} No call was placed.")
    seconds = max(1, math.ceil((refused.frees_at - now).total_seconds()))
    minutes = max(1, round(seconds / 60))
    return ApiError(
        429, "rate_limited",
        f"{refused} The next call is possible at {iso(refused.frees_at)} (in {minutes} min). No call was placed.",
        (("Retry-After", str(seconds)),),
    )


def oncall_body(schedule: str, at: datetime, segment: Segment) -> dict:
    """Who is on call for `schedule` at `at`: the stretch of time they are on call in (overrides applied)."""
    return {
        "schedule": schedule,
        "at": iso(at),
        "user": segment.user,
        "override": segment.is_override,
        "shift_start": iso(segment.start),
        "shift_end": iso(segment.end),
    }


def unknown_schedule(name: str, known: Sequence[str]) -> ApiError:
    names = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
    return ApiError(404, "unknown_schedule", f"There is no schedule named {_quoted(name)}. "
                    + (f"Schedules: {names}." if known else "No schedule is defined."))
