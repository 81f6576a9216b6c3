"""The migrations build exactly the tables the models declare: Alembic's own comparison of the
migrated database with the models' metadata finds nothing to change."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table)


async def test_the_migrated_database_matches_the_models(migrated: str) -> None:
    engine = create_async_engine(migrated)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert found == [], "\n".join(map(str, found))
