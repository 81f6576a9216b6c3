"""Endpoint secrets: made, shown once, stored encrypted.

A secret is ``whsec_`` + base64 of 24 random bytes (the Standard Webhooks form); the raw bytes
are the HMAC key. In the database they are sealed with AES-256-GCM under a key derived from
``JOURNEYS_SECRET_KEY`` (in development and tests, from the JWT secret when it is unset), with
the endpoint's id as associated data, so a backup of the database alone reveals no secret and
a sealed secret copied onto another endpoint does not open.
"""

from __future__ import annotations

import base64
import os
import uuid

from app.config import Settings
from app.errors import DomainError, ErrorCode
from app.sealing import Sealer

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> bytes:
    """Fresh secret bytes."""
    return os.urandom(SECRET_BYTES)


def shown(secret: bytes) -> str:
    """The secret as the admin copies it into their receiver."""
    return PREFIX + base64.b64encode(secret).decode()


class SecretBox:
    """Seals and opens endpoint secrets with the service's key (bound to the endpoint's id)."""

    def __init__(self, key_material: bytes) -> None:
        self._sealer = Sealer(key_material, "journeys webhook secrets")

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box for the configured key; NOT_CONFIGURED in production without JOURNEYS_SECRET_KEY."""
        material = settings.webhook_key_material
        if material is None:
            raise DomainError(ErrorCode.NOT_CONFIGURED, "Webhooks need JOURNEYS_SECRET_KEY in production")
        return cls(material)

    def seal(self, secret: bytes, *, endpoint_id: uuid.UUID) -> bytes:
        return self._sealer.seal(secret, bound_to=endpoint_id.bytes)

    def open(self, sealed: bytes, *, endpoint_id: uuid.UUID) -> bytes:
        """The secret; ValueError when it was sealed under another key or for another endpoint."""
        return self._sealer.open(sealed, bound_to=endpoint_id.bytes)
