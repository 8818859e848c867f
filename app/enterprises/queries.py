"""Read side of the enterprise file: lists and one-file views, always scoped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.accounts.domain import Actor, Role
from app.accounts.models import Membership
from app.accounts.queries import visible_enterprises
from app.enterprises.domain import SITE_NOT_FOUND, site_retired_message, standardization_valid_on
from app.enterprises.models import Department, Enterprise, Site, Town
from app.errors import NotFound

# How people are listed on the enterprise file: the principal first, the workers last.
MEMBER_ORDER = [
    Role.MANAGER,
    Role.SAFETY_OFFICER,
    Role.ENTERPRISE_ADMIN,
    Role.DEPARTMENT_HEAD,
    Role.TEAM_LEADER,
    Role.WORKER,
]

@dataclass(frozen=True)
class ScopeSummary:
    enterprises: int
    above_scale: int
    above_scale_standardized: int

    @property
    def standardization_rate(self) -> float | None:
        if not self.above_scale:
            return None
        return self.above_scale_standardized / self.above_scale


def list_enterprises(session: Session, actor: Actor, town_id: int | None = None) -> list[Enterprise]:
    query = visible_enterprises(actor).options(selectinload(Enterprise.town))
    if town_id is not None:
        query = query.where(Enterprise.town_id == town_id)
    return list(session.scalars(query.order_by(Enterprise.town_id, Enterprise.name)))


def visible_towns(session: Session, actor: Actor) -> list[Town]:
    ids = visible_enterprises(actor).with_only_columns(Enterprise.town_id).distinct()
    return list(session.scalars(select(Town).where(Town.id.in_(ids)).order_by(Town.id)))


def summarize(enterprises: list[Enterprise], day: date) -> ScopeSummary:
    """Counts of the list's header; a certificate counts only while valid on `day`."""
    above = [e for e in enterprises if e.scale == "above"]
    standardized = [
        e for e in above if standardization_valid_on(e.standardization_level, e.standardization_date, day)
    ]
    return ScopeSummary(len(enterprises), len(above), len(standardized))


def enterprise_file(session: Session, enterprise: Enterprise) -> dict:
    """Everything on the one-file page: structure, posts, sites, members by role."""
    departments = list(
        session.scalars(
            select(Department)
            .where(Department.enterprise_id == enterprise.id)
            .options(selectinload(Department.teams))
            .order_by(Department.id)
        )
    )
    members = list(
        session.scalars(
            select(Membership)
            .where(Membership.enterprise_id == enterprise.id, Membership.active.is_(True))
            .options(
                selectinload(Membership.user),
                selectinload(Membership.team),
                selectinload(Membership.department),
            )
            .order_by(Membership.id)
        )
    )
    members.sort(key=lambda m: (MEMBER_ORDER.index(m.role), m.department_id or 0, m.team_id or 0, m.id))
    member_count = session.scalar(
        select(func.count(func.distinct(Membership.user_id))).where(
            Membership.enterprise_id == enterprise.id, Membership.active.is_(True)
        )
    )
    return {
        "departments": departments,
        "posts": list(enterprise.posts),
        "sites": list(enterprise.sites),
        "members": members,
        "member_count": member_count or 0,
    }


@dataclass(frozen=True)
class ScannedSite:
    token: str
    name: str
    enterprise_id: int
    enterprise_name: str


def all_towns(session: Session) -> list[Town]:
    """The district's towns in the order they were registered."""
    return list(session.scalars(select(Town).order_by(Town.id)))


def site_with_token(session: Session, token: str) -> Site | None:
    """The site whose QR carries `token`, active or not, with its enterprise loaded (every
    caller names it); None for an empty or unknown token."""
    if not token:
        return None
    return session.scalar(select(Site).where(Site.token == token).options(joinedload(Site.enterprise)))


def scanned_site(session: Session, token: str) -> ScannedSite:
    """The active site behind a scanned token with its enterprise's name, as plain values
    (the SCAN reply path: one row, no ORM objects, so the lookup cache can keep it). Raises
    NotFound with the same messages as `enterprises.service.site_by_token` (unknown code,
    retired site)."""
    row = (
        session.execute(
            select(Site.token, Site.name, Site.enterprise_id, Enterprise.name, Site.active)
            .join(Enterprise, Enterprise.id == Site.enterprise_id)
            .where(Site.token == token)
        ).first()
        if token
        else None
    )
    if row is None:
        raise NotFound(SITE_NOT_FOUND)
    if not row.active:
        raise NotFound(site_retired_message(row[1]))
    return ScannedSite(*row[:4])
