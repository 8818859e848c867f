"""The simulator's endpoints: what `POST /sandbox/api/send` posts to the real callback
(signed, encrypted in safe mode, WeChat's XML shapes), what it records, and the helpers
behind the phone page (contacts, codes, photos, opening H5 pages as a virtual user)."""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.accounts.domain import ROLE_LABELS, Role, invite_scene
from app.accounts.h5_login import SESSION_OPENID, SESSION_USER_ID
from app.accounts.models import Membership, User
from app.accounts.service import create_invite
from app.clock import utcnow
from app.enterprises.domain import site_scene
from app.sandbox import simulator
from app.sandbox.authorize import SIMULATOR_OPENID_COOKIE
from app.sandbox.store import SandboxStore
from app.wechat.crypto import MessageCrypto, sign
from app.wechat.menu import MenuKey, default_menu
from app.wechat.parsing import parse_xml
from app.wechat_inbound import handlers
from tests.web.test_sandbox_api import PNG

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SEND = "/sandbox/api/send"


@pytest.fixture
def store(redis) -> SandboxStore:
    return SandboxStore(redis)


@pytest.fixture
def posted(monkeypatch):
    """Every (query params, body) the simulator posts to the callback, in order; the post
    still goes through to the real callback."""
    calls: list[tuple[dict[str, str], str]] = []
    original = simulator.post_to_callback

    def spy(app, base_url, params, body):
        calls.append((dict(params), body.decode()))
        return original(app, base_url, params, body)

    monkeypatch.setattr(simulator, "post_to_callback", spy)
    return calls


@pytest.fixture
def safe_mode(app, monkeypatch):
    configured = app.config["SETTINGS"].model_copy(update={"WECHAT_ENCODING_AES_KEY": AES_KEY})
    monkeypatch.setitem(app.config, "SETTINGS", configured)
    return MessageCrypto(configured.wechat_token, AES_KEY, configured.wechat_app_id)


@pytest.fixture
def follower(store) -> str:
    return store.create_user(nickname="张师傅")["openid"]


@pytest.fixture
def newcomer(store) -> str:
    return store.create_user(nickname="小陈", subscribed=False)["openid"]


@pytest.fixture
def site(build):
    return build.site(build.enterprise(), name="熔炼车间炉前")


@pytest.fixture
def invite(build, db_session):
    enterprise = build.enterprise()
    admin = build.member(enterprise, Role.ENTERPRISE_ADMIN)
    worker = build.member(enterprise, Role.WORKER, user=build.user(display_name="陈晓明", openid=None, subscribed=False))
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    return create_invite(db_session, build.actor(admin), utcnow(), membership.id, ttl=timedelta(hours=1))


def send(client, openid, kind, **fields):
    return client.post(SEND, json={"openid": openid, "type": kind, **fields})


def assert_signed(params, settings):
    assert params["signature"] == sign(settings.wechat_token, params["timestamp"], params["nonce"])
    assert abs(int(params["timestamp"]) - time.time()) < 10


def messages(client, openid):
    return client.get("/sandbox/api/messages", query_string={"openid": openid}).json["messages"]


# --- plaintext mode ------------------------------------------------------------------------


def test_a_text_is_posted_signed_in_wechat_shape_and_the_reply_is_recorded(client, settings, follower, posted):
    response = send(client, follower, "text", content="帮助")

    assert response.status_code == 200
    [(params, body)] = posted
    assert_signed(params, settings)
    assert "encrypt_type" not in params and params["openid"] == follower
    fields = parse_xml(body)
    assert fields["ToUserName"] == simulator.original_id(settings.wechat_app_id)
    assert fields["ToUserName"].startswith("gh_") and len(fields["ToUserName"]) == 15
    assert fields["FromUserName"] == follower
    assert fields["MsgType"] == "text" and fields["Content"] == "帮助"
    assert fields["MsgId"].isdigit() and abs(int(fields["CreateTime"]) - time.time()) < 10

    [exchange] = response.json["exchanges"]
    assert exchange["status"] == 200 and exchange["failure"] is None
    assert exchange["request"]["xml"] == body and exchange["request"]["encrypted"] is False
    reply = parse_xml(exchange["reply"])
    assert reply["ToUserName"] == follower and reply["Content"].startswith("安查使用说明")
    [logged] = messages(client, follower)
    assert logged["kind"] == "passive_reply"
    assert logged["body"]["MsgType"] == "text" and logged["body"]["Content"] == reply["Content"]
    assert exchange["recorded"] == logged


