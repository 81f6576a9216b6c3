"""onboarding: onboardings, steps, users' runs and logs, classifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:53:53.840963
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onboardings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Enum("DRAFT", "PUBLISHED", "ARCHIVED", name="onboarding_status"), nullable=False),
        sa.Column("xp_reward", sa.Integer(), server_default="0", nullable=False),
        sa.Column("form", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_onboardings_tenant_slug"),
    )
    op.create_index("ix_onboardings_listing", "onboardings", ["tenant_id", "status", "created_at", "id"], unique=False)
    op.create_table(
        "onboarding_journeys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("onboarding_id", sa.UUID(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "SUSPENDED", "COMPLETED", "ABANDONED", name="onboarding_journey_status"),
            nullable=False,
        ),
        sa.Column("current_step", sa.Integer(), server_default="1", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["onboarding_id"], ["onboardings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_onboarding_journeys_onboarding_started",
        "onboarding_journeys",
        ["onboarding_id", "started_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_onboarding_journeys_user_started",
        "onboarding_journeys",
        ["tenant_id", "user_id", "started_at", "id"],
        unique=False,
    )
    # At most one open (ACTIVE or SUSPENDED) run per user and onboarding, enforced by the database.
    op.create_index(
        "uq_onboarding_journeys_open",
        "onboarding_journeys",
        ["tenant_id", "user_id", "onboarding_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('ACTIVE', 'SUSPENDED')"),
    )
    op.create_table(
        "onboarding_steps",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("onboarding_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["onboarding_id"], ["onboardings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "onboarding_id", "position", deferrable=True, initially="DEFERRED", name="uq_onboarding_steps_position"
        ),
    )
    op.create_table(
        "classifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("onboarding_id", sa.UUID(), nullable=False),
        sa.Column("journey_id", sa.UUID(), nullable=False),
        sa.Column("responses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("segment_key", sa.String(length=64), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["journey_id"], ["onboarding_journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["onboarding_id"], ["onboardings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("journey_id", name="uq_classifications_journey"),
    )
    op.create_index(
        "ix_classifications_user_created", "classifications", ["tenant_id", "user_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "onboarding_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("journey_id", sa.UUID(), nullable=False),
        sa.Column("step_id", sa.UUID(), nullable=True),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("step_order", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["journey_id"], ["onboarding_journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["step_id"], ["onboarding_steps.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_onboarding_logs_journey", "onboarding_logs", ["journey_id", "id"], unique=False)
    op.create_index("ix_onboarding_logs_step_action", "onboarding_logs", ["step_id", "action"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_onboarding_logs_step_action", table_name="onboarding_logs")
    op.drop_index("ix_onboarding_logs_journey", table_name="onboarding_logs")
    op.drop_table("onboarding_logs")
    op.drop_index("ix_classifications_user_created", table_name="classifications")
    op.drop_table("classifications")
    op.drop_table("onboarding_steps")
    op.drop_index(
        "uq_onboarding_journeys_open",
        table_name="onboarding_journeys",
        postgresql_where=sa.text("status IN ('ACTIVE', 'SUSPENDED')"),
    )
    op.drop_index("ix_onboarding_journeys_user_started", table_name="onboarding_journeys")
    op.drop_index("ix_onboarding_journeys_onboarding_started", table_name="onboarding_journeys")
    op.drop_table("onboarding_journeys")
    op.drop_index("ix_onboardings_listing", table_name="onboardings")
    op.drop_table("onboardings")
    sa.Enum(name="onboarding_journey_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="onboarding_status").drop(op.get_bind(), checkfirst=True)
