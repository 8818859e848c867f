"""Read side of check schedules: a schedule's timing, the checks a member owes at a point
that fall due next, an enterprise's schedules with its sites and their risk profiles
(the console's plans page), and its schedules by level with names and due rules in words
(the 排查计划 page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.clock import local_today
from app.enterprises.models import Department, Site, Team
from app.errors import NotFound
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    ScheduleKind,
    Timing,
    checkable_at,
    next_due_period,
    owes,
)
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import member_facts, schedule_facts
from app.hazard_reporting.schedules.domain import due_rule_words, grace_words
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from app.hazard_reporting.work_calendar.service import work_calendar
from app.ids import MAX_ID


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
    if not 1 <= schedule_id <= MAX_ID:
        raise NotFound("排查计划不存在。")
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


@dataclass(frozen=True)
class ScheduleRow:
    """A schedule as the 排查计划 page shows it: names instead of ids, the due rule in words."""

    schedule: CheckSchedule
    unit: str
    site: str
    due_rule: str
    grace: str


@dataclass(frozen=True)
class SchedulesPage:
    """An enterprise's routine schedules by level, its risk-point rounds, and the units and
    sites a new schedule may name."""

    routine: dict[CheckLevel, list[ScheduleRow]]
    risk_points: list[ScheduleRow]
    teams: list[tuple[int, str]]  # (id, "部门 / 班组")
    departments: list[tuple[int, str]]
    sites: list[tuple[int, str]]  # sites in use: (id, "名称（部门）")


def schedules_page(session: Session, enterprise_id: int) -> SchedulesPage:
    """What the console's 排查计划 page shows of one enterprise."""
    plans = enterprise_plans(session, enterprise_id)
    site_names = {s.id: s.name for s in plans.sites}
    rows = [_row(s, plans, site_names) for s in plans.schedules]
    routine: dict[CheckLevel, list[ScheduleRow]] = {level: [] for level in CheckLevel}
    for row in rows:
        if row.schedule.kind is ScheduleKind.ROUTINE:
            routine[CheckLevel(row.schedule.level)].append(row)
    teams = session.execute(
        select(Team.id, Team.name, Department.name)
        .join(Department, Team.department_id == Department.id)
        .where(Department.enterprise_id == enterprise_id)
        .order_by(Department.id, Team.id)
    ).all()
    return SchedulesPage(
        routine=routine,
        risk_points=[r for r in rows if r.schedule.kind is ScheduleKind.RISK_POINT],
        teams=[(team_id, f"{department} / {team}") for team_id, team, department in teams],
        departments=sorted(plans.department_names.items()),
        sites=[
            (s.id, f"{s.name}（{plans.department_names[s.department_id]}）" if s.department_id else s.name)
            for s in plans.sites
            if s.active
        ],
    )


def schedule_row(session: Session, schedule: CheckSchedule) -> ScheduleRow:
    """One schedule as the page shows it (the edit form's heading)."""
    plans = enterprise_plans(session, schedule.enterprise_id)
    return _row(schedule, plans, {s.id: s.name for s in plans.sites})


def _row(schedule: CheckSchedule, plans: EnterprisePlans, site_names: dict[int, str]) -> ScheduleRow:
    department = plans.department_names.get(schedule.department_id or 0, "")
    if schedule.team_id is not None:
        unit = f"{plans.team_names.get(schedule.team_id, '')}（{department}）"
    elif schedule.department_id is not None:
        unit = department
    else:
        unit = "全企业（经理）"
    timing = schedule_timing(schedule)
    return ScheduleRow(
        schedule=schedule,
        unit=unit,
        site=site_names.get(schedule.site_id or 0, ""),
        due_rule=due_rule_words(timing),
        grace=grace_words(timing.grace_minutes),
    )


def list_schedules(
    session: Session,
    enterprise_id: int,
    *,
    level: CheckLevel | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[CheckSchedule], int]:
    """One page of an enterprise's schedules (routine first, by level, then by id) and how
    many there are in all, optionally of one level or only active / paused ones."""
    conditions = [CheckSchedule.enterprise_id == enterprise_id]
    if level is not None:
        conditions.append(CheckSchedule.level == level)
    if active is not None:
        conditions.append(CheckSchedule.active.is_(active))
    total = session.scalar(select(func.count()).select_from(CheckSchedule).where(*conditions)) or 0
    items = session.scalars(
        select(CheckSchedule)
        .where(*conditions)
        .order_by(
            # Not by the column: PostgreSQL sorts its enum by declaration, SQLite by text.
            case((CheckSchedule.kind == ScheduleKind.ROUTINE, 0), else_=1),
            case((CheckSchedule.level == CheckLevel.DAILY, 0), (CheckSchedule.level == CheckLevel.WEEKLY, 1), else_=2),
            CheckSchedule.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(items), total
