"""versioned content: journey and onboarding versions; runs pin a version (issue 13)

Today's content becomes version 1 of every journey and onboarding that was ever published (or
has runs), and every run pins it. The content hash is the one app/versions/publish.py computes
(the md5 of the draft's fields and items as one jsonb array), so an unchanged draft publishes
nothing new. The run tables lose their foreign keys to the draft items: an item removed from
the draft lives on in the versions that have it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (definitions, items, versions, version items, parent column, run table, run version column,
#  definition fields, item fields, the foreign keys of runs' rows to items)
KINDS = (
    (
        "journeys",
        "journey_events",
        "journey_versions",
        "journey_event_versions",
        "journey_id",
        "journey_instances",
        "journey_version",
        ("slug", "title", "description", "category", "tags", "visibility", "xp_reward", "search_text"),
        ("title", "description", "kind", "day_offset", "duration_minutes", "xp_reward", "metadata"),
    ),
    (
        "onboardings",
        "onboarding_steps",
        "onboarding_versions",
        "onboarding_step_versions",
        "onboarding_id",
        "onboarding_journeys",
        "onboarding_version",
        ("slug", "name", "description", "xp_reward", "form"),
        ("name", "description", "metadata"),
    ),
)
# (table, column, referred table, ondelete): dropped on upgrade, restored on downgrade.
ITEM_FOREIGN_KEYS = (
    ("event_instances", "journey_event_id", "journey_events", "CASCADE"),
    ("journey_logs", "journey_event_id", "journey_events", "SET NULL"),
    ("onboarding_logs", "step_id", "onboarding_steps", "SET NULL"),
)


def _timestamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _create_tables() -> None:
    op.create_table(
        "journey_versions",
        sa.Column("journey_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column(
            "visibility",
            postgresql.ENUM("PUBLIC", "PRIVATE", name="journey_visibility", create_type=False),
            nullable=False,
        ),
        sa.Column("xp_reward", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("published_at"),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("live", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(["journey_id"], ["journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("journey_id", "version"),
    )
    op.create_index(
        "ix_journey_versions_catalogue",
        "journey_versions",
        ["tenant_id", "visibility", "created_at", "journey_id"],
        postgresql_where=sa.text("live"),
    )
    op.create_index(
        "ix_journey_versions_category",
        "journey_versions",
        ["tenant_id", "category", "created_at", "journey_id"],
        postgresql_where=sa.text("live"),
    )
    op.create_index(
        "ix_journey_versions_search_trgm",
        "journey_versions",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        postgresql_with={"fastupdate": "off"},
        postgresql_where=sa.text("live"),
    )
    op.create_table(
        "journey_event_versions",
        sa.Column("journey_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("day_offset", sa.Integer(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("xp_reward", sa.Integer(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["journey_id", "version"], ["journey_versions.journey_id", "journey_versions.version"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("journey_id", "version", "id"),
    )
    op.create_index(
        "ix_journey_event_versions_position", "journey_event_versions", ["journey_id", "version", "position"]
    )
    op.create_index("ix_journey_event_versions_event", "journey_event_versions", ["id"])
    op.create_table(
        "onboarding_versions",
        sa.Column("onboarding_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("xp_reward", sa.Integer(), nullable=False),
        sa.Column("form", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        _timestamp("created_at"),
        _timestamp("published_at"),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("live", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(["onboarding_id"], ["onboardings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("onboarding_id", "version"),
    )
    op.create_index(
        "ix_onboarding_versions_listing",
        "onboarding_versions",
        ["tenant_id", "created_at", "onboarding_id"],
        postgresql_where=sa.text("live"),
    )
    op.create_table(
        "onboarding_step_versions",
        sa.Column("onboarding_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["onboarding_id", "version"],
            ["onboarding_versions.onboarding_id", "onboarding_versions.version"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("onboarding_id", "version", "id"),
    )
    op.create_index(
        "ix_onboarding_step_versions_position", "onboarding_step_versions", ["onboarding_id", "version", "position"]
    )
    op.create_index("ix_onboarding_step_versions_step", "onboarding_step_versions", ["id"])


def _snapshot_version_1(
    definitions: str,
    items: str,
    versions: str,
    version_items: str,
    parent: str,
    runs: str,
    fields: Sequence[str],
    item_fields: Sequence[str],
) -> None:
    """Today's content as version 1 of every definition published, archived or run."""
    d_fields = ", ".join(f"d.{name}" for name in fields)
    i_fields = ", ".join(f"i.{name}" for name in item_fields)
    content_hash = (
        f"md5(CAST(jsonb_build_array(jsonb_build_array({d_fields}), "
        f"(SELECT coalesce(jsonb_agg(jsonb_build_array(i.id, i.position, {i_fields}) ORDER BY i.position), "
        f"'[]'::jsonb) FROM {items} i WHERE i.{parent} = d.id)) AS TEXT))"
    )
    op.execute(
        f"INSERT INTO {versions} (tenant_id, {parent}, version, {', '.join(fields)}, created_at, published_at, "
        f"content_hash, live) "
        f"SELECT d.tenant_id, d.id, 1, {d_fields}, d.created_at, coalesce(d.published_at, d.updated_at), "
        f"{content_hash}, d.status = 'PUBLISHED' FROM {definitions} d "
        f"WHERE d.status <> 'DRAFT' OR EXISTS (SELECT 1 FROM {runs} r WHERE r.{parent} = d.id)"
    )
    op.execute(
        f"INSERT INTO {version_items} (tenant_id, {parent}, version, id, position, {', '.join(item_fields)}) "
        f"SELECT i.tenant_id, i.{parent}, 1, i.id, i.position, {i_fields} FROM {items} i "
        f"JOIN {versions} v ON v.{parent} = i.{parent}"
    )
    op.execute(f"UPDATE {definitions} SET version = 1 WHERE id IN (SELECT {parent} FROM {versions})")


