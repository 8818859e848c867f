"""H5 identity through WeChat OAuth (sandbox authorize page + code exchange over the app's
own client), the 我的 page and the JS-SDK config endpoint."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, jsonify

from app.accounts.domain import Role
from app.accounts.h5_login import SESSION_PENDING, authorize_url, h5_login_required
from app.web import init_url_converters
from app.wechat.client import InvalidOAuthCode, get_wechat_client, jsapi_signature
from config.settings import PROJECT_ROOT


def _location(response) -> str:
    location = response.headers["Location"]
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def sign_in(client, openid: str, start: str = "/h5/me"):
    """Open `start`, pick `openid` on the sandbox authorize page, follow to the callback.
    Returns (callback response, callback URL)."""
    to_authorize = client.get(start)
    assert to_authorize.status_code == 302
    authorize = _location(to_authorize)
    assert authorize.startswith("/sandbox/connect/oauth2/authorize?")
    to_callback = client.get(f"{authorize}&openid={openid}")
    assert to_callback.status_code == 302, to_callback.data.decode()
    callback = _location(to_callback)
    assert callback.startswith("/h5/oauth/callback?")
    return client.get(callback), callback


@pytest.fixture
def worker(build):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼班")
    user = build.member(enterprise, Role.TEAM_LEADER, department_id=department.id, team_id=team.id)
    build.member(enterprise, Role.SAFETY_OFFICER, user=user)
    user.display_name = "王建军"
    build.session.flush()
    return user


# --- redirect to WeChat's authorisation -----------------------------------------------------------


def test_a_page_without_session_redirects_to_the_authorize_page_with_a_state(client, app):
    response = client.get("/h5/me?tab=tasks")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/sandbox/connect/oauth2/authorize"
    query = parse_qs(target.query)
    assert query["appid"] == [app.config["SETTINGS"].wechat_app_id]
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == ["http://localhost/h5/oauth/callback"]
    state = query["state"][0]
    assert len(state) == 32 and state.isalnum()
    with client.session_transaction() as session:
        assert session[SESSION_PENDING][state][0] == "/h5/me?tab=tasks"


def test_production_authorize_url_is_wechats_with_the_documented_parameter_order(app):
    settings = SimpleNamespace(sandbox=False, wechat_app_id="wx1234567890abcdef")
    with app.test_request_context():
        url = authorize_url(settings, "https://ancha.example.cn/h5/oauth/callback", "abc123")
    assert url == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1234567890abcdef"
        "&redirect_uri=https%3A%2F%2Fancha.example.cn%2Fh5%2Foauth%2Fcallback"
        "&response_type=code&scope=snsapi_base&state=abc123#wechat_redirect"
    )


# --- the whole round trip ---------------------------------------------------------------------------


def test_sign_in_and_see_who_i_am(client, worker):
    callback, _ = sign_in(client, worker.openid, start="/h5/me?tab=roles")
    assert callback.status_code == 302
    assert _location(callback) == "/h5/me?tab=roles"
    me = client.get("/h5/me?tab=roles")
    assert me.status_code == 200
    page = me.data.decode()
    for text in ("王建军", "郑州恒达铸造有限公司", "班组长", "安全管理员", "熔炼车间 · 熔炼班", "已绑定", "已关注公众号"):
        assert text in page
    assert worker.openid not in page  # shown masked
    assert f"{worker.openid[:4]}…{worker.openid[-4:]}" in page


def test_bureau_user_sees_their_role_and_towns(client, build):
    town = build.town(name="花园口镇")
    user = build.bureau_user("bureau_staff", towns=[town])
    sign_in(client, user.openid)
    page = client.get("/h5/me").data.decode()
    assert "安监局工作人员" in page and "花园口镇" in page and "暂未加入任何企业" in page


def test_state_mismatch_is_refused(client, worker):
    to_authorize = client.get("/h5/me")
    authorize = _location(to_authorize)
    to_callback = client.get(f"{authorize}&openid={worker.openid}")
    query = parse_qs(urlsplit(to_callback.headers["Location"]).query)
    forged = client.get("/h5/oauth/callback", query_string={"code": query["code"][0], "state": "f" * 32})
    assert forged.status_code == 400
    assert "登录校验失败" in forged.data.decode()
    with client.session_transaction() as session:
        assert "h5_user_id" not in session


def test_callback_without_any_pending_state_is_refused(client):
    answer = client.get("/h5/oauth/callback", query_string={"code": "abc", "state": "whatever"})
    assert answer.status_code == 400 and "登录校验失败" in answer.data.decode()


def test_the_code_is_single_use(client, app, worker):
    callback, callback_url = sign_in(client, worker.openid)
    assert callback.status_code == 302
    # Replaying the callback: its state was consumed.
    assert client.get(callback_url).status_code == 400
    # A fresh state with the used code: WeChat refuses the code.
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    _log_out(client)
    fresh = _location(client.get("/h5/me"))
    state = parse_qs(urlsplit(fresh).query)["state"][0]
    reused = client.get("/h5/oauth/callback", query_string={"code": code, "state": state})
    assert reused.status_code == 400 and "授权已失效" in reused.data.decode()
    with pytest.raises(InvalidOAuthCode) as caught:
        get_wechat_client(app).oauth_exchange_code(code)
    assert caught.value.errcode == 40029


def test_unbound_wechat_user_is_told_how_to_get_an_invite(client):
    callback, _ = sign_in(client, "o-stranger-00000000000000001")
    assert callback.status_code == 403
    page = callback.data.decode()
    assert "尚未绑定账号" in page and "邀请二维码" in page
    with client.session_transaction() as session:
        assert session["h5_openid"] == "o-stranger-00000000000000001"
        assert "h5_user_id" not in session
    assert client.get("/h5/me").status_code == 302  # still not signed in


def test_deactivated_user_is_refused(client, build):
    user = build.user(is_active=False)
    callback, _ = sign_in(client, user.openid)
    assert callback.status_code == 403 and "账号已停用" in callback.data.decode()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_return_path_is_same_site_only(client, worker, target):
    state = "a" * 32
    with client.session_transaction() as session:
        session[SESSION_PENDING] = {state: [target, int(time.time())]}
    code_redirect = client.get(
        "/sandbox/connect/oauth2/authorize",
        query_string={
            "appid": client.application.config["SETTINGS"].wechat_app_id,
            "redirect_uri": "http://localhost/h5/oauth/callback",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "openid": worker.openid,
        },
    )
    callback = client.get(_location(code_redirect))
    assert callback.status_code == 302 and _location(callback) == "/h5/me"


def test_an_expired_pending_state_is_refused(client, worker):
    state = "b" * 32
    with client.session_transaction() as session:
        session[SESSION_PENDING] = {state: ["/h5/me", int(time.time()) - 601]}
    answer = client.get("/h5/oauth/callback", query_string={"code": "x", "state": state})
    assert answer.status_code == 400


def _log_out(client):
    """Press 退出登录 on the 我的 page: the form's own CSRF token goes with the post."""
    page = client.get("/h5/me").data.decode()
    token = re.search(r'action="/h5/logout">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page)
    assert token, "the 我的 page offers 退出登录 with its token"
    return client.post("/h5/logout", data={"csrf_token": token.group(1)})


def test_logout_forgets_the_wechat_identity(client, worker):
    sign_in(client, worker.openid)
    assert client.get("/h5/me").status_code == 200
    assert "已退出" in _log_out(client).data.decode()
    assert client.get("/h5/me").status_code == 302


def test_logout_without_the_page_token_is_refused_and_keeps_the_session(client, worker):
    # A foreign page (or a script) posting to /h5/logout must not sign a worker out.
    sign_in(client, worker.openid)
    refused = client.post("/h5/logout")
    assert refused.status_code == 400 and "表单令牌" in refused.data.decode()
    assert client.get("/h5/me").status_code == 200


def test_wechat_outage_during_the_exchange_is_a_friendly_503(client, worker, redis):
    from app.sandbox.store import SandboxStore

    SandboxStore(redis).add_fault(path="sns/oauth2/access_token", errcode=-1)
    callback, _ = sign_in(client, worker.openid)
    assert callback.status_code == 503 and "微信服务暂时不可用" in callback.data.decode()


# --- the sandbox authorize page ------------------------------------------------------------------


def test_authorize_page_lists_virtual_users(client, worker, app):
    page = client.get(
        "/sandbox/connect/oauth2/authorize",
        query_string={
            "appid": app.config["SETTINGS"].wechat_app_id,
            "redirect_uri": "http://ancha.test/h5/oauth/callback",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "s1",
        },
    )
    assert page.status_code == 200
    text = page.data.decode()
    assert "微信授权（模拟）" in text and "王建军" in text and worker.openid in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"appid": "wx-wrong"}, "appid 无效"),
        ({"redirect_uri": "https://evil.example/cb"}, "10003"),
        ({"scope": "snsapi_login"}, "10005"),
        ({"response_type": "token"}, "response_type"),
    ],
)
def test_authorize_page_checks_its_parameters(client, app, change, message):
    params = {
        "appid": app.config["SETTINGS"].wechat_app_id,
        "redirect_uri": "http://ancha.test/h5/oauth/callback",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s",
        "openid": "o-someone-000000000000001",
        **change,
    }
    answer = client.get("/sandbox/connect/oauth2/authorize", query_string=params)
    assert answer.status_code == 400 and message in answer.data.decode()


