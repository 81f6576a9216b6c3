"""Catalogue queries: browse published journeys, fetch one; admins see every status."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.catalog import reads
from app.catalog.models import Journey, JourneyStatus, Visibility
from app.graphql.catalog.types import JourneyNode, visible_journey
from app.graphql.context import Info
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest, local_id


def _journey_key(journey: Journey) -> tuple[object, ...]:
    return (journey.created_at, journey.id)


async def _catalogue_page(
    info: Info,
    *,
    list_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: reads.CatalogueFilter,
) -> Connection[JourneyNode]:
    viewer = await info.context.viewer()
    filters = {
        "category": filter.category,
        "search": filter.search,
        "statuses": [s.value for s in filter.statuses],
        "visibility": filter.visibility.value if filter.visibility else None,
    }
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters=filters,
    )
    async with info.context.db.read() as session:
        page = await reads.list_journeys(
            session,
            tenant_id=viewer.tenant_id,
            filter=filter,
            window=request.window,
        )
    return request.connection(page, key=_journey_key, node=JourneyNode.from_model)


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="The tenant's published, public journeys, newest first.")
    async def journeys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        category: Annotated[str | None, strawberry.argument(description="Only this category (exact match).")] = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Words that must all appear in the title, description or tags (case-insensitive)."
            ),
        ] = None,
    ) -> Connection[JourneyNode]:
        search = search.strip() or None if search is not None else None
        return await _catalogue_page(
            info,
            list_name="journeys",
            first=first,
            after=after,
            last=last,
            before=before,
            filter=reads.CatalogueFilter(category=category, search=search),
        )

    @strawberry.field(description="Admins: every journey of the tenant, any status or visibility, newest first.")
    async def admin_journeys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[JourneyStatus | None, strawberry.argument(description="Only this status.")] = None,
        visibility: Annotated[Visibility | None, strawberry.argument(description="Only this visibility.")] = None,
        category: Annotated[str | None, strawberry.argument(description="Only this category (exact match).")] = None,
        search: Annotated[str | None, strawberry.argument(description="Words to look for, as in `journeys`.")] = None,
    ) -> Connection[JourneyNode]:
        await info.context.admin()
        search = search.strip() or None if search is not None else None
        return await _catalogue_page(
            info,
            list_name="adminJourneys",
            first=first,
            after=after,
            last=last,
            before=before,
            filter=reads.CatalogueFilter(
                category=category,
                search=search,
                statuses=(status,) if status else (),
                visibility=visibility,
                live=False,
            ),
        )

    @strawberry.field(description="One journey by id: published ones for users, any for admins; null if not visible.")
    async def journey(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The journey's id.")]
    ) -> JourneyNode | None:
        await info.context.viewer()
        key = local_id(id, "Journey")
        journey = await visible_journey(info, key) if key else None
        return JourneyNode.from_model(journey) if journey else None
