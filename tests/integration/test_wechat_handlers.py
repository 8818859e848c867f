"""Each callback handler's reply and effect, dispatched by the real router on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.domain import INVITE_EXPIRED, Role
from app.accounts.models import Invite, Membership, User
from app.accounts.service import create_invite
from app.wechat import records
from app.wechat.parsing import parse_inbound
from app.wechat_inbound.handlers import NOT_BOUND, UNKNOWN_CODE, WELCOME, router
from app.wechat_inbound.router import HandlerContext, Outcome
from tests.fixtures.builders import NOW

BASE = "http://ancha.test"
STRANGER = "oSTRANGER0000000000000000000"


def xml(openid: str, msg_type: str, body: str = "", **fields: str) -> str:
    base = {"ToUserName": "gh_ancha", "FromUserName": openid, "CreateTime": "1764295200", "MsgType": msg_type}
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in {**base, **fields}.items())
    return f"<xml>{inner}{body}</xml>"


@pytest.fixture
def send(db_session, redis):
    def _send(openid: str, msg_type: str, body: str = "", **fields: str) -> Outcome:
        inbound = parse_inbound(xml(openid, msg_type, body, **fields))
        ctx = HandlerContext(open_session=lambda: db_session, redis=redis, now=NOW, base_url=BASE, inbound=inbound)
        outcome = router.dispatch(ctx)
        db_session.flush()
        return outcome

    return _send


@pytest.fixture
def plant(build):
    """An enterprise with a site, a bound worker and an outsider bound elsewhere."""
    enterprise = build.enterprise(name="安查测试机械有限公司")
    site = build.site(enterprise, name="冲压车间")
    worker = build.member(enterprise, Role.WORKER)
    outsider = build.member(build.enterprise(), Role.WORKER)
    return enterprise, site, worker, outsider


def invite_for(build, db_session, enterprise, ttl=timedelta(days=1)):
    admin = build.member(enterprise, Role.ENTERPRISE_ADMIN)
    newcomer = build.member(enterprise, Role.TEAM_LEADER, user=build.user(openid=None, subscribed=False),
                            team_id=build.team(build.department(enterprise)).id)
    membership = db_session.scalar(select(Membership).where(Membership.user_id == newcomer.id))
    return create_invite(db_session, build.actor(admin), NOW, membership.id, ttl=ttl), newcomer


# --- follow / unfollow -------------------------------------------------------------------


def test_plain_follow_of_a_stranger_explains_binding(send):
    outcome = send(STRANGER, "event", Event="subscribe")
    assert outcome.reply.startswith(WELCOME) and NOT_BOUND in outcome.reply and not outcome.failed


def test_refollow_of_a_bound_user_marks_them_subscribed(send, plant, db_session):
    worker = plant[2]
    worker.subscribed = False
    outcome = send(worker.openid, "event", Event="subscribe")
    assert "欢迎回来" in outcome.reply and worker.display_name in outcome.reply
    assert worker.subscribed is True


def test_unsubscribe_keeps_the_user_and_their_memberships(send, plant, db_session):
    worker = plant[2]
    outcome = send(worker.openid, "event", Event="unsubscribe")
    assert outcome == Outcome(None)
    db_session.expire_all()
    user = db_session.get(User, worker.id)
    assert user.subscribed is False and user.openid == worker.openid
    assert db_session.scalar(select(Membership).where(Membership.user_id == worker.id)) is not None


def test_unsubscribe_of_a_stranger_stores_nothing(send, db_session):
    assert send(STRANGER, "event", Event="unsubscribe") == Outcome(None)
    assert db_session.scalar(select(User).where(User.openid == STRANGER)) is None


# --- site scans ----------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["SCAN", "subscribe"])
def test_member_scanning_a_site_gets_the_check_link(send, plant, event):
    enterprise, site, worker, _ = plant
    key = f"site:{site.token}" if event == "SCAN" else f"qrscene_site:{site.token}"
    outcome = send(worker.openid, "event", Event=event, EventKey=key, Ticket="t")
    assert f'href="{BASE}/h5/scan/{site.token}"' in outcome.reply
    assert enterprise.name in outcome.reply and site.name in outcome.reply
    assert outcome.reply.startswith(WELCOME) == (event == "subscribe")


def test_unbound_user_scanning_a_site_is_told_how_to_get_invited(send, plant):
    site = plant[1]
    outcome = send(STRANGER, "event", Event="SCAN", EventKey=f"site:{site.token}")
    assert outcome.reply == NOT_BOUND and "邀请二维码" in NOT_BOUND and "管理员" in NOT_BOUND


def test_member_of_another_enterprise_gets_no_link(send, plant):
    site, outsider = plant[1], plant[3]
    outcome = send(outsider.openid, "event", Event="SCAN", EventKey=f"site:{site.token}")
    assert "不是该企业" in outcome.reply and "/h5/scan/" not in outcome.reply


def test_unknown_or_revoked_site_token(send, plant):
    site, worker = plant[1], plant[2]
    unknown = send(worker.openid, "event", Event="SCAN", EventKey="site:doesnotexist0000000")
    assert "二维码无效或已停用" in unknown.reply and unknown.failed
    site.active = False
    revoked = send(worker.openid, "event", Event="SCAN", EventKey=f"site:{site.token}")
    assert f"排查点位“{site.name}”已停用" in revoked.reply


def test_foreign_scene_is_not_understood(send, plant):
    outcome = send(plant[2].openid, "event", Event="SCAN", EventKey="123456")
    assert outcome.reply == UNKNOWN_CODE


def test_following_through_a_revoked_site_still_records_the_follow(send, plant, db_session):
    site, worker = plant[1], plant[2]
    worker.subscribed = False
    site.active = False
    outcome = send(worker.openid, "event", Event="subscribe", EventKey=f"qrscene_site:{site.token}", Ticket="t")
    assert outcome.reply.startswith(WELCOME) and f"排查点位“{site.name}”已停用" in outcome.reply
    assert not outcome.failed and worker.subscribed is True


@pytest.mark.parametrize("event", ["scancode_waitmsg", "scancode_push"])
def test_menu_scan_of_a_printed_site_url(send, plant, event):
    site, worker = plant[1], plant[2]
    info = f"<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>{BASE}/h5/scan/{site.token}</ScanResult></ScanCodeInfo>"
    outcome = send(worker.openid, "event", info, Event=event, EventKey="SCAN_CHECK")
    assert f"{BASE}/h5/scan/{site.token}" in outcome.reply


def test_menu_scan_of_a_posters_wechat_code(send, plant):
    site, worker = plant[1], plant[2]
    site.wx_qr_url = "http://weixin.qq.com/q/02abcDEFghiJK10000w03C"
    info = f"<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>{site.wx_qr_url}</ScanResult></ScanCodeInfo>"
    outcome = send(worker.openid, "event", info, Event="scancode_waitmsg", EventKey="SCAN_CHECK")
    assert f"{BASE}/h5/scan/{site.token}" in outcome.reply


def test_menu_scan_of_an_invite_qr(send, build, db_session, plant, redis):
    from app.wechat.qrcodes import temporary_qr_url
    from tests.fixtures.fake_wechat_api import FakeWeChatClient

    invite, newcomer = invite_for(build, db_session, plant[0])
    url = temporary_qr_url(FakeWeChatClient(), redis, f"bind:{invite.token}", invite.expires_at, NOW)
    info = f"<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>{url}</ScanResult></ScanCodeInfo>"
    outcome = send(STRANGER, "event", info, Event="scancode_waitmsg", EventKey="SCAN_CHECK")
    assert "绑定成功" in outcome.reply


def test_menu_scan_of_a_barcode(send, plant):
    info = "<ScanCodeInfo><ScanType>barcode</ScanType><ScanResult>EAN_13,6901234567892</ScanResult></ScanCodeInfo>"
    outcome = send(plant[2].openid, "event", info, Event="scancode_waitmsg", EventKey="SCAN_CHECK")
    assert outcome.reply == UNKNOWN_CODE


# --- binding -------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["SCAN", "subscribe"])
def test_scanning_an_invite_binds(send, build, db_session, plant, event):
    enterprise = plant[0]
    invite, newcomer = invite_for(build, db_session, enterprise)
    key = f"bind:{invite.token}" if event == "SCAN" else f"qrscene_bind:{invite.token}"
    outcome = send(STRANGER, "event", Event=event, EventKey=key, Ticket="t")
    assert "绑定成功" in outcome.reply and enterprise.name in outcome.reply and "班组长" in outcome.reply
    assert f"{BASE}/h5/me" in outcome.reply
    db_session.expire_all()
    assert db_session.get(User, newcomer.id).openid == STRANGER


def test_expired_invite_scan_explains_and_binds_nothing(send, build, db_session, plant):
    invite, newcomer = invite_for(build, db_session, plant[0], ttl=timedelta(minutes=5))
    invite.expires_at = NOW - timedelta(seconds=1)
    outcome = send(STRANGER, "event", Event="SCAN", EventKey=f"bind:{invite.token}")
    assert outcome.reply == INVITE_EXPIRED and outcome.failed
    assert db_session.get(Invite, invite.id).used_at is None


def test_already_bound_user_scanning_someone_elses_invite_is_refused(send, build, db_session, plant):
    invite, newcomer = invite_for(build, db_session, plant[0])
    worker = plant[2]
    outcome = send(worker.openid, "event", Event="SCAN", EventKey=f"bind:{invite.token}")
    assert worker.display_name in outcome.reply and "不能再绑定" in outcome.reply and outcome.failed


# --- menu and text -------------------------------------------------------------------------


def test_menu_clicks(send, plant):
    worker = plant[2]
    tasks = send(worker.openid, "event", Event="CLICK", EventKey="MY_TASKS").reply
    assert f"{BASE}/h5/tasks" in tasks
    report = send(worker.openid, "event", Event="CLICK", EventKey="REPORT_HAZARD").reply
    assert "随手拍" in report and f"{BASE}/h5/report" in report
    tips = send(worker.openid, "event", Event="CLICK", EventKey="TIPS").reply
    assert "安全提示" in tips and f"{BASE}/h5/tips" in tips
    help_ = send(worker.openid, "event", Event="CLICK", EventKey="HELP").reply
    assert "使用说明" in help_ and f"{BASE}/h5/me" in help_
    unknown = send(worker.openid, "event", Event="CLICK", EventKey="SOMETHING_NEW").reply
    assert unknown == help_


def test_member_menus_ask_strangers_to_bind(send):
    assert send(STRANGER, "event", Event="CLICK", EventKey="MY_TASKS").reply == NOT_BOUND
    assert send(STRANGER, "event", Event="CLICK", EventKey="REPORT_HAZARD").reply == NOT_BOUND
    assert "安全提示" in send(STRANGER, "event", Event="CLICK", EventKey="TIPS").reply


def test_inactive_account_is_told_so(send, plant):
    worker = plant[2]
    worker.is_active = False
    assert "停用" in send(worker.openid, "event", Event="CLICK", EventKey="MY_TASKS").reply


@pytest.mark.parametrize("event", ["VIEW", "pic_photo_or_album", "pic_sysphoto", "location_select"])
def test_menus_acting_elsewhere_answer_success(send, plant, event):
    assert send(plant[2].openid, "event", Event=event, EventKey=f"{BASE}/h5/me") == Outcome(None)


@pytest.mark.parametrize(
    ("command", "expected"),
    [("帮助", "使用说明"), ("任务", "/h5/tasks"), ("隐患", "随手拍"), ("提示", "安全提示"), (" HELP ", "使用说明")],
)
def test_text_commands(send, plant, command, expected):
    assert expected in send(plant[2].openid, "text", Content=command, MsgId="1").reply


def test_other_text_gets_a_helpful_default(send, plant):
    reply = send(plant[2].openid, "text", Content="今天天气不错", MsgId="2").reply
    assert "帮助" in reply and "任务" in reply and "隐患" in reply and "提示" in reply


def test_photo_starts_a_hazard_report(send, plant):
    reply = send(plant[2].openid, "image", PicUrl="http://mmbiz/x.jpg", MediaId="m/1+2", MsgId="3").reply
    assert "随手拍" in reply and f'href="{BASE}/h5/report?media_id=m%2F1%2B2"' in reply


def test_photo_from_a_stranger_asks_to_bind(send):
    assert send(STRANGER, "image", PicUrl="http://mmbiz/x.jpg", MediaId="m1", MsgId="4").reply == NOT_BOUND


# --- silent events -------------------------------------------------------------------------


def test_location_is_kept_on_the_user(send, plant, db_session):
    worker = plant[2]
    outcome = send(worker.openid, "event", Event="LOCATION", Latitude="34.7466", Longitude="113.6253", Precision="30")
    assert outcome == Outcome(None)
    db_session.expire_all()
    user = db_session.get(User, worker.id)
    assert (user.last_latitude, user.last_longitude, user.last_location_at) == (34.7466, 113.6253, NOW)


@pytest.mark.parametrize(("lat", "lng"), [("abc", "1"), ("nan", "1"), ("91", "10"), ("10", "-181")])
def test_unusable_location_changes_nothing(send, plant, db_session, lat, lng):
    worker = plant[2]
    send(worker.openid, "event", Event="LOCATION", Latitude=lat, Longitude=lng, Precision="30")
    db_session.expire_all()
    assert db_session.get(User, worker.id).last_latitude is None


def test_template_job_status_is_recorded(send, redis):
    outcome = send(STRANGER, "event", "<MsgID>200163836</MsgID><Status>failed:user block</Status>",
                   Event="TEMPLATESENDJOBFINISH")
    assert outcome == Outcome(None)
    assert records.template_job(redis, "200163836") == {
        "status": "failed:user block", "openid": STRANGER, "at": NOW.isoformat()
    }


def test_subscription_choices_are_recorded(send, redis):
    popup = (
        "<SubscribeMsgPopupEvent>"
        "<List><TemplateId>tpl-a</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "<List><TemplateId>tpl-b</TemplateId><SubscribeStatusString>reject</SubscribeStatusString><PopupScene>2</PopupScene></List>"
        "</SubscribeMsgPopupEvent>"
    )
    assert send(STRANGER, "event", popup, Event="subscribe_msg_popup_event") == Outcome(None)
    change = (
        "<SubscribeMsgChangeEvent><List><TemplateId>tpl-a</TemplateId>"
        "<SubscribeStatusString>reject</SubscribeStatusString></List></SubscribeMsgChangeEvent>"
    )
    send(STRANGER, "event", change, Event="subscribe_msg_change_event")
    choices = records.subscription_choices(redis, STRANGER)
    assert {k: v["status"] for k, v in choices.items()} == {"tpl-a": "reject", "tpl-b": "reject"}
    sent = (
        "<SubscribeMsgSentEvent><List><TemplateId>tpl-a</TemplateId><MsgID>1700827132819554304</MsgID>"
        "<ErrorCode>43101</ErrorCode><ErrorStatus>failed:user refuse</ErrorStatus></List></SubscribeMsgSentEvent>"
    )
    send(STRANGER, "event", sent, Event="subscribe_msg_sent_event")
    assert records.subscription_sent(redis, "1700827132819554304")["error_code"] == "43101"
