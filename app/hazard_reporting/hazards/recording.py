"""The steps every hazard use case shares: load the hazard (locked, in scope), authorize the
action by the transition table, apply it, and record its HazardEvent with the outbox rows of
its notice.

A module of its own because both service.py and major_hazards.py build on it, and service.act
dispatches to both: kept in service.py it would make the two import each other.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, BureauRole, Role
from app.accounts.models import BureauMembership, Membership, User, bureau_membership_towns
from app.enterprises.models import Enterprise, Site
from app.errors import NotFound
from app.hazard_reporting.hazards.domain import (
    NOTICES,
    OVERSEER_ROLES,
    Audience,
    ExtensionStatus,
    HazardAction,
    HazardStatus,
    PhotoKind,
    Rule,
    authorize,
    decider_permission,
    place_label,
    roles_with,
)
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardEvent, HazardPhoto
from app.notifications.service import enqueue

log = logging.getLogger(__name__)

HIDDEN = "隐患不存在或您无权查看。"
SUMMARY_LENGTH = 100  # of the description, in notification payloads


# --- loading and recording ------------------------------------------------------------------


def load(session: Session, actor: Actor, hazard_id: int) -> tuple[Hazard, Enterprise]:
    """The hazard, locked for this transaction, if the actor may see its enterprise.

    Raises NotFound otherwise (no existence leak). The row lock serialises two people acting
    on the same hazard at once (PostgreSQL; SQLite serialises writers anyway)."""
    hazard = session.get(Hazard, hazard_id, with_for_update=True, populate_existing=True)
    if hazard is None:
        raise NotFound(HIDDEN)
    enterprise = session.get(Enterprise, hazard.enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound(HIDDEN)
    return hazard, enterprise


def authorize_on(actor: Actor, hazard: Hazard, enterprise: Enterprise, action: HazardAction) -> Rule:
    """The rule of `action` that `actor` may apply to `hazard` now.
    Raises InvalidTransition, PermissionDenied."""
    return authorize(
        action,
        status=hazard.status,
        level=hazard.level,
        actor=actor,
        enterprise=enterprise.ref,
        reporter_id=hazard.reporter_id,
        assignee_id=hazard.assignee_id,
    )


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def record(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    action: HazardAction,
    *,
    from_status: HazardStatus | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    requester_id: int | None = None,
) -> HazardEvent:
    """Write the event of `action` (hazard already updated) and the outbox rows of its notice."""
    hazard.updated_at = now
    event = HazardEvent(
        hazard_id=hazard.id,
        actor_id=actor.user_id,
        at=now,
        action=action,
        from_status=from_status,
        to_status=hazard.status,
        note=note or None,
        data=data or {},
    )
    session.add(event)
    session.flush()
    _notify(session, actor, now, hazard, enterprise, event, requester_id=requester_id)
    return event


def apply(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    rule: Rule,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    requester_id: int | None = None,
) -> HazardEvent:
    """Move the hazard as `rule` says and record it."""
    from_status = hazard.status
    if rule.target is not None:
        hazard.status = rule.target
    return record(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule.action,
        from_status=from_status,
        note=note,
        data=data,
        requester_id=requester_id,
    )


# --- notifications ---------------------------------------------------------------------------


def _members_with(session: Session, hazard: Hazard, permission: Action) -> set[int]:
    """Active members whose role grants `permission`. When the hazard belongs to a
    department, people attached to another department are left out."""
    query = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.enterprise_id == hazard.enterprise_id,
            Membership.active.is_(True),
            Membership.role.in_(sorted(roles_with(permission))),
            User.is_active.is_(True),
        )
    )
    if hazard.department_id is not None:
        query = query.where(
            or_(Membership.department_id.is_(None), Membership.department_id == hazard.department_id)
        )
    return set(session.scalars(query))


def _members_in(session: Session, hazard: Hazard, roles: frozenset[Role]) -> set[int]:
    """Active members of the hazard's enterprise in one of `roles`, whatever their department."""
    query = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.enterprise_id == hazard.enterprise_id,
            Membership.active.is_(True),
            Membership.role.in_(sorted(roles)),
            User.is_active.is_(True),
        )
    )
    return set(session.scalars(query))


