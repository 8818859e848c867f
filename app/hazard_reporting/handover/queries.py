"""The read side of 待交接事项: a (former) member's open hazards and the open check tasks their
role owed, in one enterprise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import Action, Actor
from app.accounts.models import Membership, User
from app.enterprises.models import Enterprise
from app.errors import NotFound, PermissionDenied
from app.hazard_reporting.checks.domain import CheckTaskStatus, MemberFacts, owes
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.domain import OPEN_STATUSES, HazardAction, available_actions
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules.models import CheckSchedule


@dataclass(frozen=True)
class OpenHazard:
    hazard: Hazard
    can_reassign: bool


@dataclass(frozen=True)
class Handover:
    membership: Membership
    enterprise: Enterprise
    hazards: list[OpenHazard]
    tasks: list[CheckTask]
    candidates: list[User]  # the enterprise's active members a hazard may go to
    may_assign: bool  # does the viewer hold the assigning permission here at all


def membership_to_hand_over(session: Session, actor: Actor, membership_id: int) -> Membership:
    """The membership, when the actor manages the enterprise's people or assigns its hazards.
    Raises NotFound (missing or not visible), PermissionDenied."""
    membership = session.get(Membership, membership_id)
    enterprise = membership.enterprise if membership is not None else None
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("成员不存在或您无权查看。")
    if not (actor.can(Action.MANAGE_MEMBERS, enterprise.ref) or actor.can(Action.ASSIGN_HAZARD, enterprise.ref)):
        raise PermissionDenied("您没有权限查看该成员的待交接事项。")
    return membership


def open_hazards_of(session: Session, enterprise_id: int, user_id: int) -> list[Hazard]:
    """The enterprise's open hazards whose rectification the user is responsible for."""
    return list(
        session.scalars(
            select(Hazard)
            .where(
                Hazard.enterprise_id == enterprise_id,
                Hazard.assignee_id == user_id,
                Hazard.status.in_(OPEN_STATUSES),
            )
            .order_by(Hazard.deadline.is_(None), Hazard.deadline, Hazard.id)
        )
    )


def owed_open_tasks(session: Session, membership: Membership) -> list[CheckTask]:
    """The pending check tasks the membership's role owed (its team's daily, its department's
    weekly, the monthly …), by the same rule as the scan pages (`checks.domain.owes`)."""
    member = MemberFacts(
        role=membership.role,
        team_id=membership.team_id,
        department_id=membership.team.department_id if membership.team is not None else membership.department_id,
    )
    tasks = session.scalars(
        select(CheckTask)
        .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
        .where(
            CheckTask.enterprise_id == membership.enterprise_id,
            CheckTask.status == CheckTaskStatus.PENDING,
            CheckSchedule.active.is_(True),
        )
        .options(selectinload(CheckTask.schedule))
        .order_by(CheckTask.due_at, CheckTask.id)
    )
    return [task for task in tasks if owes(task.schedule, member)]


def handover(session: Session, actor: Actor, membership_id: int, now: datetime) -> Handover:
    membership = membership_to_hand_over(session, actor, membership_id)
    enterprise = membership.enterprise
    ref = enterprise.ref
    hazards = [
        OpenHazard(h, HazardAction.ASSIGN in available_actions(actor, h, ref, None))
        for h in open_hazards_of(session, enterprise.id, membership.user_id)
    ]
    candidates = list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.enterprise_id == enterprise.id,
                Membership.active.is_(True),
                User.is_active.is_(True),
                User.id != membership.user_id,
            )
            .distinct()
            .order_by(User.display_name, User.id)
        )
    )
    return Handover(
        membership=membership,
        enterprise=enterprise,
        hazards=hazards,
        tasks=owed_open_tasks(session, membership),
        candidates=candidates,
        may_assign=actor.can(Action.ASSIGN_HAZARD, ref),
    )
