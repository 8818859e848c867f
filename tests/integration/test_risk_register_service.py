"""The risk register's use cases: versions and events, the site colour following the worst
active risk (and its rounds with it), hand-setting refused for a register-driven site, units
of another enterprise refused, scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checks.domain import ScheduleKind
from app.hazard_reporting.risks import service
from app.hazard_reporting.risks.domain import RiskGrade
from app.hazard_reporting.risks.models import RiskRegister, RiskRegisterEvent
from app.hazard_reporting.schedules.domain import RiskLevel
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from app.hazard_reporting.sites import service as site_service
from tests.fixtures.builders import NOW

RED = {"name": "钢水喷溅", "accident_types": "灼烫、火灾", "likelihood": "6", "exposure": "6", "consequence": "15"}
YELLOW = {"name": "地面湿滑", "accident_types": ["其它伤害"], "likelihood": "3", "exposure": "6", "consequence": "7"}
BLUE = {"name": "噪声", "likelihood": "1", "exposure": "6", "consequence": "1"}


@pytest.fixture
def plant(build):
    enterprise = build.enterprise()
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼班")
    site = build.site(enterprise, name="熔炼炉平台")
    return enterprise, admin, department, team, site


def _profile(db_session, site):
    return db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id))


def _rounds(db_session, site):
    return list(
        db_session.scalars(
            select(CheckSchedule).where(
                CheckSchedule.site_id == site.id,
                CheckSchedule.kind == ScheduleKind.RISK_POINT,
                CheckSchedule.active.is_(True),
            )
        )
    )


def test_every_change_bumps_the_version_and_writes_an_event(db_session, plant):
    enterprise, admin, department, team, site = plant
    assert db_session.get(RiskRegister, enterprise.id) is None
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    source = service.add_source(db_session, admin, NOW, point.id, RED)
    control = service.add_control(
        db_session, admin, NOW, source.id,
        {"text": "浇注前检查包衬干燥", "kind": "management", "control_level": "team", "team_id": team.id},
    )
    service.retire_control(db_session, admin, NOW, control.id)
    assert db_session.get(RiskRegister, enterprise.id).version == 4
    events = db_session.scalars(
        select(RiskRegisterEvent).where(RiskRegisterEvent.enterprise_id == enterprise.id).order_by(RiskRegisterEvent.version)
    ).all()
    assert [(e.version, e.action) for e in events] == [
        (1, "add_point"), (2, "add_source"), (3, "add_control"), (4, "retire_control"),
    ]
    assert source.score == 540 and source.grade is RiskGrade.MAJOR
    assert source.accident_types == ["灼烫", "火灾"]


def test_site_colour_follows_the_worst_active_risk_and_the_rounds_follow(db_session, plant):
    enterprise, admin, _, _, site = plant
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    # A point without sources: blue, no extra rounds.
    assert _profile(db_session, site).risk_level == RiskLevel.BLUE
    assert _rounds(db_session, site) == []
    yellow = service.add_source(db_session, admin, NOW, point.id, YELLOW)
    assert _profile(db_session, site).risk_level == RiskLevel.YELLOW
    assert _rounds(db_session, site) == []  # 一般 and not flagged: no extra rounds
    red = service.add_source(db_session, admin, NOW, point.id, RED)
    profile = _profile(db_session, site)
    assert (profile.risk_level, profile.is_major_risk_point) == (RiskLevel.RED, True)
    assert len(_rounds(db_session, site)) == 2  # red: am and pm rounds
    service.retire_source(db_session, admin, NOW, red.id)
    profile = _profile(db_session, site)
    assert (profile.risk_level, profile.is_major_risk_point) == (RiskLevel.YELLOW, False)
    assert _rounds(db_session, site) == []
    service.edit_source(db_session, admin, NOW, yellow.id, {**YELLOW, "is_major_factor": True})
    assert _profile(db_session, site).is_major_risk_point is True
    assert len(_rounds(db_session, site)) == 1
    service.retire_point(db_session, admin, NOW, point.id)
    assert _profile(db_session, site).risk_level == RiskLevel.BLUE
    assert _rounds(db_session, site) == []


def test_moving_a_point_recolours_both_sites(db_session, build, plant):
    enterprise, admin, _, _, site = plant
    other = build.site(enterprise, name="浇注区")
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "浇注", "kind": "activity", "site_id": site.id})
    service.add_source(db_session, admin, NOW, point.id, RED)
    service.add_point(db_session, admin, NOW, enterprise.id, {"name": "砂处理", "kind": "place", "site_id": other.id})
    service.edit_point(db_session, admin, NOW, point.id, {"name": "浇注", "kind": "activity", "site_id": other.id})
    assert _profile(db_session, other).risk_level == RiskLevel.RED
    assert _profile(db_session, site).risk_level == RiskLevel.RED  # no point left there: last level kept, hand-set again
    site_service.set_risk_level(db_session, admin, NOW, site.id, {"risk_level": "blue", "is_major_risk_point": False})
    assert _profile(db_session, site).risk_level == RiskLevel.BLUE


def test_a_register_driven_site_refuses_hand_setting(db_session, plant):
    enterprise, admin, _, _, site = plant
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    service.add_source(db_session, admin, NOW, point.id, YELLOW)
    with pytest.raises(Conflict, match="由风险辨识清单确定"):
        site_service.set_risk_level(db_session, admin, NOW, site.id, {"risk_level": "blue", "is_major_risk_point": False})
    # Re-planning (retire, reactivate) re-applies the same level and is not refused.
    site_service.retire_site(db_session, admin, NOW, site.id)
    site_service.reactivate_site(db_session, admin, NOW, site.id)
    assert _profile(db_session, site).risk_level == RiskLevel.YELLOW


def test_units_of_another_enterprise_are_refused(db_session, build, plant):
    enterprise, admin, department, team, site = plant
    stranger = build.enterprise(name="别家")
    their_team = build.team(build.department(stranger))
    their_post = build.post(stranger)
    their_site = build.site(stranger)
    outsider = build.member(stranger, "worker")
    with pytest.raises(ValidationFailed, match="不属于本企业"):
        service.add_point(db_session, admin, NOW, enterprise.id, {"name": "x", "kind": "place", "site_id": their_site.id})
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
    source = service.add_source(db_session, admin, NOW, point.id, RED)
    base = {"text": "佩戴防护面罩", "kind": "ppe"}
    for data, message in (
        ({"control_level": "team", "team_id": their_team.id}, "责任班组不属于本企业"),
        ({"control_level": "department", "department_id": their_team.department_id}, "责任部门不属于本企业"),
        ({"control_level": "post", "post_id": their_post.id}, "岗位不属于本企业"),
        ({"control_level": "company", "responsible_user_id": outsider.id}, "不是本企业在职人员"),
        ({"control_level": "team"}, "须指定责任班组"),
        ({"control_level": "department"}, "须指定责任部门"),
        ({"control_level": "post"}, "须指定岗位"),
    ):
        with pytest.raises(ValidationFailed, match=message):
            service.add_control(db_session, admin, NOW, source.id, {**base, **data})
    with pytest.raises(ValidationFailed, match="只能取"):
        service.add_source(db_session, admin, NOW, point.id, {**RED, "likelihood": "7"})
    with pytest.raises(ValidationFailed, match="GB 6441"):
        service.add_source(db_session, admin, NOW, point.id, {**RED, "accident_types": "烫伤"})
    assert db_session.get(RiskRegister, enterprise.id).version == 2


def test_scope_and_permission(db_session, build, plant):
    enterprise, admin, _, _, _ = plant
    point = service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
    other_admin = build.actor(build.member(build.enterprise(), "enterprise_admin"))
    with pytest.raises(NotFound):
        service.add_source(db_session, other_admin, NOW, point.id, RED)
    worker = build.actor(build.member(enterprise, "worker"))
    with pytest.raises(PermissionDenied):
        service.add_source(db_session, worker, NOW, point.id, RED)
    with pytest.raises(Conflict, match="已有在用的风险点"):
        service.add_point(db_session, admin, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