def _bureau_for(session: Session, enterprise: Enterprise) -> set[int]:
    """Bureau admins (the whole district) and the bureau staff of the enterprise's town."""
    in_town = select(bureau_membership_towns.c.bureau_membership_id).where(
        bureau_membership_towns.c.town_id == enterprise.town_id
    )
    query = (
        select(BureauMembership.user_id)
        .join(User, User.id == BureauMembership.user_id)
        .where(
            User.is_active.is_(True),
            or_(
                BureauMembership.role == BureauRole.ADMIN,
                (BureauMembership.role == BureauRole.STAFF) & BureauMembership.id.in_(in_town),
            ),
        )
    )
    return set(session.scalars(query))


def _audience(
    session: Session, hazard: Hazard, enterprise: Enterprise, audience: Audience, requester_id: int | None
) -> set[int]:
    if audience is Audience.REPORTER:
        return {hazard.reporter_id}
    if audience is Audience.ASSIGNEE:
        return {hazard.assignee_id} if hazard.assignee_id is not None else set()
    if audience is Audience.REQUESTER:
        return {requester_id} if requester_id is not None else set()
    if audience is Audience.BUREAU:
        return _bureau_for(session, enterprise)
    if audience is Audience.OVERSEERS:
        return _members_in(session, hazard, OVERSEER_ROLES)
    permission = {
        Audience.ASSIGNERS: Action.ASSIGN_HAZARD,
        Audience.MAJOR_APPROVERS: Action.APPROVE_MAJOR_PLAN,
        Audience.DECIDERS: decider_permission(hazard.level),
    }[audience]
    return _members_with(session, hazard, permission)


def _site_name(session: Session, site_id: int | None) -> str:
    site = session.get(Site, site_id) if site_id is not None else None
    return site.name if site is not None else ""


def _notify(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    event: HazardEvent,
    *,
    requester_id: int | None,
) -> None:
    """One outbox row per recipient of the event's notice; the actor is not told what they
    just did themselves. Keyed by event and recipient, so the same event never notifies twice."""
    notice = NOTICES.get(event.action)
    if notice is None:
        return
    recipients: set[int] = set()
    for audience in notice.audiences:
        recipients |= _audience(session, hazard, enterprise, audience, requester_id)
    recipients.discard(actor.user_id)
    if not recipients:
        log.warning("hazard %s: nobody to notify of %s", hazard.id, notice.kind)
        return
    payload = {
        "hazard_id": hazard.id,
        "enterprise_id": enterprise.id,
        "enterprise_name": enterprise.name,
        "level": hazard.level.value,
        "status": hazard.status.value,
        "description": hazard.description[:SUMMARY_LENGTH],
        # The point and the location, so a notice says where even when nothing was typed.
        "location": place_label(_site_name(session, hazard.site_id), hazard.location),
        "deadline": iso(hazard.deadline),
        "action": event.action.value,
        "actor_id": actor.user_id,
        "actor_name": actor.display_name,
        "note": event.note,
        "at": iso(now),
        **event.data,
    }
    for user_id in sorted(recipients):
        enqueue(
            session,
            kind=notice.kind,
            recipient_user_id=user_id,
            payload=payload,
            dedupe_key=f"{notice.kind}:event-{event.id}:user-{user_id}",
            now=now,
        )


# --- shared reads and writes --------------------------------------------------------------


def count_photos(session: Session, hazard: Hazard, kind: PhotoKind) -> int:
    """How many photos of `kind` the hazard has."""
    return session.scalar(
        select(func.count()).select_from(HazardPhoto).where(
            HazardPhoto.hazard_id == hazard.id, HazardPhoto.kind == kind
        )
    )


def pending_extension(session: Session, hazard: Hazard) -> DeadlineExtension | None:
    """The hazard's extension request waiting for a decision, if any (one at a time)."""
    return session.scalar(
        select(DeadlineExtension).where(
            DeadlineExtension.hazard_id == hazard.id,
            DeadlineExtension.status == ExtensionStatus.REQUESTED,
        )
    )


def cancel_pending_extension(
    session: Session, actor: Actor, now: datetime, hazard: Hazard, why: str
) -> dict[str, Any]:
    """Void a request left undecided when the hazard moves on; its id goes into the event."""
    pending = pending_extension(session, hazard)
    if pending is None:
        return {}
    pending.status = ExtensionStatus.CANCELLED
    pending.decided_by_id = actor.user_id
    pending.decided_at = now
    pending.decision_note = why
    return {"cancelled_extension_id": pending.id}
