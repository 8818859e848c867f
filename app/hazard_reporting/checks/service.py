"""Use cases of scheduled checks. Take (session, actor, now, …) — or (session, now, …) for
system jobs — flush, never commit.

Checklists: load the standard templates from data, keep each enterprise's copy-on-write
list current, let an enterprise add / reword / disable its own lines.
Schedules: defaults per enterprise, risk-point rounds per site, configuration.
Tasks: generate the missing occurrences (idempotent, set-based), sweep overdue ones to
missed, close on submission, excuse with an approver.
Submissions (扫码排查): open a check from a scanned point, submit it (item results, one hazard
per 隐患 item with its photos, the task closed) once, and tell when the next check is due.
Confined-space jobs: draft → confirmed → started → finished / cancelled, start gated by a
passed work-condition confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Date, and_, case, delete, func, literal, select, update
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.models import User
from app.accounts.queries import is_active_member
from app.clock import local_today, to_local
from app.database import UTCDateTime, insert_ignoring_conflicts
from app.enterprises.models import Department, Enterprise, Site, Team
from app.enterprises.service import get_enterprise, site_by_token
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists.domain import (
    ChecklistKind,
    ItemSpec,
    ResolvedItem,
)
from app.hazard_reporting.checklists.models import (
    Checklist,
)
from app.hazard_reporting.checklists.service import sync_enterprise_checklists
from app.hazard_reporting.checks.domain import (
    AnswerFacts,
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    ScheduleKind,
    Timing,
    answer_problems,
    check_excuse_reason,
    check_scan_fresh,
    check_task_transition,
    checkable_at,
    due_window,
    in_form_order,
    next_due_period,
    owes,
    periods_between,
    status_after_submission,
    submission_status,
    timeliness,
)
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask
from app.hazard_reporting.checks.queries import (
    member_facts,
    schedule_facts,
    schedule_timing,
    task_items,
)
from app.hazard_reporting.checks.schemas import (
    CheckSubmissionIn,
    RiskProfileIn,
    ScheduleUpdate,
)
from app.hazard_reporting.hazards import service as hazard_service
from app.hazard_reporting.hazards.domain import HazardSource, PhotoKind
from app.hazard_reporting.schedules.domain import (
    ROUTINE_DEFAULTS,
    RiskLevel,
    ScheduleSpec,
    check_timing,
    risk_point_plan,
)
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from app.hazard_reporting.work_calendar.service import work_calendar
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


def set_site_risk_profile(
    session: Session, actor: Actor, now: datetime, site_id: int, data: Any
) -> SiteRiskProfile:
    """Set a site's risk level and major-risk-point flag, and re-plan its rounds (see
    domain.RISK_POINT_PLANS). Raises NotFound, PermissionDenied, ValidationFailed."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("点位不存在。")
    enterprise = get_enterprise(session, actor, site.enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    payload = parse(RiskProfileIn, data)
    profile = session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id))
    if profile is None:
        profile = SiteRiskProfile(site_id=site.id)
        session.add(profile)
    profile.risk_level = RiskLevel(payload.risk_level)
    profile.is_major_risk_point = payload.is_major_risk_point
    profile.note = payload.note
    session.flush()
    _sync_site_schedules(session, now, site, profile, reapply=True)
    return profile


