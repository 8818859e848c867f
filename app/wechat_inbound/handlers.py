"""The callback's handlers: thin adapters from WeChat messages to account/enterprise use cases.

Each returns the Chinese reply text, or None for the literal `success` (nothing to say).
They flush through services and never commit; the callback view owns the transaction.
Exceptions are turned into replies by `Router.dispatch`.
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from app.accounts import queries as account_queries
from app.accounts import service as account_service
from app.accounts.domain import ROLE_LABELS
from app.accounts.models import User
from app.enterprises.models import Site
from app.errors import DomainError, PermissionDenied
from app.notifications.service import record_template_result
from app.tips.mass import record_mass_result
from app.wechat import records
from app.wechat.mass import remember_mass_report
from app.wechat.menu import MenuKey
from app.wechat.qrcodes import scene_of_temporary_qr
from app.wechat_inbound import lookups
from app.wechat_inbound.router import HandlerContext, Router
from app.wechat_inbound.scenes import Scene, SceneKind, parse_scene, scene_from_scan_result

log = logging.getLogger(__name__)

router = Router()

# H5 pages the replies link to (the same paths the menu uses).
H5_ME = "/h5/me"
H5_TASKS = "/h5/tasks"
H5_HAZARDS = "/h5/hazards"
H5_REPORT = "/h5/report"
H5_TIPS = "/h5/tips"

WELCOME = "欢迎关注安查！本号用于企业安全隐患排查。"
NOT_BOUND = (
    "您还没有绑定企业身份。\n"
    "请联系本企业的管理员，在安查管理后台为您生成“邀请二维码”，用微信扫一扫即可完成绑定。"
)
ACCOUNT_DISABLED = "您的账号已停用，如有疑问请联系企业管理员。"
UNKNOWN_CODE = "无法识别该二维码。请扫描企业现场张贴的安查点位二维码，或管理员发给您的邀请二维码。"
COMMANDS_HINT = "回复“帮助”查看使用说明，“任务”查看排查任务，“隐患”上报或查看隐患，“提示”查看安全提示。"


def _link(ctx: HandlerContext, path: str, label: str) -> str:
    return f'<a href="{ctx.link(path)}">{label}</a>'


def _active_user(ctx: HandlerContext) -> User:
    """The active user bound to the sender. Raises PermissionDenied whose message tells an
    unbound sender how to get invited (the router replies with it)."""
    user = account_queries.user_by_openid(ctx.session, ctx.openid)
    if user is None:
        raise PermissionDenied(NOT_BOUND)
    if not user.is_active:
        raise PermissionDenied(ACCOUNT_DISABLED)
    return user


def help_text(ctx: HandlerContext) -> str:
    """The usage text. Every menu place it names ("排查 › 我的任务") is a button of
    app.wechat.menu.default_menu (tests/unit/test_menu.py holds the two together)."""
    return (
        "安查使用说明：\n"
        "1. 排查：扫描现场张贴的点位二维码（或菜单“排查 › 扫码排查”），按清单逐项检查并提交；"
        f"待办在菜单“排查 › 我的任务”（{_link(ctx, H5_TASKS, '我的任务')}）。\n"
        "2. 随手拍：发现隐患，直接发送照片给本号，或点菜单“隐患 › 随手拍”，再补充说明即可上报；"
        f"进度在菜单“隐患 › 我的隐患”（{_link(ctx, H5_HAZARDS, '我的隐患')}）。\n"
        f"3. 我的：菜单“我的”下有“安全提示”“个人信息”（{_link(ctx, H5_ME, '个人信息')}）和“使用帮助”。\n"
        "首次使用请先扫描企业管理员提供的邀请二维码绑定身份。"
    )


# --- QR scenes ---------------------------------------------------------------------------


def _site_reply(ctx: HandlerContext, token: str) -> str:
    site = lookups.site_for_scan(ctx, token)  # NotFound: "二维码无效或已停用…"
    user_id, active, is_member = lookups.scanner_standing(ctx, site.enterprise_id)
    if user_id is None:
        raise PermissionDenied(NOT_BOUND)
    if not active:
        raise PermissionDenied(ACCOUNT_DISABLED)
    if not is_member:
        return "您不是该企业的在册人员，不能在此点位排查。如您已入职，请联系企业管理员为您生成邀请二维码。"
    return (
        f"您已扫描「{site.enterprise_name}」的点位「{site.name}」。\n"
        f"{_link(ctx, f'/h5/scan/{token}', '点此开始排查')}"
    )


def _bind_reply(ctx: HandlerContext, token: str) -> str:
    membership = account_service.redeem_invite(ctx.session, ctx.now, token, ctx.openid)
    role = ROLE_LABELS.get(membership.role, str(membership.role))
    return (
        f"绑定成功！您已作为「{membership.enterprise.name}」的{role}使用安查。\n"
        f"{_link(ctx, H5_ME, '查看我的信息')}\n{COMMANDS_HINT}"
    )


def scene_reply(ctx: HandlerContext, scene: Scene | None) -> str:
    """The reply to a scanned code: a site's check link, a binding, or why neither."""
    if scene is None:
        return UNKNOWN_CODE
    if scene.kind is SceneKind.SITE:
        return _site_reply(ctx, scene.token)
    return _bind_reply(ctx, scene.token)


