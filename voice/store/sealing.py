"""Secrets at rest: the clear digits a call must read, sealed with a key the database never holds.

A code waits in the database from the moment it is requested until the call
reads it, and databases keep old row versions long after an UPDATE erased
them (SQLite's WAL, PostgreSQL's heap pages and WAL, every backup). So what
is stored is AES-256-GCM ciphertext under a key derived (HKDF-SHA256) from
OTP_HASH_KEY, which lives only in the servers' configuration. The call's
token is the associated data: a sealed code copied into another row does not
open there.

https://cryptography.io/en/latest/hazmat/primitives/aead/#cryptography.hazmat.primitives.ciphers.aead.AESGCM
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_NONCE_BYTES = 12  # GCM's standard nonce; random, so a key can seal about 2**32 values safely
_INFO = b"voicebridge/call-secret/v1"


class SecretBox:
    """Seal and open short secrets (codes) bound to a context (the call's token)."""

    def __init__(self, key_material: str):
        if len(key_material) < 16:
            raise ValueError("the key material must be at least 16 characters")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key_material.encode())
        self._aead = AESGCM(key)

    def seal(self, secret: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8"))
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii').rstrip('=')}"

    def open(self, sealed: str | None, context: str) -> str | None:
        """The secret, or None when there is none, or it was sealed under another key or context."""
        if not sealed or not sealed.startswith(VERSION + "."):
            return None
        encoded = sealed[len(VERSION) + 1:]
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            return None
