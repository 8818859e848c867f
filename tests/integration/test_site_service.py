"""Site use cases: names unique among sites in use (the database agrees), retire and
reactivate as transitions, scope, and the risk-point rounds following the site."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.enterprises.models import Site
from app.enterprises.sites import service as site_service
from app.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checks.domain import ScheduleKind
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.sites import service
from tests.fixtures.builders import NOW


@pytest.fixture
def plant(build):
    enterprise = build.enterprise()
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    return enterprise, admin


def test_names_are_unique_among_sites_in_use(db_session, plant):
    enterprise, admin = plant
    first = service.add_site(db_session, admin, NOW, enterprise.id, {"name": "配电室"})
    with pytest.raises(ValidationFailed, match="已有在用的同名点位"):
        service.add_site(db_session, admin, NOW, enterprise.id, {"name": "配电室"})
    service.retire_site(db_session, admin, NOW, first.id)
    second = service.add_site(db_session, admin, NOW, enterprise.id, {"name": "配电室"})
    with pytest.raises(ValidationFailed, match="已有在用的同名点位"):
        service.reactivate_site(db_session, admin, NOW, first.id)
    with pytest.raises(ValidationFailed):
        service.update_site(db_session, admin, NOW, first.id, {"active": True})
    assert not first.active and second.active


def test_the_database_refuses_two_active_sites_of_one_name(db_session, build):
    enterprise = build.enterprise()
    build.site(enterprise, name="仓库", active=False)
    build.site(enterprise, name="仓库")
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            build.site(enterprise, name="仓库")


def test_transitions_and_scope(db_session, build, plant):
    enterprise, admin = plant
    site = build.site(enterprise)
    with pytest.raises(InvalidTransition):
        service.reactivate_site(db_session, admin, NOW, site.id)
    service.retire_site(db_session, admin, NOW, site.id)
    with pytest.raises(InvalidTransition):
        service.retire_site(db_session, admin, NOW, site.id)
    other_admin = build.actor(build.member(build.enterprise(), "enterprise_admin"))
    with pytest.raises(NotFound):
        service.reactivate_site(db_session, other_admin, NOW, site.id)
    with pytest.raises(NotFound):
        site_service.get_site(db_session, other_admin, site.id)
    worker = build.actor(build.member(enterprise, "worker"))
    assert site_service.get_site(db_session, worker, site.id) is site
    with pytest.raises(PermissionDenied):
        service.edit_site(db_session, worker, NOW, site.id, {"name": "x"})
    with pytest.raises(NotFound):
        site_service.get_site(db_session, admin, 2**40)
    assert not site.active


def test_rounds_follow_the_site(db_session, build, plant):
    enterprise, admin = plant
    department = build.department(enterprise)
    site = build.site(enterprise)
    service.set_risk_level(db_session, admin, NOW, site.id, {"risk_level": "orange", "is_major_risk_point": True})

    def rounds():
        return list(db_session.scalars(select(CheckSchedule).where(
            CheckSchedule.site_id == site.id, CheckSchedule.kind == ScheduleKind.RISK_POINT, CheckSchedule.active.is_(True))))

    assert len(rounds()) == 1 and rounds()[0].department_id is None
    service.edit_site(db_session, admin, NOW, site.id, {"name": site.name, "department_id": department.id})
    assert rounds()[0].department_id == department.id
    service.update_site(db_session, admin, NOW, site.id, {"active": False})
    assert rounds() == []
    service.update_site(db_session, admin, NOW, site.id, {"active": True})
    assert len(rounds()) == 1
    assert db_session.scalar(select(func.count(Site.id)).where(Site.enterprise_id == enterprise.id)) == 1
