"""Use cases of sites. Take (session, actor, now, …); flush, never commit.

Adding a site is `enterprises.service.add_site` (a fresh unguessable token); here a site is
read, changed, retired and reactivated. Viewing needs VIEW_ENTERPRISE on the site's
enterprise, changing MANAGE_STRUCTURE; a site of an enterprise the actor may not see is
NotFound (no existence leak)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.enterprises.models import Department, Site
from app.enterprises.sites.domain import check_reactivate, check_retire, name_taken_message
from app.enterprises.sites.queries import active_site_named
from app.enterprises.sites.schemas import SiteFields, SiteUpdate
from app.errors import NotFound, ValidationFailed
from app.ids import MAX_ID
from app.validation import parse

SITE_NOT_VISIBLE = "点位不存在或您无权查看。"


def get_site(session: Session, actor: Actor, site_id: int) -> Site:
    """The site if the actor may see its enterprise. Raises NotFound otherwise."""
    site = session.get(Site, site_id) if 1 <= site_id <= MAX_ID else None
    if site is None or not actor.can(Action.VIEW_ENTERPRISE, site.enterprise.ref):
        raise NotFound(SITE_NOT_VISIBLE)
    return site


def site_to_manage(session: Session, actor: Actor, site_id: int) -> Site:
    """The site if the actor may change its enterprise's structure. Raises NotFound,
    PermissionDenied."""
    site = get_site(session, actor, site_id)
    require(actor, Action.MANAGE_STRUCTURE, site.enterprise.ref)
    return site


def _check_department(session: Session, site: Site, department_id: int | None) -> None:
    if department_id is None:
        return
    department = session.get(Department, department_id)
    if department is None or department.enterprise_id != site.enterprise_id:
        raise ValidationFailed.for_field("department_id", "部门不存在或不属于本企业")


def _check_name_free(session: Session, site: Site, name: str) -> None:
    other = active_site_named(session, site.enterprise_id, name)
    if other is not None and other.id != site.id:
        raise ValidationFailed.for_field("name", name_taken_message(name))


def edit_site(session: Session, actor: Actor, now: datetime, site_id: int, data: Any) -> Site:
    """Set a site's name, area and department (all given, as the console form sends them).
    Raises NotFound, PermissionDenied, ValidationFailed."""
    site = site_to_manage(session, actor, site_id)
    payload = parse(SiteFields, data)
    return _apply(session, site, payload.model_dump())


def update_site(session: Session, actor: Actor, now: datetime, site_id: int, data: Any) -> Site:
    """Change the given fields of a site (`active` retires or reactivates it). Raises
    NotFound, PermissionDenied, ValidationFailed, InvalidTransition."""
    site = site_to_manage(session, actor, site_id)
    changes = parse(SiteUpdate, data).model_dump(exclude_unset=True)
    for name in ("name", "area", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.for_field(name, "不能为空")
    active = changes.pop("active", None)
    if active is not None and active != site.active:
        (check_retire if not active else check_reactivate)(site.active)
    return _apply(session, site, changes, active=site.active if active is None else active)


def _apply(session: Session, site: Site, changes: dict[str, Any], *, active: bool | None = None) -> Site:
    """Check, then write: nothing is set on the site (and so nothing flushed) before every
    check has passed."""
    active = site.active if active is None else active
    if "department_id" in changes:
        _check_department(session, site, changes["department_id"])
    if active:
        # A reactivated site, or a renamed one, must not clash with a site in use.
        _check_name_free(session, site, changes.get("name", site.name))
    for field, value in changes.items():
        setattr(site, field, value)
    site.active = active
    session.flush()
    return site


def retire_site(session: Session, actor: Actor, now: datetime, site_id: int) -> Site:
    """Retire a site: its QR then tells a scanner it is retired. Raises NotFound,
    PermissionDenied, InvalidTransition."""
    site = site_to_manage(session, actor, site_id)
    check_retire(site.active)
    site.active = False
    session.flush()
    return site


def reactivate_site(session: Session, actor: Actor, now: datetime, site_id: int) -> Site:
    """Put a retired site back in use (same token and QR, so its old posters work again).
    Raises NotFound, PermissionDenied, InvalidTransition, ValidationFailed (a site in use
    has its name by now)."""
    site = site_to_manage(session, actor, site_id)
    check_reactivate(site.active)
    _check_name_free(session, site, site.name)
    site.active = True
    session.flush()
    return site
