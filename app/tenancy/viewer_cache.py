"""The viewer cache: tenants by slug, users by tenant and external id, API keys by key id,
kept in process for a short TTL so that most requests authenticate without a database round
trip (and without the first-sight INSERT of a user who exists already).

Staying right:
- a write that changes what a viewer is made of (tenant settings, a user's row, an API key's
  revocation) calls :func:`record_change` inside its transaction. That sends a NOTIFY on
  :data:`CHANNEL`, which PostgreSQL delivers to every process's listener (app/tenancy/changes.py)
  when — and only if — the transaction commits; and once the commit returns, this process's
  caches drop the entries at once (a SQLAlchemy ``after_commit`` hook), before the mutation
  answers. Other processes drop them when the notification arrives, a few milliseconds later.
- entries are served only while the process's listener is connected: while it is not (startup,
  a database outage) every request reads the database, and the cache starts empty whenever the
  listener (re)connects, since notifications may have been missed meanwhile.
- a load that began before an invalidation is not stored (the generation counter), so a
  concurrent reader cannot put back what a commit just invalidated.
- the TTL bounds staleness should anything still slip through.

Entries are detached ORM rows shared by concurrent requests: read them, never change them.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.tenancy.last_seen import LastSeen
from app.tenancy.models import Tenant, User

CHANNEL = "journeys_viewer_changes"
TTL_SECONDS = 30.0
MAX_ENTRIES = 10_000  # per kind; past it the oldest entries go
_PENDING = "viewer_cache.pending"

K = TypeVar("K")
V = TypeVar("V")


class Watch(Protocol):
    """What tells the cache whether invalidations can reach it (the change listener)."""

    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    async def ready(self) -> None: ...


@dataclass(frozen=True)
class CachedKey:
    """An active API key as authentication needs it."""

    id: uuid.UUID
    secret_hash: str
    tenant: Tenant
    user: User
    name: str = ""  # what logs show the key as (SPEC §16)


class ViewerCache:
    """One process's (one runtime's) cache of what viewers are made of; see the module docstring."""

    def __init__(
        self, *, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._tenants: dict[str, tuple[float, Tenant]] = {}
        self._users: dict[tuple[uuid.UUID, str], tuple[float, User]] = {}
        self._keys: dict[str, tuple[float, CachedKey]] = {}
        self.generation = 0  # bumped by every invalidation
        self.watch: Watch | None = None  # None: in-process invalidation only (always live)
        self.seen = LastSeen()  # when this process last recorded each viewer's sighting
        _caches.add(self)

    @property
    def live(self) -> bool:
        """Whether entries may be served and stored: invalidations can reach this process."""
        if self.watch is None:
            return True
        self.watch.start()  # the listener starts with the first request that needs it
        return self.watch.connected

    async def ready(self) -> None:
        """Wait, in a process's first requests, until the cache can be used (see ChangeListener.ready)."""
        if self.watch is not None:
            await self.watch.ready()

    # --- reads and stores

    def tenant(self, slug: str) -> Tenant | None:
        return self._get(self._tenants, slug)

    def user(self, tenant_id: uuid.UUID, external_id: str) -> User | None:
        return self._get(self._users, (tenant_id, external_id))

    def api_key(self, key_id: str) -> CachedKey | None:
        return self._get(self._keys, key_id)

    def put_viewer(self, tenant: Tenant, user: User, *, since: int) -> None:
        """Store a tenant and its user, loaded from the database since generation ``since``."""
        if self._storable(since):
            self._put(self._tenants, tenant.slug, tenant)
            self._put(self._users, (tenant.id, user.external_id), user)

    def put_api_key(self, key_id: str, key: CachedKey, *, since: int) -> None:
        if self._storable(since):
            self._put(self._keys, key_id, key)

    def _get(self, entries: dict[K, tuple[float, V]], key: K) -> V | None:
        found = entries.get(key)
        if found is None or not self.live:
            return None
        if found[0] <= self._clock():
            entries.pop(key, None)
            return None
        return found[1]

    def _storable(self, since: int) -> bool:
        return since == self.generation and self.live

    def _put(self, entries: dict[K, tuple[float, V]], key: K, value: V) -> None:
        now = self._clock()
        if key not in entries and len(entries) >= self.max_entries:
            for stale in [k for k, (expires, _) in entries.items() if expires <= now]:
                del entries[stale]
            while len(entries) >= self.max_entries:
                del entries[next(iter(entries))]  # the oldest stored
        entries.pop(key, None)
        entries[key] = (now + self.ttl, value)

    # --- invalidation

    def invalidate(self, change: str) -> None:
        """Drop what a change (``tenant:<id>``, ``user:<id>``, ``api_key:<id>``) makes stale;
        anything else clears the whole cache."""
        self.generation += 1
        kind, _, ident = change.partition(":")
        try:
            key = uuid.UUID(ident)
        except ValueError:
            self.clear()
            return
        if kind == "tenant":
            _drop(self._tenants, lambda t: t.id == key)
            _drop(self._keys, lambda k: k.tenant.id == key)
        elif kind == "user":
            _drop(self._users, lambda u: u.id == key)
            _drop(self._keys, lambda k: k.user.id == key)
        elif kind == "api_key":
            _drop(self._keys, lambda k: k.id == key)
        else:
            self.clear()

    def clear(self) -> None:
        self.generation += 1
        self._tenants.clear()
        self._users.clear()
        self._keys.clear()


def _drop(entries: dict[Any, tuple[float, V]], matches: Callable[[V], bool]) -> None:
    for key in [k for k, (_, value) in entries.items() if matches(value)]:
        del entries[key]


# Every cache of this process, for the after-commit hook (a process may run several runtimes).
_caches: weakref.WeakSet[ViewerCache] = weakref.WeakSet()


async def record_change(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
) -> None:
    """Within a write's transaction: what it changes invalidates cached viewers everywhere once it commits."""
    changes = [
        f"{kind}:{ident}"
        for kind, ident in (("tenant", tenant_id), ("user", user_id), ("api_key", api_key_id))
        if ident is not None
    ]
    for change in changes:
        await session.execute(select(func.pg_notify(CHANNEL, change)))
    session.info.setdefault(_PENDING, []).extend(changes)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for change in session.info.pop(_PENDING, ()):
        for cache in list(_caches):
            cache.invalidate(change)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
