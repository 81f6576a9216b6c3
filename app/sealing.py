"""Sealing bytes the database keeps but must not reveal by itself: AES-256-GCM under a key derived
from the service's key material (JOURNEYS_SECRET_KEY, see app/config.py) and a purpose, with the
row's identity as associated data — so a backup alone opens nothing, and a sealed value copied
onto another row does not open either. Webhook secrets and stored idempotent responses (which may
hold a secret shown once, such as a new endpoint's or API key's) are sealed with it."""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
VERSION = b"\x01"


class Sealer:
    """Seals and opens values for one purpose with one key."""

    def __init__(self, key_material: bytes, purpose: str) -> None:
        self._aead = AESGCM(hashlib.sha256(purpose.encode() + b"\x00" + key_material).digest())

    def seal(self, value: bytes, *, bound_to: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, value, bound_to)

    def open(self, sealed: bytes, *, bound_to: bytes) -> bytes:
        """The value; ValueError when it was sealed under another key or for another row."""
        if sealed[:1] != VERSION:
            raise ValueError("unknown sealed value version")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, bound_to)
        except InvalidTag:
            raise ValueError("the value does not open with this key (was JOURNEYS_SECRET_KEY changed?)") from None
