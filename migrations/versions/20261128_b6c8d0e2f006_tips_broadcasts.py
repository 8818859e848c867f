"""safety tips: the tip library and custom tips, tip broadcasts with their history, and one
receipt per recipient (read, acknowledged, reminded)

Revision ID: b6c8d0e2f006
Revises: a9d3e5f7b005
Create Date: 2026-11-28 18:00:00+00:00

Written by hand (checked against the models by the drift test). New tables only, so nothing
to backfill. Enum columns are VARCHAR + CHECK (native_enum=False) like the rest of the schema;
constraint names follow the metadata's naming convention. `tip_broadcasts` is unique per
(tip_id, proposed_month) — the monthly seasonal calendar relies on it with ON CONFLICT DO
NOTHING — and has a partial index on send_at over scheduled rows (the release job's query).
`tip_receipts` is keyed by (broadcast_id, user_id) — the fan-out inserts with ON CONFLICT DO
NOTHING on it — and has no foreign keys on purpose (one trigger call per recipient and key
would double the time of a 100 000-recipient fan-out; see the model) and no index besides its
primary key, which serves both a broadcast's receipts and a member's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "b6c8d0e2f006"
down_revision = "a9d3e5f7b005"
branch_labels = None
depends_on = None

BROADCAST_STATUSES = ("draft", "scheduled", "released", "cancelled")
BROADCAST_ACTIONS = ("propose", "create", "schedule", "cancel", "release", "remind")
SCHEDULED = sa.text("status = 'scheduled'")


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", _utc(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _utc(), server_default=sa.func.now(), nullable=False),
    ]


def _user_fk(column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "tips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("kind", _enum("seasonal", "knowledge", "custom", name="tip_kind"), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "(kind = 'custom' AND code IS NULL) OR (kind <> 'custom' AND code IS NOT NULL)",
            name=op.f("ck_tips_library_has_code"),
        ),
        _user_fk("created_by_id", "tips", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tips")),
        sa.UniqueConstraint("code", name=op.f("uq_tips_code")),
    )

    op.create_table(
        "tip_broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum(*BROADCAST_STATUSES, name="tip_broadcast_status"), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("send_at", _utc(), nullable=False),
        sa.Column("proposed_month", sa.String(length=7), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=True),
        sa.Column("released_at", _utc(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "recipient_count >= 0", name=op.f("ck_tip_broadcasts_recipient_count_nonnegative")
        ),
        _user_fk("created_by_id", "tip_broadcasts", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_broadcasts_tip_id_tips"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_broadcasts")),
        sa.UniqueConstraint(
            "tip_id", "proposed_month", name=op.f("uq_tip_broadcasts_tip_id_proposed_month")
        ),
    )
    with op.batch_alter_table("tip_broadcasts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tip_broadcasts_due",
            ["send_at"],
            unique=False,
            postgresql_where=SCHEDULED,
            sqlite_where=SCHEDULED,
        )
        batch_op.create_index(batch_op.f("ix_tip_broadcasts_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_broadcast_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("action", _enum(*BROADCAST_ACTIONS, name="tip_broadcast_action"), nullable=False),
        sa.Column(
            "from_status",
            _enum(*BROADCAST_STATUSES, name="tip_broadcast_event_from_status"),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            _enum(*BROADCAST_STATUSES, name="tip_broadcast_event_to_status"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _user_fk("actor_id", "tip_broadcast_events", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["tip_broadcasts.id"],
            name=op.f("fk_tip_broadcast_events_broadcast_id_tip_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_broadcast_events")),
    )
    with op.batch_alter_table("tip_broadcast_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tip_broadcast_events_broadcast_id"), ["broadcast_id"], unique=False
        )

    op.create_table(
        "tip_receipts",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("read_at", _utc(), nullable=True),
        sa.Column("acknowledged_at", _utc(), nullable=True),
        sa.Column("reminded_at", _utc(), nullable=True),
        # No foreign keys: see the model (one RI trigger call per recipient and key).
        sa.PrimaryKeyConstraint("broadcast_id", "user_id", name=op.f("pk_tip_receipts")),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes on both backends.
    op.drop_table("tip_receipts")
    op.drop_table("tip_broadcast_events")
    op.drop_table("tip_broadcasts")
    op.drop_table("tips")
