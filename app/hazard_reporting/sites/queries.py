"""Read side of the sites page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.enterprises.models import Site
from app.enterprises.sites.queries import sites_of
from app.hazard_reporting.schedules.domain import RiskLevel
from app.hazard_reporting.schedules.models import SiteRiskProfile

# The four-colour tag of a site: colour word, meaning, CSS class.
RISK_TAGS: dict[RiskLevel, tuple[str, str]] = {
    RiskLevel.RED: ("红", "重大风险"),
    RiskLevel.ORANGE: ("橙", "较大风险"),
    RiskLevel.YELLOW: ("黄", "一般风险"),
    RiskLevel.BLUE: ("蓝", "低风险"),
}


@dataclass(frozen=True)
class SiteRow:
    site: Site
    profile: SiteRiskProfile | None

    @property
    def level(self) -> RiskLevel | None:
        return RiskLevel(self.profile.risk_level) if self.profile else None


def site_rows(session: Session, enterprise_id: int, *, active_only: bool = False) -> list[SiteRow]:
    """The enterprise's sites (in use first) with their departments and risk profiles."""
    sites = sites_of(session, enterprise_id, active_only=active_only)
    profiles = {
        p.site_id: p
        for p in session.scalars(
            select(SiteRiskProfile).where(SiteRiskProfile.site_id.in_([s.id for s in sites] or [0]))
        )
    }
    return [SiteRow(site, profiles.get(site.id)) for site in sites]


def profile_of(session: Session, site_id: int) -> SiteRiskProfile | None:
    return session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site_id))
