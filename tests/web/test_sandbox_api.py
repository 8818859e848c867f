"""The sandbox's fake WeChat API (`/sandbox/wx/…`) and its control API (`/sandbox/api/…`),
through the Flask test client: real paths, JSON shapes and errcodes."""

from __future__ import annotations

import io
import time

import pytest
import qrcode
import time_machine
from flask import Flask

from app.sandbox.store import PERMANENT_QR_CAP, SandboxStore, record_message
from app.web import init_url_converters

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
TEMPLATE_ID = "Tq0eyd1BKsDGe8K-ZOUj6X2PE-0qFVE_YzUJAH4xDSM"  # 43 characters, like WeChat's
WX = "/sandbox/wx/cgi-bin"


@pytest.fixture
def store(redis) -> SandboxStore:
    return SandboxStore(redis)


@pytest.fixture
def wx(client, app):
    """Calls the fake API with a valid access token: wx.get(path, **params) / wx.post(path, json)."""

    settings = app.config["SETTINGS"]
    token = client.post(
        f"{WX}/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": settings.wechat_app_id,
            "secret": settings.wechat_app_secret,
        },
    ).json["access_token"]

    class Caller:
        access_token = token

        @staticmethod
        def get(path, **params):
            return client.get(f"{WX}/{path}", query_string={"access_token": token, **params}).json

        @staticmethod
        def post(path, body=None, **params):
            return client.post(f"{WX}/{path}", query_string={"access_token": token, **params}, json=body).json

    return Caller


@pytest.fixture
def follower(store) -> str:
    return store.create_user(nickname="张师傅")["openid"]


def template(openid, template_id=TEMPLATE_ID, data=None):
    return {"touser": openid, "template_id": template_id, "data": data or {"thing1": {"value": "熔炼车间炉前"}}}


# --- tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"grant_type": "client_credential", "secret": "s"}, 41002),
        ({"grant_type": "client_credential", "appid": "wx-wrong", "secret": "s"}, 40013),
        ({"grant_type": "client_credential", "appid": "APPID", "secret": "wrong"}, 40125),
        ({"grant_type": "password", "appid": "APPID", "secret": "SECRET"}, 40002),
    ],
)
def test_token_endpoints_check_appid_and_secret(client, app, params, errcode):
    settings = app.config["SETTINGS"]
    real = {"APPID": settings.wechat_app_id, "SECRET": settings.wechat_app_secret}
    params = {k: real.get(v, v) for k, v in params.items()}
    assert client.get(f"{WX}/token", query_string=params).json["errcode"] == errcode
    assert client.post(f"{WX}/stable_token", json=params).json["errcode"] == errcode


def _stable(client, app, force=False):
    settings = app.config["SETTINGS"]
    return client.post(
        f"{WX}/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": settings.wechat_app_id,
            "secret": settings.wechat_app_secret,
            "force_refresh": force,
        },
    ).json


def _user_info_errcode(client, token, openid):
    return client.get(f"{WX}/user/info", query_string={"access_token": token, "openid": openid}).json.get("errcode", 0)


def test_stable_token_is_the_same_until_forced(client, app, follower):
    first = _stable(client, app)
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 100
    assert _stable(client, app)["access_token"] == first["access_token"]
    forced = _stable(client, app, force=True)
    assert forced["access_token"] != first["access_token"]
    assert _user_info_errcode(client, first["access_token"], follower) == 40001
    assert _user_info_errcode(client, forced["access_token"], follower) == 0


def test_basic_token_replaced_keeps_working_for_five_minutes(client, app, follower):
    settings = app.config["SETTINGS"]
    params = {"grant_type": "client_credential", "appid": settings.wechat_app_id, "secret": settings.wechat_app_secret}
    old = client.get(f"{WX}/token", query_string=params).json["access_token"]
    new = client.get(f"{WX}/token", query_string=params).json["access_token"]
    assert _user_info_errcode(client, old, follower) == 0
    with time_machine.travel(time.time() + 301):
        assert _user_info_errcode(client, old, follower) == 40001
        assert _user_info_errcode(client, new, follower) == 0


