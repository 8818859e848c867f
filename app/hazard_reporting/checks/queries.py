"""Read side of checks: the items of a task, who owes it, the open tasks a member owes at a
scanned site, a member's checks (owed now, done, missed: the H5 "my tasks" page), one
submission with its answers (and for the result page its site, checker and hazards), and
an enterprise's recent tasks (the console)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, aliased, contains_eager, selectinload

from app.accounts.domain import Action, Actor, EnterpriseRef
from app.accounts.models import Membership, User
from app.clock import local_today
from app.enterprises.models import Department, Enterprise, Site, Team
from app.errors import NotFound
from app.hazard_reporting.checklists.domain import ItemCategory, OnFail, ResolvedItem
from app.hazard_reporting.checklists.queries import version_items
from app.hazard_reporting.checks.domain import (
    CONTROL_KIND_CATEGORY,
    ITEM_LEVEL_OF,
    ITEM_RESULT_LABELS,
    OWING_STATUSES,
    CheckLevel,
    CheckTaskStatus,
    ControlFacts,
    ItemResult,
    MemberFacts,
    ScheduleFacts,
    ScheduleKind,
    checkable_at,
    control_item_code,
    control_offered,
    control_on_fail,
    controls_for,
    owes,
    post_controls_for,
)
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask, PostSelfCheck
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.risks.domain import (
    CHECK_LEVEL_OF_CONTROL,
    CONTROL_LEVEL_LABELS,
    GRADE_COLOUR,
    RISK_GRADE_LABELS,
    ControlLevel,
    RiskGrade,
)
from app.hazard_reporting.risks.models import RiskControl, RiskPoint, RiskRegister, RiskSource

if TYPE_CHECKING:  # the schedules package builds on this one
    from app.hazard_reporting.schedules.models import CheckSchedule


def task_overdue_clause(now: datetime) -> ColumnElement[bool]:
    """domain.is_task_overdue in SQL: still owes its check, due time passed."""
    return and_(CheckTask.status.in_(sorted(OWING_STATUSES)), CheckTask.due_at < now)


def task_items(session: Session, task: CheckTask) -> list[ResolvedItem]:
    """The enabled lines a task's check goes through: its recorded checklist version, at the
    schedule's level (D/W/M)."""
    level = ITEM_LEVEL_OF[CheckLevel(task.schedule.level)]
    return [
        r
        for r in version_items(session, task.checklist_id, task.checklist_version)
        if r.enabled and r.item.at_level(level)
    ]


# --- control items: the risk register's controls in the checks ------------------------------


@dataclass(frozen=True)
class ControlItem:
    """A control of the risk register as an item of a check form, with where it comes from
    (risk point › source, control level, the source's grade and colour)."""

    control_id: int
    text: str
    category: ItemCategory
    on_fail: OnFail
    point_name: str
    source_name: str
    control_level: ControlLevel
    grade: RiskGrade
    post_id: int | None = None
    active: bool = True

    @property
    def code(self) -> str:
        return control_item_code(self.control_id)

    @property
    def colour(self) -> str:
        """red / orange / yellow / blue (the four-colour chip)."""
        return GRADE_COLOUR[self.grade].value

    @property
    def level_label(self) -> str:
        return CONTROL_LEVEL_LABELS[self.control_level]

    @property
    def grade_label(self) -> str:
        return RISK_GRADE_LABELS[self.grade]

    @property
    def origin_label(self) -> str:
        return f"{self.point_name} › {self.source_name}"


# The control level whose controls a routine check of each level goes through.
_CONTROL_LEVEL_OF_CHECK = {check: level for level, check in CHECK_LEVEL_OF_CONTROL.items() if check is not None}


def register_version(session: Session, enterprise_id: int) -> int | None:
    """The enterprise's risk register version (None: it has no register)."""
    return session.scalar(select(RiskRegister.version).where(RiskRegister.enterprise_id == enterprise_id))


def _control_select(enterprise_id: int, *, retired_too: bool) -> Select:
    query = (
        select(RiskControl, RiskSource, RiskPoint)
        .join(RiskSource, RiskSource.id == RiskControl.source_id)
        .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
        .where(RiskPoint.enterprise_id == enterprise_id)
        .order_by(RiskPoint.name, RiskPoint.id, RiskSource.position, RiskSource.id, RiskControl.position, RiskControl.id)
    )
    if not retired_too:
        query = query.where(RiskControl.active.is_(True), RiskSource.active.is_(True), RiskPoint.active.is_(True))
    return query


