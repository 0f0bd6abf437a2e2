"""What the bench sends: Slack's slash commands, API requests and Plivo's webhooks, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from bench.servers import http
from bench.standins import (
    API_KEY,
    AUTH_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    PlivoSender,
    Signed,
    SlackSender,
)

SEND_TIMEOUT = 10.0  # Slack gives up after 3 s; waiting longer lets us see how late the answer was


@dataclass(frozen=True)
class Sent:
    status: int | str  # the HTTP status, or "timeout" / "error"
    ms: float  # from just before the request to the last byte of the answer
    text: str
    at: float  # time.monotonic() when the answer arrived


def send(base_url: str, signed: Signed, timeout: float = SEND_TIMEOUT) -> Sent:
    began = time.perf_counter()
    try:
        reply = http.post(base_url + signed.path, data=signed.body.encode(), headers=signed.headers, timeout=timeout)
        status, text = reply.status_code, reply.text
    except requests.Timeout:
        status, text = "timeout", ""
    except requests.RequestException as error:
        status, text = "error", type(error).__name__
    return Sent(status, (time.perf_counter() - began) * 1000, text, time.monotonic())


def slash_command(base_url: str, text: str, *, command: str = "/voiceotp", response_url: str,
                  timeout: float = SEND_TIMEOUT, channel: str = CHANNEL) -> Sent:
    """A slash command, signed at the moment it is sent (Slack's signatures carry a timestamp)."""
    signed = SlackSender(SIGNING_SECRET).command(text, command=command, channel_id=channel,
                                                 response_url=response_url)
    return send(base_url, signed, timeout)


def api_code_request(base_url: str, to: str, timeout: float = SEND_TIMEOUT) -> Sent:
    """POST /api/v1/otp: a call that reads a new code, as an app would ask for it."""
    began = time.perf_counter()
    try:
        reply = http.post(base_url + "/api/v1/otp", json={"to": to}, timeout=timeout,
                          headers={"Authorization": f"Bearer {API_KEY}"})
        status, text = reply.status_code, reply.text
    except requests.Timeout:
        status, text = "timeout", ""
    except requests.RequestException as error:
        status, text = "error", type(error).__name__
    return Sent(status, (time.perf_counter() - began) * 1000, text, time.monotonic())


def in_parallel(function, items: list, workers: int) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def status_counts(sent: list[Sent]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for one in sent:
        counts[str(one.status)] = counts.get(str(one.status), 0) + 1
    return dict(sorted(counts.items()))


# -- Plivo's webhooks for one placed call -----------------------------------------------

@dataclass(frozen=True)
class PlacedCall:
    """A call as the server asked Plivo to place it: its number and its callback paths."""

    to: str
    call_uuid: str
    answer_path: str
    ring_path: str
    key_path: str
    token: str


def placed_call(body: dict, call_uuid: str) -> PlacedCall:
    """From a create-call body: the paths Plivo would call back (the key path is the answer's sibling)."""
    answer = urlsplit(body["answer_url"]).path  # /plivo/answer/<token>
    ring = urlsplit(body.get("ring_url") or body["answer_url"].replace("/answer/", "/ring/")).path
    token = answer.rsplit("/", 1)[1]
    return PlacedCall(to=body["to"], call_uuid=call_uuid, answer_path=answer, ring_path=ring,
                      key_path=answer.replace("/answer/", "/key/"), token=token)


def token_of(body: dict) -> str:
    """The opaque token in a create-call's answer URL: one per call the server meant to place."""
    return urlsplit(body.get("answer_url", "")).path.rsplit("/", 1)[-1]


WEBHOOK_KINDS = ("ring", "answer", "key")


def webhook(plivo: PlivoSender, call: PlacedCall, kind: str) -> Signed:
    """One signed webhook, with a fresh nonce (and so its own signature) every time."""
    if kind == "ring":
        return plivo.ring(call.ring_path, call_uuid=call.call_uuid, to=call.to)
    if kind == "answer":
        return plivo.answer(call.answer_path, call_uuid=call.call_uuid, to=call.to)
    return plivo.digits(call.key_path, call_uuid=call.call_uuid, to=call.to, digits="1")


def steady_mix(plivo: PlivoSender, calls: list[PlacedCall], count: int, start: int = 0) -> Iterator[Signed]:
    """Webhooks k = start … start + count - 1 of one endless mix: k goes to call k % n, kind (k % n + k // n) % 3.

    Neighbouring requests hit different calls and different routes, and each call
    sees ring → answer → key → ring … in order, round after round: repeated
    deliveries, which Plivo does send, each with its own signature.
    """
    n = len(calls)
    for k in range(start, start + count):
        yield webhook(plivo, calls[k % n], WEBHOOK_KINDS[(k % n + k // n) % 3])


def plivo_sender(public_url: str) -> PlivoSender:
    return PlivoSender(AUTH_TOKEN, public_url)