def test_access_token_is_checked_on_every_call(client, app, follower):
    assert client.get(f"{WX}/user/info", query_string={"openid": follower}).json["errcode"] == 41001
    assert _user_info_errcode(client, "not-a-token", follower) == 40001
    token = _stable(client, app)["access_token"]
    with time_machine.travel(time.time() + 7200):
        assert _user_info_errcode(client, token, follower) == 42001


def test_token_lifetime_is_configurable(client, app, follower):
    assert client.post("/sandbox/api/config", json={"token_ttl": 60}).json["token_ttl"] == 60
    answer = _stable(client, app)
    assert answer["expires_in"] == 60
    with time_machine.travel(time.time() + 61):
        assert _user_info_errcode(client, answer["access_token"], follower) == 42001


def test_jsapi_ticket(wx):
    answer = wx.get("ticket/getticket", type="jsapi")
    assert answer["errcode"] == 0 and answer["expires_in"] > 7000 and answer["ticket"]
    assert wx.get("ticket/getticket", type="jsapi")["ticket"] == answer["ticket"]


# --- QR codes -------------------------------------------------------------------------------------


def test_temporary_qr_code(wx, client, store, redis):
    answer = wx.post(
        "qrcode/create",
        {"expire_seconds": 604800, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "bind:x"}}},
    )
    assert set(answer) == {"ticket", "expire_seconds", "url"}
    assert answer["expire_seconds"] == 604800
    assert answer["url"].startswith("http://weixin.qq.com/q/")
    record = store.lookup_qr(answer["url"])
    assert record["scene_str"] == "bind:x" and record["permanent"] is False
    assert 604000 < redis.ttl(f"ancha:sandbox:qr:ticket:{answer['ticket']}") <= 604800
    by_url = client.get("/sandbox/api/qrcode", query_string={"q": answer["url"]}).json["qrcode"]
    assert by_url["ticket"] == answer["ticket"]
    # No expire_seconds: 30 s, as WeChat defaults.
    default = wx.post("qrcode/create", {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 7}}})
    assert default["expire_seconds"] == 30


def test_permanent_qr_code_is_stable_per_scene(wx):
    body = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "site:abc"}}}
    first = wx.post("qrcode/create", body)
    assert set(first) == {"ticket", "url"}
    assert wx.post("qrcode/create", body) == first
    other = wx.post("qrcode/create", {**body, "action_info": {"scene": {"scene_str": "site:def"}}})
    assert other["ticket"] != first["ticket"]


@pytest.mark.parametrize(
    "body",
    [
        {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "x" * 65}}},
        {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}},
        {"expire_seconds": 2592001, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "a"}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100001}}},
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 0}}},
        {"action_name": "QR_ANYTHING", "action_info": {"scene": {"scene_id": 1}}},
    ],
)
def test_qr_code_limits(wx, body):
    assert wx.post("qrcode/create", body)["errcode"] == 40053


def test_qr_code_limits_accept_the_edges(wx):
    edge = wx.post(
        "qrcode/create",
        {"expire_seconds": 2592000, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "x" * 64}}},
    )
    assert edge["expire_seconds"] == 2592000


