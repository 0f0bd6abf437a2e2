"""What every Plivo webhook shares: the signature check, the form, the XML reply.

Every request is checked against X-Plivo-Signature-V3 before anything is read
or written, over the URL as Plivo called it: PUBLIC_URL + path + query, not
the Host header a proxy or tunnel may rewrite. The signature covers the POSTed
fields, so the form is parsed first: but only once the signature's headers are
there, from a body of at most MAX_BODY_BYTES, and only so many fields.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs

from flask import Blueprint, Response, g, request

from answer_server.http.request_limits import MAX_FORM_FIELDS
from answer_server.plivo.signature import is_valid_signature
from voice.calls.models import HangupReport
from voice.store.db import is_outage
from voice.store.once import PLIVO_NONCE, UsedOnce

log = logging.getLogger(__name__)

# The shape of the opaque tokens we put in callback URLs.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

# Plivo's fields, each checked whole (fullmatch: `$` would also match before a
# final newline, and int() takes " 12\n" and "١٢").
_CALL_UUID = re.compile(r"[A-Za-z0-9-]{1,64}")
_DIGITS = re.compile(r"[0-9*#]{1,32}")
_WHOLE = re.compile(r"[0-9]{1,9}")
_STATUS = re.compile(r"[a-z-]{1,16}")  # completed, no-answer…
_COST = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,10})?")


class Replays:
    """Plivo's requests seen before, by their V3 nonce (X-Plivo-Signature-V3-Nonce): Plivo makes a new one
    for every request it sends, so a signed request that comes again is a copy, sent by whoever captured it.
    Each nonce is kept for as long as the call it belongs to can last, across processes and instances (the
    database: voice/store/once.py).
    https://docs.plivo.com/docs/voice/xml/request/validation"""

    def __init__(self, used: UsedOnce, keep: timedelta):
        self.used = used
        self.keep = keep

    def replayed(self, path: str, nonce: str) -> bool:
        try:
            return not self.used.first_use(PLIVO_NONCE, f"{path}\0{nonce}", self.keep)
        except Exception as error:
            if not is_outage(error, self.used.engine):
                raise
            # Without the database nothing a replay would want (a code, an alert's text) can be read either;
            # the request goes on, and whatever it meets is what a database outage does to any callback
            # (a live call is held until the database is back: answer_server/plivo/webhooks.py). The insert runs on
            # the driver's own cursor, whose errors SQLAlchemy does not wrap: is_outage knows both.
            log.warning("could not record a Plivo request's nonce (%s); served without the replay check",
                        type(error).__name__)
            return False


def require_plivo_signature(bp: Blueprint, *, auth_token: str, public_url: str, replays: Replays | None = None,
                            replayable: frozenset[str] = frozenset()) -> None:
    """Refuse every request to `bp` that Plivo did not sign: 403 (413 for a form of too many fields); and,
    with `replays`, every signed request seen before (403), except to the events in `replayable` (the
    blueprint's `<event>`)."""

    @bp.before_request
    def verify_signature():
        refusal = _refusal(auth_token, public_url)
        if refusal is not None:
            log.warning("refused %s request to %s", refusal.kind, request.path.rsplit("/", 1)[0])
            return Response(refusal.answer + "\n", status=refusal.status, mimetype="text/plain")
        event = (request.view_args or {}).get("event")
        if replays is not None and event not in replayable and replays.replayed(
                request.path, request.headers.get("X-Plivo-Signature-V3-Nonce", "")):
            # Neither the nonce nor the token is logged: the path's first part says enough.
            log.warning("refused a Plivo request to %s sent again (a nonce already used): a replay",
                        request.path.rsplit("/", 1)[0])
            return Response("replayed request\n", status=403, mimetype="text/plain")
        return None


@dataclass(frozen=True)
class _Refusal:
    status: int
    answer: str
    kind: str  # for the log line


_UNSIGNED = _Refusal(403, "invalid signature", "an unsigned")
_FORGED = _Refusal(403, "invalid signature", "a forged")
_TOO_MANY_FIELDS = _Refusal(413, f"too many form fields: at most {MAX_FORM_FIELDS}", "an oversized form's")


