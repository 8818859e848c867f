"""Safety tips on the web: the H5 article (WeChat sign-in, read, 我已阅读并知晓 once), the list
of received tips, and the bureau's console (BROADCAST_TIP only): library, new broadcast,
approving a proposal, cancelling, the one reminder, counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.accounts.h5_login import SESSION_USER_ID
from app.clock import LOCAL_TZ, utcnow
from app.notifications.models import OutboxMessage
from app.tips import service
from app.tips.domain import BroadcastStatus
from app.tips.models import Tip, TipBroadcast, TipReceipt
from tests.fixtures.csrf import FormClient, session_token


@pytest.fixture
def client(client):
    """Posts carry the session's CSRF token, as the pages' forms do."""
    return FormClient(client)


def h5_login(client, user) -> None:
    """Signed in on the H5 pages, as the WeChat OAuth callback leaves the session."""
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id


def console_login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def console_post(client, url: str, data: dict | None = None):
    """A console form post, with the CSRF token the page would have rendered."""
    return client.post(url, data={**(data or {}), "csrf_token": session_token(client.application, client)})


def text(response) -> str:
    return response.get_data(as_text=True)


class Scene:
    def __init__(self, build, session):
        self.session = session
        self.town = build.town(name="花园口镇")
        self.enterprise = build.enterprise(town=self.town, name="郑州污水处理有限公司", confined_space=True)
        self.worker = build.member(self.enterprise, "worker")
        self.officer = build.member(self.enterprise, "safety_officer")
        self.other = build.member(build.enterprise(town=self.town, name="郑州机械厂"), "worker")
        self.admin = build.bureau_user("bureau_admin", user=build.user(username="bureau", password="pw-b"))
        self.staff = build.bureau_user("bureau_staff", towns=[self.town])
        self.enterprise_admin = build.member(self.enterprise, "enterprise_admin")
        self.admin_actor = build.actor(self.admin)
        service.load_tip_library(session)
        self.tip = session.scalar(select(Tip).where(Tip.code == "CSK-09"))

    def released(self, tip_id: int | None = None, **audience) -> TipBroadcast:
        now = utcnow()
        data = {"send_at": now.isoformat(), "topics": ["confined_space"], **audience}
        if tip_id is None:
            data |= {"title": "污水池清淤作业提醒", "body": "清淤前必须先通风、再检测、后作业。"}
        else:
            data["tip_id"] = tip_id
        broadcast = service.create_broadcast(self.session, self.admin_actor, now, data)
        service.release_broadcast(self.session, broadcast.id, now)
        return broadcast


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


# --- H5 --------------------------------------------------------------------------------------------


def test_the_article_needs_a_wechat_sign_in(client, scene):
    page = client.get(f"/h5/tips/{scene.tip.id}")
    assert page.status_code == 302
    assert urlsplit(page.headers["Location"]).path == "/sandbox/connect/oauth2/authorize"
    post = client.post(f"/h5/tips/{scene.tip.id}/acknowledge")
    assert post.status_code == 401 and "登录已失效" in text(post)
    assert client.get("/h5/tips").status_code == 302


def test_signing_in_through_wechat_lands_on_the_article(client, scene):
    scene.released(scene.tip.id)
    start = f"/h5/tips/{scene.tip.id}"
    authorize = client.get(start).headers["Location"]
    to_callback = client.get(f"{authorize}&openid={scene.worker.openid}")
    callback = urlsplit(to_callback.headers["Location"])
    landed = client.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 302 and landed.headers["Location"] == start
    page = client.get(start)
    assert page.status_code == 200 and "我已阅读并知晓" in text(page)


def test_reading_and_acknowledging_once(client, db_session, scene):
    broadcast = scene.released(scene.tip.id)
    h5_login(client, scene.worker)
    page = client.get(f"/h5/tips/{scene.tip.id}")
    body = text(page)
    assert page.status_code == 200
    assert "有限空间知识⑨：严禁盲目施救" in body and "正确的救援步骤" in body
    assert "<li>监护人立即呼叫、报警（119、120），报告负责人，启动应急预案。</li>" in body
    assert "我已阅读并知晓" in body and "weui-btn_primary" in body
    receipt = db_session.get(TipReceipt, (broadcast.id, scene.worker.id))
    db_session.refresh(receipt)
    assert receipt.read_at is not None and receipt.acknowledged_at is None

    assert client.bare.post(f"/h5/tips/{scene.tip.id}/acknowledge").status_code == 400  # no token
    db_session.refresh(receipt)
    assert receipt.acknowledged_at is None
    answer = client.post(f"/h5/tips/{scene.tip.id}/acknowledge")
    assert answer.status_code == 302
    confirmed = client.get(answer.headers["Location"])
    assert "已记录：您已阅读并知晓本提示" in text(confirmed) and "我已阅读并知晓</button>" not in text(
        confirmed
    )
    db_session.refresh(receipt)
    first = receipt.acknowledged_at
    assert first is not None
    assert client.post(f"/h5/tips/{scene.tip.id}/acknowledge").status_code == 302
    db_session.refresh(receipt)
    assert receipt.acknowledged_at == first


def test_the_list_shows_what_the_member_received(client, scene):
    scene.released(scene.tip.id)
    custom = scene.released()
    h5_login(client, scene.worker)
    client.post(f"/h5/tips/{scene.tip.id}/acknowledge")
    page = text(client.get("/h5/tips"))
    assert "有限空间知识⑨：严禁盲目施救" in page and "污水池清淤作业提醒" in page
    assert page.index("污水池清淤作业提醒") < page.index("有限空间知识⑨")  # newest first
    assert "已确认" in page and "未读" in page
    assert f'href="/h5/tips/{custom.tip_id}"' in page
    h5_login(client, scene.other)
    assert "您还没有收到安全提示" in text(client.get("/h5/tips"))


def test_a_custom_tip_is_hidden_from_non_recipients_and_library_tips_are_readable(client, scene):
    custom = scene.released()
    h5_login(client, scene.other)
    missing = client.get(f"/h5/tips/{custom.tip_id}")
    assert missing.status_code == 404 and "未推送给您" in text(missing)
    library = client.get(f"/h5/tips/{scene.tip.id}")
    assert library.status_code == 200 and "我已阅读并知晓</button>" not in text(library)
    assert client.post(f"/h5/tips/{scene.tip.id}/acknowledge").status_code == 404


# --- console ---------------------------------------------------------------------------------------


def test_the_console_needs_login_and_broadcast_tip(client, scene):
    assert "/console/login" in client.get("/console/tips/").headers["Location"]
    for user in (scene.staff, scene.enterprise_admin, scene.worker):
        console_login(client, user)
        for path in ("/console/tips/", "/console/tips/library", "/console/tips/new"):
            assert client.get(path).status_code == 403, (user, path)
        assert console_post(client, "/console/tips/new", data={}).status_code == 403
    broadcast = scene.released()
    assert console_post(client, f"/console/tips/broadcasts/{broadcast.id}/remind").status_code == 403


def test_the_bureau_sees_the_library_and_creates_a_broadcast(client, db_session, scene):
    console_login(client, scene.admin)
    library = text(client.get("/console/tips/library"))
    assert "TIP-07" in library and "防暑降温" in library and "CSK-12" in library
    tip07 = db_session.scalar(select(Tip).where(Tip.code == "TIP-07"))
    preview = text(client.get(f"/console/tips/library/{tip07.id}"))
    assert "日最高气温达到 40℃ 以上" in preview
    form = text(client.get(f"/console/tips/new?tip={tip07.id}"))
    assert f'<option value="{tip07.id}" selected>' in form

    send_at = (datetime.now(LOCAL_TZ) + timedelta(days=1)).replace(second=0, microsecond=0)
    answer = console_post(
        client,
        "/console/tips/new",
        data={
            "tip_id": str(tip07.id),
            "towns": [str(scene.town.id)],
            "roles": ["worker", "safety_officer"],
            "send_at": send_at.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert answer.status_code == 302
    broadcast = db_session.scalar(select(TipBroadcast).order_by(TipBroadcast.id.desc()).limit(1))
    assert broadcast.status is BroadcastStatus.SCHEDULED and broadcast.tip_id == tip07.id
    assert broadcast.send_at == send_at.astimezone(UTC)
    assert broadcast.audience == {
        "towns": [scene.town.id],
        "industries": [],
        "topics": [],
        "roles": ["safety_officer", "worker"],
    }
    detail = text(client.get(answer.headers["Location"]))
    assert "推送已排期" in detail and "花园口镇" in detail and "当前可送达人数" in detail
    assert "3 人" in detail  # the two members of each enterprise in the town with those roles


def test_bad_input_is_explained_in_chinese(client, scene):
    console_login(client, scene.admin)
    answer = console_post(
        client,
        "/console/tips/new", data={"send_at": "2020-01-01T08:00", "title": "标题", "body": "正文"}
    )
    assert answer.status_code == 422 and "发送时间不能早于当前时间" in text(answer)
    neither = console_post(client, "/console/tips/new", data={"send_at": "2099-01-01T08:00"})
    assert neither.status_code == 422 and "请选择提示库中的条目" in text(neither)


def test_approving_and_turning_down_proposals(client, db_session, scene):
    created = service.propose_monthly_tips(db_session, utcnow())
    assert created
    console_login(client, scene.admin)
    overview = text(client.get("/console/tips/"))
    assert "待审核" in overview
    first, second = created[:2]
    page = text(client.get(f"/console/tips/broadcasts/{first}"))
    assert "同意并排期发送" in page and "不采用此建议" in page and "季节日历建议" in page
    send_at = (datetime.now(LOCAL_TZ) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    approved = console_post(client, f"/console/tips/broadcasts/{first}/schedule", data={"send_at": send_at})
    assert approved.status_code == 302
    assert db_session.get(TipBroadcast, first).status is BroadcastStatus.SCHEDULED
    declined = console_post(client, f"/console/tips/broadcasts/{second}/cancel", data={"note": "本月已线下通知"})
    assert "推送已取消" in text(client.get(declined.headers["Location"]))
    assert db_session.get(TipBroadcast, second).status is BroadcastStatus.CANCELLED
    refused = console_post(client, f"/console/tips/broadcasts/{second}/schedule", data={"send_at": send_at})
    assert "不能执行「审核排期」" in text(client.get(refused.headers["Location"]))


def test_counts_and_the_single_reminder(client, db_session, scene):
    broadcast = scene.released(scene.tip.id)
    h5_login(client, scene.worker)
    client.post(f"/h5/tips/{scene.tip.id}/acknowledge")
    console_login(client, scene.admin)
    page = text(client.get(f"/console/tips/broadcasts/{broadcast.id}"))
    numbers = dict(re.findall(r'<span class="muted">([^<]+)</span><b>(\d+)</b>', page))
    assert numbers["接收人数"] == "3" and numbers["已阅读"] == "1" and numbers["已确认知晓"] == "1"
    assert numbers["待发送"] == "3" and numbers["已提醒"] == "0"
    first = console_post(client, f"/console/tips/broadcasts/{broadcast.id}/remind")
    assert "已向 2 名未确认人员发送提醒" in text(client.get(first.headers["Location"]))
    second = console_post(client, f"/console/tips/broadcasts/{broadcast.id}/remind")
    assert "没有需要提醒的人员" in text(client.get(second.headers["Location"]))
    reminders = db_session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith("tip-reminder:"))
    )
    assert reminders == 2
    overview = text(client.get("/console/tips/"))
    assert "已发送" in overview and scene.tip.title in overview
