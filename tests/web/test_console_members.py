"""人员管理 in the console: the enterprise admin adds, edits and deactivates members (CSRF on
every form, the role's unit required, a phone once per enterprise); another enterprise's
admin and bureau staff cannot; a member who leaves loses access at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.accounts.service import hash_password
from tests.fixtures.csrf import session_token


def login(client, username: str) -> None:
    response = client.post("/console/login", data={"username": username, "password": "pw"})
    assert response.status_code == 302


def csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf field"
    return match.group(1)


@pytest.fixture
def plant(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼一班")
    other = build.enterprise(name="别家企业")
    admin = build.member(enterprise, "enterprise_admin", user=build.user(username="hd_admin", password_hash=hash_password("pw")))
    build.member(other, "enterprise_admin", user=build.user(username="other_admin", password_hash=hash_password("pw")))
    return enterprise, department, team, other, admin


def members_url(enterprise) -> str:
    return f"/console/enterprises/{enterprise.id}/members"


def test_the_admin_finds_the_page_from_the_enterprise_file_and_adds_a_team_leader(client, db_session, plant):
    enterprise, department, team, _, _ = plant
    login(client, "hd_admin")
    assert members_url(enterprise) in client.get(f"/console/enterprises/{enterprise.id}").get_data(as_text=True)
    token = csrf(client, members_url(enterprise))
    response = client.post(members_url(enterprise), data={
        "csrf_token": token, "name": "王班长", "phone": "138 0000 1111", "role": "team_leader", "team_id": str(team.id),
    })
    assert response.status_code == 302
    added = db_session.scalar(select(Membership).join(User).where(User.display_name == "王班长"))
    assert added.enterprise_id == enterprise.id and added.team_id == team.id
    assert added.department_id == department.id  # the team's department
    assert added.user.phone == "13800001111" and added.user.openid is None
    page = client.get(members_url(enterprise)).get_data(as_text=True)
    assert "已添加成员「王班长」" in page and "邀请绑定" in page


def test_no_token_no_member(client, db_session, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    response = client.post(members_url(enterprise), data={"name": "张三", "role": "worker"})
    assert response.status_code == 400
    assert db_session.scalar(select(User).where(User.display_name == "张三")) is None


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "李四", "role": "team_leader"}, "班组长须指定所在班组"),
        ({"name": "李四", "role": "department_head"}, "部门负责人须指定所在部门"),
        ({"name": "李四", "role": "worker", "phone": "12345"}, "应为 11 位手机号"),
        ({"name": "", "role": "worker"}, "姓名"),
        ({"name": "李四", "role": "boss"}, "角色"),
    ],
)
def test_bad_input_is_refused_with_a_chinese_message_and_nothing_written(client, db_session, plant, form, message):
    enterprise, *_ = plant
    login(client, "hd_admin")
    response = client.post(members_url(enterprise), data={"csrf_token": csrf(client, members_url(enterprise)), **form})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.display_name == "李四")) is None


def test_a_phone_is_on_an_enterprise_s_roll_once_and_units_must_be_its_own(client, db_session, build, plant):
    enterprise, _, _, other, _ = plant
    foreign_team = build.team(build.department(other))
    login(client, "hd_admin")
    url = members_url(enterprise)
    client.post(url, data={"csrf_token": csrf(client, url), "name": "甲", "role": "worker", "phone": "13900000000"})
    again = client.post(url, data={"csrf_token": csrf(client, url), "name": "乙", "role": "worker", "phone": "13900000000"})
    assert again.status_code == 422 and "已登记为本企业成员「甲」" in again.get_data(as_text=True)
    foreign = client.post(url, data={"csrf_token": csrf(client, url), "name": "丙", "role": "team_leader", "team_id": str(foreign_team.id)})
    assert foreign.status_code == 422 and "不属于本企业" in foreign.get_data(as_text=True)


def test_edit_then_deactivate_ends_the_role_at_once(client, db_session, build, plant):
    enterprise, department, _, _, _ = plant
    worker = build.member(enterprise, "worker")
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    login(client, "hd_admin")
    edit = f"/console/members/{membership.id}/edit"
    response = client.post(edit, data={
        "csrf_token": csrf(client, edit), "name": "刘师傅", "role": "department_head", "department_id": str(department.id),
    })
    assert response.status_code == 302
    db_session.refresh(membership)
    db_session.refresh(membership.user)
    assert membership.role.value == "department_head" and membership.user.display_name == "刘师傅"
    assert enterprise.id in load_actor(db_session, worker).roles
    url = f"/console/members/{membership.id}/deactivate"
    assert client.post(url, data={"csrf_token": csrf(client, members_url(enterprise))}).status_code == 302
    db_session.refresh(membership)
    assert membership.active is False
    assert enterprise.id not in load_actor(db_session, worker).roles
    assert "已停用" in client.get(members_url(enterprise)).get_data(as_text=True)


def test_the_admin_cannot_deactivate_themself(client, db_session, plant):
    enterprise, *_, admin = plant
    own = db_session.scalar(select(Membership).where(Membership.user_id == admin.id))
    login(client, "hd_admin")
    client.post(f"/console/members/{own.id}/deactivate", data={"csrf_token": csrf(client, members_url(enterprise))})
    db_session.refresh(own)
    assert own.active is True
    assert "不能停用自己的身份" in client.get(members_url(enterprise)).get_data(as_text=True)


def test_another_enterprise_s_admin_and_bureau_staff_cannot(app, client, db_session, build, plant):
    enterprise, *_ = plant
    worker = build.member(enterprise, "worker")
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    build.bureau_user("bureau_staff", towns=[enterprise.town], user=build.user(username="staff", password_hash=hash_password("pw")))
    for username, page_status in (("other_admin", 404), ("staff", 403)):
        client.post("/console/logout")
        login(client, username)
        assert client.get(members_url(enterprise)).status_code == page_status
        assert client.get(f"/console/members/{membership.id}/edit").status_code == page_status
        token = session_token(app, client)
        assert client.post(members_url(enterprise), data={"csrf_token": token, "name": "x", "role": "worker"}).status_code == page_status
        assert client.post(f"/console/members/{membership.id}/deactivate", data={"csrf_token": token}).status_code == page_status
    db_session.refresh(membership)
    assert membership.active is True
    assert client.get("/console/members/999999999/edit").status_code == 404
