"""Migration 0006 on a database with the demo tenant and runs: downgraded to 0005 and upgraded
again, today's content becomes version 1, today's runs pin it, drafts equal it (publishing is a
no-op), and the downgrade restores the schema exactly."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.catalog.service import publish_journey
from app.db import create_engine, create_session_factory, ensure_database, transaction
from app.demo import load_demo
from app.migrate import alembic_config
from app.onboarding.authoring import publish_onboarding
from app.onboarding.lifecycle import start_onboarding
from app.tenancy.service import get_or_create_user, get_tenant_by_slug

VERSION_TABLES = {"journey_versions", "journey_event_versions", "onboarding_versions", "onboarding_step_versions"}


async def _migrate(url: str, direction: str, revision: str) -> None:
    step = command.upgrade if direction == "up" else command.downgrade
    await asyncio.to_thread(step, alembic_config(url), revision)


async def _schema(engine: AsyncEngine) -> dict[str, Any]:
    """Every table's columns, indexes and foreign keys, as the database has them."""

    def read(sync_conn: Any) -> dict[str, Any]:
        found = inspect(sync_conn)
        return {
            table: (
                sorted((c["name"], str(c["type"]), c["nullable"], str(c["default"])) for c in found.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in found.get_indexes(table)),
                sorted(
                    (f["name"], tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                    for f in found.get_foreign_keys(table)
                ),
            )
            for table in found.get_table_names()
        }

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def _rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(text(sql))).all()]


async def test_todays_content_becomes_version_1_and_the_downgrade_is_exact(database_url: str) -> None:
    # given a fresh database at head with the demo tenant, its user's run, and an onboarding run
    url = make_url(database_url).set(database=f"versions_{uuid.uuid4().hex[:10]}").render_as_string(False)
    await ensure_database(url)
    await _migrate(url, "up", "head")
    engine = create_engine(url, pool_size=2, max_overflow=0)
    factory = create_session_factory(engine)
    try:
        async with transaction(factory) as session:
            await load_demo(session)
        async with transaction(factory) as session:
            tenant = await get_tenant_by_slug(session, slug="demo")
            assert tenant is not None
            bob = await get_or_create_user(session, tenant_id=tenant.id, external_id="bob")
            (onboarding_id,) = (await session.execute(text("SELECT id FROM onboardings"))).scalars()
            await start_onboarding(session, tenant_id=tenant.id, user_id=bob.id, onboarding_id=onboarding_id)
        runs_before = await _rows(engine, "SELECT id, status FROM journey_instances ORDER BY id")
        events_before = await _rows(engine, "SELECT id, status FROM event_instances ORDER BY id")
        assert runs_before and events_before
        # the schema at 0005, as that revision's own upgrade makes it
        await _migrate(url, "down", "0005")
        at_0005 = await _schema(engine)
        assert not VERSION_TABLES & set(at_0005)
        assert await _rows(engine, "SELECT id, status FROM journey_instances ORDER BY id") == runs_before

        # when it is upgraded to 0006
        await _migrate(url, "up", "0006")

        # then every published journey and onboarding is version 1, with its events and steps
        published = await _rows(engine, "SELECT id, version FROM journeys WHERE status = 'PUBLISHED' ORDER BY id")
        assert published and all(version == 1 for _, version in published)
        assert await _rows(engine, "SELECT count(*) FROM journeys WHERE status = 'DRAFT' AND version <> 0") == [(0,)]
        live = await _rows(engine, "SELECT journey_id FROM journey_versions WHERE live ORDER BY journey_id")
        assert live == [(journey_id,) for journey_id, _ in published]
        versioned_events = (
            "SELECT count(*) FROM journey_events e JOIN journeys j ON j.id = e.journey_id WHERE j.version = 1"
        )
        assert await _rows(engine, versioned_events) == await _rows(
            engine, "SELECT count(*) FROM journey_event_versions"
        )
        assert await _rows(engine, "SELECT version, live FROM onboarding_versions") == [(1, True)]
        assert await _rows(engine, "SELECT count(*) FROM onboarding_step_versions") == [(4,)]
        # and every run pins it, with its events and progress unchanged
        assert await _rows(engine, "SELECT DISTINCT journey_version FROM journey_instances") == [(1,)]
        assert await _rows(engine, "SELECT DISTINCT onboarding_version FROM onboarding_journeys") == [(1,)]
        assert await _rows(engine, "SELECT id, status FROM event_instances ORDER BY id") == events_before

        # and at head, the drafts equal version 1: publishing makes no version 2
        await _migrate(url, "up", "head")
        async with transaction(factory) as session:
            for journey_id, _ in published:
                await publish_journey(session, tenant_id=tenant.id, journey_id=journey_id)
            await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding_id)
        assert await _rows(engine, "SELECT max(version) FROM journey_versions") == [(1,)]
        assert await _rows(engine, "SELECT max(version) FROM onboarding_versions") == [(1,)]

        # when it is downgraded again, the schema is exactly 0005's and the runs are still there
        await _migrate(url, "down", "0005")
        assert await _schema(engine) == at_0005
        assert await _rows(engine, "SELECT id, status FROM journey_instances ORDER BY id") == runs_before
        assert await _rows(engine, "SELECT id, status FROM event_instances ORDER BY id") == events_before
    finally:
        await engine.dispose()
        admin = make_url(database_url).set(database="postgres")
        drop = create_engine(admin.render_as_string(False), pool_size=1, max_overflow=0)
        async with drop.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        await drop.dispose()
