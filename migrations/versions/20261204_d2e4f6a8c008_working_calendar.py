"""working calendar: names and authors of overrides, confirmed years, a log of changes

Revision ID: d2e4f6a8c008
Revises: c1d3e5a7b007
Create Date: 2026-12-04 18:00:00+00:00

Written by hand (checked against the models by the drift test). `calendar_overrides` gains
the day's name (春节, 调休上班 …), its origin (by hand or an imported arrangement) and who
set it last; existing rows get an empty name. Two
new tables: `calendar_years` (a year the bureau confirmed, and on what basis) and the
append-only `calendar_events`. Enum columns are VARCHAR + CHECK like the rest of the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = "d2e4f6a8c008"
down_revision = "c1d3e5a7b007"
branch_labels = None
depends_on = None


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("calendar_overrides") as batch:
        batch.add_column(sa.Column("name", sa.String(length=32), server_default="", nullable=False))
        batch.add_column(
            sa.Column(
                "origin",
                sa.Enum("manual", "arrangement", name="calendar_override_origin", native_enum=False, create_constraint=True),
                server_default="manual",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_calendar_overrides_updated_by_id_users"), "users", ["updated_by_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "basis",
            sa.Enum("rule", "arrangement", name="calendar_year_basis", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("confirmed_at", _utc(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_calendar_years_confirmed_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "set", "remove", "import", "confirm", "reopen",
                name="calendar_action", native_enum=False, create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_calendar_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_events")),
    )
    op.create_index("ix_calendar_events_year_at", "calendar_events", ["year", "at"])


def downgrade() -> None:
    op.drop_index("ix_calendar_events_year_at", table_name="calendar_events")
    op.drop_table("calendar_events")
    op.drop_table("calendar_years")
    with op.batch_alter_table("calendar_overrides") as batch:
        batch.drop_constraint(op.f("fk_calendar_overrides_updated_by_id_users"), type_="foreignkey")
        batch.drop_column("updated_by_id")
        # SQLite's batch copy would keep the enum's CHECK on a column it no longer has.
        batch.drop_constraint(op.f("ck_calendar_overrides_calendar_override_origin"), type_="check")
        batch.drop_column("origin")
        batch.drop_column("name")
