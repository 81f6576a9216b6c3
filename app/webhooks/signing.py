"""The Standard Webhooks headers of one attempt.

``webhook-signature`` is ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under each
valid secret, space-separated (the current secret first; a rotated-out one alongside for 24 hours).
The timestamp is the wall clock at sending: receivers compare it with theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def headers(*, message_id: str, body: bytes, secrets: Sequence[bytes], at: datetime | None = None) -> dict[str, str]:
    """The headers of a POST of ``body`` signed with every secret in ``secrets``."""
    sent = (at or datetime.now(UTC)).replace(microsecond=0)
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(message_id, sent, text) for secret in secrets)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": signatures,
        "user-agent": "journeys-webhooks/1",
    }
