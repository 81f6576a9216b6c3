"""What the GraphQL layers of versioned content share (app/versions/): the admin's draft and
versions of a definition, mutation payloads that serve the definition as published, and the
upgrade mutations' payload."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.graphql.acting import actor_for
from app.graphql.context import Info
from app.graphql.errors import UserError, write_payload
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest
from app.tenancy.actors import act_as
from app.versions.reads import ContentReads

N = TypeVar("N")
P = TypeVar("P")


@strawberry.type(
    description="The result of moving open runs (journey instances or onboarding journeys) to the latest version."
)
class UpgradeInstancesPayload:
    upgraded: int = strawberry.field(description="How many runs moved (0 when it failed).")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


async def admin_draft(info: Info, loader: DataLoader[uuid.UUID, Any], key: uuid.UUID) -> Any | None:
    """The definition's draft row for admins when it differs from the latest version; else None."""
    if not (await info.context.viewer()).is_admin:
        return None
    row = await loader.load(key)
    return row if row is not None and row.differs else None


async def versions_connection(
    info: Info,
    reads: ContentReads,
    *,
    definition_id: uuid.UUID,
    list_name: str,
    node: Callable[[Any], N],
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[N]:
    """Admins: a page of a definition's versions, newest first (FORBIDDEN for users)."""
    viewer = await info.context.admin()
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters={"definition": str(definition_id)},
    )
    async with info.context.db.read() as session:
        page = await reads.versions(
            session, tenant_id=viewer.tenant_id, definition_id=definition_id, window=request.window
        )
    return request.connection(page, key=lambda row: (row.version,), node=node)


async def served_payload(
    info: Info,
    reads: ContentReads,
    work: Callable[[AsyncSession], Awaitable[Any]],
    *,
    ok: Callable[[Any], P],
    failed: Callable[[list[UserError]], P],
) -> P:
    """Run an authoring ``work`` (it returns the changed definition's entity) and shape its payload
    from the definition as served afterwards (its latest version), read in the same transaction."""

    async def served(session: AsyncSession) -> Any:
        definition = await work(session)
        await session.flush()
        return (await reads.latest(session, tenant_id=definition.tenant_id, ids=[definition.id]))[definition.id]

    return await write_payload(info, served, ok=ok, failed=failed)


async def upgrade_payload(info: Info, work: Callable[[AsyncSession], Awaitable[int]]) -> UpgradeInstancesPayload:
    """Run an upgrade ``work`` (it returns how many runs moved) as the operation's unit of work;
    the `upgraded` log entries name the admin or API key that asked for it."""
    actor = actor_for(await info.context.admin())

    async def as_actor(session: AsyncSession) -> int:
        act_as(session, actor)
        return await work(session)

    return await write_payload(
        info,
        as_actor,
        ok=lambda moved: UpgradeInstancesPayload(upgraded=moved, errors=[]),
        failed=lambda errors: UpgradeInstancesPayload(upgraded=0, errors=errors),
    )


def draft_field(loader: Callable[[Info], DataLoader[uuid.UUID, Any]], draft: Any, *, what: str) -> Any:
    """A definition type's ``draft`` field: ``draft.from_row`` of its draft row through ``loader``,
    for admins when the draft differs from the latest version (null otherwise)."""

    async def resolve(root: Any, info: Info) -> Any:
        row = await admin_draft(info, loader(info), root.model.id)
        return draft.from_row(row) if row is not None else None

    resolve.__annotations__["return"] = draft | None
    return strawberry.field(
        resolver=resolve,
        description=f"Admins: the {what}'s draft, when it differs from the latest version (null when equal, and for users).",
    )


def versions_field(reads: ContentReads, node: Any, *, list_name: str, what: str) -> Any:
    """A definition type's ``versions`` connection of ``node.from_row`` rows (admins)."""

    async def resolve(
        root: Any,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Any:
        return await versions_connection(
            info,
            reads,
            definition_id=root.model.id,
            list_name=list_name,
            node=node.from_row,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    resolve.__annotations__["return"] = Connection[node]
    return strawberry.field(resolver=resolve, description=f"Admins: the {what}'s published versions, newest first.")
