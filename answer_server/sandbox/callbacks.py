"""Plivo's requests to an application's URLs: the fields and the V3 signature.

Fields follow Plivo's request parameters
(https://www.plivo.com/docs/voice/xml/request): numbers without '+', the
standard parameters on every request, the hangup extras at the end. Each
request is signed as Plivo signs it (X-Plivo-Signature-V3,
https://www.plivo.com/docs/voice/concepts/signature-validation), over the exact URL called.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urldefrag

import requests

from answer_server.plivo.signature import compute_signature
from answer_server.sandbox.sim_call import BILL_RATE, Ending, SimCall, plivo_time

TIMEOUT = (2.0, 15.0)  # (connect, read) seconds; Plivo's own defaults are 2 s and 40 s


@dataclass(frozen=True)
class Delivery:
    """What came back from one callback; `error` is set when nothing usable did."""

    status: int | None = None
    body: bytes = b""
    content_type: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class CallbackSender:
    def __init__(self, auth_token: str, session: requests.Session | None = None):
        self._auth_token = auth_token
        self._session = session or requests.Session()
        # A sandbox's callbacks go to this very machine: never through a proxy.
        self._session.trust_env = False

    def send(self, url: str, method: str, params: dict[str, str]) -> Delivery:
        url = urldefrag(url).url  # "#ct=…" fragments configure Plivo, they are not sent
        method = (method or "POST").upper()
        headers = signed_headers(self._auth_token, method, url, params)
        try:
            if method == "GET":
                response = self._session.get(url, params=params, headers=headers, timeout=TIMEOUT)
            else:
                response = self._session.post(url, data=params, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            return Delivery(error=f"{type(error).__name__} reaching {url}")
        content_type = response.headers.get("Content-Type", "")
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code} from {url}"
        return Delivery(response.status_code, response.content, content_type, error)


def signed_headers(auth_token: str, method: str, url: str, params: dict[str, str]) -> dict[str, str]:
    nonce = str(secrets.randbelow(10**20)).zfill(20)
    signature = compute_signature(auth_token, method, url, params, nonce)
    return {
        "X-Plivo-Signature-V3": signature,
        # The sandbox is a main account, so both signatures use the same token.
        "X-Plivo-Signature-Ma-V3": signature,
        "X-Plivo-Signature-V3-Nonce": nonce,
        "User-Agent": "PlivoHTTP/1.0 (VoiceBridge sandbox)",
    }


def standard_params(call: SimCall, status: str, auth_id: str) -> dict[str, str]:
    """An inbound call was placed by no API request: it has no request UUIDs."""
    request_ids = {"RequestUUID": call.request_uuid, "ALegRequestUUID": call.request_uuid} if call.request_uuid else {}
    return {
        "CallUUID": call.call_uuid,
        **request_ids,
        "ALegUUID": call.call_uuid,
        "From": call.from_number.lstrip("+"),
        "To": call.to_number.lstrip("+"),
        "Direction": call.direction,
        "CallStatus": status,
        "BillRate": BILL_RATE,
        "ParentAuthID": auth_id,
        "SessionStart": call.started_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def record_params(recording_id: str, url: str, started_ms: int, ended_ms: int) -> dict[str, str]:
    """What <Record>'s action gets besides the standard parameters (https://www.plivo.com/docs/voice/xml/record)."""
    milliseconds = ended_ms - started_ms
    return {"RecordUrl": url, "RecordingID": recording_id, "RecordingDuration": str(round(milliseconds / 1000)),
            "RecordingDurationMs": str(milliseconds), "RecordingStartMs": str(started_ms),
            "RecordingEndMs": str(ended_ms)}


def hangup_params(call: SimCall, ending: Ending, auth_id: str) -> dict[str, str]:
    return standard_params(call, ending.status, auth_id) | {
        "Event": "Hangup",
        "HangupCause": ending.cause,
        "HangupCauseName": ending.name,
        "HangupCauseCode": str(ending.code),
        "HangupSource": ending.source,
        "Duration": str(call.duration()),
        "BillDuration": str(call.bill_duration()),
        "TotalCost": call.total_cost(),
        "StartTime": plivo_time(call.started_at),
        "AnswerTime": plivo_time(call.answered_at),
        "EndTime": plivo_time(call.ended_at),
    }


def machine_params(call: SimCall, if_machine: str) -> dict[str, str]:
    """The asynchronous answering-machine-detection callback (machine-detection docs page)."""
    return {
        "From": call.from_number.lstrip("+"),
        "Machine": "true",
        "To": call.to_number.lstrip("+"),
        "RequestUUID": call.request_uuid,
        "ALegRequestUUID": call.request_uuid,
        "CallUUID": call.call_uuid,
        "IfMachine": if_machine,
        "Direction": "outbound",
        "ALegUUID": call.call_uuid,
        "Event": "MachineDetection",
        "CallStatus": "in-progress",
    }
