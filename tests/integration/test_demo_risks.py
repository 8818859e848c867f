"""The demo's risk registers: the four enterprises get theirs through the import, with
team-level controls on their real teams and site colours that follow; a re-seed keeps them."""

from __future__ import annotations

from sqlalchemy import select

from app.demo.history import demo_enterprises
from app.demo.risks import REGISTERS
from app.demo.seed import seed_demo
from app.enterprises.models import Department, Site, Team
from app.hazard_reporting.risks.models import RiskControl, RiskPoint, RiskRegister, RiskSource
from app.hazard_reporting.risks.workbook import COLUMNS
from app.hazard_reporting.schedules.models import SiteRiskProfile
from tests.fixtures.builders import NOW
from tests.integration.test_demo_seed import TEST_SECRET


def test_demo_registers(app, db_session):
    assert all(len(row) == len(COLUMNS) for rows in REGISTERS.values() for row in rows)
    seed_demo(db_session, NOW, TEST_SECRET, media_root=None)
    enterprises = demo_enterprises(db_session)
    for key in REGISTERS:
        enterprise = enterprises[key]
        assert db_session.get(RiskRegister, enterprise.id).version == 1
        team_controls = db_session.scalars(
            select(RiskControl)
            .join(RiskSource, RiskSource.id == RiskControl.source_id)
            .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
            .where(RiskPoint.enterprise_id == enterprise.id, RiskControl.control_level == "team")
        ).all()
        teams = set(db_session.scalars(
            select(Team.id).join(Department, Department.id == Team.department_id).where(Department.enterprise_id == enterprise.id)
        ))
        assert team_controls and {c.team_id for c in team_controls} <= teams
    hengda = enterprises["hengda"]
    furnace = db_session.scalar(select(Site).where(Site.enterprise_id == hengda.id, Site.name == "熔炼车间炉前"))
    profile = db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == furnace.id))
    assert profile.risk_level.value == "red" and profile.is_major_risk_point
    assert seed_demo(db_session, NOW, TEST_SECRET, media_root=None) == 0
