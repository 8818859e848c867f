"""Read side of check schedules: a schedule's timing, the checks a member owes at a point
that fall due next, and an enterprise's schedules with its sites and their risk profiles
(the console's plans page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_today
from app.enterprises.models import Department, Site, Team
from app.errors import NotFound
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
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
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


@dataclass(frozen=True)
class EnterprisePlans:
    """An enterprise's schedules (by kind, level), its sites with their risk profiles, and the
    names of its departments and teams (the units schedules are owed by)."""

    schedules: list[CheckSchedule]
    sites: list[Site]
    profiles: dict[int, SiteRiskProfile]  # by site id
    department_names: dict[int, str]
    team_names: dict[int, str]


def enterprise_plans(session: Session, enterprise_id: int) -> EnterprisePlans:
    """What the console's plans page shows of one enterprise."""
    schedules = session.scalars(
        select(CheckSchedule)
        .where(CheckSchedule.enterprise_id == enterprise_id)
        .order_by(CheckSchedule.kind, CheckSchedule.level, CheckSchedule.id)
    ).all()
    sites = session.scalars(select(Site).where(Site.enterprise_id == enterprise_id).order_by(Site.id)).all()
    profiles = {
        p.site_id: p
        for p in session.scalars(
            select(SiteRiskProfile).where(SiteRiskProfile.site_id.in_([s.id for s in sites] or [0]))
        )
    }
    departments = {
        d.id: d.name
        for d in session.scalars(select(Department).where(Department.enterprise_id == enterprise_id))
    }
    teams = {
        t.id: t.name
        for t in session.scalars(select(Team).join(Department).where(Department.enterprise_id == enterprise_id))
    }
    return EnterprisePlans(list(schedules), list(sites), profiles, departments, teams)


def schedule_of(session: Session, enterprise_id: int, schedule_id: int) -> CheckSchedule:
    """The schedule, if it belongs to the enterprise. Raises NotFound."""
    schedule = session.get(CheckSchedule, schedule_id)
    if schedule is None or schedule.enterprise_id != enterprise_id:
        raise NotFound("排查计划不存在。")
    return schedule


def site_of(session: Session, enterprise_id: int, site_id: int) -> Site:
    """The site, if it belongs to the enterprise. Raises NotFound."""
    site = session.get(Site, site_id)
    if site is None or site.enterprise_id != enterprise_id:
        raise NotFound("点位不存在。")
    return site
