"""Read side of sites."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.enterprises.models import Department, Site


def active_site_named(session: Session, enterprise_id: int, name: str) -> Site | None:
    """The enterprise's site in use called `name` (names are unique among active sites)."""
    return session.scalar(
        select(Site).where(Site.enterprise_id == enterprise_id, Site.name == name, Site.active.is_(True))
    )


def sites_of(session: Session, enterprise_id: int, *, active_only: bool = False) -> list[Site]:
    """The enterprise's sites (active first, then by id) with their departments loaded."""
    query = (
        select(Site)
        .where(Site.enterprise_id == enterprise_id)
        .options(selectinload(Site.department))
        .order_by(Site.active.desc(), Site.id)
    )
    if active_only:
        query = query.where(Site.active.is_(True))
    return list(session.scalars(query))


def departments_of(session: Session, enterprise_id: int) -> list[Department]:
    return list(session.scalars(select(Department).where(Department.enterprise_id == enterprise_id).order_by(Department.id)))
