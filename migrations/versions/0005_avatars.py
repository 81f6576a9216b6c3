"""avatars: avatars, users' sessions in LiveKit rooms, processed LiveKit webhook ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 13:09:14.081176
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "livekit_webhook_events",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("room_name", sa.String(length=128), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_livekit_webhook_events_received", "livekit_webhook_events", ["received_at"], unique=False)
    op.create_table(
        "avatars",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Enum("ACTIVE", "INACTIVE", name="avatar_status"), nullable=False),
        sa.Column("modes", postgresql.ARRAY(sa.String(length=16)), server_default="{}", nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_avatars_listing", "avatars", ["tenant_id", "status", "created_at", "id"], unique=False)
    op.create_table(
        "avatar_sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("avatar_id", sa.UUID(), nullable=False),
        sa.Column("livekit_room_name", sa.String(length=128), nullable=False),
        sa.Column("livekit_room_sid", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.Enum("VOICE", "VIDEO", name="avatar_mode"), nullable=False),
        sa.Column("status", sa.Enum("ACTIVE", "ENDED", "FAILED", name="avatar_session_status"), nullable=False),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("room_cleanup_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("room_cleanup_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("room_cleanup_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["avatar_id"], ["avatars.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    # Only the ACTIVE sessions, which reconciliation walks; and the room deletions still pending.
    op.create_index(
        "ix_avatar_sessions_active",
        "avatar_sessions",
        ["status"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(
        "ix_avatar_sessions_cleanup",
        "avatar_sessions",
        ["room_cleanup_after"],
        unique=False,
        postgresql_where=sa.text("room_cleanup_pending"),
    )
    op.create_index(
        "ix_avatar_sessions_user", "avatar_sessions", ["tenant_id", "user_id", "created_at", "id"], unique=False
    )
    # Room names are unique per session; webhooks find their session by it.
    op.create_index("uq_avatar_sessions_room_name", "avatar_sessions", ["livekit_room_name"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_avatar_sessions_room_name", table_name="avatar_sessions")
    op.drop_index("ix_avatar_sessions_user", table_name="avatar_sessions")
    op.drop_index(
        "ix_avatar_sessions_cleanup", table_name="avatar_sessions", postgresql_where=sa.text("room_cleanup_pending")
    )
    op.drop_index(
        "ix_avatar_sessions_active", table_name="avatar_sessions", postgresql_where=sa.text("status = 'ACTIVE'")
    )
    op.drop_table("avatar_sessions")
    op.drop_index("ix_avatars_listing", table_name="avatars")
    op.drop_table("avatars")
    op.drop_index("ix_livekit_webhook_events_received", table_name="livekit_webhook_events")
    op.drop_table("livekit_webhook_events")
    sa.Enum(name="avatar_session_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="avatar_mode").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="avatar_status").drop(op.get_bind(), checkfirst=True)
