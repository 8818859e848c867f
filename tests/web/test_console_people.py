"""人员管理, the rest of issue 12: who has bound WeChat and when, unbinding with a reason and
the member's history, the printable invite sheet, the Excel roster import, and 待交接事项.
Every new route refuses another enterprise's admin."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.accounts import roster
from app.accounts.models import Invite, MemberEvent, Membership, User
from app.accounts.service import hash_password, redeem_invite
from app.hazard_reporting.hazards import service as hazards_service
from app.hazard_reporting.hazards.models import Hazard
from tests.fixtures.builders import NOW
from tests.fixtures.csrf import session_token


def login(client, username: str) -> None:
    client.post("/console/logout")
    assert client.post("/console/login", data={"username": username, "password": "pw"}).status_code == 302


@pytest.fixture
def plant(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼一班")
    build.post(enterprise, name="电工")
    other = build.enterprise(name="别家企业")
    admin = build.member(enterprise, "enterprise_admin", user=build.user(username="hd_admin", password_hash=hash_password("pw"), display_name="管理员"))
    build.member(other, "enterprise_admin", user=build.user(username="other_admin", password_hash=hash_password("pw")))
    return enterprise, department, team, other, admin


def membership_of(db_session, user) -> Membership:
    return db_session.scalar(select(Membership).where(Membership.user_id == user.id))


def unbound(build, enterprise, name, **units):
    user = build.member(enterprise, "worker", user=build.user(openid=None, display_name=name, subscribed=False), **units)
    return user


def members_url(enterprise, **query) -> str:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return f"/console/enterprises/{enterprise.id}/members{suffix}"


# --- bound / unbound, unbinding, history ------------------------------------------------


def test_the_table_shows_who_bound_wechat_and_when_and_filters_the_unbound(client, build, db_session, plant):
    enterprise, _, team, *_ = plant
    newcomer = unbound(build, enterprise, "新员工", team_id=team.id)
    membership = membership_of(db_session, newcomer)
    login(client, "hd_admin")
    invite = client.post(f"/console/members/{membership.id}/invite", data={"csrf_token": session_token(client.application, client)})
    assert invite.status_code == 302
    token = db_session.scalar(select(Invite.token).where(Invite.membership_id == membership.id))
    redeem_invite(db_session, NOW, token, "o-newcomer-000000000000001")
    db_session.flush()
    db_session.refresh(newcomer)
    assert newcomer.wechat_bound_at == NOW
    page = client.get(members_url(enterprise)).get_data(as_text=True)
    assert "已绑定</span> <span class=\"muted\">2026-11-28 10:00" in page
    unbound(build, enterprise, "未绑人")
    only = client.get(members_url(enterprise, filter="unbound")).get_data(as_text=True)
    assert "<td>未绑人</td>" in only and "<td>新员工</td>" not in only and "<td>管理员</td>" not in only
    kinds = db_session.scalars(select(MemberEvent.kind).where(MemberEvent.membership_id == membership.id).order_by(MemberEvent.id)).all()
    assert [k.value for k in kinds] == ["invited", "bound"]


def test_unbinding_needs_a_reason_frees_the_wechat_and_keeps_the_records(app, client, build, db_session, plant):
    enterprise, *_ = plant
    worker = build.member(enterprise, "worker", user=build.user(display_name="丢手机的", wechat_bound_at=NOW))
    membership = membership_of(db_session, worker)
    openid = worker.openid
    login(client, "hd_admin")
    url = f"/console/members/{membership.id}/unbind"
    token = session_token(app, client)
    refused = client.post(url, data={"csrf_token": token, "reason": "  "}, follow_redirects=True)
    assert "请填写解绑原因" in refused.get_data(as_text=True)
    db_session.refresh(worker)
    assert worker.openid == openid
    assert client.post(url, data={"reason": "手机丢失"}).status_code == 400  # no CSRF token
    done = client.post(url, data={"csrf_token": token, "reason": "手机丢失"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "已解绑「丢手机的」的微信" in text and "解绑微信" in text and "手机丢失" in text and "管理员" in text
    db_session.refresh(worker)
    assert worker.openid is None and worker.wechat_bound_at is None and worker.is_active
    assert membership_of(db_session, worker).active
    again = client.post(url, data={"csrf_token": token, "reason": "再解"}, follow_redirects=True)
    assert "尚未绑定微信" in again.get_data(as_text=True)


def test_add_edit_deactivate_are_in_the_history(app, client, build, db_session, plant):
    enterprise, department, *_ = plant
    login(client, "hd_admin")
    token = session_token(app, client)
    client.post(members_url(enterprise), data={"csrf_token": token, "name": "赵六", "role": "worker"})
    membership = db_session.scalar(select(Membership).join(User).where(User.display_name == "赵六"))
    edit = f"/console/members/{membership.id}/edit"
    client.post(edit, data={"csrf_token": token, "name": "赵六", "role": "worker"})  # nothing changed
    client.post(edit, data={"csrf_token": token, "name": "赵六六", "role": "worker"})
    client.post(f"/console/members/{membership.id}/deactivate", data={"csrf_token": token})
    kinds = db_session.scalars(select(MemberEvent.kind).where(MemberEvent.membership_id == membership.id).order_by(MemberEvent.id)).all()
    assert [k.value for k in kinds] == ["added", "updated", "deactivated"]
    page = client.get(edit).get_data(as_text=True)
    assert "「赵六六」的记录" in page and "停用" in page and "添加" in page
    assert f"/console/members/{membership.id}/handover" in client.get(members_url(enterprise)).get_data(as_text=True)


# --- the invite sheet ---------------------------------------------------------------------


def test_the_invite_sheet_of_a_team_has_a_fresh_qr_for_each_unbound_member(app, client, build, db_session, plant):
    enterprise, department, team, *_ = plant
    a = unbound(build, enterprise, "甲工", team_id=team.id, department_id=department.id)
    unbound(build, enterprise, "乙工", team_id=team.id, department_id=department.id)
    build.member(enterprise, "worker", user=build.user(display_name="已绑者"), team_id=team.id)
    elsewhere = unbound(build, enterprise, "别组的")
    build.member(enterprise, "team_leader", user=a, team_id=team.id, department_id=department.id)  # a second role
    login(client, "hd_admin")
    page = client.get(members_url(enterprise)).get_data(as_text=True)
    assert "invite-sheet" in page and "熔炼车间 / 熔炼一班" in page
    token = session_token(app, client)
    sheet = client.post(f"/console/enterprises/{enterprise.id}/invite-sheet", data={"csrf_token": token, "team_id": str(team.id)})
    text = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and "@media print" in text and "size: A4" in text
    assert text.count("data:image/png;base64,") == 2 and "甲工" in text and "乙工" in text
    assert "已绑者" not in text and elsewhere.display_name not in text and "有效期至" in text
    assert db_session.scalar(select(func.count()).select_from(Invite)) == 2
    everyone = client.post(f"/console/enterprises/{enterprise.id}/invite-sheet", data={"csrf_token": token})
    assert everyone.get_data(as_text=True).count("data:image/png;base64,") == 3
    assert client.post(f"/console/enterprises/{enterprise.id}/invite-sheet", data={"team_id": str(team.id)}).status_code == 400


def test_the_invite_sheet_refuses_other_enterprises_and_their_teams(app, client, build, db_session, plant):
    enterprise, _, team, other, _ = plant
    foreign_team = build.team(build.department(other))
    unbound(build, enterprise, "甲工", team_id=team.id)
    login(client, "other_admin")
    token = session_token(app, client)
    assert client.post(f"/console/enterprises/{enterprise.id}/invite-sheet", data={"csrf_token": token}).status_code == 404
    login(client, "hd_admin")
    token = session_token(app, client)
    url = f"/console/enterprises/{enterprise.id}/invite-sheet"
    assert client.post(url, data={"csrf_token": token, "team_id": str(foreign_team.id)}).status_code == 404
    assert client.post(url, data={"csrf_token": token, "team_id": "99999999999"}).status_code == 404
    assert client.post("/console/enterprises/99999999999/invite-sheet", data={"csrf_token": token}).status_code == 404
    assert db_session.scalar(select(func.count()).select_from(Invite)) == 0


# --- the roster import --------------------------------------------------------------------


def xlsx(rows, header=roster.COLUMNS) -> bytes:
    book = Workbook()
    book.active.append(list(header))
    for values in rows:
        book.active.append(list(values))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, enterprise, data: bytes, token: str, name: str = "名册.xlsx"):
    return client.post(
        f"/console/enterprises/{enterprise.id}/members/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def rows_field(html: str) -> str:
    import html as html_lib

    match = re.search(r'name="rows" value="([^"]*)"', html)
    assert match, "no 确认导入 form"
    return html_lib.unescape(match.group(1))


def member_count(db_session, enterprise) -> int:
    return db_session.scalar(select(func.count()).select_from(Membership).where(Membership.enterprise_id == enterprise.id))


def test_template_preview_confirm_and_the_same_file_again_changes_nothing(app, client, build, db_session, plant):
    enterprise, *_ = plant
    existing = build.member(enterprise, "worker", user=build.user(display_name="老员工", phone="13800000009"))
    login(client, "hd_admin")
    assert "members/import" in client.get(members_url(enterprise)).get_data(as_text=True)
    template = client.get(f"/console/enterprises/{enterprise.id}/members/roster-template.xlsx")
    assert template.status_code == 200 and template.mimetype == roster.XLSX_MIME
    book = load_workbook(io.BytesIO(template.data))
    assert [c.value for c in book.active[1]] == list(roster.COLUMNS)
    assert "熔炼一班" in {c.value for line in book["可选值"].iter_rows() for c in line}
    data = xlsx([
        ("王班长", "13800000001", "班组长", "熔炼车间", "熔炼一班", "电工"),
        ("老员工改名", "13800000009", "岗位员工", "", "", ""),
    ])
    token = session_token(app, client)
    before = member_count(db_session, enterprise)
    preview = upload(client, enterprise, data, token)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "新增 <strong>1</strong>" in text and "更新 <strong>1</strong>" in text and "确认导入" in text
    assert member_count(db_session, enterprise) == before  # a preview writes nothing
    rows = rows_field(text)
    confirm = client.post(f"/console/enterprises/{enterprise.id}/members/import/confirm", data={"csrf_token": token, "rows": rows})
    assert confirm.status_code == 302
    assert "新增 1 人，更新 1 人" in client.get(confirm.headers["Location"]).get_data(as_text=True)
    leader = db_session.scalar(select(Membership).join(User).where(User.phone == "13800000001"))
    assert leader.role.value == "team_leader" and leader.team.name == "熔炼一班" and leader.post.name == "电工"
    db_session.refresh(existing)
    assert existing.display_name == "老员工改名"
    assert db_session.scalar(select(func.count()).select_from(MemberEvent).where(MemberEvent.kind == "imported")) == 2
    again = upload(client, enterprise, data, token).get_data(as_text=True)
    assert again.count("无变化") >= 3  # two rows and the counter's label
    client.post(f"/console/enterprises/{enterprise.id}/members/import/confirm", data={"csrf_token": token, "rows": rows_field(again)})
    assert member_count(db_session, enterprise) == before + 1


def test_a_roster_with_a_bad_row_writes_nothing(app, client, db_session, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    token = session_token(app, client)
    before = member_count(db_session, enterprise)
    data = xlsx([
        ("甲", "13800000001", "岗位员工"),
        ("乙", "13800000001", "岗位员工"),
        ("丙", "13800000003", "岗位员工", "", "不存在的班组"),
        ("丁", "13800000004", "老板"),
        ("戊", "13800000005", "岗位员工"),
    ])
    preview = upload(client, enterprise, data, token)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 422
    assert "手机号与第 3 行重复" in text and "班组「不存在的班组」不存在" in text and "角色「老板」不正确" in text
    assert "确认导入</button>" not in text
    # A tampered confirm is planned again and refused as a whole.
    rows = '[[2,"甲","13800000001","岗位员工","","",""],[3,"乙","13800000001","岗位员工","","",""]]'
    confirm = client.post(f"/console/enterprises/{enterprise.id}/members/import/confirm", data={"csrf_token": token, "rows": rows})
    assert confirm.status_code == 422 and "未导入任何成员" in confirm.get_data(as_text=True)
    bad = client.post(f"/console/enterprises/{enterprise.id}/members/import/confirm", data={"csrf_token": token, "rows": "{oops"})
    assert bad.status_code == 422 and "预览数据无效" in bad.get_data(as_text=True)
    assert member_count(db_session, enterprise) == before


def test_large_foreign_and_overlong_files_are_refused(app, client, db_session, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    token = session_token(app, client)
    big = upload(client, enterprise, b"PK" + b"\0" * (20 * 1024 * 1024), token)
    assert big.status_code == 413 and "不超过 5 MB" in big.get_data(as_text=True)
    csv = upload(client, enterprise, "姓名,手机号\n张三,138".encode(), token, name="名册.csv")
    assert csv.status_code == 422 and "不是 Excel 工作簿" in csv.get_data(as_text=True)
    renamed = upload(client, enterprise, b"hello", token)
    assert renamed.status_code == 422 and "不是 Excel 工作簿" in renamed.get_data(as_text=True)
    many = xlsx([("某人", f"138{i:08d}", "岗位员工") for i in range(roster.MAX_ROWS + 1)])
    too_many = upload(client, enterprise, many, token)
    assert too_many.status_code == 422 and "最多 2000 行" in too_many.get_data(as_text=True)


def test_the_roster_routes_refuse_another_enterprise_s_admin(app, client, db_session, plant):
    enterprise, *_ = plant
    login(client, "other_admin")
    token = session_token(app, client)
    base = f"/console/enterprises/{enterprise.id}/members"
    assert client.get(f"{base}/roster-template.xlsx").status_code == 404
    assert client.get(f"{base}/import").status_code == 404
    assert upload(client, enterprise, xlsx([("甲", "13800000001", "岗位员工")]), token).status_code == 404
    rows = '[[2,"甲","13800000001","岗位员工","","",""]]'
    assert client.post(f"{base}/import/confirm", data={"csrf_token": token, "rows": rows}).status_code == 404
    assert db_session.scalar(select(User).where(User.phone == "13800000001")) is None


# --- 待交接事项 ---------------------------------------------------------------------------


@pytest.fixture
def leaver(build, db_session, plant):
    enterprise, department, team, *_ = plant
    officer = build.member(enterprise, "safety_officer", user=build.user(username="officer", password_hash=hash_password("pw"), display_name="孙安全"))
    worker = build.member(enterprise, "worker", user=build.user(display_name="离职的"), team_id=team.id, department_id=department.id)
    successor = build.member(enterprise, "worker", user=build.user(display_name="接手的"))
    actor = build.actor(officer)
    hazard = hazards_service.report_hazard(db_session, actor, NOW, {"enterprise_id": enterprise.id, "description": "配电箱门未关", "level": "general", "category": "unsafe_condition"})
    hazards_service.assign(db_session, actor, NOW, hazard.id, {"assignee_id": worker.id})
    membership = membership_of(db_session, worker)
    membership.active = False
    db_session.flush()
    return membership, hazard, successor


def test_the_handover_page_lists_open_hazards_and_reassigns_them(app, client, db_session, plant, leaver):
    membership, hazard, successor = leaver
    login(client, "hd_admin")
    page = client.get(f"/console/members/{membership.id}/handover").get_data(as_text=True)
    assert "配电箱门未关" in page and "改派整改责任人需由" in page and "查看排查任务" in page
    login(client, "officer")
    page = client.get(f"/console/members/{membership.id}/handover").get_data(as_text=True)
    assert "接手的" in page and 'name="assignee_id"' in page
    token = session_token(app, client)
    url = f"/console/members/{membership.id}/handover/hazards/{hazard.id}/assign"
    gone = client.post(url, data={"csrf_token": token, "assignee_id": str(membership.user_id)}, follow_redirects=True)
    assert "整改责任人须为本企业在职成员" in gone.get_data(as_text=True)
    done = client.post(url, data={"csrf_token": token, "assignee_id": str(successor.id)}, follow_redirects=True)
    assert "已改派整改责任人" in done.get_data(as_text=True) and "没有需要交接的隐患" in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Hazard, hazard.id).assignee_id == successor.id
    assert client.post(url, data={"csrf_token": token, "assignee_id": str(successor.id)}).status_code == 404


def test_the_handover_routes_refuse_another_enterprise_and_plain_members(app, client, build, db_session, plant, leaver):
    membership, hazard, successor = leaver
    enterprise = plant[0]
    build.member(enterprise, "worker", user=build.user(username="plain", password_hash=hash_password("pw")))
    for username, status in (("other_admin", 404), ("plain", 403)):
        login(client, username)
        assert client.get(f"/console/members/{membership.id}/handover").status_code == status
        url = f"/console/members/{membership.id}/handover/hazards/{hazard.id}/assign"
        assert client.post(url, data={"csrf_token": session_token(app, client), "assignee_id": str(successor.id)}).status_code == status
    db_session.expire_all()
    assert db_session.get(Hazard, hazard.id).assignee_id == membership.user_id
    assert client.get("/console/members/99999999999/handover").status_code == 404


def test_new_member_routes_refuse_another_enterprise_s_admin(app, client, build, db_session, plant):
    enterprise, *_ = plant
    worker = build.member(enterprise, "worker", user=build.user(display_name="甲"))
    membership = membership_of(db_session, worker)
    login(client, "other_admin")
    response = client.post(f"/console/members/{membership.id}/unbind", data={"csrf_token": session_token(app, client), "reason": "手机丢失"})
    assert response.status_code == 404
    db_session.refresh(worker)
    assert worker.openid is not None
    assert client.get(members_url(enterprise, filter="unbound")).status_code == 404


def test_the_handover_page_lists_the_open_checks_the_role_owed(build, client, db_session, monkeypatch):
    from app.hazard_reporting.checklists import service as checklist_service
    from tests.fixtures.checks import MONDAY, CheckOrg

    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    build.member(org.enterprise, "enterprise_admin", user=build.user(username="org_admin", password_hash=hash_password("pw")))
    leader = membership_of(db_session, org.leader2)
    leader.active = False
    db_session.flush()
    login(client, "org_admin")
    page = client.get(f"/console/members/{leader.id}/handover").get_data(as_text=True)
    assert "所在岗位未完成的排查任务（" in page and "没有未完成的排查任务" not in page
    assert f"/console/enterprises/{org.enterprise.id}/checks/" in page or "查看排查任务" in page
