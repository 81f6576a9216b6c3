"""users' last sighting and log actors (issue 15)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _users_upgrade()
    _actors_upgrade()


def downgrade() -> None:
    _actors_downgrade()
    _users_downgrade()


# Users (SPEC §16): their latest role and last sighting, the newest-first listing and the
# external-id prefix search of `users(search:)`.


def _users_upgrade() -> None:
    op.add_column("users", sa.Column("role", sa.String(length=16), server_default="user", nullable=False))
    op.add_column("users", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_users_tenant_created", "users", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_users_tenant_external_prefix",
        "users",
        ["tenant_id", "external_id"],
        postgresql_ops={"external_id": "varchar_pattern_ops"},
    )


def _users_downgrade() -> None:
    op.drop_index("ix_users_tenant_external_prefix", table_name="users")
    op.drop_index("ix_users_tenant_created", table_name="users")
    op.drop_column("users", "last_seen_at")
    op.drop_column("users", "role")


# Log actors (SPEC §16): who acted on each run log entry. Entries logged before are the run's
# own user's (kind `user`).

ACTOR_LOGS = (
    ("journey_logs", "journey_instances", "instance_id"),
    ("onboarding_logs", "onboarding_journeys", "journey_id"),
)


def _actors_upgrade() -> None:
    for logs, runs, run_id in ACTOR_LOGS:
        op.add_column(logs, sa.Column("actor_kind", sa.String(length=16), server_default="user", nullable=False))
        op.add_column(logs, sa.Column("actor_user_id", sa.UUID(), nullable=True))
        op.add_column(logs, sa.Column("actor_api_key_id", sa.UUID(), nullable=True))
        op.add_column(logs, sa.Column("actor_api_key_name", sa.String(length=200), nullable=True))
        op.create_foreign_key(
            f"{logs}_actor_user_id_fkey", logs, "users", ["actor_user_id"], ["id"], ondelete="SET NULL"
        )
        op.create_foreign_key(
            f"{logs}_actor_api_key_id_fkey", logs, "api_keys", ["actor_api_key_id"], ["id"], ondelete="SET NULL"
        )
        op.execute(f"UPDATE {logs} AS l SET actor_user_id = r.user_id FROM {runs} AS r WHERE r.id = l.{run_id}")


def _actors_downgrade() -> None:
    for logs, _runs, _run_id in reversed(ACTOR_LOGS):
        op.drop_constraint(f"{logs}_actor_api_key_id_fkey", logs, type_="foreignkey")
        op.drop_constraint(f"{logs}_actor_user_id_fkey", logs, type_="foreignkey")
        op.drop_column(logs, "actor_api_key_name")
        op.drop_column(logs, "actor_api_key_id")
        op.drop_column(logs, "actor_user_id")
        op.drop_column(logs, "actor_kind")
