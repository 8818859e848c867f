"""Use cases of the sites page. Take (session, actor, now, …); flush, never commit.

A site's record changes through `enterprises.sites.service` (identity); its risk level
through `schedules.service.set_site_risk_profile`. What ties them: a site's risk-point
rounds follow the site — retired, its rounds are switched off and their unstarted tasks
dropped; reactivated, the rounds of its level come back (with the plan's timing); moved to
another department, the rounds move with it. That re-planning is the profile's own
(`set_site_risk_profile` with the profile unchanged), so there is one way rounds are made."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.enterprises import service as enterprise_service
from app.enterprises.models import Site
from app.enterprises.sites import service as site_service
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import SiteRiskProfile
from app.hazard_reporting.sites.queries import profile_of


def add_site(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> Site:
    """Register a site (see enterprises.service.add_site)."""
    return enterprise_service.add_site(session, actor, now, enterprise_id, data)


def _replanning(session: Session, actor: Actor, now: datetime, site: Site, change: Callable[[], Site]) -> Site:
    before = (site.active, site.department_id)
    changed = change()
    if (changed.active, changed.department_id) != before:
        profile = profile_of(session, changed.id)
        if profile is not None:
            _replan(session, actor, now, changed, profile)
    return changed


def _replan(session: Session, actor: Actor, now: datetime, site: Site, profile: SiteRiskProfile) -> None:
    schedule_service.set_site_risk_profile(
        session,
        actor,
        now,
        site.id,
        {"risk_level": profile.risk_level, "is_major_risk_point": profile.is_major_risk_point, "note": profile.note},
    )


def edit_site(session: Session, actor: Actor, now: datetime, site_id: int, data: Any) -> Site:
    """Set name, area and department. Raises NotFound, PermissionDenied, ValidationFailed."""
    site = site_service.site_to_manage(session, actor, site_id)
    return _replanning(session, actor, now, site, lambda: site_service.edit_site(session, actor, now, site_id, data))


def update_site(session: Session, actor: Actor, now: datetime, site_id: int, data: Any) -> Site:
    """Change some fields, `active` included (API PATCH). Raises NotFound,
    PermissionDenied, ValidationFailed, InvalidTransition."""
    site = site_service.site_to_manage(session, actor, site_id)
    return _replanning(session, actor, now, site, lambda: site_service.update_site(session, actor, now, site_id, data))


def retire_site(session: Session, actor: Actor, now: datetime, site_id: int) -> Site:
    """Retire a site and switch off its rounds. Raises NotFound, PermissionDenied,
    InvalidTransition."""
    site = site_service.site_to_manage(session, actor, site_id)
    return _replanning(session, actor, now, site, lambda: site_service.retire_site(session, actor, now, site_id))


def reactivate_site(session: Session, actor: Actor, now: datetime, site_id: int) -> Site:
    """Put a retired site back in use with the rounds of its level. Raises NotFound,
    PermissionDenied, InvalidTransition, ValidationFailed."""
    site = site_service.site_to_manage(session, actor, site_id)
    return _replanning(session, actor, now, site, lambda: site_service.reactivate_site(session, actor, now, site_id))


def set_risk_level(session: Session, actor: Actor, now: datetime, site_id: int, data: Any) -> SiteRiskProfile:
    """Set the four-colour level and the major-risk-point flag of a site (its note is kept
    unless given). Raises NotFound, PermissionDenied, ValidationFailed."""
    site = site_service.site_to_manage(session, actor, site_id)
    data = dict(data)
    if "note" not in data:
        profile = profile_of(session, site.id)
        data["note"] = profile.note if profile else ""
    return schedule_service.set_site_risk_profile(session, actor, now, site.id, data)
