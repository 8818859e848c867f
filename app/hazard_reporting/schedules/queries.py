"""Read side of check schedules: a schedule's timing, the checks a member owes at a point
that fall due next, and an enterprise's schedules and sites for the console."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_today
from app.enterprises.models import Site
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    Timing,
    checkable_at,
    next_due_period,
    owes,
)
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import member_facts, schedule_facts
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.work_calendar.service import work_calendar


def schedule_timing(schedule: CheckSchedule) -> Timing:
    return Timing(
        level=CheckLevel(schedule.level),
        due_time=schedule.due_time,
        grace_minutes=schedule.grace_minutes,
        workdays_only=schedule.workdays_only,
        due_weekday=schedule.due_weekday,
        due_month_day=schedule.due_month_day,
    )


def next_checks_due(
    session: Session, user_id: int, site: Site, now: datetime
) -> list[tuple[CheckSchedule, datetime]]:
    """The checks the user owes at this point that fall due next: for each active schedule
    they owe that can be done here, its first period still to be done, with the due time;
    earliest first. For the page that says "nothing to do here now"."""
    members = member_facts(session, user_id, site.enterprise_id)
    if not members:
        return []
    schedules = [
        s
        for s in session.scalars(
            select(CheckSchedule).where(
                CheckSchedule.enterprise_id == site.enterprise_id, CheckSchedule.active.is_(True)
            )
        )
        if checkable_at(schedule_facts(s), site.id, site.department_id)
        and any(owes(schedule_facts(s), m) for m in members)
    ]
    if not schedules:
        return []
    today = local_today(now)
    closed: dict[int, set[date]] = {s.id: set() for s in schedules}
    for schedule_id, period_start in session.execute(
        select(CheckTask.schedule_id, CheckTask.period_start).where(
            CheckTask.schedule_id.in_(closed),
            CheckTask.status != CheckTaskStatus.PENDING,
            CheckTask.period_end >= today,
        )
    ):
        closed[schedule_id].add(period_start)
    calendar_ = work_calendar(session, today, today + timedelta(days=62))
    due: list[tuple[CheckSchedule, datetime]] = []
    for schedule in schedules:
        found = next_due_period(schedule_timing(schedule), now, closed[schedule.id], calendar_.is_workday)
        if found is not None and schedule.starts_on <= found[0].end:
            due.append((schedule, found[1]))
    return sorted(due, key=lambda pair: (pair[1], pair[0].id))
