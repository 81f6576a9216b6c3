"""Reading versioned content, the same for every kind: Core statements (built once per kind and
shape, see app/catalog/reads.py) that serve a definition as users and runs see it.

Served rows have the definition's ``id``, ``status``, ``created_at`` and ``version`` and the
``fields`` of one version: the latest (``latest_statement``: the draft's own fields before the
first publish, version 0), or a pinned one (``pinned_statement``, keyed (id, version)). Items
come the same way: of pinned versions (``items_statement``; version 0 reads the draft's items).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, any_, bindparam, case, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from app.core_rows import fetch_rows
from app.pagination import Count, Page, Window, keyset
from app.rawjson import raw_json
from app.versions.kinds import VersionedKind
from app.versions.publish import draft_differs

Key = tuple[uuid.UUID, int]  # (definition id, version)
ColumnMaker = Callable[[Any, str], Any]  # (table, name) -> the column as served


def _plain(table: Any, name: str) -> Any:
    return table.c[name]


def key_params(keys: Sequence[Key]) -> dict[str, Any]:
    """Parameters of ``pinned``: the keys as two parallel arrays."""
    return {"key_ids": [k[0] for k in keys], "key_versions": [k[1] for k in keys]}


def _pinned(columns: Any) -> ColumnElement[bool]:
    """``(id, version)`` among the keys passed as two arrays."""
    pairs = select(
        func.unnest(bindparam("key_ids", type_=ARRAY(UUID(as_uuid=True)))),
        func.unnest(bindparam("key_versions", type_=ARRAY(Integer))),
    )
    return tuple_(*columns).in_(pairs)


def served_columns(kind: VersionedKind, version_table: Any, names: Sequence[str]) -> list[Any]:
    """The served columns of a definition read from ``version_table`` joined to its definition."""
    d, out = kind.definitions, []
    for name in names:
        if name == "id":
            out.append(version_table.c[kind.parent].label("id"))
        elif name == "status":
            out.append(d.c.status)
        else:
            out.append(version_table.c[name].label(name))
    return out


def latest_statement(kind: VersionedKind, names: Sequence[str]) -> Select[Any]:
    """Definitions by id (``ids``) of a tenant as served now (``served_now``)."""
    d = kind.definitions
    return served_now(kind, names).where(
        d.c.tenant_id == bindparam("tenant_id"), d.c.id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
    )


def served_now(kind: VersionedKind, names: Sequence[str]) -> Select[Any]:
    """Definitions as served now: their latest version's fields, or the draft's before the
    first publish (filter and order it by the definition table's columns)."""
    d, v = kind.definitions, kind.versions
    joined = d.outerjoin(v, and_(v.c[kind.parent] == d.c.id, v.c.version == d.c.version))
    columns: list[Any] = []
    for name in names:
        if name in kind.fields or name == "published_at":
            columns.append(case((v.c.version.is_(None), d.c[name]), else_=v.c[name]).label(name))
        else:
            columns.append(d.c[name])
    return select(*columns).select_from(joined)


def pinned_statement(kind: VersionedKind, names: Sequence[str]) -> Select[Any]:
    """Definitions as they are in given versions (``key_ids``/``key_versions``)."""
    d, v = kind.definitions, kind.versions
    return (
        select(*served_columns(kind, v, names))
        .select_from(v.join(d, d.c.id == v.c[kind.parent]))
        .where(v.c.tenant_id == bindparam("tenant_id"), _pinned((v.c[kind.parent], v.c.version)))
    )


def item_columns(kind: VersionedKind, table: Any, names: Sequence[str], make: ColumnMaker = _plain) -> list[Any]:
    return [make(table, name) for name in names]


def items_statement(kind: VersionedKind, names: Sequence[str], make: ColumnMaker = _plain) -> Select[Any]:
    """Items of given versions (``key_ids``/``key_versions``), by definition, version and position."""
    vi = kind.version_items
    return (
        select(*item_columns(kind, vi, names, make), vi.c.version.label("item_version"))
        .where(vi.c.tenant_id == bindparam("tenant_id"), _pinned((vi.c[kind.parent], vi.c.version)))
        .order_by(vi.c[kind.parent], vi.c.version, vi.c.position)
    )


def draft_items_statement(kind: VersionedKind, names: Sequence[str], make: ColumnMaker = _plain) -> Select[Any]:
    """The draft's items of definitions (``ids``), by definition and position."""
    i = kind.items
    return (
        select(*item_columns(kind, i, names, make))
        .where(
            i.c.tenant_id == bindparam("tenant_id"),
            i.c[kind.parent] == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))),
        )
        .order_by(i.c[kind.parent], i.c.position)
    )


def latest_items_by_ids_statement(kind: VersionedKind, names: Sequence[str], make: ColumnMaker = _plain) -> Select[Any]:
    """Items by id (``ids``) as they are in their definition's latest version."""
    d, vi = kind.definitions, kind.version_items
    return (
        select(*item_columns(kind, vi, names, make), vi.c.version.label("item_version"))
        .select_from(vi.join(d, and_(d.c.id == vi.c[kind.parent], d.c.version == vi.c.version)))
        .where(
            vi.c.tenant_id == bindparam("tenant_id"), vi.c.id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
        )
    )


def draft_items_by_ids_statement(kind: VersionedKind, names: Sequence[str], make: ColumnMaker = _plain) -> Select[Any]:
    """Draft items by id (``ids``), ``item_version`` 0."""
    i = kind.items
    return select(*item_columns(kind, i, names, make), literal_column("0").label("item_version")).where(
        i.c.tenant_id == bindparam("tenant_id"), i.c.id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
    )


