"""Tables of check schedules: the recurring checks of an enterprise and the risk profile of
each site (which gives a major risk point its own rounds)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.checks.domain import CheckLevel, ScheduleKind
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.schedules.domain import RiskLevel


class SiteRiskProfile(TimestampMixin, Base):
    """A site's four-colour risk level and whether it is a registered major risk point
    (较大危险因素), which gives it its own, more frequent check schedule."""

    __tablename__ = "site_risk_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    risk_level: Mapped[RiskLevel] = mapped_column(str_enum(RiskLevel, "site_risk_level"))
    is_major_risk_point: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(256), default="")


class CheckSchedule(TimestampMixin, Base):
    """A recurring check: which level, whose duty, where, and when each period is due.

    Routine: daily per team, weekly per department, monthly per enterprise. Risk point: a
    site's own rounds (`slot` tells several rounds of one site apart: am/pm, daily, weekly).
    A schedule's level never changes (its task periods would collide); changing frequency
    retires the schedule and creates another."""

    __tablename__ = "check_schedules"
    __table_args__ = (
        CheckConstraint(
            "kind <> 'routine' OR level <> 'daily' OR team_id IS NOT NULL", name="routine_daily_has_team"
        ),
        CheckConstraint(
            "kind <> 'routine' OR level <> 'weekly' OR department_id IS NOT NULL",
            name="routine_weekly_has_department",
        ),
        CheckConstraint("kind <> 'risk_point' OR site_id IS NOT NULL", name="risk_point_has_site"),
        CheckConstraint("grace_minutes >= 0", name="grace_nonnegative"),
        CheckConstraint("due_weekday IS NULL OR due_weekday BETWEEN 1 AND 7", name="due_weekday_range"),
        CheckConstraint(
            "due_month_day IS NULL OR due_month_day BETWEEN 1 AND 31", name="due_month_day_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ScheduleKind] = mapped_column(str_enum(ScheduleKind, "check_schedule_kind"))
    level: Mapped[CheckLevel] = mapped_column(str_enum(CheckLevel, "check_level"))
    slot: Mapped[str] = mapped_column(String(16), default="routine")
    label: Mapped[str] = mapped_column(String(64))
    # Org units are not deleted from under a schedule: its tasks are the check ledger (台账).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    due_time: Mapped[time] = mapped_column(Time)  # local (Asia/Shanghai) wall-clock time
    due_weekday: Mapped[int | None] = mapped_column(SmallInteger)
    due_month_day: Mapped[int | None] = mapped_column(SmallInteger)
    grace_minutes: Mapped[int]
    workdays_only: Mapped[bool] = mapped_column(default=False)
    # First local date covered; reset to the day of reactivation so a pause leaves no backlog.
    starts_on: Mapped[date]
    active: Mapped[bool] = mapped_column(default=True)

    tasks: Mapped[list[CheckTask]] = relationship(back_populates="schedule", passive_deletes=True)