# --- the decorator on other views ------------------------------------------------------------------


def test_h5_login_required_on_a_form_post_answers_401(app):
    from app.accounts.h5_login import bp as identity_bp
    from app.sandbox.api import register_fake_wechat

    other = Flask("other", template_folder=str(PROJECT_ROOT / "app" / "templates"))
    other.config.update(SETTINGS=app.config["SETTINGS"], SECRET_KEY="k" * 40)
    init_url_converters(other)
    other.register_blueprint(identity_bp)
    register_fake_wechat(other)

    @other.route("/h5/report", methods=["GET", "POST"])
    @h5_login_required
    def report():
        return jsonify(ok=True)

    web = other.test_client()
    posted = web.post("/h5/report", data={"x": "1"})
    assert posted.status_code == 401 and "登录已失效" in posted.data.decode()
    assert web.get("/h5/report").headers["Location"].startswith("/sandbox/connect/oauth2/authorize?")
    from_script = web.get("/h5/report", headers={"Accept": "application/json"})
    assert from_script.status_code == 401 and from_script.json["error"] == "unauthorized"


# --- JS-SDK config -----------------------------------------------------------------------------------


def test_jssdk_config_signs_the_exact_page_url(client, app, redis):
    page = "http://ancha.test/h5/check?site=3&step=2#/photo"
    answer = client.get("/h5/jssdk/config", query_string={"url": page})
    assert answer.status_code == 200
    config = answer.json
    assert config["appId"] == app.config["SETTINGS"].wechat_app_id
    assert config["jsApiList"] == ["scanQRCode", "chooseImage", "uploadImage", "getLocation"]
    assert answer.headers["Cache-Control"] == "no-store"
    # The ticket came from the fake API and is cached in Redis for every process.
    ticket = redis.get("ancha:sandbox:jsapi_ticket").decode()
    cached = get_wechat_client(app).jsapi_tickets
    assert cached.peek() == ticket
    assert 7000 < redis.ttl(cached.key) <= 7200
    expected = jsapi_signature(ticket, config["nonceStr"], config["timestamp"], "http://ancha.test/h5/check?site=3&step=2")
    assert config["signature"] == expected
    again = client.get("/h5/jssdk/config", query_string={"url": page}).json
    assert again["nonceStr"] != config["nonceStr"]


def test_jssdk_config_accepts_the_host_the_sandbox_is_opened_on(client):
    assert client.get("/h5/jssdk/config", query_string={"url": "http://localhost/h5/me"}).status_code == 200


@pytest.mark.parametrize(
    "url",
    ["http://evil.example/h5/me", "https://ancha.test/h5/me", "http://user:pw@ancha.test/h5/me", "ftp://ancha.test/x", "/h5/me"],
)
def test_jssdk_config_refuses_other_sites(client, url):
    answer = client.get("/h5/jssdk/config", query_string={"url": url})
    assert answer.status_code == 400 and answer.json["error"] == "foreign_url"


def test_jssdk_config_needs_the_url(client):
    answer = client.get("/h5/jssdk/config")
    assert answer.status_code == 400 and "url" in answer.json["message"]


def test_jssdk_config_when_wechat_is_down(client, redis):
    from app.sandbox.store import SandboxStore

    SandboxStore(redis).add_fault(path="cgi-bin/ticket/getticket", errcode=-1)
    answer = client.get("/h5/jssdk/config", query_string={"url": "http://ancha.test/h5/me"})
    assert answer.status_code == 503 and answer.json["error"] == "wechat_unavailable"