def upgrade() -> None:
    for definitions, *_ in KINDS:
        op.add_column(definitions, sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    _create_tables()
    for table, column, _referred, _ondelete in ITEM_FOREIGN_KEYS:
        op.drop_constraint(f"{table}_{column}_fkey", table, type_="foreignkey")
    for definitions, items, versions, version_items, parent, runs, run_version, fields, item_fields in KINDS:
        _snapshot_version_1(definitions, items, versions, version_items, parent, runs, fields, item_fields)
        op.add_column(runs, sa.Column(run_version, sa.Integer(), server_default="1", nullable=False))
        op.alter_column(runs, run_version, server_default=None)


def downgrade() -> None:
    # What the restored foreign keys would have done to rows of items removed since.
    op.execute(
        "DELETE FROM event_instances e WHERE NOT EXISTS (SELECT 1 FROM journey_events i WHERE i.id = e.journey_event_id)"
    )
    op.execute(
        "UPDATE journey_logs l SET journey_event_id = NULL WHERE journey_event_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM journey_events i WHERE i.id = l.journey_event_id)"
    )
    op.execute(
        "UPDATE onboarding_logs l SET step_id = NULL WHERE step_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM onboarding_steps s WHERE s.id = l.step_id)"
    )
    for table, column, referred, ondelete in ITEM_FOREIGN_KEYS:
        op.create_foreign_key(f"{table}_{column}_fkey", table, referred, [column], ["id"], ondelete=ondelete)
    for definitions, _items, _versions, _version_items, _parent, runs, run_version, *_ in KINDS:
        op.drop_column(runs, run_version)
        op.drop_column(definitions, "version")
    op.drop_index("ix_onboarding_step_versions_step", table_name="onboarding_step_versions")
    op.drop_index("ix_onboarding_step_versions_position", table_name="onboarding_step_versions")
    op.drop_table("onboarding_step_versions")
    op.drop_index("ix_onboarding_versions_listing", table_name="onboarding_versions", postgresql_where=sa.text("live"))
    op.drop_table("onboarding_versions")
    op.drop_index("ix_journey_event_versions_event", table_name="journey_event_versions")
    op.drop_index("ix_journey_event_versions_position", table_name="journey_event_versions")
    op.drop_table("journey_event_versions")
    op.drop_index(
        "ix_journey_versions_search_trgm",
        table_name="journey_versions",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        postgresql_with={"fastupdate": "off"},
        postgresql_where=sa.text("live"),
    )
    op.drop_index("ix_journey_versions_category", table_name="journey_versions", postgresql_where=sa.text("live"))
    op.drop_index("ix_journey_versions_catalogue", table_name="journey_versions", postgresql_where=sa.text("live"))
    op.drop_table("journey_versions")