# --- follow / unfollow / scan ------------------------------------------------------------


@router.event("subscribe")
def on_subscribe(ctx: HandlerContext, message: Any) -> str:
    """A plain follow: welcome, and say how to get bound."""
    user = account_service.set_subscribed(ctx.session, ctx.openid, True)
    if user is None:
        return f"{WELCOME}\n{NOT_BOUND}\n{COMMANDS_HINT}"
    return f"欢迎回来，{user.display_name}！\n{COMMANDS_HINT}"


@router.event("subscribe_scan")
def on_subscribe_scan(ctx: HandlerContext, message: Any) -> str:
    """A follow through a parametric QR (EventKey `qrscene_<scene>`; wechatpy strips the
    prefix): the scene is handled like SCAN, after the welcome."""
    account_service.set_subscribed(ctx.session, ctx.openid, True)
    try:
        # Savepoint: a refused scene (revoked site, expired invite) is undone on its own
        # and must not lose the follow recorded above.
        with ctx.session.begin_nested():
            scene_text = scene_reply(ctx, parse_scene(message.scene_id))
    except DomainError as exc:
        scene_text = exc.message
    return f"{WELCOME}\n{scene_text}"


@router.event("unsubscribe")
def on_unsubscribe(ctx: HandlerContext, message: Any) -> None:
    """Stop pushing to the user; their records and binding are kept."""
    account_service.set_subscribed(ctx.session, ctx.openid, False)
    return None


@router.event("scan")
def on_scan(ctx: HandlerContext, message: Any) -> str:
    """An existing follower scanned a parametric QR."""
    return scene_reply(ctx, parse_scene(message.scene_id))


@router.event("scancode_push", "scancode_waitmsg")
def on_menu_scan(ctx: HandlerContext, message: Any) -> str:
    """The menu's scanner: a site URL or one of our scenes is treated like SCAN."""
    info = ctx.inbound.fields.get("ScanCodeInfo")
    result = info.get("ScanResult") if isinstance(info, dict) else None
    result = result.strip() if isinstance(result, str) else None
    scene = scene_from_scan_result(result)
    if scene is None and result:
        # Parametric QRs carry WeChat's own URL (http://weixin.qq.com/q/…), and the menu's
        # scanner hands us that URL rather than the scene: a poster's code is stored on its
        # site, an invite's temporary code in Redis.
        token = ctx.session.scalar(select(Site.token).where(Site.wx_qr_url == result))
        scene = Scene(SceneKind.SITE, token) if token else parse_scene(scene_of_temporary_qr(ctx.redis, result))
    return scene_reply(ctx, scene)


# --- menu ----------------------------------------------------------------------------------


def _tasks_reply(ctx: HandlerContext) -> str:
    _active_user(ctx)
    return f"{_link(ctx, H5_TASKS, '查看我的排查任务')}\n到现场扫描点位二维码即可开始排查。"


def _hazards_reply(ctx: HandlerContext) -> str:
    _active_user(ctx)
    return (
        "随手拍上报隐患：直接发送现场照片给本号，或点菜单“随手拍”拍照，再补充说明即可。\n"
        f"{_link(ctx, H5_REPORT, '不带照片直接上报')}　{_link(ctx, H5_HAZARDS, '我的隐患')}"
    )


def _tips_reply(ctx: HandlerContext) -> str:
    return (
        "安全提示：作业前检查设备防护装置，检修必须停机、断电、上锁挂牌；"
        "有限空间作业先通风、再检测、后作业。\n"
        f"{_link(ctx, H5_TIPS, '查看更多安全提示')}"
    )


@router.click(MenuKey.MY_TASKS.value)
def on_click_tasks(ctx: HandlerContext, message: Any) -> str:
    return _tasks_reply(ctx)


@router.click(MenuKey.REPORT_HAZARD.value)
def on_click_report(ctx: HandlerContext, message: Any) -> str:
    return _hazards_reply(ctx)


@router.click(MenuKey.TIPS.value)
def on_click_tips(ctx: HandlerContext, message: Any) -> str:
    return _tips_reply(ctx)


@router.click(MenuKey.HELP.value)
@router.event("click")
def on_click_help(ctx: HandlerContext, message: Any) -> str:
    """HELP, and any menu key this version does not know (a menu newer than the code)."""
    return help_text(ctx)


