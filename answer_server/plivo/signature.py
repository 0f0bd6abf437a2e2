"""Plivo's X-Plivo-Signature-V3: compute and check it.

The algorithm follows Plivo's SDKs (plivo-python `signature_v3.py`, plivo-go,
plivo-ruby), whose published vectors are the truth; Plivo's docs prose
disagrees with them (https://www.plivo.com/docs/voice/concepts/signature-validation).
Vectors: plivo-go `utils_test.go`, plivo-ruby `spec/signature_spec.rb`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

Params = Mapping[str, str | Sequence[str]]


def signed_string(method: str, url: str, params: Params) -> str:
    """The string Plivo signs (before ".nonce") for a request to `url`."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = {k: list(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if method.upper() == "GET":
        # The URL's own query wins on a clash, as in the SDKs.
        merged = {k: _values(v) for k, v in params.items()}
        merged.update(query)
        joined = _query_string(merged)
        return f"{base}?{joined}" if joined else base
    if not params:
        joined = _query_string(query)
        return f"{base}?{joined}" if joined else base
    prefix = f"{base}?{_query_string(query)}." if query else f"{base}?"
    return prefix + "".join(f"{k}{v}" for k in sorted(params) for v in sorted(_values(params[k])))


def compute_signature(auth_token: str, method: str, url: str, params: Params, nonce: str) -> str:
    """base64(HMAC-SHA256(auth_token, signed_string + "." + nonce))."""
    message = f"{signed_string(method, url, params)}.{nonce}".encode("utf-8")
    digest = hmac.new(auth_token.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_signature(
    auth_token: str,
    method: str,
    url: str,
    params: Params,
    nonce: str | None,
    header: str | None,
) -> bool:
    """Whether any comma-separated signature in `header` matches, in constant time.

    Plivo sends several signatures while an account rotates its auth tokens.
    """
    if not nonce or not header or not auth_token:
        return False
    expected = compute_signature(auth_token, method, url, params, nonce).encode("ascii")
    matched = False
    for candidate in header.split(","):
        # Compare every candidate, so timing does not tell which one matched.
        matched |= hmac.compare_digest(expected, candidate.strip().encode("utf-8", "replace"))
    return matched


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _query_string(params: Mapping[str, Iterable[str]]) -> str:
    return "&".join(f"{k}={v}" for k in sorted(params) for v in sorted(params[k]))
