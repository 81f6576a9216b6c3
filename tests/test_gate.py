"""The session gate (app/gate.py) on a real database: one connection per operation, reads in
autocommit (no BEGIN/ROLLBACK), a write as one transaction, and a pooled connection that died
replaced on checkout or, failing that, its first statement retried once on a fresh one."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SessionGate, _replace_closed, create_engine, create_session_factory
from app.tenancy.changes import connector
from app.tenancy.models import Tenant

PID = "SELECT pg_backend_pid()"
XID = "SELECT txid_current()"  # a statement's transaction id (assigning one)


async def own_transaction(session: Any) -> bool:
    """Whether statements run each in a transaction of its own (autocommit): then two in a row
    get two transaction ids, where in one transaction they share it."""
    first = (await session.execute(text(XID))).scalar_one()
    return bool((await session.execute(text(XID))).scalar_one() != first)


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


def _gate(engine: AsyncEngine) -> SessionGate:
    return SessionGate(create_session_factory(engine))


async def _pooled_pid(engine: AsyncEngine) -> int:
    """Put a connection in the (one-connection) pool and say which backend it is."""
    gate = _gate(engine)
    async with gate.read() as session:
        pid = int((await session.execute(text(PID))).scalar_one())
    await gate.close()
    return pid


async def _terminate(migrated: str, pid: int) -> None:
    connection = await connector(migrated)()
    try:
        await connection.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()
    await asyncio.sleep(0.1)


async def test_reads_autocommit_and_a_write_is_one_transaction(engine: AsyncEngine) -> None:
    gate = _gate(engine)
    try:
        async with gate.read() as session:
            pid = (await session.execute(text(PID))).scalar_one()
            assert await own_transaction(session) is True
        async with gate.write() as session:
            assert await own_transaction(session) is False
            assert (await session.execute(text(PID))).scalar_one() == pid  # the same connection
        async with gate.read() as session:
            assert await own_transaction(session) is True
            assert (await session.execute(text(PID))).scalar_one() == pid
    finally:
        await gate.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_write_commits_as_a_whole_or_not_at_all(engine: AsyncEngine) -> None:
    gate = _gate(engine)
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with pytest.raises(RuntimeError):
        async with gate.write() as session:
            session.add(Tenant(slug=slug, name="Gone"))
            await session.flush()
            raise RuntimeError("the unit of work fails")
    async with gate.read() as session:
        found = await session.execute(text("SELECT count(*) FROM tenants WHERE slug = :s"), {"s": slug})
        assert found.scalar_one() == 0
    await gate.close()


async def test_a_flush_while_reading_is_refused(engine: AsyncEngine) -> None:
    gate = _gate(engine)
    with pytest.raises(RuntimeError, match=r"SessionGate\.write"):
        async with gate.read() as session:
            session.add(Tenant(slug=f"t-{uuid.uuid4().hex[:10]}", name="Nope"))
            await session.flush()
    await gate.close()


async def test_a_pooled_connection_the_server_closed_is_replaced_on_checkout(
    engine: AsyncEngine, migrated: str, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await _pooled_pid(engine)
    await _terminate(migrated, pid)
    caplog.set_level(logging.INFO, logger="app.db")
    gate = _gate(engine)
    async with gate.read() as session:
        assert (await session.execute(text(PID))).scalar_one() != pid
    await gate.close()
    # replaced before any statement: nothing had to be retried
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


async def test_the_first_statement_on_a_dead_connection_is_retried_once(
    engine: AsyncEngine, migrated: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a dead pooled connection the pool does not see (no checkout check: as when the
    # network, not the server, dropped it)
    event.remove(engine.sync_engine.pool, "checkout", _replace_closed)
    caplog.set_level(logging.INFO, logger="app.db")
    for mode in ("read", "write"):
        pid = await _pooled_pid(engine)
        await _terminate(migrated, pid)
        gate = _gate(engine)
        async with gate.read() if mode == "read" else gate.write() as session:
            # then the first statement is retried on a fresh connection, in the gate's mode
            assert (await session.execute(text(PID))).scalar_one() != pid
            assert await own_transaction(session) is (mode == "read")
        await gate.close()
    assert len([r for r in caplog.records if "retrying the first statement" in r.getMessage()]) == 2


async def test_nothing_is_retried_once_the_connection_was_used_or_after_a_flush(
    engine: AsyncEngine, migrated: str
) -> None:
    event.remove(engine.sync_engine.pool, "checkout", _replace_closed)
    # a connection that answered, then died: the operation fails (an outage, not a stale pool)
    gate = _gate(engine)
    async with gate.read() as session:
        pid = (await session.execute(text(PID))).scalar_one()
    await _terminate(migrated, pid)
    with pytest.raises(DBAPIError) as failed:
        async with gate.read() as session:
            await session.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    # (the operation's next read reconnects, in autocommit still)
    async with gate.read() as session:
        assert await own_transaction(session) is True
    await gate.close()
    # a unit of work whose first contact is a flush is not retried (its rows would be lost)
    pid = await _pooled_pid(engine)
    await _terminate(migrated, pid)
    gate = _gate(engine)
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with pytest.raises(DBAPIError):
        async with gate.write() as session:
            session.add(Tenant(slug=slug, name="Lost"))
            await session.flush()
            await session.execute(text("SELECT 1"))
    await gate.close()


async def test_close_waits_for_whoever_uses_the_session(engine: AsyncEngine) -> None:
    gate = _gate(engine)
    order: list[str] = []

    async def reader() -> Any:
        async with gate.read() as session:
            order.append("reading")
            await session.execute(text("SELECT pg_sleep(0.2)"))
            order.append("read")

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    await gate.close()
    order.append("closed")
    await task
    assert order == ["reading", "read", "closed"]
