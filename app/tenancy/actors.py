"""Who acted: the user themselves, an admin, or an API key (SPEC §16), as run logs record it.

The actor is set once on the unit of work's session (like the outbox's pending events) and read
by whatever writes a log entry, so every entry of the unit names the same actor without an
argument threaded through each service; unset, the run's own user acted (services called
directly, and the entries logged before actors were recorded).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

ACTOR_KEY = "acting.actor"


class ActorKind(str, Enum):
    """What kind of credential acted."""

    USER = "user"
    ADMIN = "admin"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Actor:
    """Who acted: a user or admin (by user id), or an API key (by id, and its name then)."""

    kind: ActorKind
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    api_key_name: str | None = None

    def columns(self) -> dict[str, Any]:
        """The log columns that record this actor."""
        return {
            "actor_kind": self.kind.value,
            "actor_user_id": self.user_id,
            "actor_api_key_id": self.api_key_id,
            "actor_api_key_name": self.api_key_name,
        }


def act_as(session: AsyncSession, actor: Actor) -> None:
    """Make ``actor`` the one every log entry of the session's unit of work records."""
    session.sync_session.info[ACTOR_KEY] = actor


def actor_of(session: AsyncSession, *, owner_id: uuid.UUID) -> Actor:
    """Who acts in the session's unit of work; the run's owner when nobody was set."""
    actor: Actor | None = session.sync_session.info.get(ACTOR_KEY)
    return actor if actor is not None else Actor(ActorKind.USER, user_id=owner_id)
