"""outbox dispatch: claims, channel, quiet-hour holds, the digested status; notification
preferences

Revision ID: a9d3e5f7b005
Revises: f8b2d6e1c004
Create Date: 2026-11-28 18:00:00+00:00

Written by hand, batch mode (SQLite rebuilds the table; PostgreSQL alters it in place).

- outbox_messages gains urgent, channel, hold_until, claimed_by, claimed_until, finished_at.
  `urgent` is NOT NULL: added with a server default for existing rows, then the default is
  dropped again (the model sets it on insert).
- The status CHECK gains `digested`. `failed` changes meaning from "will be retried" to
  "given up for good"; the retry state is now `queued` with a later next_attempt_at, so
  existing failed rows become queued (and back on downgrade, where digested and failed rows
  become dead, the only final refusal the old schema knows).
- The due index now covers queued rows only; a partial index on wx_msgid (sent rows) lets
  TEMPLATESENDJOBFINISH find its row.
- notification_preferences: one row per user (digest only, quiet hours).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = "a9d3e5f7b005"
down_revision = "f8b2d6e1c004"
branch_labels = None
depends_on = None

OLD_STATUSES = ("queued", "sent", "delivered", "failed", "dead")
NEW_STATUSES = ("queued", "sent", "delivered", "failed", "dead", "digested")
OLD_DUE = sa.text("status IN ('queued', 'failed')")
NEW_DUE = sa.text("status IN ('queued')")
SENT = sa.text("status = 'sent'")


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_due", postgresql_where=OLD_DUE, sqlite_where=OLD_DUE)
        batch_op.alter_column(
            "status",
            existing_type=_enum(*OLD_STATUSES, name="outbox_status"),
            type_=_enum(*NEW_STATUSES, name="outbox_status"),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("channel", _enum("template", "custom", name="outbox_channel"), nullable=True)
        )
        batch_op.add_column(sa.Column("hold_until", _utc(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", _utc(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", _utc(), nullable=True))

    op.execute("UPDATE outbox_messages SET status = 'queued' WHERE status = 'failed'")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.alter_column("urgent", existing_type=sa.Boolean(), server_default=None, existing_nullable=False)
        batch_op.create_index(
            "ix_outbox_messages_due",
            ["status", "next_attempt_at"],
            unique=False,
            postgresql_where=NEW_DUE,
            sqlite_where=NEW_DUE,
        )
        batch_op.create_index(
            "ix_outbox_messages_wx_msgid",
            ["wx_msgid"],
            unique=False,
            postgresql_where=SENT,
            sqlite_where=SENT,
        )

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest_only", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")

    op.execute("UPDATE outbox_messages SET status = 'dead' WHERE status IN ('failed', 'digested')")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_wx_msgid", postgresql_where=SENT, sqlite_where=SENT)
        batch_op.drop_index("ix_outbox_messages_due", postgresql_where=NEW_DUE, sqlite_where=NEW_DUE)
        batch_op.drop_column("finished_at")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("hold_until")
        # Its CHECK by name first: SQLite's rebuild would otherwise keep it without the column.
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_outbox_channel"), type_="check")
        batch_op.drop_column("channel")
        batch_op.drop_column("urgent")
        batch_op.alter_column(
            "status",
            existing_type=_enum(*NEW_STATUSES, name="outbox_status"),
            type_=_enum(*OLD_STATUSES, name="outbox_status"),
            existing_nullable=False,
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_due",
            ["status", "next_attempt_at"],
            unique=False,
            postgresql_where=OLD_DUE,
            sqlite_where=OLD_DUE,
        )