def _control_facts(control: RiskControl, source: RiskSource, point: RiskPoint) -> ControlFacts:
    return ControlFacts(
        id=control.id,
        check_level=CHECK_LEVEL_OF_CONTROL[ControlLevel(control.control_level)],
        team_id=control.team_id,
        department_id=control.department_id,
        post_id=control.post_id,
        site_id=point.site_id,
        active=control.active and source.active and point.active,
    )


def _control_item(control: RiskControl, source: RiskSource, point: RiskPoint, active: bool) -> ControlItem:
    grade = RiskGrade(source.grade)
    return ControlItem(
        control_id=control.id,
        text=control.text,
        category=CONTROL_KIND_CATEGORY[control.kind],
        on_fail=control_on_fail(grade.value),
        point_name=point.name,
        source_name=source.name,
        control_level=ControlLevel(control.control_level),
        grade=grade,
        post_id=control.post_id,
        active=active,
    )


def control_items(
    session: Session, task: CheckTask, site_id: int | None, *, retired_too: bool = False
) -> list[ControlItem]:
    """The controls a check of `task` done at `site_id` goes through, after the checklist
    items (domain.controls_for; `site_id` None: at any site, as the API lists a task).
    `retired_too`: also the controls retired since (a form opened before keeps them)."""
    facts = schedule_facts(task.schedule)
    if facts.kind != ScheduleKind.ROUTINE:
        return []
    query = _control_select(task.enterprise_id, retired_too=retired_too).where(
        RiskControl.control_level == _CONTROL_LEVEL_OF_CHECK[CheckLevel(facts.level)]
    )
    if facts.level == CheckLevel.DAILY:
        query = query.where(RiskControl.team_id == facts.team_id)
    elif facts.level == CheckLevel.WEEKLY:
        query = query.where(RiskControl.department_id == facts.department_id)
    rows = [(row, _control_facts(*row)) for row in session.execute(query)]
    if retired_too:
        return [_control_item(*row, fact.active) for row, fact in rows if control_offered(facts, site_id, fact)]
    offered = {fact.id for fact in controls_for(facts, site_id, [fact for _, fact in rows])}
    return [_control_item(*row, True) for row, fact in rows if fact.id in offered]


def post_control_items(session: Session, user_id: int, site: Site) -> list[ControlItem]:
    """The post-level controls of the user's posts (active memberships in the site's
    enterprise) at the risk points of `site` (domain.post_controls_for)."""
    post_ids = set(
        session.scalars(
            select(Membership.post_id).where(
                Membership.user_id == user_id,
                Membership.enterprise_id == site.enterprise_id,
                Membership.active.is_(True),
                Membership.post_id.is_not(None),
            )
        )
    )
    if not post_ids:
        return []
    query = _control_select(site.enterprise_id, retired_too=False).where(
        RiskControl.control_level == ControlLevel.POST,
        RiskControl.post_id.in_(sorted(post_ids)),
        RiskPoint.site_id == site.id,
    )
    rows = [(row, _control_facts(*row)) for row in session.execute(query)]
    offered = {fact.id for fact in post_controls_for(post_ids, site.id, [fact for _, fact in rows])}
    return [_control_item(*row, True) for row, fact in rows if fact.id in offered]


