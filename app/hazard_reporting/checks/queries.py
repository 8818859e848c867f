"""Read side of checks: the items of a task, who owes it, the open tasks a member owes at a
scanned site, a member's checks (owed now, done, missed: the H5 "my tasks" page), one
submission with its answers (and for the result page its site, checker and hazards), and
an enterprise's recent tasks (the console)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from app.accounts.domain import Action, Actor, EnterpriseRef
from app.accounts.models import Membership, User
from app.clock import local_today
from app.enterprises.models import Department, Enterprise, Site, Team
from app.errors import NotFound
from app.hazard_reporting.checklists.domain import ResolvedItem
from app.hazard_reporting.checklists.queries import version_items
from app.hazard_reporting.checks.domain import (
    ITEM_LEVEL_OF,
    OWING_STATUSES,
    CheckLevel,
    CheckTaskStatus,
    MemberFacts,
    ScheduleFacts,
    checkable_at,
    owes,
)
from app.hazard_reporting.checks.models import CheckSubmission, CheckTask
from app.hazard_reporting.hazards.models import Hazard

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
