"""Enterprise file use cases: validation with field-named Chinese messages, nothing half written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.enterprises import service
from app.enterprises.models import Enterprise, Site
from app.errors import NotFound, PermissionDenied, ValidationFailed
from tests.fixtures.builders import NOW, valid_uscc


@pytest.fixture
def bureau_admin(build):
    return build.actor(build.bureau_user("bureau_admin"))


def payload(town, **kw):
    return {
        "uscc": valid_uscc(),
        "name": "郑州测试机械有限公司",
        "address": "惠济区测试路1号",
        "town_id": town.id,
        "industry": "machinery",
        "scale": "above",
        "employee_count": 120,
        "dust_explosion": True,
        "dust_worker_count": 30,
        **kw,
    }


def count(session, model=Enterprise):
    return session.scalar(select(func.count()).select_from(model))


def test_create_enterprise(db_session, build, bureau_admin):
    town = build.town()
    enterprise = service.create_enterprise(db_session, bureau_admin, NOW, payload(town))
    assert enterprise.id and enterprise.town_id == town.id
    assert enterprise.dust_key  # 30 dust workers already qualify (30人以上 includes 30)


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"uscc": "91110000600037341X"}, "uscc", "校验位错误"),
        ({"uscc": "123"}, "uscc", "18位"),
        ({"industry": "mining"}, "industry", "取值无效"),
        ({"employee_count": -1}, "employee_count", "不能小于 0"),
        ({"dust_worker_count": -5}, "dust_worker_count", "不能小于 0"),
        ({"scale": None}, "scale", ""),
        ({"name": ""}, "name", "不能为空"),
        ({"standardization_date": "2024-13-40"}, "standardization_date", "日期"),
        ({"unknown_field": 1}, "unknown_field", "不是可填写的字段"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db_session, build, bureau_admin, override, field, fragment):
    town = build.town()
    before = count(db_session)
    with pytest.raises(ValidationFailed) as info:
        service.create_enterprise(db_session, bureau_admin, NOW, payload(town, **override))
    assert field in info.value.fields
    assert fragment in info.value.fields[field]
    assert field in info.value.message
    assert count(db_session) == before


def test_duplicate_credit_code_is_refused(db_session, build, bureau_admin):
    town = build.town()
    first = service.create_enterprise(db_session, bureau_admin, NOW, payload(town))
    with pytest.raises(ValidationFailed) as info:
        service.create_enterprise(db_session, bureau_admin, NOW, payload(town, uscc=first.uscc, name="另一家"))
    assert "uscc" in info.value.fields and first.name in info.value.fields["uscc"]


def test_unknown_town_is_refused(db_session, bureau_admin):
    with pytest.raises(ValidationFailed) as info:
        service.create_enterprise(db_session, bureau_admin, NOW, payload(type("T", (), {"id": 999999})))
    assert "town_id" in info.value.fields


def test_staff_may_only_register_in_their_towns(db_session, build):
    mine, other = build.town(), build.town()
    staff = build.actor(build.bureau_user("bureau_staff", towns=[mine]))
    service.create_enterprise(db_session, staff, NOW, payload(mine))
    with pytest.raises(ValidationFailed):
        service.create_enterprise(db_session, staff, NOW, payload(other))


def test_members_cannot_register_enterprises(db_session, build):
    enterprise = build.enterprise()
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    with pytest.raises(PermissionDenied):
        service.create_enterprise(db_session, admin, NOW, payload(build.town()))


def test_update_changes_only_given_fields_and_guards_credit(db_session, build, bureau_admin):
    enterprise = build.enterprise(employee_count=10)
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    service.update_enterprise(db_session, admin, NOW, enterprise.id, {"employee_count": 12})
    assert enterprise.employee_count == 12 and enterprise.industry == "machinery"
    # Credit status belongs to the credit list (oversight/credit): the file refuses a change
    # from anyone, the bureau admin included, and tolerates the current value echoed back.
    service.update_enterprise(db_session, admin, NOW, enterprise.id, {"credit_status": "normal"})
    with pytest.raises(ValidationFailed, match="失信名单"):
        service.update_enterprise(db_session, bureau_admin, NOW, enterprise.id, {"credit_status": "watchlist"})
    assert enterprise.credit_status == "normal"


def test_failed_update_leaves_the_stored_file_untouched(db_session, build, bureau_admin):
    enterprise = build.enterprise(employee_count=10)
    with pytest.raises(ValidationFailed):
        service.update_enterprise(
            db_session, bureau_admin, NOW, enterprise.id, {"employee_count": 20, "uscc": "bad"}
        )
    db_session.refresh(enterprise)
    assert enterprise.employee_count == 10


def test_other_enterprises_are_invisible(db_session, build):
    mine, theirs = build.enterprise(), build.enterprise()
    worker = build.actor(build.member(mine, "worker"))
    assert service.get_enterprise(db_session, worker, mine.id) is mine
    with pytest.raises(NotFound):
        service.get_enterprise(db_session, worker, theirs.id)


def test_sites_get_unguessable_unique_tokens(db_session, build):
    enterprise = build.enterprise()
    officer = build.actor(build.member(enterprise, "safety_officer"))
    a = service.add_site(db_session, officer, NOW, enterprise.id, {"name": "配电室"})
    b = service.add_site(db_session, officer, NOW, enterprise.id, {"name": "仓库"})
    assert a.token != b.token and len(a.token) >= 22
    with pytest.raises(ValidationFailed) as info:
        service.add_site(db_session, officer, NOW, enterprise.id, {"name": "配电室"})
    assert "name" in info.value.fields


def test_site_lookup_by_token(db_session, build):
    site = build.site(build.enterprise())
    assert service.site_by_token(db_session, site.token) is site
    with pytest.raises(NotFound, match="二维码无效"):
        service.site_by_token(db_session, "no-such-token")
    site.active = False
    with pytest.raises(NotFound):
        service.site_by_token(db_session, site.token)
    assert count(db_session, Site) >= 1


def test_structure_needs_manage_structure(db_session, build):
    enterprise = build.enterprise()
    worker = build.actor(build.member(enterprise, "worker"))
    with pytest.raises(PermissionDenied):
        service.add_department(db_session, worker, NOW, enterprise.id, {"name": "生产部"})
    admin = build.actor(build.member(enterprise, "enterprise_admin"))
    department = service.add_department(db_session, admin, NOW, enterprise.id, {"name": "生产部"})
    team = service.add_team(db_session, admin, NOW, department.id, {"name": "一班"})
    post = service.add_post(
        db_session,
        admin,
        NOW,
        enterprise.id,
        {"name": "焊工", "department_id": department.id, "risks": "触电、灼烫", "precautions": "持证上岗", "emergency_measures": "断电急救"},
    )
    assert team.department_id == department.id and post.department_id == department.id
    other = build.department(build.enterprise())
    with pytest.raises(ValidationFailed) as info:
        service.add_post(
            db_session, admin, NOW, enterprise.id,
            {"name": "电工", "department_id": other.id, "risks": "r", "precautions": "p", "emergency_measures": "e"},
        )
    assert "department_id" in info.value.fields
