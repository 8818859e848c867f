"""wechat identity: invites (openid binding) and the user's last reported position

Revision ID: a3c1e9d2f001
Revises: 6f72b5082966
Create Date: 2026-11-28 14:30:00+00:00

Written by hand. `invites` holds the single-use binding invitations (scene `bind:<token>`);
three nullable columns on `users` keep the last LOCATION event. Nullable, so existing rows
need no backfill; batch mode so SQLite can alter the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "a3c1e9d2f001"
down_revision = "6f72b5082966"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by_openid", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_invites_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_invites_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token", name=op.f("uq_invites_token")),
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invites_membership_id"), ["membership_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_latitude", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("last_longitude", sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column("last_location_at", app.database.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_location_at")
        batch_op.drop_column("last_longitude")
        batch_op.drop_column("last_latitude")

    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invites_membership_id"))

    op.drop_table("invites")