def test_success_is_not_a_message_and_is_not_recorded(client, store, follower, posted):
    response = send(client, follower, "unsubscribe")

    [exchange] = response.json["exchanges"]
    assert parse_xml(posted[0][1])["Event"] == "unsubscribe"
    assert exchange["reply"] == "success" and exchange["recorded"] is None and exchange["failure"] is None
    assert messages(client, follower) == []
    assert store.get_user(follower)["subscribed"] is False
    assert response.json["user"]["subscribed"] is False


# --- safe mode -----------------------------------------------------------------------------


def test_safe_mode_posts_only_ciphertext_with_msg_signature_and_decrypts_the_reply(
    client, settings, safe_mode, follower, posted
):
    response = send(client, follower, "text", content="帮助")

    [(params, body)] = posted
    assert_signed(params, settings)
    envelope = parse_xml(body)
    assert set(envelope) == {"ToUserName", "Encrypt"} and "帮助" not in body
    assert params["encrypt_type"] == "aes"
    assert params["msg_signature"] == sign(settings.wechat_token, params["timestamp"], params["nonce"], envelope["Encrypt"])
    inner = parse_xml(safe_mode.decrypt(envelope["Encrypt"]))
    assert inner["FromUserName"] == follower and inner["Content"] == "帮助"

    [exchange] = response.json["exchanges"]
    assert exchange["request"]["encrypted"] is True and exchange["failure"] is None
    # The reply came back encrypted and is shown (and logged) decrypted.
    assert parse_xml(exchange["reply"])["Content"].startswith("安查使用说明")
    assert messages(client, follower)[0]["body"]["Content"].startswith("安查使用说明")


def test_safe_mode_success_stays_plain_and_unrecorded(client, safe_mode, follower, posted):
    [exchange] = send(client, follower, "unsubscribe").json["exchanges"]
    assert posted[0][0]["encrypt_type"] == "aes"
    assert exchange["reply"] == "success" and exchange["recorded"] is None
    assert messages(client, follower) == []


# --- following and scanning ----------------------------------------------------------------


def test_following_through_a_site_qr_sends_qrscene_and_ticket_then_scan(client, store, db_session, newcomer, site, posted):
    scene = site_scene(site.token)

    followed = send(client, newcomer, "subscribe", scene=scene)

    assert followed.status_code == 200
    db_session.refresh(site)
    assert site.wx_qr_url and site.wx_qr_ticket  # obtained the way `qr posters` does
    event = parse_xml(posted[0][1])
    assert event["MsgType"] == "event" and event["Event"] == "subscribe"
    assert event["EventKey"] == f"qrscene_{scene}" and event["Ticket"] == site.wx_qr_ticket
    assert store.get_user(newcomer)["subscribed"] is True
    content = followed.json["exchanges"][0]["recorded"]["body"]["Content"]
    assert content.startswith(handlers.WELCOME) and handlers.NOT_BOUND in content

    scanned = send(client, newcomer, "scan", scene=scene)

    assert scanned.status_code == 200
    event = parse_xml(posted[1][1])
    assert event["Event"] == "SCAN" and event["EventKey"] == scene and event["Ticket"] == site.wx_qr_ticket


def test_a_plain_follow_has_no_event_key(client, store, newcomer, posted):
    send(client, newcomer, "subscribe")
    event = parse_xml(posted[0][1])
    assert event["Event"] == "subscribe" and "EventKey" not in event and "Ticket" not in event
    assert store.get_user(newcomer)["subscribed"] is True


