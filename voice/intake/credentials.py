"""The token a request carries, wherever its sender puts it, and how a token is kept and compared: as its
SHA-256 hex, compared in constant time. Headers and query are plain mappings; nothing here raises."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Mapping

#: No token of ours is longer; a longer one is not looked at.
TOKEN_MAX = 512


def alertmanager_token(headers: Mapping[str, Any]) -> str | None:
    """`Authorization: Bearer <token>` (Alertmanager's `http_config.authorization`, Grafana's default
    scheme), or the password of HTTP basic auth (`basic_auth`).
    https://prometheus.io/docs/alerting/latest/configuration/#http_config"""
    scheme, credentials = _authorization(headers)
    if scheme == "bearer":
        return _token(credentials)
    if scheme == "basic":
        return _basic_password(credentials)
    return None


def generic_token(headers: Mapping[str, Any], query: Mapping[str, Any]) -> str | None:
    """`Authorization: Bearer <token>`, else `?token=` (for tools that can only be given a URL)."""
    scheme, credentials = _authorization(headers)
    if scheme == "bearer":
        return _token(credentials)
    return _token(_get(query, "token"))


def opsgenie_token(headers: Mapping[str, Any]) -> str | None:
    """`Authorization: GenieKey <token>` (https://docs.opsgenie.com/docs/authentication)."""
    scheme, credentials = _authorization(headers)
    return _token(credentials) if scheme == "geniekey" else None


def pagerduty_token(body: Any) -> str | None:
    """The body's `routing_key` (https://developer.pagerduty.com/docs/send-alert-event)."""
    return _token(body.get("routing_key")) if isinstance(body, dict) else None


def token_digest(token: str) -> str:
    """What is kept of a token: its SHA-256, lowercase hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def digests_match(given: str, kept: str) -> bool:
    """Whether two digests are the same, in time that does not depend on where they differ."""
    if not isinstance(given, str) or not isinstance(kept, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), kept.encode("utf-8", "surrogatepass"))


def _authorization(headers: Mapping[str, Any]) -> tuple[str, str]:
    """(scheme in lower case, credentials) of the Authorization header; ("", "") if absent or malformed.
    The scheme is case-insensitive (https://www.rfc-editor.org/rfc/rfc9110#section-11.1)."""
    value = _get(headers, "Authorization")
    if not isinstance(value, str):
        return "", ""
    scheme, _, credentials = value.strip().partition(" ")
    return scheme.lower(), credentials.strip()


def _basic_password(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    _, colon, password = decoded.partition(":")
    return _token(password) if colon else None


def _token(value: Any) -> str | None:
    """A token as given, if it can be one: a non-empty string of sane length without spaces or controls."""
    if not isinstance(value, str) or not value or len(value) > TOKEN_MAX:
        return None
    if any(character.isspace() or not character.isprintable() for character in value):
        return None
    return value


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """mapping[name], the name's case ignored (a plain dict is not a case-insensitive header map)."""
    try:
        if name in mapping:
            return mapping[name]
        return next((value for key, value in mapping.items() if isinstance(key, str) and key.lower() == name.lower()),
                    None)
    except Exception:  # a hostile mapping: whatever it raises, there is no token in it
        return None