def control_origins(session: Session, enterprise_id: int, control_ids: Iterable[int]) -> dict[int, str]:
    """'risk point › source' of these controls of the enterprise (retired ones too), by id:
    where a check's control items came from."""
    ids = sorted(set(control_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(RiskControl.id, RiskPoint.name, RiskSource.name)
        .join(RiskSource, RiskSource.id == RiskControl.source_id)
        .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
        .where(RiskControl.id.in_(ids), RiskPoint.enterprise_id == enterprise_id)
    )
    return {control_id: f"{point} › {source}" for control_id, point, source in rows}


def self_checks_on(session: Session, user_id: int, control_ids: Iterable[int], day: date) -> dict[int, PostSelfCheck]:
    """The user's self-checks of `day` (local date) of these controls, by control id."""
    ids = sorted(set(control_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(PostSelfCheck).where(
            PostSelfCheck.user_id == user_id, PostSelfCheck.day == day, PostSelfCheck.risk_control_id.in_(ids)
        )
    )
    return {row.risk_control_id: row for row in rows}


def schedule_facts(schedule: CheckSchedule) -> ScheduleFacts:
    return ScheduleFacts(
        kind=schedule.kind,
        level=schedule.level,
        team_id=schedule.team_id,
        department_id=schedule.department_id,
        site_id=schedule.site_id,
    )


def member_facts(session: Session, user_id: int, enterprise_id: int) -> list[MemberFacts]:
    """The user's active memberships in the enterprise; a team leader's department is their
    team's department."""
    rows = session.execute(
        select(Membership.role, Membership.team_id, Membership.department_id, Team.department_id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .where(
            Membership.user_id == user_id,
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
        )
    ).all()
    return [
        MemberFacts(role=role, team_id=team_id, department_id=team_department_id or department_id)
        for role, team_id, department_id, team_department_id in rows
    ]


def open_tasks(session: Session, enterprise_id: int, now: datetime) -> list[CheckTask]:
    """Pending tasks of the enterprise that can be done now (period begun, grace not over),
    earliest due first."""
    return list(
        session.scalars(
            select(CheckTask)
            .join(CheckTask.schedule)
            .options(contains_eager(CheckTask.schedule))
            .where(
                CheckTask.enterprise_id == enterprise_id,
                CheckTask.status == CheckTaskStatus.PENDING,
                CheckTask.period_start <= local_today(now),
                CheckTask.grace_until >= now,
            )
            .order_by(CheckTask.due_at, CheckTask.id)
        )
    )


def tasks_owed(session: Session, actor_user: User, site: Site, now: datetime) -> list[CheckTask]:
    """The open tasks `actor_user` owes now that can be done at `site`, earliest due first.

    Empty when the user holds no active role in the site's enterprise."""
    members = member_facts(session, actor_user.id, site.enterprise_id)
    if not members:
        return []
    owed = []
    for task in open_tasks(session, site.enterprise_id, now):
        facts = schedule_facts(task.schedule)
        if checkable_at(facts, site.id, site.department_id) and any(owes(facts, m) for m in members):
            owed.append(task)
    return owed


def current_tasks(
    session: Session,
    enterprise_id: int,
    today: date,
    *,
    team_id: int | None = None,
    level: CheckLevel | None = None,
) -> list[CheckTask]:
    """The enterprise's tasks whose period contains `today` (local date), optionally of one
    team and level, by level (daily, weekly, monthly) then unit."""
    schedule = _schedule_class()
    query = (
        select(CheckTask)
        .join(schedule, schedule.id == CheckTask.schedule_id)
        .options(contains_eager(CheckTask.schedule))
        .where(CheckTask.enterprise_id == enterprise_id, CheckTask.period_start <= today, CheckTask.period_end >= today)
    )
    if team_id is not None:
        query = query.where(schedule.team_id == team_id)
    if level is not None:
        query = query.where(schedule.level == level)
    tasks = list(session.scalars(query))
    order = {lv: n for n, lv in enumerate(CheckLevel)}
    return sorted(tasks, key=lambda t: (order[CheckLevel(t.schedule.level)], t.schedule.label, t.id))


def recent_tasks(session: Session, enterprise_id: int, now: datetime, limit: int) -> list[CheckTask]:
    """The enterprise's tasks whose period has begun (local date), latest due first."""
    return list(
        session.scalars(
            select(CheckTask)
            .where(CheckTask.enterprise_id == enterprise_id, CheckTask.period_start <= local_today(now))
            .order_by(CheckTask.due_at.desc(), CheckTask.id.desc())
            .limit(limit)
        )
    )


def task_of(session: Session, enterprise_id: int, task_id: int) -> CheckTask:
    """The task, if it belongs to the enterprise. Raises NotFound."""
    task = session.get(CheckTask, task_id)
    if task is None or task.enterprise_id != enterprise_id:
        raise NotFound("检查任务不存在。")
    return task


# --- a member's checks (H5) --------------------------------------------------------------


def _member_enterprises(session: Session, user_id: int) -> dict[int, list[MemberFacts]]:
    """The user's active memberships by enterprise."""
    ids = session.scalars(
        select(Membership.enterprise_id)
        .where(Membership.user_id == user_id, Membership.active.is_(True))
        .distinct()
    ).all()
    return {eid: member_facts(session, user_id, eid) for eid in sorted(ids)}


def _owed_by(tasks: Iterable[CheckTask], members: list[MemberFacts]) -> list[CheckTask]:
    return [t for t in tasks if any(owes(schedule_facts(t.schedule), m) for m in members)]


def my_open_tasks(session: Session, user_id: int, now: datetime) -> list[CheckTask]:
    """Every task the user owes now, in all their enterprises, earliest due first."""
    owed: list[CheckTask] = []
    for enterprise_id, members in _member_enterprises(session, user_id).items():
        owed.extend(_owed_by(open_tasks(session, enterprise_id, now), members))
    return sorted(owed, key=lambda t: (t.due_at, t.id))


def my_missed_tasks(session: Session, user_id: int, since: datetime, limit: int = 30) -> list[CheckTask]:
    """Tasks the user owes (by their roles now) that were missed, due since `since`, newest first."""
    missed: list[CheckTask] = []
    for enterprise_id, members in _member_enterprises(session, user_id).items():
        rows = session.scalars(
            select(CheckTask)
            .join(CheckTask.schedule)
            .options(contains_eager(CheckTask.schedule))
            .where(
                CheckTask.enterprise_id == enterprise_id,
                CheckTask.status == CheckTaskStatus.MISSED,
                CheckTask.due_at >= since,
            )
            .order_by(CheckTask.due_at.desc())
        )
        missed.extend(_owed_by(rows, members))
    return sorted(missed, key=lambda t: (t.due_at, t.id), reverse=True)[:limit]


def my_submissions(
    session: Session, user_id: int, since: datetime, *, enterprise_id: int | None = None, limit: int = 30
) -> list[CheckSubmission]:
    """The user's own submissions since `since`, newest first, with task and schedule."""
    query = (
        select(CheckSubmission)
        .where(CheckSubmission.user_id == user_id, CheckSubmission.submitted_at >= since)
        .options(selectinload(CheckSubmission.task).selectinload(CheckTask.schedule))
        .order_by(CheckSubmission.submitted_at.desc(), CheckSubmission.id.desc())
        .limit(limit)
    )
    if enterprise_id is not None:
        query = query.where(CheckSubmission.enterprise_id == enterprise_id)
    return list(session.scalars(query))


def submission_of_task(session: Session, actor: Actor, task_id: int) -> CheckSubmission:
    """The submission of a task with its answers, if the actor may see its enterprise.
    Raises NotFound otherwise (no existence leak) or when the task has none."""
    submission = session.scalar(
        select(CheckSubmission)
        .where(CheckSubmission.task_id == task_id)
        .options(
            selectinload(CheckSubmission.results),
            selectinload(CheckSubmission.task).selectinload(CheckTask.schedule),
        )
    )
    enterprise = session.get(Enterprise, submission.enterprise_id) if submission is not None else None
    if enterprise is None or not actor.can(
        Action.VIEW_ENTERPRISE, EnterpriseRef(id=enterprise.id, town_id=enterprise.town_id)
    ):
        raise NotFound("检查记录不存在或您无权查看。")
    return submission


def submission_for_task(session: Session, task_id: int) -> CheckSubmission | None:
    """The task's submission, if it has one (no scope check: callers have the task)."""
    return session.scalar(select(CheckSubmission).where(CheckSubmission.task_id == task_id))


@dataclass(frozen=True)
class SubmissionRecord:
    """A submission with its answers, where and by whom it was made, and the hazards its
    隐患 answers reported (by id)."""

    submission: CheckSubmission
    site: Site | None
    checker: User | None
    hazards: dict[int, Hazard]


def submission_record(session: Session, actor: Actor, task_id: int) -> SubmissionRecord:
    """The record of a task's submission (see `submission_of_task`). Raises NotFound."""
    submission = submission_of_task(session, actor, task_id)
    hazard_ids = [r.hazard_id for r in submission.results if r.hazard_id is not None]
    hazards = (
        {h.id: h for h in session.scalars(select(Hazard).where(Hazard.id.in_(hazard_ids)))} if hazard_ids else {}
    )
    return SubmissionRecord(
        submission=submission,
        site=session.get(Site, submission.site_id),
        checker=session.get(User, submission.user_id),
        hazards=hazards,
    )


def where_to_check(session: Session, task: CheckTask) -> str:
    """Where a task's check can be done (see domain.checkable_at), for the list of what is owed."""
    schedule = task.schedule
    if schedule.site_id is not None:
        site = session.get(Site, schedule.site_id)
        return f"在点位「{site.name}」扫码检查" if site is not None else "在指定点位扫码检查"
    if schedule.department_id is not None and schedule.level is not CheckLevel.MONTHLY:
        department = session.get(Department, schedule.department_id)
        if department is not None:
            return f"在「{department.name}」的任一排查点位扫码检查"
    return "在本企业任一排查点位扫码检查"


# --- task rows for the console (排查任务, 工作台) -------------------------------------------

TASK_PAGE_SIZE = 50


@dataclass(frozen=True)
class TaskRow:
    """One task as the console lists it: what, whose unit, who did or owes it, and what came of it."""

    task: CheckTask
    label: str
    level: CheckLevel
    unit: str  # 班组（部门） / 部门 / 点位 / 全企业
    team_id: int | None
    submitted_at: datetime | None
    submitter: str | None  # who submitted it, when it was submitted
    owners: tuple[str, ...]  # who owes it (by their roles now), when nobody submitted it
    hazard_ids: tuple[int, ...] = ()
    results: dict[ItemResult, int] = field(default_factory=dict)

    @property
    def inspector(self) -> str:
        """The submitter, else the people who owe the check, else "—"."""
        if self.submitter:
            return self.submitter
        return "、".join(self.owners) if self.owners else "—"

    @property
    def result_summary(self) -> str:
        """'符合 15 · 隐患 1' — the answers of its submission counted, "" without one."""
        return " · ".join(f"{ITEM_RESULT_LABELS[r]} {self.results[r]}" for r in ItemResult if self.results.get(r))


@dataclass(frozen=True)
class TaskFilter:
    """Which of an enterprise's tasks a console list shows: periods overlapping
    [start, end] (local dates), optionally one level, team and status; page from 1."""

    start: date
    end: date
    level: CheckLevel | None = None
    team_id: int | None = None
    status: CheckTaskStatus | None = None
    page: int = 1


@dataclass(frozen=True)
class TaskPage:
    rows: list[TaskRow]
    total: int
    page: int
    pages: int


def _schedule_class() -> type[CheckSchedule]:
    # The schedules package builds on this one: import its table only when a query runs.
    from app.hazard_reporting.schedules.models import CheckSchedule

    return CheckSchedule


def _row_select() -> Select:
    schedule = _schedule_class()
    team_department = aliased(Department)
    return (
        select(
            CheckTask,
            Team.name,
            func.coalesce(Department.name, team_department.name),
            Site.name,
            CheckSubmission.id,
            CheckSubmission.submitted_at,
            User.display_name,
        )
        .join(schedule, schedule.id == CheckTask.schedule_id)
        .outerjoin(Team, Team.id == schedule.team_id)
        .outerjoin(team_department, team_department.id == Team.department_id)
        .outerjoin(Department, Department.id == schedule.department_id)
        .outerjoin(Site, Site.id == schedule.site_id)
        .outerjoin(CheckSubmission, CheckSubmission.task_id == CheckTask.id)
        .outerjoin(User, User.id == CheckSubmission.user_id)
        .options(contains_eager(CheckTask.schedule))
    )


def _unit_label(team: str | None, department: str | None, site: str | None) -> str:
    if site:
        return f"点位：{site}"
    if team:
        return f"{team}（{department}）" if department else team
    if department:
        return department
    return "全企业"


def _owners(session: Session, enterprise_id: int) -> list[tuple[MemberFacts, str]]:
    """Every active membership of the enterprise with the member's name (a team leader's
    department is their team's department, as member_facts has it)."""
    rows = session.execute(
        select(Membership.role, Membership.team_id, Membership.department_id, Team.department_id, User.display_name)
        .join(User, User.id == Membership.user_id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .where(Membership.enterprise_id == enterprise_id, Membership.active.is_(True), User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    ).all()
    return [
        (MemberFacts(role=role, team_id=team_id, department_id=team_department_id or department_id), name)
        for role, team_id, department_id, team_department_id, name in rows
    ]


def task_rows(session: Session, enterprise_id: int, query: Select) -> list[TaskRow]:
    """The rows of the tasks `query` selects (a `_row_select()` with filters and order),
    with the hazards each submission reported and its answers counted (two grouped queries
    for the whole page)."""
    rows = session.execute(query).all()
    submission_ids = [r[4] for r in rows if r[4] is not None]
    task_ids = [r[0].id for r in rows]
    hazards: dict[int, list[int]] = defaultdict(list)
    results: dict[int, dict[ItemResult, int]] = defaultdict(dict)
    if task_ids:
        for hazard_id, task_id in session.execute(
            select(Hazard.id, Hazard.source_task_id)
            .where(Hazard.enterprise_id == enterprise_id, Hazard.source_task_id.in_(task_ids))
            .order_by(Hazard.id)
        ):
            hazards[task_id].append(hazard_id)
    if submission_ids:
        for submission_id, result, count in session.execute(
            select(CheckItemResult.submission_id, CheckItemResult.result, func.count())
            .where(CheckItemResult.submission_id.in_(submission_ids))
            .group_by(CheckItemResult.submission_id, CheckItemResult.result)
        ):
            results[submission_id][ItemResult(result)] = count
    members = _owners(session, enterprise_id) if any(r[4] is None for r in rows) else []
    out = []
    for task, team, department, site, submission_id, submitted_at, submitter in rows:
        owners: tuple[str, ...] = ()
        if submission_id is None:
            facts = schedule_facts(task.schedule)
            owners = tuple(dict.fromkeys(name for member, name in members if owes(facts, member)))
        out.append(
            TaskRow(
                task=task,
                label=task.schedule.label,
                level=CheckLevel(task.schedule.level),
                unit=_unit_label(team, department, site),
                team_id=task.schedule.team_id,
                submitted_at=submitted_at,
                submitter=submitter,
                owners=owners,
                hazard_ids=tuple(hazards.get(task.id, ())),
                results=results.get(submission_id, {}) if submission_id is not None else {},
            )
        )
    return out


def task_page(session: Session, enterprise_id: int, filters: TaskFilter) -> TaskPage:
    """One page (TASK_PAGE_SIZE rows) of the enterprise's tasks matching `filters`, latest
    due first, and the total."""
    schedule = _schedule_class()
    conditions = [
        CheckTask.enterprise_id == enterprise_id,
        CheckTask.period_start <= filters.end,
        CheckTask.period_end >= filters.start,
    ]
    if filters.level is not None:
        conditions.append(schedule.level == filters.level)
    if filters.team_id is not None:
        conditions.append(schedule.team_id == filters.team_id)
    if filters.status is not None:
        conditions.append(CheckTask.status == filters.status)
    total = session.scalar(
        select(func.count(CheckTask.id)).join(schedule, schedule.id == CheckTask.schedule_id).where(*conditions)
    ) or 0
    pages = max(1, -(-total // TASK_PAGE_SIZE))
    page = min(filters.page, pages)
    query = (
        _row_select()
        .where(*conditions)
        .order_by(CheckTask.due_at.desc(), CheckTask.id.desc())
        .limit(TASK_PAGE_SIZE)
        .offset((page - 1) * TASK_PAGE_SIZE)
    )
    return TaskPage(rows=task_rows(session, enterprise_id, query), total=total, page=page, pages=pages)


def tasks_due_between(session: Session, enterprise_id: int, start: datetime, end: datetime) -> list[TaskRow]:
    """The rows of the enterprise's tasks due in [start, end), by unit then due time."""
    query = (
        _row_select()
        .where(CheckTask.enterprise_id == enterprise_id, CheckTask.due_at >= start, CheckTask.due_at < end)
        .order_by(CheckTask.due_at, CheckTask.id)
    )
    return task_rows(session, enterprise_id, query)


def enterprise_teams(session: Session, enterprise_id: int) -> list[tuple[int, str]]:
    """(id, name) of the enterprise's teams, for a filter."""
    return [
        (team_id, name)
        for team_id, name in session.execute(
            select(Team.id, Team.name)
            .join(Department, Department.id == Team.department_id)
            .where(Department.enterprise_id == enterprise_id)
            .order_by(Department.id, Team.id)
        )
    ]
