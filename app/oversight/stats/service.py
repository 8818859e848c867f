"""Keeping the rollups of the bureau's figures (models.py): the scheduler rebuilds the current
and the previous month every ten minutes (tasks close, are swept, excused; hazards close)
and the last 13 months every night (a missed check excused weeks later). Each month is
rebuilt whole by two INSERT … SELECT … GROUP BY, so a run is idempotent and may run late.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, literal, or_, select, text
from sqlalchemy.orm import Session

from app.clock import local_today
from app.enterprises.models import Enterprise
from app.hazard_reporting.checks.domain import CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_overdue_clause
from app.hazard_reporting.hazards.domain import HazardLevel, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules.models import CheckSchedule
from app.oversight.stats.domain import TREND_MONTHS, Completion, Month
from app.oversight.stats.models import (
    CheckMonthRollup,
    HazardMonthRollup,
    RollupRefresh,
    TownCheckMonthRollup,
    TownHazardMonthRollup,
)

NIGHTLY_MONTHS = TREND_MONTHS + 1


def completion_case(now: datetime) -> ColumnElement[str]:
    """domain.completion_of in SQL."""
    return case(
        (CheckTask.status == CheckTaskStatus.DONE.value, Completion.ON_TIME.value),
        (CheckTask.status == CheckTaskStatus.DONE_LATE.value, Completion.LATE.value),
        (CheckTask.status == CheckTaskStatus.EXCUSED.value, Completion.EXCUSED.value),
        (
            or_(CheckTask.status == CheckTaskStatus.MISSED.value, CheckTask.grace_until < now),
            Completion.MISSED.value,
        ),
        (task_overdue_clause(now), Completion.OVERDUE.value),
        else_=Completion.OPEN.value,
    )


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _within(column, month: Month) -> ColumnElement[bool]:
    return and_(column >= month.starts_at, column < month.ends_at)


def refresh_month(session: Session, month: Month, now: datetime) -> None:
    """Rebuild one month's rollup rows from the check tasks due in it (by due time, local
    month) and the hazards reported or closed in it."""
    first = month.first_day
    session.execute(delete(CheckMonthRollup).where(CheckMonthRollup.month == first))
    completion = completion_case(now)
    counts = [_count(completion == c.value) for c in Completion]
    session.execute(
        insert(CheckMonthRollup).from_select(
            ["enterprise_id", "month", "level", *(c.value for c in Completion)],
            select(CheckTask.enterprise_id, literal(first), CheckSchedule.level, *counts)
            .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
            .where(_within(CheckTask.due_at, month))
            .group_by(CheckTask.enterprise_id, CheckSchedule.level),
        )
    )
    session.execute(delete(HazardMonthRollup).where(HazardMonthRollup.month == first))
    found = _within(Hazard.created_at, month)
    rectified = and_(Hazard.status == HazardStatus.CLOSED.value, _within(Hazard.closed_at, month))
    general = Hazard.level == HazardLevel.GENERAL.value
    major = Hazard.level == HazardLevel.MAJOR.value
    session.execute(
        insert(HazardMonthRollup).from_select(
            ["enterprise_id", "month", "general_found", "major_found", "general_rectified", "major_rectified"],
            select(
                Hazard.enterprise_id,
                literal(first),
                _count(and_(found, general)),
                _count(and_(found, major)),
                _count(and_(rectified, general)),
                _count(and_(rectified, major)),
            )
            .where(or_(found, rectified))
            .group_by(Hazard.enterprise_id),
        )
    )
    _sum_towns(session, first)
    session.execute(delete(RollupRefresh).where(RollupRefresh.month == first))
    session.add(RollupRefresh(month=first, refreshed_at=now))
    session.flush()


def _sum_towns(session: Session, first) -> None:
    """The month's enterprise rows summed per town (the enterprise's town at refresh time)."""
    session.execute(delete(TownCheckMonthRollup).where(TownCheckMonthRollup.month == first))
    counts = [c.value for c in Completion]
    session.execute(
        insert(TownCheckMonthRollup).from_select(
            ["town_id", "month", "level", *counts],
            select(
                Enterprise.town_id,
                CheckMonthRollup.month,
                CheckMonthRollup.level,
                *(func.sum(getattr(CheckMonthRollup, c)) for c in counts),
            )
            .join(Enterprise, Enterprise.id == CheckMonthRollup.enterprise_id)
            .where(CheckMonthRollup.month == first)
            .group_by(Enterprise.town_id, CheckMonthRollup.month, CheckMonthRollup.level),
        )
    )
    session.execute(delete(TownHazardMonthRollup).where(TownHazardMonthRollup.month == first))
    hazard_counts = ["general_found", "major_found", "general_rectified", "major_rectified"]
    session.execute(
        insert(TownHazardMonthRollup).from_select(
            ["town_id", "month", *hazard_counts],
            select(
                Enterprise.town_id,
                HazardMonthRollup.month,
                *(func.sum(getattr(HazardMonthRollup, c)) for c in hazard_counts),
            )
            .join(Enterprise, Enterprise.id == HazardMonthRollup.enterprise_id)
            .where(HazardMonthRollup.month == first)
            .group_by(Enterprise.town_id, HazardMonthRollup.month),
        )
    )


# One number for the transaction-level advisory lock that serialises rollup refreshes.
_REFRESH_LOCK = 0x616E_6368_0517  # any constant no other lock of the app uses


def _serialize_refreshes(session: Session) -> None:
    """Take the rollup-refresh lock for the rest of the transaction (PostgreSQL). The ten-
    minute job and the nightly year job can run at once (a scheduler starting after 02:30
    catches the nightly one up beside its own first run); both rebuild the same months by
    delete-and-insert, and the second would fail on the first's rows. With the lock the
    second waits and then rebuilds from the first's result. SQLite serialises writers
    anyway (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REFRESH_LOCK})


def refresh_rollups(session: Session, now: datetime, months: Iterable[Month] | None = None) -> list[Month]:
    """Rebuild the rollups of `months` (default: the current and the previous month, local,
    and any of the last 13 never built yet — a fresh install or a new database shows its
    12-month trend after the scheduler's first run). The scheduler's ten-minute job; the
    demo seed calls it once its history is written."""
    _serialize_refreshes(session)
    current = Month.of(local_today(now))
    if months is None:
        recent = [current.minus(n) for n in range(NIGHTLY_MONTHS)]
        built = set(session.scalars(select(RollupRefresh.month).where(RollupRefresh.month >= recent[-1].first_day)))
        months = [current.previous(), current, *(m for m in recent if m.first_day not in built)]
    chosen = sorted(set(months))
    for month in chosen:
        refresh_month(session, month, now)
    return chosen


def refresh_recent_year(session: Session, now: datetime) -> list[Month]:
    """The nightly job: the last 13 months (the dashboard's 12-month trend and the month
    before it), so a late excuse or a hazard closed long after shows up by the next day."""
    current = Month.of(local_today(now))
    return refresh_rollups(session, now, [current.minus(n) for n in range(NIGHTLY_MONTHS)])
