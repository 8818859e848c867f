"""The demo's special campaign: one active 粉尘防爆 campaign over the district's dust
enterprises, 恒达铸造 checked with one hazard found, the others not yet; seeded once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.queries import load_actor
from app.demo.campaigns import TITLE
from app.demo.seed import seed_demo
from app.enterprises.models import Enterprise
from app.oversight.campaigns import queries
from app.oversight.campaigns.domain import CampaignStatus, TargetState
from app.oversight.campaigns.models import Campaign
from tests.conftest import TEST_SECRET
from tests.fixtures.builders import NOW


def test_the_demo_has_an_active_dust_campaign_with_one_enterprise_checked(app, db_session):
    seed_demo(db_session, NOW, TEST_SECRET)
    campaign = db_session.scalar(select(Campaign).where(Campaign.title == TITLE))
    assert campaign.status is CampaignStatus.ACTIVE and campaign.topic.value == "dust_explosion"
    admin = load_actor(db_session, db_session.scalar(select(User).where(User.username == "admin")))
    rows = queries.target_rows(db_session, admin, campaign, NOW)
    dust = db_session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.dust_explosion.is_(True)))
    assert len(rows) == dust > 5
    checked = [r for r in rows if r.state is TargetState.CHECKED]
    assert [(r.enterprise_name, r.hazards) for r in checked] == [("郑州恒达铸造有限公司", 1)]
    assert all(r.state is TargetState.PENDING for r in rows if r not in checked)
    seed_demo(db_session, NOW, TEST_SECRET)
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 1