def test_permanent_qr_codes_are_capped_at_100000(wx, redis):
    redis.set("ancha:sandbox:qr:permanent_count", PERMANENT_QR_CAP - 1)
    last = wx.post("qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "a"}}})
    assert "ticket" in last
    over = wx.post("qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "b"}}})
    assert over["errcode"] == 40053
    # Asking again for an existing scene still works.
    again = wx.post("qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "a"}}})
    assert again["ticket"] == last["ticket"]


def test_showqrcode_returns_a_png_of_the_qr_url(wx, client):
    answer = wx.post("qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "s"}}})
    image = client.get(f"{WX}/showqrcode", query_string={"ticket": answer["ticket"]})
    assert image.status_code == 200 and image.mimetype == "image/png"
    expected = io.BytesIO()
    qrcode.make(answer["url"], box_size=8, border=2).save(expected)
    assert image.data == expected.getvalue()
    assert client.get(f"{WX}/showqrcode", query_string={"ticket": "gQnope"}).status_code == 404


# --- menu ----------------------------------------------------------------------------------------


MENU = {
    "button": [
        {"type": "scancode_waitmsg", "name": "扫码排查", "key": "SCAN"},
        {
            "name": "隐患",
            "sub_button": [
                {"type": "view", "name": "随手拍", "url": "http://ancha.test/h5/report"},
                {"type": "click", "name": "我的待办", "key": "TODO"},
            ],
        },
    ]
}


def test_menu_create_get_delete(wx):
    assert wx.get("menu/get")["errcode"] == 46003
    assert wx.post("menu/create", MENU)["errcode"] == 0
    assert wx.get("menu/get") == {"menu": MENU}
    assert wx.get("menu/delete")["errcode"] == 0
    assert wx.get("menu/get")["errcode"] == 46003


@pytest.mark.parametrize(
    ("menu", "errcode"),
    [
        ({"button": [{"type": "click", "name": f"菜单{i}", "key": "K"} for i in range(4)]}, 40016),
        ({"button": [{"type": "click", "name": "六个汉字名字", "key": "K"}]}, 40018),
        ({"button": [{"name": "多", "sub_button": [{"type": "click", "name": f"子{i}", "key": "K"} for i in range(6)]}]}, 40023),
        ({"button": [{"type": "view", "name": "网址", "url": "ftp://x"}]}, 40054),
        ({"button": [{"type": "click", "name": "无键"}]}, 40019),
        ({"button": [{"type": "teleport", "name": "怪"}]}, 40015),
    ],
)
def test_menu_limits(wx, menu, errcode):
    assert wx.post("menu/create", menu)["errcode"] == errcode


# --- messages ------------------------------------------------------------------------------------


def test_template_message_is_sent_and_logged(wx, client, follower):
    answer = wx.post("message/template/send", {**template(follower), "url": "http://ancha.test/h5/x"})
    assert answer["errcode"] == 0 and answer["msgid"]
    log = client.get("/sandbox/api/messages", query_string={"openid": follower}).json
    assert log["openid"] == follower
    [entry] = log["messages"]
    assert entry["kind"] == "template"
    assert entry["body"]["template_id"] == TEMPLATE_ID
    assert entry["body"]["data"] == {"thing1": {"value": "熔炼车间炉前"}}
    assert entry["body"]["msgid"] == answer["msgid"]


def test_template_message_errors(wx, store, follower):
    unfollowed = store.create_user(subscribed=False)["openid"]
    assert wx.post("message/template/send", template("o-nobody-000000000000000000"))["errcode"] == 40003
    assert wx.post("message/template/send", template(unfollowed))["errcode"] == 43004
    assert wx.post("message/template/send", template(follower, template_id="short"))["errcode"] == 40037
    assert wx.post("message/template/send", template(follower, data={"thing1": "no value"}))["errcode"] == 47003
    assert store.messages(follower) == []


def test_customer_service_messages(wx, store, follower):
    assert wx.post("message/custom/send", {"touser": follower, "msgtype": "text", "text": {"content": "收到"}})["errcode"] == 0
    assert wx.post("message/custom/send", {"touser": follower, "msgtype": "text", "text": {"content": ""}})["errcode"] == 44004
    assert wx.post("message/custom/send", {"touser": follower, "msgtype": "image", "image": {"media_id": "x"}})["errcode"] == 40007
    assert wx.post("message/custom/send", {"touser": follower, "msgtype": "fax", "fax": {}})["errcode"] == 40008
    assert [m["body"] for m in store.messages(follower)] == [{"msgtype": "text", "text": {"content": "收到"}}]


def test_mass_send_by_tag_reaches_tagged_followers_four_times_a_month(wx, store, follower):
    other = store.create_user()["openid"]
    untagged = store.create_user()["openid"]
    gone = store.create_user()["openid"]
    tag = wx.post("tags/create", {"tag": {"name": "一线员工"}})["tag"]
    assert wx.post("tags/members/batchtagging", {"openid_list": [follower, other, gone], "tagid": tag["id"]})["errcode"] == 0
    store.update_user(gone, subscribed=False)
    for n in range(5):
        answer = wx.post(
            "message/mass/sendall",
            {"filter": {"is_to_all": False, "tag_id": tag["id"]}, "msgtype": "text", "text": {"content": f"提示{n}"}},
        )
        assert answer["errcode"] == 0 and answer["msg_id"]
    assert [m["body"]["text"]["content"] for m in store.messages(follower)] == ["提示0", "提示1", "提示2", "提示3"]
    assert len(store.messages(other)) == 4
    assert store.messages(untagged) == store.messages(gone) == []
    assert store.mass_job(answer["msg_id"]) == {
        "msg_id": answer["msg_id"], "status": "send success", "total": 3, "filtered": 3, "filter_count": 0,
        "sent": 0, "errors": 0,
    }


def test_mass_send_rules(wx, store, follower):
    body = {"msgtype": "text", "text": {"content": "提示"}}
    assert wx.post("message/mass/send", {**body, "touser": [follower]})["errcode"] == 40130
    other = store.create_user()["openid"]
    assert wx.post("message/mass/send", {**body, "touser": [follower, "o-unknown-0000000000000000"]})["errcode"] == 40003
    assert wx.post("message/mass/send", {**body, "touser": [follower, other], "clientmsgid": "tip-1"})["errcode"] == 0
    assert wx.post("message/mass/send", {**body, "touser": [follower, other], "clientmsgid": "tip-1"})["errcode"] == 45065
    assert wx.post("message/mass/sendall", {**body, "filter": {"is_to_all": False, "tag_id": 999}})["errcode"] == 45159
    assert len(store.messages(follower)) == 1


# --- users and tags ------------------------------------------------------------------------------


def test_user_info(wx, store, follower):
    info = wx.get("user/info", openid=follower, lang="zh_CN")
    assert info["subscribe"] == 1 and info["openid"] == follower and info["tagid_list"] == []
    store.update_user(follower, subscribed=False)
    assert wx.get("user/info", openid=follower) == {"subscribe": 0, "openid": follower}
    assert wx.get("user/info", openid="o-unknown-0000000000000000")["errcode"] == 40003


def test_tags(wx, follower):
    tag = wx.post("tags/create", {"tag": {"name": "班组长"}})["tag"]
    assert tag["id"] >= 100
    assert wx.post("tags/create", {"tag": {"name": "班组长"}})["errcode"] == 45157
    assert wx.post("tags/create", {"tag": {"name": "长" * 11}})["errcode"] == 45158
    assert wx.post("tags/update", {"tag": {"id": 2, "name": "改"}})["errcode"] == 45058
    assert wx.post("tags/members/batchtagging", {"openid_list": ["o-unknown-0000000"], "tagid": tag["id"]})["errcode"] == 40003
    assert wx.post("tags/members/batchtagging", {"openid_list": [follower], "tagid": tag["id"]})["errcode"] == 0
    assert wx.post("tags/getidlist", {"openid": follower}) == {"tagid_list": [tag["id"]]}
    listed = wx.post("user/tag/get", {"tagid": tag["id"], "next_openid": ""})
    assert listed["data"]["openid"] == [follower] and listed["count"] == 1
    assert {"id": tag["id"], "name": "班组长", "count": 1} in wx.get("tags/get")["tags"]
    assert wx.post("tags/delete", {"tag": {"id": tag["id"]}})["errcode"] == 0
    assert wx.post("tags/getidlist", {"openid": follower}) == {"tagid_list": []}


# --- media ---------------------------------------------------------------------------------------


def test_temporary_media_upload_and_download(client, wx):
    uploaded = client.post(
        f"{WX}/media/upload",
        query_string={"access_token": wx.access_token, "type": "image"},
        data={"media": (io.BytesIO(PNG), "photo.png")},
    ).json
    assert uploaded["type"] == "image" and uploaded["media_id"] and uploaded["created_at"]
    got = client.get(f"{WX}/media/get", query_string={"access_token": wx.access_token, "media_id": uploaded["media_id"]})
    assert got.status_code == 200 and got.mimetype == "image/png" and got.data == PNG
    assert wx.get("media/get", media_id="no-such-media")["errcode"] == 40007


@pytest.mark.parametrize(
    ("media_type", "payload", "errcode"),
    [("sticker", PNG, 40004), ("image", b"just text", 40005), ("image", None, 41005), ("thumb", PNG, 40005)],
)
def test_media_upload_errors(client, wx, media_type, payload, errcode):
    data = {} if payload is None else {"media": (io.BytesIO(payload), "file.bin")}
    answer = client.post(
        f"{WX}/media/upload", query_string={"access_token": wx.access_token, "type": media_type}, data=data
    ).json
    assert answer["errcode"] == errcode


# --- OAuth code exchange -------------------------------------------------------------------------


def test_oauth_code_is_single_use(client, app, store, follower):
    settings = app.config["SETTINGS"]
    code = store.issue_oauth_code(follower, "snsapi_base")
    params = {
        "appid": settings.wechat_app_id,
        "secret": settings.wechat_app_secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    answer = client.get("/sandbox/wx/sns/oauth2/access_token", query_string=params).json
    assert answer["openid"] == follower and answer["scope"] == "snsapi_base"
    assert answer["expires_in"] == 7200 and answer["access_token"] and answer["refresh_token"]
    assert client.get("/sandbox/wx/sns/oauth2/access_token", query_string=params).json["errcode"] == 40029
    wrong_secret = {**params, "code": store.issue_oauth_code(follower, "snsapi_base"), "secret": "x"}
    assert client.get("/sandbox/wx/sns/oauth2/access_token", query_string=wrong_secret).json["errcode"] == 40125


# --- control API: users, messages, faults, latency -------------------------------------------------


def test_virtual_users_are_seeded_from_database_users_with_openids(client, build):
    worker = build.user(display_name="赵工", subscribed=True)
    left = build.user(display_name="钱工", subscribed=False)
    build.user(display_name="无微信", openid=None)
    users = {u["openid"]: u for u in client.get("/sandbox/api/users").json["users"]}
    assert users[worker.openid]["nickname"] == "赵工" and users[worker.openid]["subscribed"] is True
    assert users[left.openid]["subscribed"] is False
    assert "无微信" not in {u["nickname"] for u in users.values()}


def test_a_database_user_created_later_is_known_to_the_fake_api(client, wx, build):
    client.get("/sandbox/api/users")  # first use: seeded now
    late = build.user(display_name="孙工")
    assert wx.post("message/template/send", template(late.openid))["errcode"] == 0


def test_create_and_update_virtual_users(client):
    created = client.post("/sandbox/api/users", json={"nickname": "测试员", "openid": "o-sandbox-user-0001"})
    assert created.status_code == 201
    assert created.json["user"] == {
        **created.json["user"],
        "openid": "o-sandbox-user-0001",
        "nickname": "测试员",
        "subscribed": True,
    }
    assert client.post("/sandbox/api/users", json={"openid": "o-sandbox-user-0001"}).status_code == 409
    assert client.post("/sandbox/api/users", json={"openid": "bad openid!"}).status_code == 422
    generated = client.post("/sandbox/api/users", json={}).json["user"]
    assert len(generated["openid"]) == 28
    patched = client.patch("/sandbox/api/users/o-sandbox-user-0001", json={"subscribed": False})
    assert patched.json["user"]["subscribed"] is False
    assert client.patch("/sandbox/api/users/o-missing-000001", json={"subscribed": True}).status_code == 404
    openids = [u["openid"] for u in client.get("/sandbox/api/users").json["users"]]
    assert openids.index("o-sandbox-user-0001") < openids.index(generated["openid"])


def test_message_log_lists_everything_oldest_first(client, wx, follower):
    record_message(follower, "passive_reply", {"MsgType": "text", "Content": "请扫描点位二维码"})
    wx.post("message/custom/send", {"touser": follower, "msgtype": "text", "text": {"content": "已记录"}})
    wx.post("message/template/send", template(follower))
    messages = client.get("/sandbox/api/messages", query_string={"openid": follower}).json["messages"]
    assert [m["kind"] for m in messages] == ["passive_reply", "custom", "template"]
    assert messages[0]["body"] == {"MsgType": "text", "Content": "请扫描点位二维码"}
    later = client.get("/sandbox/api/messages", query_string={"openid": follower, "after": messages[0]["seq"]})
    assert [m["kind"] for m in later.json["messages"]] == ["custom", "template"]
    assert client.get("/sandbox/api/messages").status_code == 422
    with pytest.raises(ValueError):
        record_message(follower, "carrier_pigeon", {})


def test_faults_api(client, wx, follower):
    made = client.post("/sandbox/api/faults", json={"path": "/sandbox/wx/cgi-bin/user/info", "errcode": 45011, "count": 2})
    assert made.status_code == 201 and made.json["fault"]["path"] == "cgi-bin/user/info"
    assert client.get("/sandbox/api/faults").json["faults"][0]["left"] == 2
    assert wx.get("user/info", openid=follower)["errcode"] == 45011
    assert client.get("/sandbox/api/faults").json["faults"][0]["left"] == 1
    assert wx.get("user/info", openid=follower)["errcode"] == 45011
    assert wx.get("user/info", openid=follower)["subscribe"] == 1
    assert client.get("/sandbox/api/faults").json["faults"] == []

    client.post("/sandbox/api/faults", json={"path": "*", "status": 503, "count": None})
    for _ in range(3):
        assert client.get(f"{WX}/menu/get", query_string={"access_token": wx.access_token}).status_code == 503
    assert client.delete("/sandbox/api/faults").json == {"faults": []}
    assert wx.get("user/info", openid=follower)["subscribe"] == 1


@pytest.mark.parametrize(
    "spec",
    [{"errcode": 40001}, {"path": "cgi-bin/token"}, {"path": "x", "status": 200}, {"path": "x", "errcode": "-1"},
     {"path": "x", "errcode": -1, "count": 0}, {"path": "x", "delay_ms": 120_000}],
)
def test_faults_api_validation(client, spec):
    answer = client.post("/sandbox/api/faults", json=spec)
    assert answer.status_code == 422 and answer.json["message"]


def test_fault_delay_and_global_latency(client, wx, follower):
    client.post("/sandbox/api/faults", json={"path": "cgi-bin/user/info", "delay_ms": 200})
    started = time.monotonic()
    assert wx.get("user/info", openid=follower)["subscribe"] == 1
    assert time.monotonic() - started >= 0.2

    assert client.post("/sandbox/api/config", json={"latency_ms": 50}).json["latency_ms"] == 50
    started = time.monotonic()
    for _ in range(3):
        wx.get("user/info", openid=follower)
    assert time.monotonic() - started >= 0.15
    assert client.post("/sandbox/api/config", json={"latency_ms": -1}).status_code == 422
    assert client.get("/sandbox/api/config").json == {"latency_ms": 50, "token_ttl": 7200}


# --- only in the sandbox ------------------------------------------------------------------------


def test_the_sandbox_is_not_registered_when_it_is_off(settings_overrides):
    from app import register_blueprints
    from config import load_settings

    settings = load_settings(
        {**settings_overrides, "WECHAT_SANDBOX": "0", "WECHAT_APP_ID": "wx1234567890abcdef", "WECHAT_APP_SECRET": "s"}
    )
    assert settings.sandbox is False
    bare = Flask("off")
    init_url_converters(bare)
    register_blueprints(bare, settings)
    rules = [rule.rule for rule in bare.url_map.iter_rules()]
    assert not [rule for rule in rules if rule.startswith("/sandbox")]
    assert "/h5/oauth/callback" in rules


def test_mass_sendall_answers_like_wechat_and_tagging_takes_50_openids(wx, store):
    """sendall by tag_id: msg_id and msg_data_id; the FilterCount of the finish event is what
    was left after filtering (a non-follower of the tag is not counted); batchtagging refuses
    a 51st openid with 40032."""
    openids = [store.create_user()["openid"] for _ in range(51)]
    tag = wx.post("tags/create", {"tag": {"name": "安查·测试镇"}})["tag"]
    too_many = wx.post("tags/members/batchtagging", {"openid_list": openids, "tagid": tag["id"]})
    assert too_many["errcode"] == 40032
    assert wx.post("tags/members/batchtagging", {"openid_list": openids[:50], "tagid": tag["id"]})["errcode"] == 0
    answer = wx.post(
        "message/mass/sendall",
        {"filter": {"is_to_all": False, "tag_id": tag["id"]}, "msgtype": "text", "text": {"content": "提示"},
         "send_ignore_reprint": 0, "clientmsgid": "ancha-mass-1"},
    )
    assert answer["errcode"] == 0 and answer["msg_id"] and answer["msg_data_id"]
    job = store.mass_job(answer["msg_id"])
    assert (job["total"], job["filter_count"], job["sent"], job["errors"], job["status"]) == (50, 50, 50, 0, "send success")
    again = wx.post(
        "message/mass/sendall",
        {"filter": {"is_to_all": False, "tag_id": tag["id"]}, "msgtype": "text", "text": {"content": "提示"},
         "clientmsgid": "ancha-mass-1"},
    )
    assert again["errcode"] == 45065