async def items_of_versions(
    session: AsyncSession,
    kind: VersionedKind,
    *,
    tenant_id: uuid.UUID,
    keys: Sequence[Key],
    versions: Select[Any],
    drafts: Select[Any],
) -> dict[Key, list[Any]]:
    """Each key's items in position order: one statement for the published versions, one more
    only when drafts (version 0) are asked for too."""
    grouped: dict[Key, list[Any]] = {key: [] for key in keys}
    pinned = [key for key in keys if key[1] > 0]
    if pinned:
        for row in await fetch_rows(session, versions, {"tenant_id": tenant_id, **key_params(pinned)}):
            grouped[(getattr(row, kind.parent), row.item_version)].append(row)
    unpublished = [key[0] for key in keys if key[1] == 0]
    if unpublished:
        for row in await fetch_rows(session, drafts, {"tenant_id": tenant_id, "ids": unpublished}):
            grouped[(getattr(row, kind.parent), 0)].append(row)
    return grouped


async def items_by_ids(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    latest: Select[Any],
    drafts: Select[Any] | None,
) -> dict[uuid.UUID, Any]:
    """Items by id as in their latest version; with ``drafts``, those not published yet from the draft."""
    found = {row.id: row for row in await fetch_rows(session, latest, {"tenant_id": tenant_id, "ids": list(ids)})}
    missing = [i for i in ids if i not in found]
    if drafts is not None and missing:
        found.update(
            {row.id: row for row in await fetch_rows(session, drafts, {"tenant_id": tenant_id, "ids": missing})}
        )
    return found


def versions_statement(kind: VersionedKind, names: Sequence[str]) -> Select[Any]:
    """A definition's (``definition_id``) versions (to be ordered and paged by ``version``)."""
    d, v = kind.definitions, kind.versions
    return (
        select(*served_columns(kind, v, names))
        .select_from(v.join(d, d.c.id == v.c[kind.parent]))
        .where(v.c.tenant_id == bindparam("tenant_id"), v.c[kind.parent] == bindparam("definition_id"))
    )


def served_item_column(table: Any, name: str) -> Any:
    """An item column as served: ``metadata`` undecoded (app/rawjson.py), as ``metadata_``."""
    return raw_json(table.c[name], "metadata_") if name == "metadata" else table.c[name]


class ContentReads:
    """The batched reads of one kind of versioned content (for dataloaders), each one statement
    built once: ``names`` are the served definition columns (see ``served_now``), ``item_names``
    an item's, ``draft_names`` the draft's own."""

    def __init__(
        self, kind: VersionedKind, *, names: Sequence[str], item_names: Sequence[str], draft_names: Sequence[str]
    ) -> None:
        self.kind = kind
        d = kind.definitions
        self._latest = latest_statement(kind, names)
        self._pinned = pinned_statement(kind, names)
        self._items = items_statement(kind, item_names, served_item_column)
        self._draft_items = draft_items_statement(kind, item_names, served_item_column)
        self._latest_items = latest_items_by_ids_statement(kind, item_names, served_item_column)
        self._draft_items_by_ids = draft_items_by_ids_statement(kind, item_names, served_item_column)
        self._drafts = select(*(d.c[name] for name in draft_names), draft_differs(kind).label("differs")).where(
            d.c.tenant_id == bindparam("tenant_id"), d.c.id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
        )
        listed = versions_statement(kind, names)
        self._versions = {
            shape: keyset(listed, (kind.versions.c.version,), shape, descending=True)
            for shape in [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]
        }
        self._all_versions = listed

    async def latest(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Any]:
        """Definitions by id as served now (their latest version)."""
        result = await fetch_rows(session, self._latest, {"tenant_id": tenant_id, "ids": list(ids)})
        return {row.id: row for row in result}

    async def pinned(self, session: AsyncSession, *, tenant_id: uuid.UUID, keys: Sequence[Key]) -> dict[Key, Any]:
        """Definitions as they are in these (id, version) pairs."""
        result = await fetch_rows(session, self._pinned, {"tenant_id": tenant_id, **key_params(keys)})
        return {(row.id, row.version): row for row in result}

    async def items(self, session: AsyncSession, *, tenant_id: uuid.UUID, keys: Sequence[Key]) -> dict[Key, list[Any]]:
        """The items of these (id, version) pairs in position order (version 0: the draft's)."""
        return await items_of_versions(
            session, self.kind, tenant_id=tenant_id, keys=keys, versions=self._items, drafts=self._draft_items
        )

    async def items_by_ids(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], drafts: bool = True
    ) -> dict[uuid.UUID, Any]:
        """Items by id as in their definition's latest version (with ``drafts``, the ones only in
        the draft too, ``item_version`` 0)."""
        return await items_by_ids(
            session,
            tenant_id=tenant_id,
            ids=ids,
            latest=self._latest_items,
            drafts=self._draft_items_by_ids if drafts else None,
        )

    async def drafts(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Any]:
        """The drafts of these definitions, each with ``differs`` (from the latest version)."""
        result = await fetch_rows(session, self._drafts, {"tenant_id": tenant_id, "ids": list(ids)})
        return {row.id: row for row in result}

    async def versions(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID, window: Window
    ) -> Page[Any]:
        """A page of a definition's versions, newest first."""
        params: dict[str, Any] = {"tenant_id": tenant_id, "definition_id": definition_id}
        rows = await fetch_rows(session, self._versions[window.shape], params | window.params())
        return window.page(rows, count=Count(self._all_versions, params))
