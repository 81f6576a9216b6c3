"""Publishing and withdrawing versioned content, the same for every kind.

A version's ``content_hash`` is the md5 of the draft's fields and items as one ``jsonb``
array, computed by PostgreSQL (``jsonb`` text is canonical), so "nothing changed since
version N" is one comparison, and a draft edited and edited back publishes nothing new.
Callers hold the definition's row lock (it serialises every change of one definition).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Text, cast, func, insert, literal, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.modelbase import utcnow
from app.versions.kinds import VersionedKind


def content_hash(kind: VersionedKind) -> ColumnElement[str]:
    """The hash of the draft of the definition row in the enclosing query (over ``kind.definitions``)."""
    d, i = kind.definitions, kind.items
    item = func.jsonb_build_array(i.c.id, i.c.position, *(i.c[name] for name in kind.item_fields))
    items = (
        select(func.coalesce(func.jsonb_agg(aggregate_order_by(item, i.c.position)), literal_column("'[]'::jsonb")))
        .where(i.c[kind.parent] == d.c.id)
        .scalar_subquery()
    )
    fields = func.jsonb_build_array(*(d.c[name] for name in kind.fields))
    return func.md5(cast(func.jsonb_build_array(fields, items), Text))


async def _draft_hash(session: AsyncSession, kind: VersionedKind, definition_id: uuid.UUID) -> str:
    d = kind.definitions
    return str((await session.execute(select(content_hash(kind)).where(d.c.id == definition_id))).scalar_one())


async def _version_hash(
    session: AsyncSession, kind: VersionedKind, definition_id: uuid.UUID, version: int
) -> str | None:
    v = kind.versions
    found = await session.scalar(
        select(v.c.content_hash).where(v.c[kind.parent] == definition_id, v.c.version == version)
    )
    return str(found) if found is not None else None


async def snapshot(session: AsyncSession, kind: VersionedKind, definition: Any) -> int | None:
    """Copy the (locked, flushed) draft as version N+1 and return N+1; None when the draft equals
    version N. The definition's ``version`` is set; nothing else of it changes."""
    draft = await _draft_hash(session, kind, definition.id)
    if definition.version and draft == await _version_hash(session, kind, definition.id, definition.version):
        return None
    number: int = definition.version + 1
    d, i, v, vi = kind.definitions, kind.items, kind.versions, kind.version_items
    now = utcnow()
    await session.execute(
        insert(v).from_select(
            ["tenant_id", kind.parent, "version", *kind.fields, "created_at", "published_at", "content_hash", "live"],
            select(
                d.c.tenant_id,
                d.c.id,
                literal(number),
                *(d.c[name] for name in kind.fields),
                d.c.created_at,
                literal(now, DateTime(timezone=True)),
                literal(draft),
                literal(False),
            ).where(d.c.id == definition.id),
        )
    )
    await session.execute(
        insert(vi).from_select(
            ["tenant_id", kind.parent, "version", "id", "position", *kind.item_fields],
            select(
                i.c.tenant_id,
                i.c[kind.parent],
                literal(number),
                i.c.id,
                i.c.position,
                *(i.c[name] for name in kind.item_fields),
            ).where(i.c[kind.parent] == definition.id),
        )
    )
    definition.version = number
    definition.published_at = now
    return number


async def set_live(session: AsyncSession, kind: VersionedKind, definition: Any) -> None:
    """Mark which version users find in listings: the latest, while the definition is published."""
    v = kind.versions
    listed = definition.status is kind.published
    await session.execute(
        update(v)
        .where(v.c[kind.parent] == definition.id, (v.c.live == true()) | (v.c.version == definition.version))
        .values(live=(v.c.version == definition.version) & literal(listed))
    )


async def publish(session: AsyncSession, kind: VersionedKind, definition: Any) -> bool:
    """Make the (locked) draft the latest version and the definition PUBLISHED; False when nothing
    changed (publishing an unchanged archived definition makes its latest version available
    again without a new one)."""
    await session.flush()
    number = await snapshot(session, kind, definition)
    if number is None and definition.status is kind.published:
        return False
    definition.status = kind.published
    definition.updated_at = utcnow()
    await session.flush()
    await set_live(session, kind, definition)
    return True


async def archive(session: AsyncSession, kind: VersionedKind, definition: Any) -> bool:
    """Withdraw a (locked) definition from users; False when it already was. Runs keep their versions."""
    if definition.status is kind.archived:
        return False
    definition.status = kind.archived
    definition.updated_at = utcnow()
    await session.flush()
    await set_live(session, kind, definition)
    return True


def draft_differs(kind: VersionedKind) -> ColumnElement[bool]:
    """Whether the draft of the definition row in the enclosing query differs from its latest
    version (always, before the first publish)."""
    d, v = kind.definitions, kind.versions
    latest = select(v.c.content_hash).where(v.c[kind.parent] == d.c.id, v.c.version == d.c.version).scalar_subquery()
    return func.coalesce(latest != content_hash(kind), true())
