"""Read side of hazards: lists and one hazard with its history, always scoped by the actor."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import Action, Actor, EnterpriseRef
from app.accounts.queries import visible_enterprises
from app.enterprises.models import Enterprise
from app.errors import NotFound
from app.hazard_reporting.hazards.domain import OPEN_STATUSES, ExtensionStatus, HazardLevel, HazardStatus
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardEvent

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def visible_hazards(actor: Actor) -> Select[tuple[Hazard]]:
    """SELECT of the hazards of the enterprises `actor` may see (add filters on top)."""
    query = select(Hazard)
    if actor.enterprise_scope().all:
        return query
    enterprise_ids = visible_enterprises(actor).with_only_columns(Enterprise.id)
    return query.where(Hazard.enterprise_id.in_(enterprise_ids))


def get_hazard(session: Session, actor: Actor, hazard_id: int) -> Hazard:
    """One hazard with its photos, plan and extensions. Raises NotFound when the actor may
    not see it (no existence leak)."""
    hazard = session.scalar(
        visible_hazards(actor)
        .where(Hazard.id == hazard_id)
        .options(
            selectinload(Hazard.photos),
            selectinload(Hazard.plan),
            selectinload(Hazard.extensions),
        )
    )
    if hazard is None:
        raise NotFound("隐患不存在或您无权查看。")
    return hazard


def hazard_history(session: Session, actor: Actor, hazard_id: int) -> list[HazardEvent]:
    """The hazard's events, oldest first. Raises NotFound like get_hazard."""
    get_hazard(session, actor, hazard_id)
    return list(
        session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id).order_by(HazardEvent.id))
    )


def list_hazards(
    session: Session,
    actor: Actor,
    *,
    enterprise_id: int | None = None,
    assignee_id: int | None = None,
    reporter_id: int | None = None,
    statuses: Iterable[HazardStatus] | None = None,
    level: HazardLevel | None = None,
    open_only: bool = False,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[Hazard]:
    """Hazards the actor may see, newest first, filtered as asked."""
    query = visible_hazards(actor)
    if enterprise_id is not None:
        query = query.where(Hazard.enterprise_id == enterprise_id)
    if assignee_id is not None:
        query = query.where(Hazard.assignee_id == assignee_id)
    if reporter_id is not None:
        query = query.where(Hazard.reporter_id == reporter_id)
    if statuses is not None:
        query = query.where(Hazard.status.in_(sorted(statuses)))
    if open_only:
        query = query.where(Hazard.status.in_(sorted(OPEN_STATUSES)))
    if level is not None:
        query = query.where(Hazard.level == level)
    query = query.order_by(Hazard.created_at.desc(), Hazard.id.desc())
    limit = max(1, min(limit, MAX_LIMIT))
    return list(session.scalars(query.limit(limit).offset(max(0, offset))))


def hazards_of_enterprise(session: Session, actor: Actor, enterprise_id: int, **filters) -> list[Hazard]:
    """The enterprise's hazards. Raises NotFound when the actor may not see the enterprise."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(
        Action.VIEW_ENTERPRISE, EnterpriseRef(id=enterprise.id, town_id=enterprise.town_id)
    ):
        raise NotFound("企业不存在或您无权查看。")
    return list_hazards(session, actor, enterprise_id=enterprise_id, **filters)


def hazards_of_assignee(session: Session, actor: Actor, user_id: int, **filters) -> list[Hazard]:
    """Hazards assigned to `user_id` that the actor may see (their own: 我的整改)."""
    return list_hazards(session, actor, assignee_id=user_id, **filters)


def hazards_of_reporter(session: Session, actor: Actor, user_id: int, **filters) -> list[Hazard]:
    """Hazards reported by `user_id` that the actor may see (their own: 我的上报)."""
    return list_hazards(session, actor, reporter_id=user_id, **filters)


def pending_extensions(session: Session, actor: Actor, enterprise_id: int | None = None) -> list[DeadlineExtension]:
    """Extension requests waiting for a decision, oldest first, in the actor's scope."""
    hazard_ids = visible_hazards(actor).with_only_columns(Hazard.id)
    if enterprise_id is not None:
        hazard_ids = hazard_ids.where(Hazard.enterprise_id == enterprise_id)
    query = (
        select(DeadlineExtension)
        .where(
            DeadlineExtension.status == ExtensionStatus.REQUESTED,
            DeadlineExtension.hazard_id.in_(hazard_ids),
        )
        .options(selectinload(DeadlineExtension.hazard))
        .order_by(DeadlineExtension.requested_at, DeadlineExtension.id)
    )
    return list(session.scalars(query))