def test_scanning_the_invite_binds_with_the_qr_the_console_shows(client, store, db_session, redis, newcomer, invite, posted):
    scene = invite_scene(invite.token)

    response = send(client, newcomer, "subscribe", scene=scene)

    content = response.json["exchanges"][0]["recorded"]["body"]["Content"]
    assert "绑定成功" in content and ROLE_LABELS[Role.WORKER] in content
    assert db_session.scalar(select(User.display_name).where(User.openid == newcomer)) == "陈晓明"
    # The ticket is that of the temporary QR cached for the console's invite page.
    url = redis.get(f"qr:temporary:{scene}").decode()
    assert parse_xml(posted[0][1])["Ticket"] == store.lookup_qr(url)["ticket"]

    # The same code decoded from a photo (its weixin.qq.com URL) is resolved by the sandbox.
    again = send(client, newcomer, "scan", qr=url)
    assert parse_xml(posted[1][1])["EventKey"] == scene
    assert "您已通过此邀请完成绑定" in again.json["exchanges"][0]["recorded"]["body"]["Content"]


def test_the_menu_scanner_hands_over_what_the_code_encodes(client, store, db_session, build, posted):
    enterprise = build.enterprise()
    site = build.site(enterprise, name="浇注区")
    worker = build.member(enterprise, Role.WORKER)

    response = send(client, worker.openid, "scancode_waitmsg", key=MenuKey.SCAN_CHECK.value, scene=site_scene(site.token))

    db_session.refresh(site)
    event = parse_xml(posted[0][1])
    assert event["Event"] == "scancode_waitmsg" and event["EventKey"] == MenuKey.SCAN_CHECK.value
    assert event["ScanCodeInfo"] == {"ScanType": "qrcode", "ScanResult": site.wx_qr_url}
    assert "点位「浇注区」" in response.json["exchanges"][0]["recorded"]["body"]["Content"]


def test_the_photo_menu_posts_the_event_then_the_image(client, store, build, posted):
    worker = build.member(build.enterprise(), Role.WORKER)
    upload = client.post("/sandbox/api/media", data={"media": (io.BytesIO(PNG), "p.png")})
    assert upload.status_code == 201
    media_id = upload.json["media_id"]

    response = send(client, worker.openid, "pic_photo_or_album", key=MenuKey.REPORT_HAZARD.value, media_id=media_id)

    event, image = (parse_xml(body) for _, body in posted)
    assert event["Event"] == "pic_photo_or_album" and event["EventKey"] == MenuKey.REPORT_HAZARD.value
    assert event["SendPicsInfo"] == {"Count": "1", "PicList": {"item": {"PicMd5Sum": hashlib.md5(PNG).hexdigest()}}}
    assert image["MsgType"] == "image" and image["MediaId"] == media_id and image["MsgId"].isdigit()
    assert client.get(urlsplit(image["PicUrl"]).path).data == PNG
    first, second = response.json["exchanges"]
    assert first["reply"] == "success" and first["recorded"] is None  # the event is silent
    assert "随手拍隐患上报已开始" in second["recorded"]["body"]["Content"]
    assert [m["kind"] for m in messages(client, worker.openid)] == ["passive_reply"]


def test_click_and_view_events(client, follower, posted):
    send(client, follower, "click", key=MenuKey.TIPS.value)
    send(client, follower, "view", url="http://ancha.test/h5/me")
    click, view = (parse_xml(body) for _, body in posted)
    assert click["Event"] == "CLICK" and click["EventKey"] == "TIPS"
    assert view["Event"] == "VIEW" and view["EventKey"] == "http://ancha.test/h5/me"
    assert [m["body"]["Content"][:4] for m in messages(client, follower)] == ["安全提示"]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "payload", "status", "error"),
    [
        ("newcomer", {"type": "text", "content": "你好"}, 409, "not_following"),
        ("newcomer", {"type": "scan", "scene": "site:abcdefghijkl"}, 409, "not_following"),
        ("follower", {"type": "subscribe"}, 409, "already_following"),
        ("follower", {"type": "shake"}, 422, "validation_failed"),
        ("follower", {"type": "text", "content": "   "}, 422, "validation_failed"),
        ("follower", {"type": "scan"}, 422, "validation_failed"),
        ("follower", {"type": "scan", "qr": "http://weixin.qq.com/q/unknown"}, 404, "qr_not_found"),
        ("follower", {"type": "scan", "scene": "site:no-such-site-token"}, 404, "not_found"),
        ("follower", {"type": "image", "media_id": "nope"}, 422, "validation_failed"),
        ("follower", {"type": "view", "url": "javascript:alert(1)"}, 422, "validation_failed"),
        ("nobody", {"type": "text", "content": "你好"}, 404, "not_found"),
    ],
)
def test_refusals(client, request, posted, who, payload, status, error):
    openid = request.getfixturevalue(who) if who != "nobody" else "oUNKNOWN0000000000000000000"
    response = client.post(SEND, json={"openid": openid, **payload})
    assert response.status_code == status and response.json["error"] == error
    assert response.json["message"]
    assert posted == []


