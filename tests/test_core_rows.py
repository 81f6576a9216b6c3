"""Core reads straight on the gate's asyncpg connection (app/core_rows.py): the same rows as
``session.execute``, the engine's cursor listeners still called, and SQLAlchemy's path (its
transaction, its retry of a dead connection, its errors) wherever the shortcut would change
anything."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Enum, Integer, String, bindparam, cast, column, event, func, literal, select, text, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core_rows import fetch_rows
from app.db import SessionGate, _replace_closed, create_engine, create_session_factory
from app.progress.models import InstanceStatus
from app.tenancy.models import Tenant
from tests.test_gate import _terminate

STATUS = Enum(InstanceStatus, name="journey_instance_status")
# Enums both bound by the caller and constant in the statement, an array, a null, an integer.
ROWS = (
    select(
        cast(bindparam("status", type_=STATUS), STATUS).label("status"),
        cast(literal(InstanceStatus.COMPLETED, STATUS), STATUS).label("fixed"),
        cast(bindparam("tags", type_=ARRAY(String)), ARRAY(String)).label("tags"),
        cast(literal(None), Integer).label("nothing"),
        column("n", Integer),
    )
    .select_from(values(column("n", Integer), name="numbers").data([(1,), (2,), (3,)]))
    .where(column("n", Integer) >= bindparam("least"))
    .order_by(column("n", Integer))
)
EXPANDING = (
    select(column("n", Integer))
    .select_from(values(column("n", Integer), name="numbers").data([(1,), (2,)]))
    .where(column("n", Integer).in_(bindparam("ns", expanding=True)))
)
TENANTS = (
    select(func.count().label("n"))
    .select_from(Tenant.__table__)
    .where(  # type: ignore[attr-defined]
        Tenant.__table__.c.slug == bindparam("slug")  # type: ignore[attr-defined]
    )
)
SLOW = select(func.pg_sleep(bindparam("seconds", type_=Integer)).label("slept"), literal(1, Integer).label("n"))
FAILING = select(cast(bindparam("digits", type_=String), Integer).label("number"))
PARAMS: dict[str, Any] = {"status": InstanceStatus.ACTIVE, "tags": ["a", "b"], "least": 2}


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


class Executions:
    """Which statements went through SQLAlchemy's execution (``before_execute``) and which
    reached the cursor listeners at all (``before_cursor_execute``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine, self.sqlalchemy, self.cursor = engine.sync_engine, 0, 0

    def __enter__(self) -> Executions:
        event.listen(self.engine, "before_execute", self._executed)
        event.listen(self.engine, "before_cursor_execute", self._cursor)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_execute", self._executed)
        event.remove(self.engine, "before_cursor_execute", self._cursor)

    def _executed(self, *_args: Any, **_kwargs: Any) -> None:
        self.sqlalchemy += 1

    def _cursor(self, *_args: Any, **_kwargs: Any) -> None:
        self.cursor += 1


async def test_rows_are_the_sessions_rows_without_its_execution_layer(engine: AsyncEngine) -> None:
    gate = SessionGate(create_session_factory(engine))
    try:
        async with gate.read() as session:
            expected = list(await session.execute(ROWS, PARAMS))
            with Executions(engine) as seen:
                rows = await fetch_rows(session, ROWS, PARAMS)
                again = await fetch_rows(session, ROWS, {**PARAMS, "least": 3})
        assert (seen.sqlalchemy, seen.cursor) == (0, 2)  # asyncpg's fetch, and the listeners told
        assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
        assert [type(v) for v in rows[0]] == [type(v) for v in expected[0]]
        first = rows[0]
        assert first.status is InstanceStatus.ACTIVE and first.fixed is InstanceStatus.COMPLETED
        assert (first.tags, first.nothing, [r.n for r in rows], [r.n for r in again]) == (["a", "b"], None, [2, 3], [3])
    finally:
        await gate.close()


async def test_where_the_shortcut_would_change_something_the_session_runs_it(engine: AsyncEngine) -> None:
    gate = SessionGate(create_session_factory(engine))
    slug = f"t-{uuid.uuid4().hex[:10]}"
    try:
        with Executions(engine) as seen:
            async with gate.write() as session:
                # inside a write, in its transaction: the uncommitted row is seen
                session.add(Tenant(slug=slug, name="Pending"))
                await session.flush()
                assert [r.n for r in await fetch_rows(session, TENANTS, {"slug": slug})] == [1]
            async with gate.read() as session:
                # an expanding IN (its SQL depends on the parameters)
                assert [r.n for r in await fetch_rows(session, EXPANDING, {"ns": [2]})] == [2]
        assert seen.sqlalchemy == seen.cursor == 3  # the tenant's INSERT and the two reads
    finally:
        await gate.close()
    # outside the gate (a plain session, in a transaction)
    async with create_session_factory(engine)() as session:
        with Executions(engine) as seen:
            assert [r.n for r in await fetch_rows(session, TENANTS, {"slug": slug})] == [1]
        assert seen.sqlalchemy == 1


async def test_a_failing_statement_fails_as_sqlalchemy_reports_it(engine: AsyncEngine) -> None:
    gate = SessionGate(create_session_factory(engine))
    try:
        with Executions(engine) as seen:
            async with gate.read() as session:
                with pytest.raises(DBAPIError, match="invalid input syntax for type integer"):
                    await fetch_rows(session, FAILING, {"digits": "seven"})
        assert (seen.cursor, seen.sqlalchemy) == (2, 1)  # tried on asyncpg, then run by the session
        async with gate.read() as session:  # the connection is still good
            assert [r.number for r in await fetch_rows(session, FAILING, {"digits": "7"})] == [7]
    finally:
        await gate.close()


async def test_the_first_read_on_a_dead_connection_is_retried_once(
    engine: AsyncEngine, migrated: str, caplog: pytest.LogCaptureFixture
) -> None:
    event.remove(engine.sync_engine.pool, "checkout", _replace_closed)  # a drop the pool cannot see
    gate = SessionGate(create_session_factory(engine))
    async with gate.read() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await gate.close()
    await _terminate(migrated, pid)
    caplog.set_level(logging.INFO, logger="app.db")
    gate = SessionGate(create_session_factory(engine))
    try:
        async with gate.read() as session:
            assert [r.n for r in await fetch_rows(session, ROWS, PARAMS)] == [2, 3]
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await gate.close()
    assert len([r for r in caplog.records if "retrying the first statement" in r.getMessage()]) == 1


async def test_a_read_cancelled_halfway_leaves_no_connection_behind(engine: AsyncEngine) -> None:
    # (graphql-core cancels the siblings of a field whose error nulls their parent)
    gate = SessionGate(create_session_factory(engine))
    async with gate.read() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()

    async def slow() -> None:
        async with gate.read() as session:
            await fetch_rows(session, SLOW, {"seconds": 30})

    reading = asyncio.create_task(slow())
    await asyncio.sleep(0.5)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await gate.close()
    # the one pooled connection was replaced: the next operation reads at once, on a new backend
    gate = SessionGate(create_session_factory(engine))
    try:
        async with gate.read() as session:
            rows = await asyncio.wait_for(fetch_rows(session, ROWS, PARAMS), 5)
            assert [r.n for r in rows] == [2, 3]
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
            # and the statement itself was cancelled on the server (not left sleeping)
            busy = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND state = 'active'"
            for _ in range(30):
                if (await session.execute(text(busy), {"pid": pid})).scalar_one() == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the cancelled statement still runs")
    finally:
        await gate.close()
