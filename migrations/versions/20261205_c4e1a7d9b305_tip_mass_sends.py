"""tips as mass messages: tip_broadcasts.requires_ack and over_quota_count; tip_mass_sends (one
sendall per broadcast and town tag, with WeChat's MASSSENDJOBFINISH totals); tip_mass_quota
(mass messages per person and calendar month); tip_town_tags and tip_tag_members (the WeChat
tag of each town and the tag each follower carries)

Revision ID: c4e1a7d9b305
Revises: 303e3b979c35
Create Date: 2026-12-05 09:00:00+00:00

Written by hand (checked against the models by the drift test). Existing broadcasts keep
requires_ack = false (server default): released ones are history, drafts and scheduled ones
become general tips sent by mass message unless the bureau ticks 需逐人确认.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = "c4e1a7d9b305"
down_revision = "303e3b979c35"
branch_labels = None
depends_on = None

MASS_STATUSES = ("pending", "submitted", "finished", "failed")


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tip_broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires_ack", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch_op.add_column(sa.Column("over_quota_count", sa.Integer(), server_default=sa.text("0"), nullable=False))

    op.create_table(
        "tip_mass_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*MASS_STATUSES, name="tip_mass_status", native_enum=False, create_constraint=True, length=9),
            nullable=False,
        ),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("wx_tag_id", sa.Integer(), nullable=True),
        sa.Column("msg_id", sa.BigInteger(), nullable=True),
        sa.Column("msg_data_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("total_count", sa.Integer(), nullable=True),
        sa.Column("filter_count", sa.Integer(), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=True),
        sa.Column("report", sa.String(length=64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("submitted_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["tip_broadcasts.id"],
            name=op.f("fk_tip_mass_sends_broadcast_id_tip_broadcasts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["town_id"], ["towns.id"], name=op.f("fk_tip_mass_sends_town_id_towns"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_mass_sends")),
        sa.UniqueConstraint("broadcast_id", "town_id", name=op.f("uq_tip_mass_sends_broadcast_id_town_id")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_tip_mass_sends_msg_id")),
    )
    with op.batch_alter_table("tip_mass_sends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_mass_sends_broadcast_id"), ["broadcast_id"], unique=False)

    op.create_table(
        "tip_mass_quota",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tip_mass_quota_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "month", name=op.f("pk_tip_mass_quota")),
    )

    op.create_table(
        "tip_town_tags",
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("wx_tag_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("synced_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["town_id"], ["towns.id"], name=op.f("fk_tip_town_tags_town_id_towns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("town_id", name=op.f("pk_tip_town_tags")),
        sa.UniqueConstraint("wx_tag_id", name=op.f("uq_tip_town_tags_wx_tag_id")),
    )

    op.create_table(
        "tip_tag_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("wx_tag_id", sa.Integer(), nullable=False),
        sa.Column("tagged_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tip_tag_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_tip_tag_members")),
    )
    with op.batch_alter_table("tip_tag_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_tag_members_town_id"), ["town_id"], unique=False)


def downgrade() -> None:
    op.drop_table("tip_tag_members")
    op.drop_table("tip_town_tags")
    op.drop_table("tip_mass_quota")
    op.drop_table("tip_mass_sends")
    with op.batch_alter_table("tip_broadcasts", schema=None) as batch_op:
        batch_op.drop_column("over_quota_count")
        batch_op.drop_column("requires_ack")
