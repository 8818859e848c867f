"""Rollups of the bureau's figures: check tasks per enterprise × month × level by completion,
hazards found / rectified per enterprise × month, when each month was rebuilt; an index on
check_tasks.due_at for the rebuild and a partial index of the open hazards

Revision ID: c4d8e2f6a913
Revises: e69d1732e42f
Create Date: 2026-12-05 09:00:00+00:00

Written by hand (checked against the models by the drift test). The tables are derived
(app/oversight/stats/service.py rebuilds any month from check_tasks and hazards), so they
start empty; the scheduler fills them at its first run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c4d8e2f6a913"
down_revision = "e69d1732e42f"
branch_labels = None
depends_on = None

# The open hazard statuses (hazards.domain.OPEN_STATUSES) as of this revision.
_OPEN = (
    "status IN ('assessed', 'assigned', 'plan_approved', 'rectified', 'rectifying', 'registered', "
    "'reported', 'supervising')"
)
_COUNTS = ("on_time", "late", "missed", "excused", "overdue", "open")


def upgrade() -> None:
    op.create_table(
        "stats_check_months",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("daily", "weekly", "monthly", name="stats_check_level", native_enum=False,
                    create_constraint=True, length=7),
            nullable=False,
        ),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name=op.f("fk_stats_check_months_enterprise_id_enterprises"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("enterprise_id", "month", "level", name=op.f("pk_stats_check_months")),
    )
    op.create_index("ix_stats_check_months_month", "stats_check_months", ["month"])
    op.create_table(
        "stats_hazard_months",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("general_found", "major_found", "general_rectified", "major_rectified")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name=op.f("fk_stats_hazard_months_enterprise_id_enterprises"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("enterprise_id", "month", name=op.f("pk_stats_hazard_months")),
    )
    op.create_index("ix_stats_hazard_months_month", "stats_hazard_months", ["month"])
    op.create_table(
        "stats_town_check_months",
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("daily", "weekly", "monthly", name="stats_town_check_level", native_enum=False,
                    create_constraint=True, length=7),
            nullable=False,
        ),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.ForeignKeyConstraint(["town_id"], ["towns.id"],
                                name=op.f("fk_stats_town_check_months_town_id_towns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("town_id", "month", "level", name=op.f("pk_stats_town_check_months")),
    )
    op.create_table(
        "stats_town_hazard_months",
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("general_found", "major_found", "general_rectified", "major_rectified")),
        sa.ForeignKeyConstraint(["town_id"], ["towns.id"],
                                name=op.f("fk_stats_town_hazard_months_town_id_towns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("town_id", "month", name=op.f("pk_stats_town_hazard_months")),
    )
    op.create_table(
        "stats_refreshes",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_stats_refreshes")),
    )
    op.create_index("ix_check_tasks_due_at", "check_tasks", ["due_at"])
    op.create_index(
        "ix_hazards_open", "hazards", ["enterprise_id", "level", "deadline"],
        postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_hazards_open", table_name="hazards")
    op.drop_index("ix_check_tasks_due_at", table_name="check_tasks")
    op.drop_table("stats_refreshes")
    op.drop_table("stats_town_hazard_months")
    op.drop_table("stats_town_check_months")
    op.drop_index("ix_stats_hazard_months_month", table_name="stats_hazard_months")
    op.drop_table("stats_hazard_months")
    op.drop_index("ix_stats_check_months_month", table_name="stats_check_months")
    op.drop_table("stats_check_months")
