"""Console login and the scoped enterprise file pages."""

from __future__ import annotations

import pytest

from tests.fixtures.csrf import session_token


@pytest.fixture
def people(build):
    north, south = build.town(name="北镇"), build.town(name="南镇")
    a = build.enterprise(town=north, name="北镇甲机械有限公司")
    b = build.enterprise(town=south, name="南镇乙食品有限公司", confined_space=True)
    build.site(a, name="配电室")
    build.post(a, name="电工", risks="触电风险")
    admin = build.member(a, "enterprise_admin", user=build.user(username="a_admin", password="pw-a"))
    staff = build.bureau_user("bureau_staff", towns=[south], user=build.user(username="staff", password="pw-s"))
    return {"a": a, "b": b, "admin": admin, "staff": staff}


def login(client, username, password):
    return client.post("/console/login", data={"username": username, "password": password})


def test_pages_need_login(client):
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_wrong_password_is_refused_in_chinese(client, people):
    response = login(client, "a_admin", "wrong")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_enterprise_admin_sees_only_their_file(client, people):
    assert login(client, "a_admin", "pw-a").status_code == 302
    # A member of one enterprise lands on its dashboard (工作台).
    home = client.get("/console/")
    assert home.status_code == 302 and home.headers["Location"].endswith(f"/console/enterprises/{people['a'].id}/dashboard")
    page = client.get("/console/", follow_redirects=True).get_data(as_text=True)
    assert "北镇甲机械有限公司" in page and "南镇乙食品有限公司" not in page
    detail = client.get(f"/console/enterprises/{people['a'].id}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "配电室" in text and "触电风险" in text
    other = client.get(f"/console/enterprises/{people['b'].id}")
    assert other.status_code == 404 and "企业不存在" in other.get_data(as_text=True)


def test_bureau_staff_sees_their_towns(client, people):
    login(client, "staff", "pw-s")
    page = client.get("/console/").get_data(as_text=True)
    assert "南镇乙食品有限公司" in page and "北镇甲机械有限公司" not in page
    assert "有限空间" in page


def test_login_never_redirects_off_site(client, people):
    response = client.post(
        "/console/login?next=//evil.example/x", data={"username": "a_admin", "password": "pw-a"}
    )
    assert response.headers["Location"] == "/console/"


def test_logout(client, people):
    login(client, "a_admin", "pw-a")
    client.post("/console/logout")
    assert client.get("/console/").status_code == 302


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/console/nothing-here")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


def test_enterprise_admin_invites_an_unbound_member(app, client, build, people, redis):
    newcomer = build.user(openid=None, display_name="新员工")
    build.member(people["a"], "worker", user=newcomer)
    login(client, "a_admin", "pw-a")
    detail = client.get(f"/console/enterprises/{people['a'].id}").get_data(as_text=True)
    assert "邀请绑定" in detail
    response = client.post(f"/console/members/{newcomer.memberships[0].id}/invite", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "data:image/png;base64," in text and "仅限使用一次" in text
    # The same invite shown again reuses the QR ticket cached in Redis.
    assert client.get(response.headers["Location"]).get_data(as_text=True).count("base64,") == 1
    assert len(list(redis.scan_iter("qr:temporary:bind:*"))) == 1


def test_bound_members_and_other_enterprises_cannot_be_invited(app, client, build, people):
    login(client, "a_admin", "pw-a")
    bound = build.member(people["a"], "worker")
    response = client.post(f"/console/members/{bound.memberships[0].id}/invite", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 422 and "已绑定微信" in response.get_data(as_text=True)
    stranger = build.user(openid=None)
    build.member(people["b"], "worker", user=stranger)
    response = client.post(f"/console/members/{stranger.memberships[0].id}/invite", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 404


def test_staff_cannot_invite(app, client, build, people):
    newcomer = build.user(openid=None)
    build.member(people["b"], "worker", user=newcomer)
    login(client, "staff", "pw-s")
    response = client.post(f"/console/members/{newcomer.memberships[0].id}/invite", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 403


def test_menu_shows_tips_only_to_broadcasters(client, build, people):
    login(client, "a_admin", "pw-a")
    assert "安全提示" not in client.get("/console/").get_data(as_text=True)
    client.post("/console/logout")
    build.bureau_user("bureau_admin", user=build.user(username="boss", password="pw-b"))
    login(client, "boss", "pw-b")
    assert "/console/tips/" in client.get("/console/").get_data(as_text=True)


def test_an_invite_needs_the_form_s_csrf_token(client, build, people):
    newcomer = build.user(openid=None)
    build.member(people["a"], "worker", user=newcomer)
    login(client, "a_admin", "pw-a")
    response = client.post(f"/console/members/{newcomer.memberships[0].id}/invite")
    assert response.status_code == 400 and "表单令牌" in response.get_data(as_text=True)


def test_the_bureau_lands_on_the_district_dashboard_and_members_on_their_enterprise(client, people):
    landing = login(client, "staff", "pw-s")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/console/oversight/dashboard")
    client.post("/console/logout", data={"csrf_token": session_token(client.application, client)})
    landing = login(client, "a_admin", "pw-a")
    assert landing.headers["Location"].endswith("/console/")