def update_schedule(
    session: Session, actor: Actor, now: datetime, schedule_id: int, data: Any
) -> CheckSchedule:
    """Change a schedule's label, timing or active flag. Takes effect for periods not yet
    generated. Switching off drops its pending tasks still in time; switching on starts
    from today (no backlog for the pause). Raises NotFound, PermissionDenied, ValidationFailed."""
    schedule = session.get(CheckSchedule, schedule_id)
    if schedule is None:
        raise NotFound("排查计划不存在。")
    enterprise = get_enterprise(session, actor, schedule.enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    changes = parse(ScheduleUpdate, data).model_dump(exclude_unset=True)
    for name in ("label", "due_time", "grace_minutes", "workdays_only", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.for_field(name, "不能为空")
    timing = Timing(
        level=CheckLevel(schedule.level),
        due_time=changes.get("due_time", schedule.due_time),
        grace_minutes=changes.get("grace_minutes", schedule.grace_minutes),
        workdays_only=changes.get("workdays_only", schedule.workdays_only),
        due_weekday=changes.get("due_weekday", schedule.due_weekday),
        due_month_day=changes.get("due_month_day", schedule.due_month_day),
    )
    check_timing(timing)
    was_active = schedule.active
    for name, value in changes.items():
        setattr(schedule, name, value)
    if was_active and not schedule.active:
        _drop_unstarted_tasks(session, schedule.id, now)
    elif not was_active and schedule.active:
        schedule.starts_on = local_today(now)
    session.flush()
    return schedule


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


# --- Task lifecycle ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweptTask:
    """A task the sweep marked missed (for escalation notices)."""

    id: int
    schedule_id: int
    enterprise_id: int
    period_start: date
    due_at: datetime


def sweep_overdue(session: Session, now: datetime) -> list[SweptTask]:
    """Mark every pending task whose grace ended before `now` as missed, in one UPDATE;
    returns those it changed (running it again changes nothing)."""
    rows = session.execute(
        update(CheckTask)
        .where(CheckTask.status == CheckTaskStatus.PENDING, CheckTask.grace_until < now)
        .values(status=CheckTaskStatus.MISSED, closed_at=now)
        .returning(
            CheckTask.id,
            CheckTask.schedule_id,
            CheckTask.enterprise_id,
            CheckTask.period_start,
            CheckTask.due_at,
        )
        # Not SQLAlchemy's "fetch" synchronisation: it computes an identity key for every
        # returned row (a third of the sweep's time at 7 500 rows); the few tasks a session
        # has loaded are expired below instead.
        .execution_options(synchronize_session=False)
    ).all()
    swept = [SweptTask(*row) for row in rows]
    if swept:
        ids = {task.id for task in swept}
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, CheckTask) and loaded.id in ids:
                session.expire(loaded, ["status", "closed_at"])
    return swept


def close_task(session: Session, task: CheckTask, now: datetime) -> CheckTask:
    """Close a task because its check was submitted at `now`: done by the due time,
    done_late within grace, missed after it (also when the sweep has not run yet).
    Repeated submissions leave a closed task as it is. Raises InvalidTransition for an
    excused task."""
    session.refresh(task, with_for_update=True)
    target = status_after_submission(task.status, now, task.due_at, task.grace_until)
    if target is not task.status:
        check_task_transition(task.status, target)
        task.status = target
        task.closed_at = now
        session.flush()
    return task


def excuse_task(session: Session, actor: Actor, now: datetime, task_id: int, reason: str) -> CheckTask:
    """Excuse a pending or missed task (停产、放假、设备停用…) with a reason.

    The approver needs Action.VERIFY_HAZARD in the enterprise (department heads, managers,
    safety officers: the people accountable for closing hazards) and may not excuse a check
    they owe themselves. Raises NotFound, PermissionDenied, ValidationFailed,
    InvalidTransition."""
    task = session.get(CheckTask, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound("检查任务不存在。")
    enterprise = get_enterprise(session, actor, task.enterprise_id)
    require(actor, Action.VERIFY_HAZARD, enterprise.ref)
    cleaned = check_excuse_reason(reason)
    facts = schedule_facts(task.schedule)
    if any(owes(facts, m) for m in member_facts(session, actor.user_id, enterprise.id)):
        raise PermissionDenied("不能批准本人负责的检查免检，请由上级或安全管理员审批。")
    check_task_transition(CheckTaskStatus(task.status), CheckTaskStatus.EXCUSED)
    task.status = CheckTaskStatus.EXCUSED
    task.excuse_reason = cleaned
    task.excused_by_id = actor.user_id
    task.excused_at = now
    if task.closed_at is None:
        task.closed_at = now
    session.flush()
    return task


# --- Submissions (扫码排查) ----------------------------------------------------------------

NOT_A_MEMBER = (
    "您不是「{enterprise}」的在册人员，不能在此点位排查。如您已入职，请联系企业管理员为您生成邀请二维码。"
)
TASK_HIDDEN = "检查任务不存在或您无权查看。"
KEY_REUSED = "提交标识已被使用，请刷新页面后重新提交。"
_CLOSED_MESSAGES = {
    CheckTaskStatus.DONE: "该检查已完成，无需重复提交。",
    CheckTaskStatus.DONE_LATE: "该检查已完成，无需重复提交。",
    CheckTaskStatus.EXCUSED: "该检查已批准免检，无需提交。",
}
# Who does a routine check, for the message to someone who does not owe it.
_OWNER_OF = {
    CheckLevel.DAILY: "班组日排查由本班组的班组长完成",
    CheckLevel.WEEKLY: "部门周排查由本部门负责人完成",
    CheckLevel.MONTHLY: "经理月排查由企业经理完成",
}
_COORDINATES = Decimal("0.000001")  # Numeric(9, 6)


@dataclass(frozen=True)
class CheckStart:
    """What the check form needs: the task, the scanned point and the items to go through
    (in form order), or the actor's own earlier submission when the check is done already."""

    task: CheckTask
    site: Site
    items: list[ResolvedItem]
    submission: CheckSubmission | None = None


def _local_minute(moment: datetime) -> str:
    return to_local(moment).strftime("%m-%d %H:%M")


def _task_at_site(session: Session, actor: Actor, task_id: int, site: Site, *, lock: bool) -> CheckTask:
    """The task, if the actor is a member of the scanned point's enterprise and the task
    belongs to it. Raises PermissionDenied (not a member) or NotFound."""
    if not is_active_member(session, actor.user_id, site.enterprise_id):
        raise PermissionDenied(NOT_A_MEMBER.format(enterprise=site.enterprise.name))
    # The row lock serialises two submissions of the same task (a double tap, two leaders
    # of one team): the second sees the first one's submission once it commits.
    task = session.get(CheckTask, task_id, with_for_update=lock or None, populate_existing=lock)
    if task is None or task.enterprise_id != site.enterprise_id:
        raise NotFound(TASK_HIDDEN)
    return task


def _submission_of(session: Session, task_id: int) -> CheckSubmission | None:
    return session.scalar(select(CheckSubmission).where(CheckSubmission.task_id == task_id))


def _refuse_other_submission(session: Session, submission: CheckSubmission) -> Conflict:
    who = session.get(User, submission.user_id)
    name = who.display_name if who is not None else "他人"
    return Conflict(f"该检查已由{name}于 {_local_minute(submission.submitted_at)} 提交，无需重复检查。")


def _require_owed(session: Session, actor: Actor, now: datetime, task: CheckTask, site: Site) -> None:
    """The tasks_owed rules for one task: open now, owed by one of the actor's roles in the
    enterprise, and checkable at the scanned point. Raises Conflict / PermissionDenied."""
    status = CheckTaskStatus(task.status)
    if status in _CLOSED_MESSAGES:
        raise Conflict(_CLOSED_MESSAGES[status])
    if status is CheckTaskStatus.MISSED or now > task.grace_until:
        raise Conflict(
            f"该检查已超过宽限时间（{_local_minute(task.grace_until)}），记为漏检，不能再提交。"
            "如因停产等原因未能检查，请联系上级办理免检。"
        )
    if task.period_start > local_today(now):
        raise Conflict(f"该检查的周期尚未开始，{task.period_start:%m-%d} 起才能检查。")
    facts = schedule_facts(task.schedule)
    if not any(owes(facts, m) for m in member_facts(session, actor.user_id, site.enterprise_id)):
        owner = _OWNER_OF.get(facts.level) if facts.kind is ScheduleKind.ROUTINE else None
        raise PermissionDenied(
            f"「{task.schedule.label}」不由您负责{'（' + owner + '）' if owner else ''}，不能提交。"
        )
    if not checkable_at(facts, site.id, site.department_id):
        if facts.site_id is not None:
            place = session.get(Site, facts.site_id)
            where = f"点位「{place.name}」" if place is not None else "指定点位"
        else:
            where = "本部门的排查点位"
        raise Conflict(f"「{task.schedule.label}」不能在点位「{site.name}」完成，请到{where}扫码后检查。")


def start_check(session: Session, actor: Actor, now: datetime, task_id: int, site_token: str) -> CheckStart:
    """Open a check from a scanned point: the same rules as `submit_check`, nothing written.

    When the actor already submitted this check, `submission` is that submission (show it).
    Raises NotFound (bad token, unknown task), PermissionDenied, Conflict."""
    site = site_by_token(session, site_token)
    task = _task_at_site(session, actor, task_id, site, lock=False)
    earlier = _submission_of(session, task.id)
    if earlier is not None:
        if earlier.user_id != actor.user_id:
            raise _refuse_other_submission(session, earlier)
        return CheckStart(task, site, [], earlier)
    _require_owed(session, actor, now, task, site)
    return CheckStart(task, site, in_form_order(task_items(session, task)))


def _incomplete(items: list[ResolvedItem], problems: dict[str, str]) -> ValidationFailed:
    """One message naming the first few items at fault (by their number on the form), and
    every item's problem under `answers.<code>`."""
    numbered = {r.item.code: n for n, r in enumerate(items, start=1)}
    at_fault = sorted(problems, key=lambda code: numbered.get(code, len(numbered) + 1))
    parts = [
        f"第 {numbered[c]} 项：{problems[c]}" if c in numbered else f"{c}：{problems[c]}" for c in at_fault
    ]
    message = f"还有 {len(parts)} 项需要处理。" + "；".join(parts[:3]) + ("等。" if len(parts) > 3 else "。")
    return ValidationFailed(message, fields={f"answers.{code}": problems[code] for code in at_fault})


def _coordinate(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_COORDINATES)


def submit_check(
    session: Session, actor: Actor, now: datetime, task_id: int, data: Any, *, media_root: str | Path
) -> CheckSubmission:
    """Record a check done at a scanned point, in the caller's transaction.

    Checks first — the scanned token (NotFound), membership (PermissionDenied), the task is
    open, owed by the actor and checkable at that point (Conflict, PermissionDenied), the
    scan is recent, every item answered, each 隐患 with a description and photos
    (ValidationFailed) — then writes the submission and its item results, reports one
    hazard per 隐患 item (source check, level from the item's on_fail) with its photos as
    before-photos, and closes the task as done or done_late.

    Idempotent: the same idempotency key, or a second submission of a task the actor has
    submitted, returns the first submission and writes nothing. A photo that is not an
    image or too large raises ValidationFailed naming the item; the caller rolls back."""
    payload = parse(CheckSubmissionIn, data)
    earlier = session.scalar(
        select(CheckSubmission).where(CheckSubmission.idempotency_key == payload.idempotency_key)
    )
    if earlier is not None:
        if earlier.user_id == actor.user_id and earlier.task_id == task_id:
            return earlier
        raise Conflict(KEY_REUSED)
    site = site_by_token(session, payload.site_token)
    task = _task_at_site(session, actor, task_id, site, lock=True)
    earlier = _submission_of(session, task.id)
    if earlier is not None:
        if earlier.user_id != actor.user_id:
            raise _refuse_other_submission(session, earlier)
        return earlier
    _require_owed(session, actor, now, task, site)
    check_scan_fresh(payload.scanned_at, now)
    if (payload.latitude is None) != (payload.longitude is None):
        raise ValidationFailed.for_field("latitude", "位置信息不完整，请重新获取位置或不提供位置")

    items = in_form_order(task_items(session, task))
    answers = {a.item_code: a for a in payload.answers}
    problems = answer_problems(
        [r.item.code for r in items],
        {code: AnswerFacts(a.result, a.note, len(a.photos)) for code, a in answers.items()},
    )
    if problems:
        raise _incomplete(items, problems)

    status = submission_status(timeliness(now, task.due_at, task.grace_until))
    located = payload.latitude is not None
    accuracy = round(payload.location_accuracy) if located and payload.location_accuracy is not None else None
    submission = CheckSubmission(
        task_id=task.id,
        enterprise_id=task.enterprise_id,
        user_id=actor.user_id,
        site_id=site.id,
        site_token=site.token,
        scanned_at=payload.scanned_at,
        submitted_at=now,
        latitude=_coordinate(payload.latitude),
        longitude=_coordinate(payload.longitude),
        location_accuracy=accuracy,
        checklist_id=task.checklist_id,
        checklist_version=task.checklist_version,
        idempotency_key=payload.idempotency_key,
        status=status,
    )
    session.add(submission)
    session.flush()
    for position, resolved in enumerate(items, start=1):
        item = resolved.item
        answer = answers[item.code]
        hazard_id = None
        if answer.result is ItemResult.HAZARD:
            hazard_id = _report_item_hazard(
                session, actor, now, task, site, item, answer.note, answer.photos, position, media_root
            )
        session.add(
            CheckItemResult(
                submission_id=submission.id,
                position=position,
                item_code=item.code,
                item_text=item.text,
                category=item.category,
                result=answer.result,
                note=answer.note,
                hazard_id=hazard_id,
            )
        )
    session.flush()
    close_task(session, task, now)  # by the same rule and `now`: done ↔ on time, done_late ↔ late
    return submission


def _report_item_hazard(
    session: Session,
    actor: Actor,
    now: datetime,
    task: CheckTask,
    site: Site,
    item: ItemSpec,
    note: str,
    photos: Sequence[bytes],
    position: int,
    media_root: str | Path,
) -> int:
    """Report the hazard a 隐患 answer found, with its photos as before-photos; its id."""
    hazard = hazard_service.report_hazard(
        session,
        actor,
        now,
        {
            "enterprise_id": task.enterprise_id,
            "source": HazardSource.CHECK.value,
            "site_id": site.id,
            "department_id": site.department_id or task.schedule.department_id,
            "source_task_id": task.id,
            "item_code": item.code,
            "on_fail": item.on_fail.value,
            "item_category": item.category.value,
            "criteria_refs": list(item.refs),
            # The checker's words first (lists show two lines); the item gives the context.
            "description": f"{note}（检查项 {item.code}：{item.text}）",
            "location": site.area or "",
        },
    )
    for photo in photos:
        try:
            hazard_service.add_photo(session, actor, now, hazard.id, PhotoKind.BEFORE, photo, media_root)
        except ValidationFailed as exc:
            problem = exc.fields.get("photo") or exc.message
            raise ValidationFailed(
                f"第 {position} 项的照片：{problem}", fields={f"answers.{item.code}": f"照片：{problem}"}
            ) from None
    return hazard.id


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