def test_an_expired_invite_cannot_be_scanned(client, db_session, newcomer, invite, posted):
    invite.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    response = send(client, newcomer, "subscribe", scene=invite_scene(invite.token))
    assert response.status_code == 410 and posted == []


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ((None, ""), "5 秒内没有应答"),
        ((500, "oops"), "HTTP 500"),
        ((200, "<xml><ToUserName><![CDATA[x]]></ToUserName></xml>"), "缺少 MsgType"),
        ((200, "{\"reply\": 1}"), "不是有效的消息"),
    ],
)
def test_a_callback_that_fails_is_shown_as_wechat_shows_it(client, monkeypatch, follower, answer, shown):
    monkeypatch.setattr(simulator, "post_to_callback", lambda *args: answer)
    [exchange] = send(client, follower, "text", content="你好").json["exchanges"]
    assert exchange["failure"].startswith(simulator.SERVICE_UNAVAILABLE) and shown in exchange["failure"]
    assert exchange["recorded"] is None and messages(client, follower) == []


def test_media_upload_refuses_what_wechat_refuses(client):
    assert client.post("/sandbox/api/media", data={}).status_code == 422
    refused = client.post("/sandbox/api/media", data={"media": (io.BytesIO(b"%PDF-1.4"), "a.pdf")})
    assert refused.status_code == 422
    assert client.get("/sandbox/api/media/unknown").status_code == 404


# --- the phone's lists ---------------------------------------------------------------------


def test_contacts_name_the_person_bound_to_each_openid(client, build, store):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    worker = build.member(enterprise, Role.TEAM_LEADER, user=build.user(display_name="王建华"))
    newcomer = store.create_user(nickname="小陈", subscribed=False)["openid"]

    users = {u["openid"]: u for u in client.get("/sandbox/api/contacts").json["users"]}

    assert users[newcomer]["person"] is None and users[newcomer]["subscribed"] is False
    person = users[worker.openid]["person"]
    assert person["name"] == "王建华"
    assert person["memberships"] == [
        {"enterprise": "郑州恒达铸造有限公司", "role": "team_leader", "role_label": "班组长", "department": None, "team": None}
    ]


def test_codes_list_active_sites_and_open_invites_only(client, build, db_session, invite, site):
    build.site(site.enterprise, name="停用点位", active=False)
    admin = build.actor(build.member(invite.membership.enterprise, Role.ENTERPRISE_ADMIN))
    used = create_invite(db_session, admin, utcnow(), invite.membership_id)
    used.used_at = utcnow()
    expired = create_invite(db_session, admin, utcnow(), invite.membership_id)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    db_session.flush()

    codes = client.get("/sandbox/api/codes").json

    assert [(s["name"], s["scene"]) for s in codes["sites"]] == [("熔炼车间炉前", site_scene(site.token))]
    assert [(i["name"], i["scene"], i["role_label"]) for i in codes["invites"]] == [
        ("陈晓明", invite_scene(invite.token), ROLE_LABELS[Role.WORKER])
    ]


