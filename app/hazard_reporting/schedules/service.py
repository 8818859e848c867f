"""Use cases of check schedules. Take (session, actor, now, …) — or (session, now, …) for
system jobs — flush, never commit.

Schedules: the defaults of an enterprise (班组日 / 部门周 / 经理月排查), the rounds of each
major risk point by its four-colour level; the routine schedules an enterprise adds itself
(one active per level and unit), configuration (timing, site), pause and resume.
Task generation: the missing check tasks of every active schedule, set-based and idempotent
(unique per schedule and period), on the enterprise checklist version in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, delete, func, literal, select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.clock import local_today
from app.database import UTCDateTime, insert_ignoring_conflicts
from app.enterprises.models import Department, Enterprise, Site, Team
from app.enterprises.service import get_enterprise
from app.errors import Conflict, NotFound, ValidationFailed
from app.hazard_reporting.checklists.domain import ChecklistKind
from app.hazard_reporting.checklists.models import Checklist
from app.hazard_reporting.checklists.service import sync_enterprise_checklists
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    ScheduleKind,
    Timing,
    due_window,
    periods_between,
)
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.risks.models import RiskPoint
from app.hazard_reporting.schedules.domain import (
    ROUTINE_DEFAULTS,
    RiskLevel,
    ScheduleSpec,
    check_routine_unit,
    check_site_fits,
    check_timing,
    duplicate_message,
    risk_point_plan,
    routine_unit_key,
)
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from app.hazard_reporting.schedules.schemas import RiskProfileIn, ScheduleCreate, ScheduleUpdate
from app.hazard_reporting.work_calendar.service import work_calendar
from app.ids import MAX_ID
from app.validation import parse

# --- Schedules ---------------------------------------------------------------------------


def _schedule_from_spec(
    enterprise_id: int,
    kind: ScheduleKind,
    spec: ScheduleSpec,
    starts_on: date,
    team_id: int | None = None,
    department_id: int | None = None,
    site_id: int | None = None,
) -> CheckSchedule:
    timing = spec.timing
    return CheckSchedule(
        enterprise_id=enterprise_id,
        kind=kind,
        level=timing.level,
        slot=spec.slot,
        label=spec.label,
        team_id=team_id,
        department_id=department_id,
        site_id=site_id,
        due_time=timing.due_time,
        due_weekday=timing.due_weekday,
        due_month_day=timing.due_month_day,
        grace_minutes=timing.grace_minutes,
        workdays_only=timing.workdays_only,
        starts_on=starts_on,
        active=True,
    )


def _apply_timing(schedule: CheckSchedule, spec: ScheduleSpec) -> None:
    timing = spec.timing
    schedule.label = spec.label
    schedule.due_time = timing.due_time
    schedule.due_weekday = timing.due_weekday
    schedule.due_month_day = timing.due_month_day
    schedule.grace_minutes = timing.grace_minutes
    schedule.workdays_only = timing.workdays_only


def _drop_unstarted_tasks(session: Session, schedule_id: int, now: datetime) -> None:
    """A retired schedule owes nothing more: its pending tasks whose grace has not run out
    are removed (they record nothing yet); closed and already missed tasks stay."""
    session.execute(
        delete(CheckTask)
        .where(
            CheckTask.schedule_id == schedule_id,
            CheckTask.status == CheckTaskStatus.PENDING,
            CheckTask.grace_until >= now,
        )
        .execution_options(synchronize_session="fetch")
    )


def _sync_site_schedules(
    session: Session, now: datetime, site: Site, profile: SiteRiskProfile | None, reapply: bool
) -> list[CheckSchedule]:
    """Bring a site's risk-point rounds in line with its profile; returns the created ones.

    Rounds the plan no longer has are retired. With `reapply` (the profile was just set),
    existing rounds get the plan's timing again and are re-activated; without it (the
    idempotent default pass) they are left as the enterprise configured them."""
    plan = risk_point_plan(profile.risk_level, profile.is_major_risk_point) if profile and site.active else ()
    existing = {
        s.slot: s
        for s in session.scalars(
            select(CheckSchedule).where(
                CheckSchedule.site_id == site.id, CheckSchedule.kind == ScheduleKind.RISK_POINT
            )
        )
    }
    wanted = {spec.slot for spec in plan}
    for slot, schedule in existing.items():
        if slot not in wanted and schedule.active:
            schedule.active = False
            _drop_unstarted_tasks(session, schedule.id, now)
    created = []
    today = local_today(now)
    for spec in plan:
        schedule = existing.get(spec.slot)
        if schedule is None:
            schedule = _schedule_from_spec(
                site.enterprise_id,
                ScheduleKind.RISK_POINT,
                spec,
                today,
                department_id=site.department_id,
                site_id=site.id,
            )
            session.add(schedule)
            created.append(schedule)
        elif reapply:
            _apply_timing(schedule, spec)
            schedule.department_id = site.department_id
            if not schedule.active:
                schedule.active = True
                schedule.starts_on = today
    session.flush()
    return created


def ensure_default_schedules(session: Session, now: datetime, enterprise_id: int) -> list[CheckSchedule]:
    """Create the missing default schedules of an enterprise; returns the created ones.

    One daily check per team, one weekly per department, one monthly for the enterprise,
    and the rounds of each site registered as a major risk point. Idempotent: a schedule
    that exists — even one the enterprise switched off — is left as it is. New schedules
    start today (local). Raises NotFound for an unknown enterprise."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound("企业不存在。")
    today = local_today(now)
    existing = session.scalars(
        select(CheckSchedule).where(
            CheckSchedule.enterprise_id == enterprise.id, CheckSchedule.kind == ScheduleKind.ROUTINE
        )
    ).all()

    def key(level: CheckLevel, team_id: int | None, department_id: int | None) -> tuple[Any, ...]:
        # A routine schedule is identified by its unit: the team (daily), the department
        # (weekly) or the enterprise itself (monthly).
        if level is CheckLevel.DAILY:
            return (level, team_id)
        if level is CheckLevel.WEEKLY:
            return (level, department_id)
        return (level,)

    have = {key(CheckLevel(s.level), s.team_id, s.department_id) for s in existing}
    created: list[CheckSchedule] = []

    def add(level: CheckLevel, team_id: int | None, department_id: int | None) -> None:
        if key(level, team_id, department_id) in have:
            return
        schedule = _schedule_from_spec(
            enterprise.id,
            ScheduleKind.ROUTINE,
            ROUTINE_DEFAULTS[level],
            today,
            team_id=team_id,
            department_id=department_id,
        )
        session.add(schedule)
        have.add(key(level, team_id, department_id))
        created.append(schedule)

    departments = session.scalars(
        select(Department).where(Department.enterprise_id == enterprise.id).order_by(Department.id)
    ).all()
    teams = session.scalars(
        select(Team).join(Department).where(Department.enterprise_id == enterprise.id).order_by(Team.id)
    ).all()
    for team in teams:
        add(CheckLevel.DAILY, team.id, team.department_id)
    for department in departments:
        add(CheckLevel.WEEKLY, None, department.id)
    add(CheckLevel.MONTHLY, None, None)
    session.flush()
    profiles = session.execute(
        select(Site, SiteRiskProfile)
        .join(SiteRiskProfile, SiteRiskProfile.site_id == Site.id)
        .where(Site.enterprise_id == enterprise.id)
        .order_by(Site.id)
    ).all()
    for site, profile in profiles:
        created.extend(_sync_site_schedules(session, now, site, profile, reapply=False))
    return created


