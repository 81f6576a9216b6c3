"""Tenants, users, API keys and authentication: the business rules."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.config import Settings
from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.modelbase import utcnow
from app.tenancy.credentials import (
    API_KEY_PREFIX,
    Role,
    Unauthenticated,
    api_secret_matches,
    check_credential,
    generate_api_key,
    parse_api_key,
    read_user_token,
    valid_timezone,
)
from app.tenancy.models import ApiKey, Tenant, User
from app.tenancy.viewer_cache import CachedKey, ViewerCache, record_change

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_LEVELS = 100
LAST_USED_RESOLUTION = timedelta(hours=1)

# A session to read with (the request's ``SessionGate.read``), opened only on a cache miss.
SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user of a tenant with a role (an API key acts as the tenant's admin)."""

    tenant: Tenant
    user: User
    role: Role
    token_timezone: str | None = None
    api_key_id: uuid.UUID | None = None
    api_key_name: str | None = None
    # When the credential stops being valid: a JWT's `exp`; None for an API key (until revoked).
    expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    def may_read(self, owner_id: uuid.UUID) -> bool:
        """Whether the viewer may read a user's progress: their own, or (admins) anyone's in the tenant."""
        return self.is_admin or owner_id == self.user_id


def check_slug(problems: Problems, field: str, value: str) -> None:
    """Slugs are lowercase words joined by single hyphens, at most 64 characters."""
    if not value or len(value) > 64 or not SLUG_RE.match(value):
        problems.add(field, "must be 1-64 lowercase letters, digits and single hyphens")


async def lock_user(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, field: Sequence[str] | None = None
) -> None:
    """Lock the user's row for the rest of the transaction, serialising changes to what the user
    has (XP, onboarding completion); NotFound (on ``field``) when the tenant has no such user.

    FOR NO KEY UPDATE conflicts with itself but not with the key-share locks of inserts that
    merely reference the user."""
    found = (
        await session.execute(
            select(User.id)
            .where(col(User.id) == user_id, col(User.tenant_id) == tenant_id)
            .with_for_update(key_share=True)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("User", field=field)


async def create_tenant(session: AsyncSession, *, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    """A new tenant; the slug must be free."""
    problems = Problems()
    check_slug(problems, "slug", slug)
    if not name.strip() or len(name) > 200:
        problems.add("name", "must be 1-200 characters")
    if not valid_timezone(timezone):
        problems.add("timezone", "is not a known IANA timezone")
    problems.raise_if_any()
    if await get_tenant_by_slug(session, slug=slug) is not None:
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"tenant `{slug}` exists", field=["slug"])
    tenant = Tenant(slug=slug, name=name.strip(), timezone=timezone)
    session.add(tenant)
    await session.flush()
    return tenant


async def get_tenant_by_slug(session: AsyncSession, *, slug: str) -> Tenant | None:
    """The tenant with this slug, if any."""
    result = await session.execute(select(Tenant).where(col(Tenant.slug) == slug))
    return result.scalar_one_or_none()


async def update_tenant_settings(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    timezone: str | None = None,
    level_thresholds: list[int] | None = None,
) -> Tenant:
    """Change the tenant's default timezone and level thresholds."""
    problems = Problems("input")
    if timezone is not None and not valid_timezone(timezone):
        problems.add("timezone", "is not a known IANA timezone")
    if level_thresholds is not None:
        check_level_thresholds(problems, level_thresholds)
    problems.raise_if_any()
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound("Tenant")
    if timezone is not None:
        tenant.timezone = timezone
    if level_thresholds is not None:
        tenant.level_thresholds = list(level_thresholds)
    await session.flush()
    await record_change(session, tenant_id=tenant.id)
    return tenant


def check_level_thresholds(problems: Problems, thresholds: list[int]) -> None:
    """Cumulative XP per level: starts at 0, strictly increasing, at most 100 levels."""
    if not thresholds or thresholds[0] != 0:
        problems.add("levelThresholds", "must start with 0 (level 1 at 0 XP)")
    elif len(thresholds) > MAX_LEVELS:
        problems.add("levelThresholds", f"at most {MAX_LEVELS} levels")
    elif any(b <= a for a, b in itertools.pairwise(thresholds)):
        problems.add("levelThresholds", "must be strictly increasing")


async def get_or_create_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    external_id: str,
    timezone: str | None = None,
    seen_as: Role | None = None,
) -> User:
    """The tenant's user with this external id, created on first sight (race-safe); ``seen_as``
    when it is their own credential: created with that role, seen now."""
    query = select(User).where(col(User.tenant_id) == tenant_id, col(User.external_id) == external_id)
    user = (await session.execute(query)).scalar_one_or_none()
    if user is not None:
        return user
    sighting = {"role": seen_as.value, "last_seen_at": func.now()} if seen_as is not None else {}
    await session.execute(
        insert(User)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, external_id=external_id, timezone=timezone, **sighting)
        .on_conflict_do_nothing(constraint="uq_users_tenant_external")
    )
    return (await session.execute(query)).scalar_one()


