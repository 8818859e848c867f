"""组织与岗位 in the console and 我的岗位风险 on the phone: the admin edits departments, teams
and post cards (CSRF on every form, Chinese refusals, nothing partly written); the bureau
reads; a worker cannot edit; another enterprise's admin is refused on every route; a worker
sees only their own post's card, on 我的岗位风险 and on the scan page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.h5_login import SESSION_USER_ID
from app.accounts.service import hash_password
from app.enterprises.models import Department, Post, PostHazardFactor, Team
from tests.fixtures.csrf import session_token


def login(client, username: str) -> None:
    client.post("/console/logout")
    response = client.post("/console/login", data={"username": username, "password": "pw"})
    assert response.status_code == 302


def csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf field"
    return match.group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def plant(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼班")
    post = build.post(enterprise, name="熔炼工", department_id=department.id, risks="高温熔融金属喷溅灼烫")
    build.session.add(PostHazardFactor(post_id=post.id, name="冷却水进炉爆炸", measures="炉前坑槽保持干燥", position=0))
    other = build.enterprise(name="别家企业")
    build.member(enterprise, "enterprise_admin", user=build.user(username="hd_admin", password_hash=hash_password("pw")))
    build.member(enterprise, "worker", user=build.user(username="hd_worker", password_hash=hash_password("pw")))
    build.member(other, "enterprise_admin", user=build.user(username="other_admin", password_hash=hash_password("pw")))
    build.bureau_user("bureau_admin", user=build.user(username="bureau", password_hash=hash_password("pw")))
    build.session.flush()
    return enterprise, department, team, post


def page_url(enterprise) -> str:
    return f"/console/enterprises/{enterprise.id}/organisation"


def test_the_admin_reaches_the_page_from_the_tab_bar_and_sees_the_cards_and_forms(client, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    assert page_url(enterprise) in text(client.get(f"/console/enterprises/{enterprise.id}"))
    html = text(client.get(page_url(enterprise)))
    assert 'aria-current="page">组织与岗位' in html
    for part in ("熔炼车间", "熔炼班", "熔炼工", "高温熔融金属喷溅灼烫", "冷却水进炉爆炸", "炉前坑槽保持干燥", "添加部门", "添加班组", "添加岗位"):
        assert part in html


def test_the_bureau_reads_without_forms_and_a_worker_cannot_edit(app, client, db_session, plant):
    enterprise, department, *_ = plant
    for username in ("bureau", "hd_worker"):
        login(client, username)
        html = text(client.get(page_url(enterprise)))
        assert "熔炼工" in html and "冷却水进炉爆炸" in html and "只读" in html
        assert "添加部门" not in html and html.count("csrf_token") == 1  # only 退出
        token = session_token(app, client)
        refused = client.post(f"{page_url(enterprise)}/departments", data={"csrf_token": token, "name": "新部门"})
        assert refused.status_code == 403
        assert client.post(f"/console/departments/{department.id}/delete", data={"csrf_token": token}).status_code == 403
    assert db_session.scalar(select(func.count()).select_from(Department).where(Department.name == "新部门")) == 0


def test_add_rename_and_remove_a_department_and_a_team(client, db_session, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    url = page_url(enterprise)
    added = client.post(f"{url}/departments", data={"csrf_token": csrf(client, url), "name": "设备部"})
    assert added.status_code == 302
    department = db_session.scalar(select(Department).where(Department.name == "设备部"))
    team_added = client.post(f"/console/departments/{department.id}/teams", data={"csrf_token": csrf(client, url), "name": "维修班"})
    assert team_added.status_code == 302
    team = db_session.scalar(select(Team).where(Team.name == "维修班"))
    renamed = client.post(f"/console/teams/{team.id}/rename", data={"csrf_token": csrf(client, url), "name": "维修一班"})
    assert renamed.status_code == 302
    assert "班组已改名为「维修一班」" in text(client.get(url))
    assert client.post(f"/console/teams/{team.id}/delete", data={"csrf_token": csrf(client, url)}).status_code == 302
    assert client.post(f"/console/departments/{department.id}/rename", data={"csrf_token": csrf(client, url), "name": "机修部"}).status_code == 302
    department_id, team_id = department.id, team.id
    assert client.post(f"/console/departments/{department_id}/delete", data={"csrf_token": csrf(client, url)}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Department, department_id) is None and db_session.get(Team, team_id) is None
    assert "已删除部门「机修部」" in text(client.get(url))


def test_a_referenced_department_or_a_taken_name_is_refused_in_chinese(client, db_session, build, plant):
    enterprise, department, team, _ = plant
    build.member(enterprise, "team_leader", user=build.user(display_name="王班长"), department_id=department.id, team_id=team.id)
    login(client, "hd_admin")
    url = page_url(enterprise)
    refused = client.post(f"/console/departments/{department.id}/delete", data={"csrf_token": csrf(client, url)})
    assert refused.status_code == 409
    html = text(refused)
    assert "不能删除部门「熔炼车间」" in html and "班组 1 个（熔炼班）" in html and "在册人员 1 名（王班长）" in html
    taken = client.post(f"{url}/departments", data={"csrf_token": csrf(client, url), "name": "熔炼车间"})
    assert taken.status_code == 422 and "已有名为「熔炼车间」的部门" in text(taken)
    empty = client.post(f"/console/departments/{department.id}/teams", data={"csrf_token": csrf(client, url), "name": " "})
    assert empty.status_code == 422 and "请填写班组名称" in text(empty)
    db_session.expire_all()
    assert db_session.get(Department, department.id).name == "熔炼车间"
    assert db_session.scalar(select(func.count()).select_from(Team).where(Team.department_id == department.id)) == 1


def test_no_token_no_change(client, db_session, plant):
    enterprise, department, team, post = plant
    login(client, "hd_admin")
    for url, data in (
        (f"{page_url(enterprise)}/departments", {"name": "设备部"}),
        (f"/console/departments/{department.id}/rename", {"name": "x"}),
        (f"/console/teams/{team.id}/delete", {}),
        (f"/console/posts/{post.id}/delete", {}),
        (f"{page_url(enterprise)}/posts", {"name": "叉车工"}),
    ):
        assert client.post(url, data=data).status_code == 400
    db_session.expire_all()
    assert db_session.get(Department, department.id).name == "熔炼车间"
    assert db_session.get(Team, team.id) is not None and db_session.get(Post, post.id) is not None


def card_form(token: str, **change) -> dict:
    form = {
        "csrf_token": token, "name": "浇注工", "department_id": "", "risks": "铁水包倾翻；灼烫",
        "precautions": "浇注前检查包体、耳轴和吊具", "emergency_measures": "铁水泄漏时迅速撤离",
        "factor_name": ["铁水包吊运倾翻", "", "耳轴断裂"], "factor_measures": ["吊运路线下严禁站人", "", "耳轴定期探伤"],
    }
    return {**form, **change}


def test_a_post_card_is_added_edited_and_removed_with_its_factors(client, db_session, plant):
    enterprise, department, *_ = plant
    login(client, "hd_admin")
    url = page_url(enterprise)
    added = client.post(f"{url}/posts", data=card_form(csrf(client, url), department_id=str(department.id)))
    assert added.status_code == 302
    post = db_session.scalar(select(Post).where(Post.name == "浇注工"))
    assert post.department_id == department.id
    assert [f.name for f in post.hazard_factors] == ["铁水包吊运倾翻", "耳轴断裂"]
    edit = f"/console/posts/{post.id}/edit"
    form_page = text(client.get(edit))
    assert "修改岗位「浇注工」的风险告知卡" in form_page and 'value="耳轴断裂"' in form_page
    saved = client.post(edit, data=card_form(csrf(client, edit), factor_name=["耳轴断裂"], factor_measures=["每年探伤"]))
    assert saved.status_code == 302
    db_session.expire_all()
    post = db_session.get(Post, post.id)
    assert [(f.name, f.measures) for f in post.hazard_factors] == [("耳轴断裂", "每年探伤")] and post.department_id is None
    post_id = post.id
    assert client.post(f"/console/posts/{post_id}/delete", data={"csrf_token": csrf(client, url)}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Post, post_id) is None
    assert db_session.scalar(select(func.count()).select_from(PostHazardFactor).where(PostHazardFactor.post_id == post_id)) == 0


def test_a_bad_card_is_shown_again_with_the_reason_and_nothing_written(client, db_session, plant):
    enterprise, _, _, post = plant
    login(client, "hd_admin")
    url = page_url(enterprise)
    taken = client.post(f"{url}/posts", data=card_form(csrf(client, url), name="熔炼工"))
    assert taken.status_code == 422 and "已有名为「熔炼工」的岗位" in text(taken)
    assert 'value="铁水包吊运倾翻"' in text(taken)  # the rows typed are kept
    no_measures = client.post(f"{url}/posts", data=card_form(csrf(client, url), factor_name=["漏炉"], factor_measures=[""]))
    assert no_measures.status_code == 422 and "请填写「漏炉」的管控措施" in text(no_measures)
    no_risks = client.post(f"/console/posts/{post.id}/edit", data=card_form(csrf(client, url), name="熔炼工", risks=""))
    assert no_risks.status_code == 422 and "主要风险：不能为空" in text(no_risks)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Post).where(Post.name == "浇注工")) == 0
    assert db_session.get(Post, post.id).risks == "高温熔融金属喷溅灼烫"
    assert [f.name for f in db_session.get(Post, post.id).hazard_factors] == ["冷却水进炉爆炸"]


def test_another_enterprise_s_admin_is_refused_on_every_route(app, client, db_session, plant):
    enterprise, department, team, post = plant
    login(client, "other_admin")
    token = session_token(app, client)
    assert client.get(page_url(enterprise)).status_code == 404
    assert client.get(f"/console/posts/{post.id}/edit").status_code == 404
    for url, data in (
        (f"{page_url(enterprise)}/departments", {"name": "x"}),
        (f"/console/departments/{department.id}/rename", {"name": "x"}),
        (f"/console/departments/{department.id}/delete", {}),
        (f"/console/departments/{department.id}/teams", {"name": "x"}),
        (f"/console/teams/{team.id}/rename", {"name": "x"}),
        (f"/console/teams/{team.id}/delete", {}),
        (f"{page_url(enterprise)}/posts", card_form(token)),
        (f"/console/posts/{post.id}/edit", card_form(token)),
        (f"/console/posts/{post.id}/delete", {}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    db_session.expire_all()
    assert db_session.get(Department, department.id).name == "熔炼车间"
    assert db_session.get(Team, team.id).name == "熔炼班" and db_session.get(Post, post.id).name == "熔炼工"
    for url in ("/console/enterprises/99999999999/organisation", "/console/posts/99999999999/edit"):
        assert client.get(url).status_code == 404
    assert client.post("/console/departments/99999999999/delete", data={"csrf_token": token}).status_code == 404


# --- H5 ---------------------------------------------------------------------------------------


def h5_login(client, user) -> None:
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id


def test_a_worker_reads_their_own_post_card_from_me(client, build, plant):
    enterprise, department, team, post = plant
    build.post(enterprise, name="浇注工", risks="铁水包倾翻")
    worker = build.member(enterprise, "worker", department_id=department.id, team_id=team.id, post_id=post.id)
    h5_login(client, worker)
    assert "/h5/my-post-risks" in text(client.get("/h5/me"))
    html = text(client.get("/h5/my-post-risks"))
    assert "我的岗位风险" in html and "熔炼工" in html and "高温熔融金属喷溅灼烫" in html
    assert "冷却水进炉爆炸" in html and "管控措施：炉前坑槽保持干燥" in html
    assert "浇注工" not in html and "铁水包倾翻" not in html
    assert "尚未分配岗位" not in html


def test_no_post_means_a_friendly_note_and_the_page_needs_a_wechat_login(client, build, plant):
    enterprise, *_ = plant
    assert client.get("/h5/my-post-risks").status_code == 302  # to WeChat's authorisation
    h5_login(client, build.member(enterprise, "manager"))
    html = text(client.get("/h5/my-post-risks"))
    assert "尚未分配岗位，请联系企业管理员" in html and "熔炼工" not in html


def test_a_person_in_two_enterprises_sees_both_cards_named_by_enterprise(client, build, plant):
    enterprise, _, _, post = plant
    other = build.enterprise(name="郑州金穗食品有限公司")
    freezer = build.post(other, name="速冻工", risks="低温冻伤")
    user = build.member(enterprise, "worker", post_id=post.id)
    build.member(other, "worker", user=user, post_id=freezer.id)
    h5_login(client, user)
    html = text(client.get("/h5/my-post-risks"))
    assert "郑州恒达铸造有限公司" in html and "郑州金穗食品有限公司" in html
    assert html.index("熔炼工") < html.index("速冻工")


def test_the_scan_page_shows_the_member_s_post_card_folded(client, build, plant):
    enterprise, department, team, post = plant
    site = build.site(enterprise, name="熔炼车间炉前", department_id=department.id)
    worker = build.member(enterprise, "worker", department_id=department.id, team_id=team.id, post_id=post.id)
    h5_login(client, worker)
    html = text(client.get(f"/h5/scan/{site.token}"))
    assert '<details class="pc-fold"><summary>本岗位风险告知 · 熔炼工</summary>' in html
    assert "冷却水进炉爆炸" in html
    h5_login(client, build.member(enterprise, "worker"))  # no post
    assert "本岗位风险告知" not in text(client.get(f"/h5/scan/{site.token}"))
