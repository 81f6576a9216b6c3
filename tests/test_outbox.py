"""The event store: events are written with their transaction, never for a rollback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.db import transaction
from app.realtime.outbox import EventType, pending_events, record_event, take_committed
from tests.conftest import Actors, LiveServer


async def _stored(db: Any) -> list[tuple[int, str, dict[str, Any]]]:
    async with db() as session:
        rows = (await session.execute(text("SELECT id, type, data FROM outbox_events ORDER BY id"))).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_committed_event_is_stored_and_handed_out_once(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with transaction(server.runtime.sessions) as session:
        record_event(session, tenant_id=tenant.id, user_id=None, type=EventType.JOURNEY_CREATED, data={"n": 1})
        assert len(pending_events(session)) == 1
        assert await _stored(actors.db) == []  # nothing visible before commit
    committed = take_committed(session)
    assert [(c.type, c.tenant_id) for c in committed] == [("journey.created", tenant.id)]
    assert take_committed(session) == []
    stored = await _stored(actors.db)
    assert [(row[0], row[1], row[2]) for row in stored] == [(committed[0].id, "journey.created", {"n": 1})]


async def test_rolled_back_transaction_records_nothing(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    with pytest.raises(RuntimeError):
        async with transaction(server.runtime.sessions) as session:
            record_event(session, tenant_id=tenant.id, user_id=None, type=EventType.JOURNEY_UPDATED, data={})
            raise RuntimeError("the change failed")
    assert take_committed(session) == []
    assert await _stored(actors.db) == []
    # The session is reusable and does not carry the dropped event into its next commit.
    async with transaction(server.runtime.sessions) as session:
        record_event(session, tenant_id=tenant.id, user_id=None, type=EventType.JOURNEY_PUBLISHED, data={})
    assert [row[1] for row in await _stored(actors.db)] == ["journey.published"]


async def test_concurrent_writers_of_one_tenant_get_distinct_increasing_ids(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()

    async def write(n: int) -> list[int]:
        async with transaction(server.runtime.sessions) as session:
            for i in range(3):
                record_event(
                    session, tenant_id=tenant.id, user_id=None, type=EventType.XP_AWARDED, data={"n": n, "i": i}
                )
        return [c.id for c in take_committed(session)]

    batches = await asyncio.gather(*(write(n) for n in range(20)))
    ids = [i for batch in batches for i in batch]
    assert len(ids) == len(set(ids)) == 60
    # Each transaction's events are consecutive: the per-tenant lock serialises writers from insert to commit.
    for batch in batches:
        assert batch == list(range(batch[0], batch[0] + 3))
    stored = await _stored(actors.db)
    for batch in batches:
        by_id = {row[0]: row[2] for row in stored}
        assert [by_id[i]["i"] for i in batch] == [0, 1, 2]
