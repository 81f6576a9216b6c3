"""When users were last seen (``User.lastSeenAt``), kept without a write on every request.

Each process remembers when it last wrote each user's sighting and writes again only once a
minute has passed; the write itself is a conditional UPDATE, so however many processes see the
same user, the row changes at most once a minute. A sighting loaded with the user's row counts
as a write (nothing is written for a user just created, or seen by another process moments ago).
The write runs in its own short transaction, alongside the request that was due to record it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import col

from app.db import SessionFactory, transaction
from app.modelbase import utcnow
from app.tenancy.credentials import Role
from app.tenancy.models import User

log = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=1)
MAX_ENTRIES = 100_000  # users remembered per process; past it the oldest go


class LastSeen:
    """One process's memory of the sightings it wrote; see the module docstring."""

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._written: dict[uuid.UUID, datetime] = {}
        self._writing: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)

    def due(self, user: User) -> bool:
        """Whether a sighting of ``user`` should be written now; if so, it counts as written."""
        now = self._clock()
        written = self._written.get(user.id)
        if written is None and user.last_seen_at is not None:
            written = user.last_seen_at  # as loaded (or cached) with the row
        if written is not None and now - written < INTERVAL:
            if user.id not in self._written:
                self._remember(user.id, written)
            return False
        self._remember(user.id, now)
        return True

    def forget(self, user_id: uuid.UUID) -> None:
        """A write that failed: let the next request try again."""
        self._written.pop(user_id, None)

    def _remember(self, user_id: uuid.UUID, at: datetime) -> None:
        self._written.pop(user_id, None)
        if len(self._written) >= self._max_entries:
            horizon = self._clock() - INTERVAL
            for stale in [k for k, v in self._written.items() if v < horizon]:
                del self._written[stale]
            while len(self._written) >= self._max_entries:
                del self._written[next(iter(self._written))]  # the oldest remembered
        self._written[user_id] = at

    def start(self, sessions: SessionFactory, *, user_id: uuid.UUID, role: Role) -> asyncio.Task[None]:
        """:meth:`write` as a task of its own, running while the request goes on."""
        task = asyncio.create_task(self.write(sessions, user_id=user_id, role=role))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return task

    async def write(self, sessions: SessionFactory, *, user_id: uuid.UUID, role: Role) -> None:
        """Record the sighting (and the credential's role) unless one was written within the minute.

        Never raises: a sighting is not worth failing anything for."""
        try:
            async with transaction(sessions) as session:
                await session.execute(
                    update(User)
                    .where(
                        col(User.id) == user_id,
                        or_(col(User.last_seen_at).is_(None), col(User.last_seen_at) < func.now() - INTERVAL),
                    )
                    .values(last_seen_at=func.now(), role=role.value)
                )
        except Exception:  # the database being away, say; the next request after a minute retries
            self.forget(user_id)
            log.warning("could not record that user %s was seen", user_id, exc_info=True)