class TooManyFields(ValueError):
    """A form with more than MAX_FORM_FIELDS fields (Plivo's callbacks carry about 30)."""


def _refusal(auth_token: str, public_url: str) -> _Refusal | None:
    if not any(request.headers.get(header) for header in _SIGNATURES) \
            or not request.headers.get("X-Plivo-Signature-V3-Nonce"):
        return _UNSIGNED  # its body is not even read
    try:
        return None if _signed_by_plivo(auth_token, public_url) else _FORGED
    except TooManyFields:
        return _TOO_MANY_FIELDS


def params() -> dict[str, str]:
    """Plivo's fields, from the form (POST) or the query (GET); the first value of each."""
    if request.method != "POST":
        return request.args.to_dict(flat=True)
    return {name: values[0] for name, values in _posted_fields().items()}


def _posted_fields() -> dict[str, list[str]]:
    """The POSTed form, parsed once per request (Werkzeug's general form parser costs more, and
    Plivo sends only application/x-www-form-urlencoded)."""
    fields = g.get("plivo_fields")
    if fields is None:
        if request.mimetype == "application/x-www-form-urlencoded":
            try:
                fields = parse_qs(request.get_data(cache=True, as_text=True), keep_blank_values=True,
                                  max_num_fields=MAX_FORM_FIELDS)
            except ValueError as error:  # "Max number of fields exceeded"
                raise TooManyFields() from error
        else:
            fields = request.form.to_dict(flat=False)  # Werkzeug's parser: MAX_FORM_PARTS (413 past it)
        g.plivo_fields = fields
    return fields


def valid_token(token: str) -> bool:
    return TOKEN.fullmatch(token) is not None


def call_uuid_of(fields: dict[str, str]) -> str:
    """Plivo's CallUUID, or "" when it is missing or not of its shape."""
    return _whole(fields.get("CallUUID"), _CALL_UUID) or ""


def digits_of(fields: dict[str, str]) -> str | None:
    """The keys pressed: "" when none, None when the field is not keys at all."""
    value = fields.get("Digits", "")
    if value == "":
        return ""
    return _whole(value, _DIGITS)


def says_machine(fields: dict[str, str]) -> bool:
    """Plivo's asynchronous machine detection heard an answering machine."""
    return fields.get("Machine", "").lower() == "true"


def parse_hangup(fields: dict[str, str]) -> HangupReport | None:
    """The fields we use from Plivo's hangup callback; None without a valid call UUID."""
    call_uuid = call_uuid_of(fields)
    if not call_uuid:
        return None
    return HangupReport(
        call_uuid=call_uuid,
        call_status=_whole(fields.get("CallStatus"), _STATUS) or "",
        cause_code=_int(fields.get("HangupCauseCode")),
        cause_name=_cause_name(fields.get("HangupCauseName") or fields.get("HangupCause")),
        duration=_int(fields.get("Duration")),
        total_cost=_whole(fields.get("TotalCost"), _COST),
    )


def xml_response(document: bytes) -> Response:
    response = Response(document, status=200, mimetype="text/xml")
    # A call script may hold a code or an alert's text: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_by_plivo(auth_token: str, public_url: str) -> bool:
    url = public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8", "replace")
    fields = _posted_fields() if request.method == "POST" else {}
    nonce = request.headers.get("X-Plivo-Signature-V3-Nonce")
    return any(
        is_valid_signature(auth_token, request.method, url, fields, nonce, request.headers.get(header))
        for header in _SIGNATURES
    )


# The main-account signature also counts when a subaccount owns the call.
_SIGNATURES = ("X-Plivo-Signature-V3", "X-Plivo-Signature-Ma-V3")


def _whole(value: str | None, pattern: re.Pattern) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


def _int(value: str | None) -> int | None:
    whole = _whole(value, _WHOLE)
    return int(whole) if whole is not None else None


def _cause_name(value: str | None) -> str | None:
    # Shown to people as words ("Busy Line"): letters, spaces and underscores only.
    if value is None or not re.fullmatch(r"[A-Za-z _-]{1,64}", value):
        return None
    return value
