"""progress: journey instances, event instances, journey logs, XP ledger, rewards

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:36:16.369758
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_instances",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("journey_id", sa.UUID(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "SUSPENDED", "COMPLETED", "ABANDONED", name="journey_instance_status"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("shift_days", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["journey_id"], ["journeys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_journey_instances_journey", "journey_instances", ["journey_id"], unique=False)
    op.create_index(
        "ix_journey_instances_user_started",
        "journey_instances",
        ["tenant_id", "user_id", "started_at", "id"],
        unique=False,
    )
    # At most one open (ACTIVE or SUSPENDED) run per user and journey, enforced by the database.
    op.create_index(
        "uq_journey_instances_open",
        "journey_instances",
        ["tenant_id", "user_id", "journey_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('ACTIVE', 'SUSPENDED')"),
    )
    op.create_table(
        "event_instances",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("journey_event_id", sa.UUID(), nullable=False),
        sa.Column(
            "status", sa.Enum("NOT_STARTED", "IN_PROGRESS", "COMPLETED", name="event_instance_status"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shift_days_at_completion", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["journey_instances.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["journey_event_id"], ["journey_events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "journey_event_id", name="uq_event_instances_instance_event"),
    )
    op.create_index("ix_event_instances_journey_event", "event_instances", ["journey_event_id"], unique=False)
    op.create_table(
        "journey_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("journey_event_id", sa.UUID(), nullable=True),
        sa.Column("event_position", sa.Integer(), nullable=True),
        sa.Column("event_title", sa.String(length=200), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["journey_instances.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["journey_event_id"], ["journey_events.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_journey_logs_instance", "journey_logs", ["instance_id", "id"], unique=False)
    op.create_table(
        "xp_entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_xp_entries_amount_positive"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        # Every award has a key; a retried or racing award conflicts here and awards nothing.
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_xp_entries_idempotency"),
    )
    op.create_index(
        "ix_xp_entries_user_created", "xp_entries", ["tenant_id", "user_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_xp_entries_user_resource",
        "xp_entries",
        ["tenant_id", "user_id", "resource_type", "resource_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "rewards",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("required_level", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("required_level >= 1", name="ck_rewards_required_level"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_rewards_listing", "rewards", ["tenant_id", "active", "required_level", "title", "id"], unique=False
    )
    op.create_table(
        "reward_unlocks",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("reward_id", sa.UUID(), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["reward_id"], ["rewards.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "reward_id", name="pk_reward_unlocks"),
    )
    op.create_index("ix_reward_unlocks_reward", "reward_unlocks", ["reward_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reward_unlocks_reward", table_name="reward_unlocks")
    op.drop_table("reward_unlocks")
    op.drop_index("ix_rewards_listing", table_name="rewards")
    op.drop_table("rewards")
    op.drop_index("ix_xp_entries_user_resource", table_name="xp_entries")
    op.drop_index("ix_xp_entries_user_created", table_name="xp_entries")
    op.drop_table("xp_entries")
    op.drop_index("ix_journey_logs_instance", table_name="journey_logs")
    op.drop_table("journey_logs")
    op.drop_index("ix_event_instances_journey_event", table_name="event_instances")
    op.drop_table("event_instances")
    op.drop_index(
        "uq_journey_instances_open",
        table_name="journey_instances",
        postgresql_where=sa.text("status IN ('ACTIVE', 'SUSPENDED')"),
    )
    op.drop_index("ix_journey_instances_user_started", table_name="journey_instances")
    op.drop_index("ix_journey_instances_journey", table_name="journey_instances")
    op.drop_table("journey_instances")
    sa.Enum(name="event_instance_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="journey_instance_status").drop(op.get_bind(), checkfirst=True)