def test_the_page_shows_the_account_menu(client):
    page = client.get("/sandbox/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "微信模拟器" in text and "扫码排查" in text and "/static/vendor/jsQR.js" in text


def _page_config(client) -> dict:
    html = client.get("/sandbox/").get_data(as_text=True)
    start = html.index('<script type="application/json" id="sim-config">') + len('<script type="application/json" id="sim-config">')
    return json.loads(html[start : html.index("</script>", start)])


def test_the_page_knows_each_templates_title_and_labels(client, settings):
    config = _page_config(client)

    assigned = config["templates"][settings.wechat_template_id("hazard_assigned", "hazard")]
    assert assigned["title"] == "隐患待您整改"
    assert assigned["labels"] == {
        "thing1": "通知事项", "thing2": "企业名称", "thing3": "隐患内容", "thing4": "隐患位置", "time5": "整改期限"
    }
    assert config["menu"] == default_menu(settings.PUBLIC_BASE_URL) and config["menu_source"] == "default"
    assert config["account"]["original_id"] == simulator.original_id(settings.wechat_app_id)


def test_a_template_shared_by_a_family_has_no_single_title(client, monkeypatch):
    monkeypatch.setenv("WECHAT_TEMPLATE_HAZARD", "Tq0eyd1BKsDGe8K-ZOUj6X2PE-0qFVE_YzUJAH4xDSM")
    shared = _page_config(client)["templates"]["Tq0eyd1BKsDGe8K-ZOUj6X2PE-0qFVE_YzUJAH4xDSM"]
    assert shared["title"] is None and shared["labels"]["thing3"] == "隐患内容"


def test_the_page_shows_the_pushed_menu(client, store):
    menu = {"button": [{"type": "click", "name": "试用", "key": "TRY"}]}
    store.set_menu(menu)
    config = _page_config(client)
    assert config["menu"] == menu and config["menu_source"] == "pushed"


# --- opening H5 pages as the virtual user --------------------------------------------------


def test_open_forgets_another_users_h5_session_and_oauth_signs_in_as_this_one(client, build, store):
    someone = build.member(build.enterprise(), Role.WORKER, user=build.user(display_name="李立新"))
    me = build.member(build.enterprise(name="郑州金穗食品有限公司"), Role.SAFETY_OFFICER, user=build.user(display_name="王秀兰"))
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = someone.id
        session[SESSION_OPENID] = someone.openid

    opened = client.get("/sandbox/open", query_string={"openid": me.openid, "url": "http://ancha.test/h5/me?tab=1"})

    assert opened.status_code == 302 and opened.headers["Location"] == "/h5/me?tab=1"
    with client.session_transaction() as session:
        assert SESSION_USER_ID not in session and SESSION_OPENID not in session
    cookie = client.get_cookie(SIMULATOR_OPENID_COOKIE, path="/sandbox/connect/oauth2/authorize")
    assert cookie is not None and cookie.value == me.openid and cookie.http_only

    to_authorize = client.get("/h5/me")
    assert urlsplit(to_authorize.headers["Location"]).path == "/sandbox/connect/oauth2/authorize"
    # No openid in the URL: the simulator's cookie picks the user.
    assert "openid" not in parse_qs(urlsplit(to_authorize.headers["Location"]).query)
    page = client.get(to_authorize.headers["Location"], follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "王秀兰" in text and "安全管理员" in text and "李立新" not in text


def test_open_keeps_the_session_of_the_same_user(client, build):
    me = build.member(build.enterprise(), Role.WORKER)
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = me.id
        session[SESSION_OPENID] = me.openid
    client.get("/sandbox/open", query_string={"openid": me.openid, "url": "/h5/me"})
    with client.session_transaction() as session:
        assert session[SESSION_USER_ID] == me.id


@pytest.mark.parametrize(
    "url", ["https://evil.example/h5/me", "//evil.example/x", "javascript:alert(1)", "", "h5/me", "http://ancha.test@evil/x"]
)
def test_open_only_opens_pages_of_this_site(client, follower, url):
    assert client.get("/sandbox/open", query_string={"openid": follower, "url": url}).status_code == 400


def test_open_refuses_a_malformed_openid(client):
    assert client.get("/sandbox/open", query_string={"openid": "x", "url": "/h5/me"}).status_code == 400


def test_contacts_look_people_up_in_chunks(client, build, store, monkeypatch):
    monkeypatch.setattr(simulator, "LOOKUP_CHUNK", 1)
    enterprise = build.enterprise()
    names = {build.member(enterprise, Role.WORKER, user=build.user(display_name=name)).openid: name for name in ("甲", "乙")}

    users = client.get("/sandbox/api/contacts").json["users"]

    assert {u["openid"]: u["person"]["name"] for u in users if u["openid"] in names} == names