async def create_api_key(session: AsyncSession, *, tenant_id: uuid.UUID, name: str) -> tuple[ApiKey, str]:
    """A new API key for the tenant; returns the row and the secret (shown once)."""
    problems = Problems()
    if not name.strip() or len(name) > 200:
        problems.add("name", "must be 1-200 characters")
    problems.raise_if_any()
    new = generate_api_key()
    key = ApiKey(tenant_id=tenant_id, name=name.strip(), key_id=new.key_id, secret_hash=new.secret_hash)
    session.add(key)
    await session.flush()
    return key, new.secret


async def revoke_api_key(session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key of the tenant; revoking twice keeps the first revocation time."""
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound("API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await record_change(session, api_key_id=key.id)
    return key


async def api_key_active(session: AsyncSession, *, key_id: uuid.UUID) -> bool:
    """Whether an API key (by row id) still exists and is not revoked."""
    revoked = await session.execute(select(ApiKey.revoked_at).where(col(ApiKey.id) == key_id))
    row = revoked.one_or_none()
    return row is not None and row[0] is None


async def authenticate(
    read: SessionScope, *, settings: Settings, credential: str, cache: ViewerCache | None = None
) -> Viewer:
    """Turn a bearer credential (user JWT or API key) into a viewer.

    The credential is checked on every call; its tenant and user come from ``cache`` when it has
    them (no database access, no first-sight write), else from a session of ``read``."""
    check_credential(credential)
    if cache is not None:
        await cache.ready()
    if credential.startswith(API_KEY_PREFIX):
        return await _authenticate_api_key(read, credential, cache)
    claims = read_user_token(settings, credential)
    tenant = cache.tenant(claims.tenant_slug) if cache is not None else None
    user = cache.user(tenant.id, claims.subject) if cache is not None and tenant is not None else None
    if tenant is None or user is None:
        since = cache.generation if cache is not None else 0
        async with read() as session:
            tenant, user = await _tenant_and_user(session, slug=claims.tenant_slug, external_id=claims.subject)
            if tenant is None:
                raise Unauthenticated("The token names an unknown tenant")
            if user is None:
                user = await get_or_create_user(
                    session,
                    tenant_id=tenant.id,
                    external_id=claims.subject,
                    timezone=claims.timezone,
                    seen_as=claims.role,
                )
            _detach(session, tenant, user)
        if cache is not None:
            cache.put_viewer(tenant, user, since=since)
    return Viewer(
        tenant=tenant, user=user, role=claims.role, token_timezone=claims.timezone, expires_at=claims.expires_at
    )


async def _tenant_and_user(session: AsyncSession, *, slug: str, external_id: str) -> tuple[Tenant | None, User | None]:
    """The tenant by slug and its user by external id, in one statement."""
    row = (
        await session.execute(
            select(Tenant, User)
            .outerjoin(User, and_(col(User.tenant_id) == col(Tenant.id), col(User.external_id) == external_id))
            .where(col(Tenant.slug) == slug)
        )
    ).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


def _detach(session: AsyncSession, *rows: object) -> None:
    # Detached, the rows outlive the session (and a rollback later in the operation cannot
    # expire them, which would make reading them do IO): the viewer and the cache hold them.
    for row in rows:
        if row in session:
            session.expunge(row)


async def _authenticate_api_key(read: SessionScope, secret: str, cache: ViewerCache | None) -> Viewer:
    key_id = parse_api_key(secret)
    cached = cache.api_key(key_id) if cache is not None else None
    if cached is not None:
        if not api_secret_matches(secret, cached.secret_hash):
            raise Unauthenticated("The API key is invalid")
        return Viewer(
            tenant=cached.tenant, user=cached.user, role=Role.ADMIN, api_key_id=cached.id, api_key_name=cached.name
        )
    since = cache.generation if cache is not None else 0
    async with read() as session:
        row = (
            await session.execute(
                select(ApiKey, Tenant)
                .join(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
                .where(col(ApiKey.key_id) == key_id)
            )
        ).one_or_none()
        # Compare even when the key is unknown, so timing does not reveal which ids exist.
        stored_hash = row[0].secret_hash if row is not None else "0" * 64
        if not api_secret_matches(secret, stored_hash) or row is None:
            raise Unauthenticated("The API key is invalid")
        key, tenant = row
        if key.revoked_at is not None:
            raise Unauthenticated("The API key has been revoked")
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            await session.execute(update(ApiKey).where(col(ApiKey.id) == key.id).values(last_used_at=func.now()))
        user = await get_or_create_user(
            session, tenant_id=tenant.id, external_id=f"apikey:{key.key_id}", seen_as=Role.ADMIN
        )
        _detach(session, key, tenant, user)
    if cache is not None:
        cache.put_api_key(
            key_id,
            CachedKey(id=key.id, secret_hash=key.secret_hash, tenant=tenant, user=user, name=key.name),
            since=since,
        )
    return Viewer(tenant=tenant, user=user, role=Role.ADMIN, api_key_id=key.id, api_key_name=key.name)
