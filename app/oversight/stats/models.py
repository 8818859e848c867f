"""Rollup tables of the bureau's figures, kept by the scheduler (service.refresh_rollups).

Each row is derived: per enterprise × month (local) × check level, the tasks due that month
by completion; per enterprise × month, the hazards found and rectified. A month's rows are
replaced as a whole when it is refreshed, so the tables can always be rebuilt from the
check tasks and hazards. `stats_refreshes` records when each month was last rebuilt (the
dashboard says how fresh its figures are).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, str_enum
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.domain import OPEN_STATUSES
from app.hazard_reporting.hazards.models import Hazard


class CheckMonthRollup(Base):
    __tablename__ = "stats_check_months"
    __table_args__ = (Index("ix_stats_check_months_month", "month"),)

    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
    level: Mapped[CheckLevel] = mapped_column(str_enum(CheckLevel, "stats_check_level"), primary_key=True)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    missed: Mapped[int] = mapped_column(default=0)
    excused: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)


class HazardMonthRollup(Base):
    __tablename__ = "stats_hazard_months"
    __table_args__ = (Index("ix_stats_hazard_months_month", "month"),)

    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    general_found: Mapped[int] = mapped_column(default=0)
    major_found: Mapped[int] = mapped_column(default=0)
    general_rectified: Mapped[int] = mapped_column(default=0)
    major_rectified: Mapped[int] = mapped_column(default=0)


class TownCheckMonthRollup(Base):
    """stats_check_months summed per town (the dashboard's per-town rows and 12-month trend
    read a few hundred rows instead of 30 000 per month)."""

    __tablename__ = "stats_town_check_months"

    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[CheckLevel] = mapped_column(str_enum(CheckLevel, "stats_town_check_level"), primary_key=True)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    missed: Mapped[int] = mapped_column(default=0)
    excused: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)


class TownHazardMonthRollup(Base):
    """stats_hazard_months summed per town."""

    __tablename__ = "stats_town_hazard_months"

    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    general_found: Mapped[int] = mapped_column(default=0)
    major_found: Mapped[int] = mapped_column(default=0)
    general_rectified: Mapped[int] = mapped_column(default=0)
    major_rectified: Mapped[int] = mapped_column(default=0)


class RollupRefresh(Base):
    __tablename__ = "stats_refreshes"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    refreshed_at: Mapped[datetime]


# The rollup reads a month of check tasks by due time: an index of its own on check_tasks,
# declared here beside the only reader that needs it (the checks package knows nothing of
# the rollup).
Index("ix_check_tasks_due_at", CheckTask.__table__.c.due_at)

# The dashboard counts the open hazards now (overdue, majors under supervision): a partial
# index over the few open ones of a district's 200 000, for the same reason.
_OPEN = Hazard.__table__.c.status.in_(sorted(OPEN_STATUSES))
Index(
    "ix_hazards_open",
    Hazard.__table__.c.enterprise_id,
    Hazard.__table__.c.level,
    Hazard.__table__.c.deadline,
    postgresql_where=_OPEN,
    sqlite_where=_OPEN,
)
