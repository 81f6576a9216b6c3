"""Per-request dataloaders. Built with the context; never module-level (they cache)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.catalog import service as catalog
from app.catalog.models import Journey, JourneyEvent

if TYPE_CHECKING:
    from app.graphql.context import Context

K = TypeVar("K")
V = TypeVar("V")


def tenant_loader(
    ctx: Context,
    fetch: Callable[[AsyncSession, uuid.UUID, Sequence[K]], Awaitable[Mapping[K, V]]],
    default: Callable[[], V],
) -> DataLoader[K, V]:
    """A loader that fetches a batch of keys of the viewer's tenant in one query."""

    async def load(keys: list[K]) -> list[V]:
        viewer = await ctx.viewer()
        async with ctx.db.read() as session:
            found = await fetch(session, viewer.tenant_id, keys)
        return [found[k] if k in found else default() for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """The request's loaders, one attribute per kind of batch."""

    def __init__(self, ctx: Context) -> None:
        self.journey: DataLoader[uuid.UUID, Journey | None] = tenant_loader(
            ctx, lambda s, t, ids: catalog.journeys_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.journey_event: DataLoader[uuid.UUID, JourneyEvent | None] = tenant_loader(
            ctx, lambda s, t, ids: catalog.events_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.events_of_journey: DataLoader[uuid.UUID, list[JourneyEvent]] = tenant_loader(
            ctx, lambda s, t, ids: catalog.events_of_journeys(s, tenant_id=t, journey_ids=ids), list
        )
