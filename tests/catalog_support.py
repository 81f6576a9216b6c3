"""GraphQL documents and setup helpers shared by the catalogue tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlmodel import col, select

from app.catalog.models import Journey, JourneyEvent, JourneyStatus, Visibility
from app.catalog.versions import JOURNEYS as JOURNEY_KIND
from app.versions.publish import publish as publish_version
from tests.conftest import GraphQLClient

USER_ERRORS = "errors { code message field }"
EVENT_FIELDS = "id position title description kind dayOffset durationMinutes xpReward metadata"
JOURNEY_FIELDS = (
    "id slug title description category tags visibility status xpReward createdAt publishedAt "
    "events { id position title }"
)

CREATE_JOURNEY = f"""
mutation CreateJourney($input: JourneyInput!) {{
  createJourney(input: $input) {{ journey {{ {JOURNEY_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_JOURNEY = f"""
mutation UpdateJourney($id: ID!, $input: JourneyInput!) {{
  updateJourney(id: $id, input: $input) {{ journey {{ {JOURNEY_FIELDS} }} {USER_ERRORS} }}
}}
"""
PUBLISH_JOURNEY = f"""
mutation PublishJourney($id: ID!) {{
  publishJourney(id: $id) {{ journey {{ {JOURNEY_FIELDS} }} {USER_ERRORS} }}
}}
"""
ARCHIVE_JOURNEY = f"""
mutation ArchiveJourney($id: ID!) {{
  archiveJourney(id: $id) {{ journey {{ {JOURNEY_FIELDS} }} {USER_ERRORS} }}
}}
"""
ADD_EVENT = f"""
mutation AddJourneyEvent($journeyId: ID!, $input: JourneyEventInput!) {{
  addJourneyEvent(journeyId: $journeyId, input: $input) {{ event {{ {EVENT_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_EVENT = f"""
mutation UpdateJourneyEvent($id: ID!, $input: JourneyEventInput!) {{
  updateJourneyEvent(id: $id, input: $input) {{ event {{ {EVENT_FIELDS} }} {USER_ERRORS} }}
}}
"""
REMOVE_EVENT = f"""
mutation RemoveJourneyEvent($id: ID!) {{
  removeJourneyEvent(id: $id) {{ event {{ {EVENT_FIELDS} }} {USER_ERRORS} }}
}}
"""
REORDER_EVENTS = f"""
mutation ReorderJourneyEvents($journeyId: ID!, $eventIds: [ID!]!) {{
  reorderJourneyEvents(journeyId: $journeyId, eventIds: $eventIds) {{
    journey {{ {JOURNEY_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

UPGRADE_INSTANCES = """
mutation UpgradeJourneyInstances($journeyId: ID!, $fromVersion: Int) {
  upgradeJourneyInstances(journeyId: $journeyId, fromVersion: $fromVersion) { upgraded errors { code message field } }
}
"""

JOURNEY = f"query Journey($id: ID!) {{ journey(id: $id) {{ {JOURNEY_FIELDS} }} }}"
NODE = """
query Node($id: ID!) {
  node(id: $id) { id ... on Journey { title status } ... on JourneyEvent { title position } }
}
"""
JOURNEYS = """
query Journeys($first: Int! = 20, $after: String, $category: String, $search: String) {
  journeys(first: $first, after: $after, category: $category, search: $search) {
    edges { cursor node { id slug title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
ADMIN_JOURNEYS = """
query AdminJourneys($first: Int! = 20, $after: String) {
  adminJourneys(first: $first, after: $after) { edges { node { id slug status visibility } } }
}
"""


async def mutate(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The single payload of a mutation that had no top-level errors."""
    data = await client.data(document, variables)
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


async def create_journey(admin: GraphQLClient, **fields: Any) -> dict[str, Any]:
    """A new DRAFT journey through the API (``slug`` and ``title`` default to unique ones)."""
    slug = fields.pop("slug", None) or f"j-{uuid.uuid4().hex[:12]}"
    payload = await mutate(admin, CREATE_JOURNEY, {"input": {"slug": slug, "title": slug, **fields}})
    assert payload["errors"] == [], payload
    journey: dict[str, Any] = payload["journey"]
    return journey


async def add_event(admin: GraphQLClient, journey_id: str, **fields: Any) -> dict[str, Any]:
    payload = await mutate(admin, ADD_EVENT, {"journeyId": journey_id, "input": {"title": "Step", **fields}})
    assert payload["errors"] == [], payload
    event: dict[str, Any] = payload["event"]
    return event


async def publish(admin: GraphQLClient, journey_id: str) -> dict[str, Any]:
    payload = await mutate(admin, PUBLISH_JOURNEY, {"id": journey_id})
    assert payload["errors"] == [], payload
    journey: dict[str, Any] = payload["journey"]
    return journey


async def published_journey(admin: GraphQLClient, *, events: int = 1, **fields: Any) -> dict[str, Any]:
    """A PUBLISHED journey with ``events`` events, created through the API."""
    journey = await create_journey(admin, **fields)
    for index in range(events):
        await add_event(admin, journey["id"], title=f"Step {index + 1}")
    return await publish(admin, journey["id"])


async def journeys_page(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    data = await client.data(JOURNEYS, variables)
    page: dict[str, Any] = data["journeys"]
    return page


async def listed_slugs(client: GraphQLClient, **variables: Any) -> list[str]:
    page = await journeys_page(client, first=100, **variables)
    return [edge["node"]["slug"] for edge in page["edges"]]


async def outbox(db: Any) -> list[tuple[str, uuid.UUID, dict[str, Any]]]:
    """Every recorded event, oldest first: (type, tenant id, data)."""
    async with db() as session:
        rows = (await session.execute(text("SELECT type, tenant_id, data FROM outbox_events ORDER BY id"))).all()
    return [(row[0], row[1], row[2]) for row in rows]


def _search_text(title: str, description: str, tags: list[str]) -> str:
    return " ".join([title, description, *tags]).lower()


async def bulk_journeys(
    db: Any,
    tenant_id: uuid.UUID,
    titles: list[str],
    *,
    events_each: int = 0,
    status: JourneyStatus = JourneyStatus.PUBLISHED,
    spacing_seconds: float = 1,
) -> list[uuid.UUID]:
    """Insert many journeys (and events) in one transaction, oldest first in ``titles`` order
    (``spacing_seconds`` apart; 0 = all at one instant), created a day ago, with
    ``search_text`` computed as the service computes it."""
    start = datetime.now(UTC) - timedelta(days=1)
    journeys: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for index, title in enumerate(titles):
        journey_id = uuid.uuid4()
        description = f"Description of {title}"
        tags = ["bulk"]
        created = start + timedelta(seconds=index * spacing_seconds)
        journeys.append(
            {
                "id": journey_id,
                "tenant_id": tenant_id,
                "slug": f"bulk-{index}-{journey_id.hex[:6]}",
                "title": title,
                "description": description,
                "tags": tags,
                "category": None,
                "visibility": Visibility.PUBLIC,
                "status": status,
                "xp_reward": 0,
                "search_text": _search_text(title, description, tags),
                "created_at": created,
                "updated_at": created,
                "published_at": created if status is JourneyStatus.PUBLISHED else None,
            }
        )
        events.extend(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "journey_id": journey_id,
                "position": position,
                "title": f"{title} step {position}",
                "description": "",
                "kind": "task",
                "xp_reward": 0,
                "metadata": {},
                "created_at": created,
            }
            for position in range(1, events_each + 1)
        )
    async with db() as session:
        await session.execute(insert(Journey.__table__), journeys)  # type: ignore[attr-defined]
        if events:
            await session.execute(insert(JourneyEvent.__table__), events)  # type: ignore[attr-defined]
        if status is JourneyStatus.PUBLISHED:
            # Published as the service publishes: each draft becomes version 1, live.
            found = await session.execute(select(Journey).where(col(Journey.id).in_([j["id"] for j in journeys])))
            for journey in found.scalars():
                await publish_version(session, JOURNEY_KIND, journey)
                journey.published_at = journey.created_at
    return [j["id"] for j in journeys]