REGISTER_SETS_LEVEL = "点位「{name}」的风险等级由风险辨识清单确定（其风险点中最高的风险），请在「风险管控」中修改风险点的危险源评估。"


def set_site_risk_profile(
    session: Session, actor: Actor, now: datetime, site_id: int, data: Any, *, by_register: bool = False
) -> SiteRiskProfile:
    """Set a site's risk level and major-risk-point flag, and re-plan its rounds (see
    domain.RISK_POINT_PLANS). A site with an active risk point in the enterprise's risk
    register takes its level from there (`by_register`, risks.service.refresh_sites): a hand
    change of its level or flag is refused (Conflict); re-applying the same (re-planning
    after a retire or a department move) is not. Raises NotFound, PermissionDenied,
    ValidationFailed, Conflict."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("点位不存在。")
    enterprise = get_enterprise(session, actor, site.enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    payload = parse(RiskProfileIn, data)
    profile = session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id))
    if not by_register and _register_sets_level(session, site.id):
        unchanged = (
            profile is not None
            and profile.risk_level == payload.risk_level
            and profile.is_major_risk_point == payload.is_major_risk_point
        )
        if not unchanged:
            raise Conflict(REGISTER_SETS_LEVEL.format(name=site.name))
        payload.note = profile.note
    if profile is None:
        profile = SiteRiskProfile(site_id=site.id)
        session.add(profile)
    profile.risk_level = RiskLevel(payload.risk_level)
    profile.is_major_risk_point = payload.is_major_risk_point
    profile.note = payload.note
    session.flush()
    _sync_site_schedules(session, now, site, profile, reapply=True)
    return profile


def _register_sets_level(session: Session, site_id: int) -> bool:
    """Whether an active risk point of the risk register is at the site (its level is then
    the register's: risks.service.site_has_register says the same)."""
    return (
        session.scalar(select(RiskPoint.id).where(RiskPoint.site_id == site_id, RiskPoint.active.is_(True)).limit(1))
        is not None
    )


def _routine_unit_name(session: Session, level: CheckLevel, team_id: int | None, department_id: int | None) -> str:
    if level is CheckLevel.DAILY and team_id is not None:
        team = session.get(Team, team_id)
        return f"班组「{team.name}」" if team else "该班组"
    if level is CheckLevel.WEEKLY and department_id is not None:
        department = session.get(Department, department_id)
        return f"部门「{department.name}」" if department else "该部门"
    return "本企业"


def _refuse_duplicate(session: Session, schedule: CheckSchedule) -> None:
    """One active routine schedule per level and unit (domain.routine_unit_key): two would
    owe the same people the same check twice. Raises Conflict naming the existing one."""
    if schedule.kind is not ScheduleKind.ROUTINE:
        return
    level = CheckLevel(schedule.level)
    wanted = routine_unit_key(level, schedule.team_id, schedule.department_id)
    others = session.scalars(
        select(CheckSchedule)
        .where(
            CheckSchedule.enterprise_id == schedule.enterprise_id,
            CheckSchedule.kind == ScheduleKind.ROUTINE,
            CheckSchedule.level == level,
            CheckSchedule.active.is_(True),
        )
        .order_by(CheckSchedule.id)
    )
    for other in others:
        if other is schedule or other.id == schedule.id:
            continue
        if routine_unit_key(level, other.team_id, other.department_id) == wanted:
            unit = _routine_unit_name(session, level, schedule.team_id, schedule.department_id)
            raise Conflict(duplicate_message(level, unit, other.label))


def _lock_enterprise(session: Session, enterprise_id: int) -> None:
    """Serialise the changes that check "one active routine schedule per unit" (PostgreSQL
    row lock; SQLite writers are serialised anyway)."""
    session.execute(select(Enterprise.id).where(Enterprise.id == enterprise_id).with_for_update())


def _site_for(session: Session, enterprise_id: int, site_id: int | None, level: CheckLevel, department_id: int | None) -> int | None:
    """The site a schedule is tied to, checked: of the enterprise, in use, and one its unit
    checks (domain.check_site_fits). Raises ValidationFailed."""
    if site_id is None:
        return None
    site = session.get(Site, site_id)
    if site is None or site.enterprise_id != enterprise_id:
        raise ValidationFailed.for_field("site_id", "点位不属于本企业")
    if not site.active:
        raise ValidationFailed.for_field("site_id", f"点位「{site.name}」已停用")
    check_site_fits(level, department_id, site.department_id)
    return site.id


def create_schedule(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> CheckSchedule:
    """A routine schedule of one level for its unit: a team's daily check (班组日排查), a
    department's weekly check (部门周排查) or the enterprise's monthly check (经理月排查),
    optionally tied to a site. Timing left out is the level's default. It starts today
    (local): the first task is today's period's. Raises NotFound, PermissionDenied
    (MANAGE_STRUCTURE), ValidationFailed (fields; a unit or site of another enterprise; the
    unit the level needs), Conflict (an active schedule of that level and unit exists)."""
    enterprise = get_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    payload = parse(ScheduleCreate, data)
    level = CheckLevel(payload.level)
    team_id = department_id = None
    if level is CheckLevel.DAILY:
        check_routine_unit(level, payload.team_id, None)
        team = session.get(Team, payload.team_id)
        if team is None or team.department.enterprise_id != enterprise.id:
            raise ValidationFailed.for_field("team_id", "班组不属于本企业")
        team_id, department_id = team.id, team.department_id
    elif level is CheckLevel.WEEKLY:
        check_routine_unit(level, None, payload.department_id)
        department = session.get(Department, payload.department_id)
        if department is None or department.enterprise_id != enterprise.id:
            raise ValidationFailed.for_field("department_id", "部门不属于本企业")
        department_id = department.id
    site_id = _site_for(session, enterprise.id, payload.site_id, level, department_id)
    default = ROUTINE_DEFAULTS[level]
    given = payload.model_dump(exclude_unset=True, exclude_none=True)
    timing = Timing(
        level=level,
        due_time=given.get("due_time", default.timing.due_time),
        grace_minutes=given.get("grace_minutes", default.timing.grace_minutes),
        workdays_only=given.get("workdays_only", default.timing.workdays_only),
        due_weekday=given.get("due_weekday", default.timing.due_weekday),
        due_month_day=given.get("due_month_day", default.timing.due_month_day),
    )
    check_timing(timing)
    spec = ScheduleSpec(default.slot, payload.label or default.label, timing)
    schedule = _schedule_from_spec(
        enterprise.id,
        ScheduleKind.ROUTINE,
        spec,
        local_today(now),
        team_id=team_id,
        department_id=department_id,
        site_id=site_id,
    )
    _lock_enterprise(session, enterprise.id)
    _refuse_duplicate(session, schedule)
    session.add(schedule)
    session.flush()
    return schedule


def _drop_tasks_not_begun(session: Session, schedule_id: int, now: datetime) -> None:
    """A paused schedule owes no new period: pending tasks generated ahead for periods that
    have not begun (local date) are removed. Tasks of periods already begun stay as they
    are (see update_schedule)."""
    session.execute(
        delete(CheckTask)
        .where(
            CheckTask.schedule_id == schedule_id,
            CheckTask.status == CheckTaskStatus.PENDING,
            CheckTask.period_start > local_today(now),
        )
        .execution_options(synchronize_session="fetch")
    )


def update_schedule(
    session: Session, actor: Actor, now: datetime, schedule_id: int, data: Any
) -> CheckSchedule:
    """Change a schedule's label, timing, site or active flag; its level and unit never
    change (another frequency is another schedule). Timing takes effect for periods not yet
    generated.

    Pausing (active false) stops new tasks. The tasks already there stay as they are: the
    check of a period already begun (today's daily check, this week's, this month's) is
    still owed and may still be done; if it is not, it goes missed like any other and the
    plant's approver may excuse it (免检, checks.service.excuse_task), so a pause never
    erases a check from the ledger. Only tasks generated ahead for periods not yet begun
    are removed. Resuming starts from today (starts_on), so the pause leaves no backlog,
    and is refused while another active routine schedule covers the same unit.
    Raises NotFound, PermissionDenied, ValidationFailed, Conflict."""
    if not 1 <= schedule_id <= MAX_ID:
        raise NotFound("排查计划不存在。")
    schedule = session.get(CheckSchedule, schedule_id)
    if schedule is None:
        raise NotFound("排查计划不存在。")
    enterprise = get_enterprise(session, actor, schedule.enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    changes = parse(ScheduleUpdate, data).model_dump(exclude_unset=True)
    for name in ("label", "due_time", "grace_minutes", "workdays_only", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.for_field(name, "不能为空")
    level = CheckLevel(schedule.level)
    timing = Timing(
        level=level,
        due_time=changes.get("due_time", schedule.due_time),
        grace_minutes=changes.get("grace_minutes", schedule.grace_minutes),
        workdays_only=changes.get("workdays_only", schedule.workdays_only),
        due_weekday=changes.get("due_weekday", schedule.due_weekday),
        due_month_day=changes.get("due_month_day", schedule.due_month_day),
    )
    check_timing(timing)
    if "site_id" in changes and changes["site_id"] != schedule.site_id:
        if schedule.kind is ScheduleKind.RISK_POINT:
            raise ValidationFailed.for_field("site_id", "风险点巡查计划随点位设定，不能改到其他点位")
        changes["site_id"] = _site_for(session, enterprise.id, changes["site_id"], level, schedule.department_id)
    was_active = schedule.active
    if not was_active and changes.get("active"):
        _lock_enterprise(session, enterprise.id)
        _refuse_duplicate(session, schedule)
    for name, value in changes.items():
        setattr(schedule, name, value)
    if was_active and not schedule.active:
        _drop_tasks_not_begun(session, schedule.id, now)
    elif not was_active and schedule.active:
        schedule.starts_on = local_today(now)
    session.flush()
    return schedule


def set_schedule_active(
    session: Session, actor: Actor, now: datetime, schedule_id: int, active: bool
) -> CheckSchedule:
    """Pause (False) or resume (True) a schedule; see update_schedule."""
    return update_schedule(session, actor, now, schedule_id, {"active": active})


# --- Task generation ---------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    created: int  # tasks inserted
    checklist_versions: int  # enterprise checklist versions written first


_CLASS_COLUMNS = (
    CheckSchedule.level,
    CheckSchedule.due_time,
    CheckSchedule.grace_minutes,
    CheckSchedule.workdays_only,
    CheckSchedule.due_weekday,
    CheckSchedule.due_month_day,
)


def _timing_classes(session: Session) -> list[tuple[Timing, date | None, date | None]]:
    """Active schedules grouped by timing, each with (earliest last generated period end,
    earliest start of a schedule with nothing generated since it started). One query; the
    last period of each schedule is read through the (schedule_id, period_start) index."""
    last_end = (
        select(CheckTask.period_end)
        .where(CheckTask.schedule_id == CheckSchedule.id)
        .order_by(CheckTask.period_start.desc())
        .limit(1)
        .correlate(CheckSchedule)
        .scalar_subquery()
    )
    # OFFSET 0 keeps PostgreSQL and SQLite from flattening this subquery into the outer one,
    # which would evaluate the correlated lookup once per reference below instead of once.
    per_schedule = (
        select(*_CLASS_COLUMNS, CheckSchedule.starts_on, last_end.label("last_end"))
        .where(CheckSchedule.active.is_(True))
        .offset(0)
        .subquery()
    )
    c = per_schedule.c
    fresh = (c.last_end.is_(None)) | (c.last_end < c.starts_on)
    rows = session.execute(
        select(
            c.level,
            c.due_time,
            c.grace_minutes,
            c.workdays_only,
            c.due_weekday,
            c.due_month_day,
            func.min(case((~fresh, c.last_end))).label("min_last_end"),
            func.min(case((fresh, c.starts_on))).label("min_fresh_start"),
        ).group_by(c.level, c.due_time, c.grace_minutes, c.workdays_only, c.due_weekday, c.due_month_day)
    ).all()
    classes = []
    for row in rows:
        timing = Timing(
            level=CheckLevel(row.level),
            due_time=row.due_time,
            grace_minutes=row.grace_minutes,
            workdays_only=bool(row.workdays_only),
            due_weekday=row.due_weekday,
            due_month_day=row.due_month_day,
        )
        classes.append((timing, _as_date(row.min_last_end), _as_date(row.min_fresh_start)))
    return classes


def _as_date(value: Any) -> date | None:
    # SQLite hands aggregates over DATE columns back as ISO strings.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _insert_period(
    session: Session,
    timing: Timing,
    start: date,
    end: date,
    due_at: datetime,
    grace_until: datetime,
    now: datetime,
) -> int:
    """One set-based INSERT … SELECT: this period's task for every active schedule of this
    timing that covers it, skipping those that exist (ON CONFLICT DO NOTHING)."""
    source = (
        select(
            CheckSchedule.id,
            CheckSchedule.enterprise_id,
            literal(start, Date()),
            literal(end, Date()),
            literal(due_at, UTCDateTime()),
            literal(grace_until, UTCDateTime()),
            literal(CheckTaskStatus.PENDING.value),
            Checklist.id,
            Checklist.version,
            literal(now, UTCDateTime()),
        )
        .join(
            Checklist,
            and_(
                Checklist.enterprise_id == CheckSchedule.enterprise_id,
                Checklist.kind == ChecklistKind.INSPECTION,
            ),
        )
        .where(
            CheckSchedule.active.is_(True),
            CheckSchedule.level == timing.level,
            CheckSchedule.due_time == timing.due_time,
            CheckSchedule.grace_minutes == timing.grace_minutes,
            CheckSchedule.workdays_only == timing.workdays_only,
            CheckSchedule.due_weekday.is_not_distinct_from(timing.due_weekday),
            CheckSchedule.due_month_day.is_not_distinct_from(timing.due_month_day),
            CheckSchedule.starts_on <= end,
            Checklist.version > 0,
        )
    )
    statement = (
        insert_ignoring_conflicts(session, CheckTask)
        .from_select(
            [
                "schedule_id",
                "enterprise_id",
                "period_start",
                "period_end",
                "due_at",
                "grace_until",
                "status",
                "checklist_id",
                "checklist_version",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["schedule_id", "period_start"])
        # SQLAlchemy reports an INSERT's rowcount only when asked to keep it.
        .execution_options(preserve_rowcount=True)
    )
    return session.execute(statement).rowcount


def generate_tasks(session: Session, now: datetime, horizon: timedelta = timedelta(0)) -> GenerationResult:
    """Create every missing task of every active schedule, from the period after its last
    generated one (or its start) through the period containing `now + horizon` (local).

    Idempotent and safe to run concurrently or late: each (schedule, period) is inserted at
    most once (unique key + ON CONFLICT DO NOTHING); a catch-up after downtime creates
    exactly the missed periods (which the sweep then marks missed). Daily schedules on
    workdays skip statutory holidays, keep adjusted workdays (调休) and obey overrides.
    Enterprise checklists are brought up to date first; each task records the version."""
    scheduled = select(CheckSchedule.enterprise_id).where(CheckSchedule.active.is_(True))
    versions = sync_enterprise_checklists(session, now, scheduled)
    upper = local_today(now + horizon)
    created = 0
    for timing, min_last_end, min_fresh_start in _timing_classes(session):
        candidates = [d for d in (min_last_end and min_last_end + timedelta(days=1), min_fresh_start) if d]
        if not candidates:
            continue
        lower = min(candidates)
        if lower > upper:
            continue
        is_workday = work_calendar(session, lower, upper).is_workday if timing.workdays_only else None
        for period in periods_between(timing.level, lower, upper, is_workday):
            due_at, grace_until = due_window(timing, period)
            created += _insert_period(session, timing, period.start, period.end, due_at, grace_until, now)
    session.flush()
    return GenerationResult(created=created, checklist_versions=versions)
