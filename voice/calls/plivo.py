"""Plivo's REST API: place, cancel and hang up calls.

Our own small client on a `requests.Session` rather than the plivo SDK: the
SDK has no base-URL option, retries a create-call at once after any 5xx, a
gateway's 504 too (which may have reached Plivo: a phone can ring twice), and
is not thread-safe (its client mutates `base_uri` and a retry counter on every
request: plivo-python `plivo/rest/client.py`). The work queue retries what
certainly did not reach Plivo, with backoff (voice/calls/dialing.py).
https://www.plivo.com/docs/voice/api/call/make-a-call
Errors come back as one exception type whose message a person understands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import requests
import urllib3

from voice import metrics

log = logging.getLogger(__name__)

# (connect, read) seconds. A create-call normally answers in well under a second.
DEFAULT_TIMEOUT = (3.05, 10.0)


class PlivoError(Exception):
    """A Plivo request failed. `str(error)` is a sentence for the requester.

    `placed_unknown` is true when we cannot tell whether the call was placed
    (a timeout after the request was sent, a gateway's 504): it must never be
    sent again. `retryable` is true when the request certainly did nothing and
    may work later: Plivo's 429 or 5xx answer, or no connection at all.
    `problem` says what went wrong without the advice that follows it.
    """

    def __init__(self, message: str, *, status: int | None = None, placed_unknown: bool = False,
                 retryable: bool = False, problem: str | None = None):
        super().__init__(message)
        self.status = status
        self.placed_unknown = placed_unknown
        self.retryable = retryable or status == 429
        self.problem = problem or message
        metrics.PLIVO_ERRORS.labels(metrics.status_label(status)).inc()  # each failed request makes one

    @property
    def permanent(self) -> bool:
        """Whether asking again would get the same answer (a 4xx other than 429)."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


@dataclass(frozen=True)
class OutboundCall:
    from_number: str  # E.164
    to_number: str  # E.164
    answer_url: str
    hangup_url: str
    ring_url: str
    #: Seconds to ring before giving up; voicemail usually picks up by ~30 s.
    ring_timeout: int = 45
    #: Hard cap on the call's length after answer, so a stuck call cannot run up a bill.
    time_limit: int = 120
    #: Asynchronous answering-machine detection: Plivo posts its verdict to this URL
    #: while the call goes on (https://docs.plivo.com/docs/voice/api/call/machine-detection).
    machine_detection_url: str | None = None
    #: "true" (report only) or "hangup" (Plivo hangs up on a machine).
    machine_detection: str = "true"
    machine_detection_time: int = 5000  # ms Plivo listens before deciding (2000–10000)


class PlivoClient:
    def __init__(
        self,
        base_url: str,
        auth_id: str,
        auth_token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        self._account_url = f"{base_url.rstrip('/')}/v1/Account/{auth_id}"
        self._session = session or requests.Session()
        self._session.auth = (auth_id, auth_token)
        self._session.headers.update({"Accept": "application/json", "User-Agent": "voicebridge/1"})
        self._timeout = timeout

    def create_call(self, call: OutboundCall) -> str:
        """Ask Plivo to place the call, once (the caller paces and retries); its request UUID."""
        body = {
            "from": call.from_number,
            "to": call.to_number,
            "answer_url": call.answer_url,
            "answer_method": "POST",
            "hangup_url": call.hangup_url,
            "hangup_method": "POST",
            "ring_url": call.ring_url,
            "ring_method": "POST",
            "ring_timeout": call.ring_timeout,
            "time_limit": call.time_limit,
        }
        if call.machine_detection_url:
            body |= {
                "machine_detection": call.machine_detection,
                "machine_detection_url": call.machine_detection_url,
                "machine_detection_method": "POST",
                "machine_detection_time": call.machine_detection_time,
            }
        response = self._send("POST", "/Call/", json=body)
        _raise_for_create(response)
        uuid = _json(response).get("request_uuid")
        if isinstance(uuid, list):
            uuid = uuid[0] if uuid else None
        if not isinstance(uuid, str) or not uuid:
            raise PlivoError("Plivo accepted the call but sent no request ID.", status=response.status_code)
        return uuid

    def call_cost(self, call_uuid: str) -> str | None:
        """The total cost of an ended call from its call record (CDR), as a decimal string."""
        if not call_uuid:
            raise ValueError("a call UUID is required")
        response = self._send("GET", f"/Call/{call_uuid}/")
        if response.status_code == 404:
            return None  # the record is not there yet
        if not 200 <= response.status_code < 300:
            raise PlivoError(f"Plivo did not return the call record (HTTP {response.status_code}).",
                             status=response.status_code)
        amount = _json(response).get("total_amount")
        return str(amount) if amount not in (None, "") else None

    def hang_up(self, call_uuid: str) -> None:
        """Hang up a live call."""
        # An empty UUID would hang up every call on the account (Plivo docs).
        if not call_uuid:
            raise ValueError("a call UUID is required")
        self._expect_gone(self._send("DELETE", f"/Call/{call_uuid}/"))

    def cancel_request(self, request_uuid: str) -> None:
        """Cancel a queued or ringing call by its request UUID."""
        if not request_uuid:
            raise ValueError("a request UUID is required")
        self._expect_gone(self._send("DELETE", f"/Request/{request_uuid}/"))

    def transfer(self, call_uuid: str, url: str) -> None:
        """Move a live call to the XML at `url` (its A leg): the hotline's caller, out of the waiting room.
        https://www.plivo.com/docs/voice/api/call/transfer-a-call (202; 404 when the call is gone)."""
        if not call_uuid:
            raise ValueError("a call UUID is required")  # as for hang_up: never the whole account
        response = self._send("POST", f"/Call/{call_uuid}/", json={"legs": "aleg", "aleg_url": url,
                                                                   "aleg_method": "POST"})
        if not 200 <= response.status_code < 300:
            raise PlivoError(f"Plivo did not transfer the call (HTTP {response.status_code}).",
                             status=response.status_code, retryable=response.status_code >= 500)

    def speak_to_member(self, conference: str, member_id: str, text: str, *, voice: str, language: str) -> bool:
        """Say `text` to one member of a conference (the others do not hear it); False if they left.
        https://www.plivo.com/docs/voice/api/conference/member/speak-text-to-member"""
        if not (conference and member_id):
            raise ValueError("a conference and a member are required")
        response = self._send("POST", f"/Conference/{quote(conference, safe='')}/Member/{quote(member_id, safe='')}"
                                      "/Speak/", json={"text": text, "voice": voice, "language": language})
        if response.status_code == 404:
            return False
        if not 200 <= response.status_code < 300:
            raise PlivoError(f"Plivo refused to speak to the conference member (HTTP {response.status_code}).",
                             status=response.status_code)
        return True

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        url = self._account_url + path
        try:
            return self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.ConnectTimeout:
            raise _unreachable("connection timed out") from None
        except requests.Timeout:
            raise PlivoError(
                "Plivo did not answer in time, so the call may or may not have been placed.",
                placed_unknown=True,
            ) from None
        except requests.ConnectionError as error:
            if _never_connected(error):
                raise _unreachable("connection failed") from None
            # The connection broke after the request went out: Plivo may have acted on it.
            raise PlivoError("The connection to Plivo broke, so the call may or may not have been placed.",
                             placed_unknown=True) from None

    @staticmethod
    def _expect_gone(response: requests.Response) -> None:
        # 404: the call already ended, which is what we wanted.
        if response.status_code not in (200, 202, 204, 404):
            raise PlivoError(f"Plivo refused to stop the call (HTTP {response.status_code}).",
                             status=response.status_code)


def _unreachable(how: str) -> PlivoError:
    problem = f"Plivo could not be reached ({how})"
    return PlivoError(f"{problem}; no call was placed.", retryable=True, problem=problem)


def _never_connected(error: requests.ConnectionError) -> bool:
    """Whether the request never reached Plivo (no connection could be made)."""
    reason = getattr(error.args[0], "reason", error.args[0]) if error.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                               urllib3.exceptions.NameResolutionError))


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _plivo_says(response: requests.Response) -> str:
    error = _json(response).get("error")
    if isinstance(error, str) and error.strip():
        return error.strip().rstrip(".")[:200]
    return ""


