"""Read side of scheduled checks: an enterprise's effective checklist, the items of a task,
and the open tasks a member owes at a scanned site."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from app.accounts.models import Membership, User
from app.clock import local_today
from app.enterprises.models import Site, Team
from app.hazard_reporting.checks.domain import (
    ITEM_LEVEL_OF,
    CheckLevel,
    ChecklistKind,
    CheckTaskStatus,
    ItemSpec,
    MemberFacts,
    OverrideItem,
    ResolvedItem,
    ScheduleFacts,
    checkable_at,
    owes,
    resolve_items,
)
from app.hazard_reporting.checks.models import (
    Checklist,
    ChecklistItem,
    ChecklistVersion,
    ChecklistVersionBase,
    CheckSchedule,
    CheckTask,
)


def item_spec(row: ChecklistItem) -> ItemSpec:
    return ItemSpec(
        code=row.code,
        text=row.text,
        category=row.category,
        levels=row.levels,
        on_fail=row.on_fail,
        refs=tuple(row.refs or ()),
        note=row.note,
    )


def version_items(session: Session, checklist_id: int, version: int) -> list[ResolvedItem]:
    """Every line of a checklist version, disabled ones included (marked), in order.

    A standard version lists its own items; an enterprise version resolves its bases with
    its own lines applied (copy-on-write, see domain.resolve_items)."""
    row = session.scalar(
        select(ChecklistVersion).where(
            ChecklistVersion.checklist_id == checklist_id, ChecklistVersion.version == version
        )
    )
    if row is None:
        return []
    checklist = session.get(Checklist, checklist_id)
    own = session.scalars(
        select(ChecklistItem).where(ChecklistItem.version_id == row.id).order_by(ChecklistItem.position)
    ).all()
    if checklist is not None and checklist.enterprise_id is None:
        return [ResolvedItem(item_spec(i), checklist.code or "", i.origin, i.enabled) for i in own]
    bases = session.execute(
        select(ChecklistVersionBase.base_version_id, Checklist.code)
        .join(ChecklistVersion, ChecklistVersion.id == ChecklistVersionBase.base_version_id)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
        .where(ChecklistVersionBase.version_id == row.id)
        .order_by(ChecklistVersionBase.position)
    ).all()
    base_items: dict[int, list[ItemSpec]] = {base_id: [] for base_id, _ in bases}
    if base_items:
        for item in session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.version_id.in_(base_items))
            .order_by(ChecklistItem.version_id, ChecklistItem.position)
        ):
            base_items[item.version_id].append(item_spec(item))
    overrides = [OverrideItem(item_spec(i), i.origin, i.enabled) for i in own]
    return resolve_items([(code or "", base_items[base_id]) for base_id, code in bases], overrides)


def current_enterprise_items(
    session: Session, enterprise_id: int, kind: ChecklistKind = ChecklistKind.INSPECTION
) -> tuple[Checklist | None, list[ResolvedItem]]:
    """The enterprise's own list and its current lines (None, [] before it has one)."""
    checklist = session.scalar(
        select(Checklist).where(Checklist.enterprise_id == enterprise_id, Checklist.kind == kind)
    )
    if checklist is None or checklist.version == 0:
        return checklist, []
    return checklist, version_items(session, checklist.id, checklist.version)


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