@router.event("view", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select")
def on_silent_menu(ctx: HandlerContext, message: Any) -> None:
    """Menus whose effect happens elsewhere: VIEW opens the page itself, photo menus send the
    photo as a separate image message, which gets the reply; a reply here would be noise."""
    return None


# --- messages ------------------------------------------------------------------------------


@router.command("帮助", "help", "?", "？", "菜单")
def on_help(ctx: HandlerContext, message: Any) -> str:
    return help_text(ctx)


@router.command("任务", "排查", "我的任务")
def on_tasks(ctx: HandlerContext, message: Any) -> str:
    return _tasks_reply(ctx)


@router.command("隐患", "随手拍", "上报")
def on_hazards(ctx: HandlerContext, message: Any) -> str:
    return _hazards_reply(ctx)


@router.command("提示", "安全提示")
def on_tips(ctx: HandlerContext, message: Any) -> str:
    return _tips_reply(ctx)


@router.message("text")
def on_text(ctx: HandlerContext, message: Any) -> str:
    """Free text: point to what the account can do."""
    return f"您好，这里是安查。\n{COMMANDS_HINT}"


@router.message("image")
def on_image(ctx: HandlerContext, message: Any) -> str:
    """A photo starts a 随手拍 hazard report, completed on the H5 form (the media_id lives
    3 days on WeChat's side, so the form downloads it when submitted)."""
    _active_user(ctx)
    media_id = message.media_id or ""
    if not media_id:
        return "没有收到照片，请重新发送。"
    form = f"{H5_REPORT}?media_id={quote(media_id, safe='')}"
    return (
        "已收到照片，随手拍隐患上报已开始。\n"
        f"{_link(ctx, form, '点此补充隐患描述并提交')}\n"
        "照片在微信服务器只保留 3 天，请尽快提交。"
    )


@router.message("voice", "video", "shortvideo", "location", "link")
def on_other_message(ctx: HandlerContext, message: Any) -> str:
    return f"暂不支持此类消息。\n{COMMANDS_HINT}"


# --- silent events -------------------------------------------------------------------------


def _coordinate(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@router.event("location")
def on_location(ctx: HandlerContext, message: Any) -> None:
    """Keep the user's last reported position (WeChat expects no reply to LOCATION)."""
    latitude = _coordinate(ctx.inbound.fields.get("Latitude"))
    longitude = _coordinate(ctx.inbound.fields.get("Longitude"))
    if latitude is None or longitude is None:
        log.warning("LOCATION event without usable coordinates ignored")
        return None
    account_service.record_location(ctx.session, ctx.now, ctx.openid, latitude, longitude)
    return None


@router.event("templatesendjobfinish")
def on_template_job_finished(ctx: HandlerContext, message: Any) -> None:
    """Record a template message's final delivery status for the notifications outbox."""
    fields = ctx.inbound.fields
    msg_id, status = fields.get("MsgID"), fields.get("Status")
    if not isinstance(msg_id, str) or not isinstance(status, str):
        log.warning("TEMPLATESENDJOBFINISH without MsgID/Status ignored")
        return None
    log.info("template message %s finished: %s", msg_id, status)
    # Redis first: a report that beats the dispatcher's commit is picked up by it from there.
    records.record_template_job(ctx.redis, msg_id.strip(), status.strip(), ctx.openid, ctx.now)
    record_template_result(ctx.session, msg_id, status, ctx.now)
    return None


@router.event("masssendjobfinish")
def on_mass_job_finished(ctx: HandlerContext, message: Any) -> None:
    """A mass message (a general safety tip sent to a town's tag) finished: keep WeChat's
    totals (sent / failed) on the broadcast's mass send."""
    fields = ctx.inbound.fields
    if not isinstance(fields.get("MsgID"), str) or not isinstance(fields.get("Status"), str):
        log.warning("MASSSENDJOBFINISH without MsgID/Status ignored")
        return None
    # Redis first: a report that beats the send job's commit is picked up by its next run.
    remember_mass_report(ctx.redis, dict(fields))
    if not record_mass_result(ctx.session, dict(fields), ctx.now):
        log.info("MASSSENDJOBFINISH for unknown or finished mass send %s ignored", fields.get("MsgID"))
    return None


@router.event("subscribe_msg_popup_event", "subscribe_msg_change_event")
def on_subscription_choice(ctx: HandlerContext, message: Any) -> None:
    """Record the user's accept/reject of each subscription-notification template."""
    for choice in message.choices:
        if choice.status:
            records.record_subscription_choice(
                ctx.redis, ctx.openid, choice.template_id, choice.status, ctx.now, choice.popup_scene
            )
    return None


@router.event("subscribe_msg_sent_event")
def on_subscription_sent(ctx: HandlerContext, message: Any) -> None:
    """Record the delivery result of each subscription message sent."""
    for choice in message.choices:
        if choice.msg_id:
            records.record_subscription_sent(
                ctx.redis,
                choice.msg_id,
                ctx.openid,
                choice.template_id,
                choice.error_code,
                choice.error_status,
                ctx.now,
            )
    return None