def _raise_for_create(response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    says = _plivo_says(response)
    log.warning("Plivo refused a call: HTTP %s %s", status, says)
    if status == 400:
        message = f"Plivo rejected the call request: {says or 'a parameter was missing or invalid'}."
    elif status == 401:
        message = ("Plivo rejected this app's credentials; an admin should check "
                   "PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN.")
    elif status == 403:
        message = (f"Plivo does not allow calls to this destination ({says or 'barred'}). "
                   "An admin can enable the country in the Plivo console's geo permissions.")
    elif status == 404:
        message = "Plivo does not know this account; an admin should check PLIVO_AUTH_ID."
    elif status == 429:
        raise PlivoError("Plivo is limiting how fast we place calls right now; try again in a minute.",
                         status=status, problem="Plivo was limiting how fast we place calls")
    elif status == 504:
        # A gateway's timeout: it passed the request on and gave up waiting, so Plivo may have acted on it.
        raise PlivoError("Plivo's gateway timed out (HTTP 504), so the call may or may not have been placed.",
                         status=status, placed_unknown=True)
    elif status >= 500:
        # Plivo answered that it failed: nothing was placed, and it may work in a moment (the caller retries).
        problem = f"Plivo had a problem on its side (HTTP {status})"
        raise PlivoError(f"{problem}; no call was placed. Try again shortly.", status=status, retryable=True,
                         problem=problem)
    else:
        message = f"Plivo refused the call (HTTP {status}{': ' + says if says else ''})."
    raise PlivoError(message, status=status)
