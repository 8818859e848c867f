"""people: when a user bound WeChat, and the append-only history of members

Revision ID: a7c3e9f1b2d4
Revises: d2e4f6a8c008
Create Date: 2026-12-05 10:00:00+00:00

Written by hand (checked against the models by the drift test). `users` gains
`wechat_bound_at` (set when an invite is redeemed, cleared on unbinding); the new
append-only `member_events` records what happened to each member and why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = "a7c3e9f1b2d4"
down_revision = "d2e4f6a8c008"
branch_labels = None
depends_on = None


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("wechat_bound_at", _utc(), nullable=True))
    op.create_table(
        "member_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "added", "updated", "deactivated", "unbound", "invited", "bound", "imported",
                name="member_event_kind", native_enum=False, create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"], ["memberships.id"], name=op.f("fk_member_events_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_member_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_member_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_events")),
    )
    op.create_index(op.f("ix_member_events_membership_id"), "member_events", ["membership_id"])
    op.create_index(op.f("ix_member_events_user_id"), "member_events", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_member_events_user_id"), table_name="member_events")
    op.drop_index(op.f("ix_member_events_membership_id"), table_name="member_events")
    op.drop_table("member_events")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("wechat_bound_at")
