"""The WeChat simulator (sandbox only): `GET /sandbox/` and the endpoints behind it.

A phone-shaped page plays one virtual WeChat user talking to the account. Whatever the
person does there becomes what WeChat itself would send: `POST /sandbox/api/send` builds
the callback XML (ToUserName = the account's original id, FromUserName = the openid,
CreateTime, MsgType, Event / EventKey / Ticket, MsgId), signs it with the account token,
encrypts it in safe mode when an EncodingAESKey is configured, and posts it to the
production `/wechat/callback` through the app, in-process. The passive reply is decrypted,
logged in the sandbox message log (kind `passive_reply`; the literal `success` is not a
message and is not logged) and returned. The page shows it together with the
customer-service, template and mass messages of the same log.

QR codes are scanned the way WeChat resolves them: a site's permanent parametric QR
(obtained for the site like `qr posters` does when it has none), an invite's temporary QR
(the same one the console shows), or any `http://weixin.qq.com/q/…` URL the fake API issued.

H5 links open in an in-phone webview as the current virtual user: `/sandbox/open` forgets
another user's H5 session and leaves the openid in a sandbox-only cookie that the fake
authorize page honours, so the page signs in through the real OAuth path.

Routes: `GET /sandbox/` (the page), `POST /sandbox/api/send`, `GET /sandbox/api/contacts`
(virtual users with the person bound to each openid), `GET /sandbox/api/codes` (QR codes to
scan), `POST /sandbox/api/media` + `GET /sandbox/api/media/<id>` (photos), `GET
/sandbox/open?openid=&url=`. Registered only while the sandbox is on.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.domain import BUREAU_ROLE_LABELS, INVITE_SCENE_PREFIX, ROLE_LABELS
from app.accounts.h5_login import SESSION_OPENID, SESSION_PENDING, SESSION_USER_ID
from app.accounts.models import BureauMembership, Invite, Membership, User
from app.clock import to_local, utcnow
from app.enterprises.domain import site_scene
from app.enterprises.models import Site
from app.enterprises.queries import site_with_token
from app.enterprises.site_codes import ensure_site_wechat_qr
from app.extensions import db, redis_client
from app.notifications.kinds import KINDS
from app.sandbox.api import MEDIA_LIMITS
from app.sandbox.authorize import SIMULATOR_OPENID_COOKIE
from app.sandbox.store import OPENID_RE, SandboxStore, sandbox_store
from app.wechat.client import WeChatAPIError, get_wechat_client
from app.wechat.crypto import CallbackAuthError, MessageCrypto, sign
from app.wechat.menu import default_menu
from app.wechat.parsing import InboundError, parse_xml
from app.wechat.qrcodes import WeChatQrUnavailable, temporary_qr_url
from app.wechat.transport import WSGITransport
from app.wechat_inbound.scenes import SITE_SCENE_PREFIX
from config import Settings

log = logging.getLogger(__name__)

bp = Blueprint("sandbox_simulator", __name__, url_prefix="/sandbox")

ACCOUNT_NAME = "安查"
CALLBACK_PATH = "/wechat/callback"
# WeChat waits 5 s for the server's answer, then shows the user this line (docs/WECHAT.md §1.3).
CALLBACK_TIMEOUT_SECONDS = 5.0
SERVICE_UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"
MAX_TEXT_CHARS = 2000
MAX_LISTED_SITES = 300
MAX_LISTED_INVITES = 50
LOOKUP_CHUNK = 500
MENU_SCAN_EVENTS = frozenset({"scancode_push", "scancode_waitmsg"})
MENU_PHOTO_EVENTS = frozenset({"pic_sysphoto", "pic_photo_or_album", "pic_weixin"})
SEND_TYPES = frozenset(
    {"text", "image", "subscribe", "unsubscribe", "scan", "click", "view"} | MENU_SCAN_EVENTS | MENU_PHOTO_EVENTS
)
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


class SimulatorError(Exception):
    """A request the simulator refuses; answered as JSON {error, message} with `status`."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


@bp.errorhandler(SimulatorError)
def _simulator_error(exc: SimulatorError) -> tuple[Response, int]:
    return jsonify({"error": exc.error, "message": exc.message}), exc.status


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def original_id(app_id: str) -> str:
    """The account's original id (原始 ID, `gh_` + 12 hex), WeChat's ToUserName. The sandbox
    account has none, so one is derived from the AppID: stable, and unique per AppID."""
    return "gh_" + hashlib.sha1(app_id.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


@bp.get("/")
def simulator():
    """The phone: contacts, the chat with the account, its menu, scanner and webview."""
    settings = _settings()
    pushed = sandbox_store().get_menu()
    config = {
        "account": {"name": ACCOUNT_NAME, "original_id": original_id(settings.wechat_app_id)},
        "public_base_url": settings.PUBLIC_BASE_URL,
        "menu": pushed or default_menu(settings.PUBLIC_BASE_URL),
        "menu_source": "pushed" if pushed else "default",
        "safe_mode": bool(settings.WECHAT_ENCODING_AES_KEY),
        "templates": template_catalog(settings),
        "urls": {
            "users": url_for("sandbox_api.create_user"),
            "contacts": url_for("sandbox_simulator.contacts"),
            "codes": url_for("sandbox_simulator.codes"),
            "send": url_for("sandbox_simulator.send"),
            "media": url_for("sandbox_simulator.upload_media"),
            "messages": url_for("sandbox_api.list_messages"),
            "open": url_for("sandbox_simulator.open_as_user"),
        },
    }
    return render_template("sandbox/simulator.html", config=config, account_name=ACCOUNT_NAME)


def template_catalog(settings: Settings) -> dict[str, dict[str, Any]]:
    """What WeChat shows of each template the service uses, by template id: its title and
    the label of each keyword (WeChat takes both from the template, the message carries
    only values). A template shared by a family of kinds has no single title (None)."""
    catalog: dict[str, dict[str, Any]] = {}
    for kind in KINDS.values():
        template_id = settings.wechat_template_id(kind.name, kind.family.value)
        if not template_id:
            continue
        entry = catalog.setdefault(template_id, {"titles": set(), "labels": {}})
        entry["titles"].add(kind.title)
        entry["labels"].update({field.key: field.label for field in kind.fields})
    return {
        template_id: {
            "title": next(iter(entry["titles"])) if len(entry["titles"]) == 1 else None,
            "labels": entry["labels"],
        }
        for template_id, entry in catalog.items()
    }


# ---------------------------------------------------------------------------------------
# What the phone lists: virtual users with their binding, QR codes to scan
# ---------------------------------------------------------------------------------------


@bp.get("/api/contacts")
def contacts():
    """Every virtual user with the person bound to the openid (name, enterprises, roles)."""
    users = sandbox_store().list_users()
    people = _people_by_openid([u["openid"] for u in users])
    return jsonify({"users": [{**u, "person": people.get(u["openid"])} for u in users]})


def _people_by_openid(openids: list[str]) -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    # In chunks: a sandbox filled by the benchmarks holds thousands of virtual users, more
    # than SQLite accepts as bound parameters in one statement.
    for start in range(0, len(openids), LOOKUP_CHUNK):
        people.update(_people_chunk(openids[start : start + LOOKUP_CHUNK]))
    return people


def _people_chunk(openids: list[str]) -> dict[str, dict[str, Any]]:
    users = db.session.scalars(
        select(User)
        .where(User.openid.in_(openids))
        .options(
            selectinload(User.memberships).selectinload(Membership.enterprise),
            selectinload(User.memberships).selectinload(Membership.department),
            selectinload(User.memberships).selectinload(Membership.team),
        )
    ).all()
    bureau = {
        b.user_id: BUREAU_ROLE_LABELS[b.role]
        for b in db.session.scalars(
            select(BureauMembership).where(BureauMembership.user_id.in_([u.id for u in users]))
        )
    }
    people = {}
    for user in users:
        memberships = sorted((m for m in user.memberships if m.active), key=lambda m: (m.enterprise_id, m.id))
        people[user.openid] = {
            "name": user.display_name,
            "active": user.is_active,
            "bureau_role_label": bureau.get(user.id),
            "memberships": [
                {
                    "enterprise": m.enterprise.name,
                    "role": m.role.value,
                    "role_label": ROLE_LABELS[m.role],
                    "department": m.department.name if m.department else None,
                    "team": m.team.name if m.team else None,
                }
                for m in memberships
            ],
        }
    return people


@bp.get("/api/codes")
def codes():
    """The QR codes a person can hold in front of the scanner: active sites (scene
    `site:<token>`) and invites that are neither used nor expired (scene `bind:<token>`)."""
    now = utcnow()
    sites = db.session.scalars(
        select(Site)
        .where(Site.active.is_(True))
        .options(joinedload(Site.enterprise))
        .order_by(Site.enterprise_id, Site.id)
        .limit(MAX_LISTED_SITES)
    ).all()
    invites = db.session.scalars(
        select(Invite)
        .where(Invite.used_at.is_(None), Invite.expires_at > now)
        .options(
            joinedload(Invite.membership).joinedload(Membership.user),
            joinedload(Invite.membership).joinedload(Membership.enterprise),
        )
        .order_by(Invite.created_at.desc(), Invite.id.desc())
        .limit(MAX_LISTED_INVITES)
    ).all()
    return jsonify(
        {
            "sites": [
                {
                    "scene": site_scene(s.token),
                    "name": s.name,
                    "area": s.area,
                    "enterprise": s.enterprise.name,
                    "has_wechat_qr": bool(s.wx_qr_url),
                }
                for s in sites
            ],
            "invites": [
                {
                    "scene": INVITE_SCENE_PREFIX + i.token,
                    "name": i.membership.user.display_name,
                    "enterprise": i.membership.enterprise.name,
                    "role_label": ROLE_LABELS[i.membership.role],
                    "expires_at": to_local(i.expires_at).strftime("%m-%d %H:%M"),
                }
                for i in invites
            ],
        }
    )


# ---------------------------------------------------------------------------------------
# Photos (what JS-SDK uploadImage / a sent picture puts on WeChat's media store)
# ---------------------------------------------------------------------------------------


@bp.post("/api/media")
def upload_media():
    """Keep an uploaded photo as temporary media: {media_id, url}."""
    upload = request.files.get("media")
    data = upload.read() if upload is not None else b""
    if not data:
        raise SimulatorError(422, "validation_failed", "没有收到图片")
    if len(data) > MEDIA_LIMITS["image"]:
        raise SimulatorError(413, "too_large", "图片不能超过 10 MB")
    content_type = next((ct for magic, ct in _IMAGE_MAGIC if data.startswith(magic)), None)
    if content_type is None:
        raise SimulatorError(422, "validation_failed", "只能发送 JPG、PNG 或 GIF 图片")
    meta = sandbox_store().put_media(
        data, media_type="image", filename=upload.filename or "photo", content_type=content_type
    )
    return jsonify({"media_id": meta["media_id"], "url": _media_url(meta["media_id"])}), 201


@bp.get("/api/media/<media_id>")
def media(media_id: str):
    """The bytes of temporary media: the PicUrl of a sent photo (WeChat serves those from
    its CDN without a token)."""
    found = sandbox_store().get_media(media_id)
    if found is None:
        raise SimulatorError(404, "not_found", "图片不存在或已过期（临时素材保存 3 天）")
    meta, data = found
    response = Response(data, mimetype=meta["content_type"])
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _media_url(media_id: str, *, external: bool = False) -> str:
    return url_for("sandbox_simulator.media", media_id=media_id, _external=external)


# ---------------------------------------------------------------------------------------
# Opening an H5 link as the current virtual user
# ---------------------------------------------------------------------------------------


@bp.get("/open")
def open_as_user():
    """Open `url` (a page of this site) in the webview as `openid`: an H5 session of another
    WeChat user is forgotten, and the openid is left for the fake authorize page, so a page
    that needs a login goes through the real OAuth redirect and comes back as this user."""
    openid = request.args.get("openid", "")
    if not OPENID_RE.match(openid):
        return Response("openid 格式不正确", status=400, mimetype="text/plain")
    target = own_path(request.args.get("url", ""))
    if target is None:
        return Response("模拟器的网页窗口只打开本站页面", status=400, mimetype="text/plain")
    if session.get(SESSION_OPENID) != openid:
        for key in (SESSION_USER_ID, SESSION_OPENID, SESSION_PENDING):
            session.pop(key, None)
    response = redirect(target)
    # A session cookie (gone with the browser) readable only by the authorize page.
    response.set_cookie(
        SIMULATOR_OPENID_COOKIE, openid, path=url_for("sandbox_connect.authorize"), httponly=True, samesite="Lax"
    )
    return response


def own_path(url: str) -> str | None:
    """`url` as a same-site path when it points at this service (a path, or an absolute URL
    on PUBLIC_BASE_URL's or this request's host); None for anything else."""
    url = (url or "").strip()
    if not url or any(ch in url for ch in "\r\n\\"):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        hosts = {urlsplit(_settings().PUBLIC_BASE_URL).netloc, request.host}
        if parts.scheme not in ("http", "https") or parts.netloc not in hosts or parts.username:
            return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------------------------------
# Sending: what WeChat posts to the callback when the user acts
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedCode:
    """A parametric QR as WeChat knows it: its scene (the EventKey), ticket and the URL the
    code encodes (a menu scan's ScanResult)."""

    scene: str
    ticket: str
    content: str


@dataclass(frozen=True)
class Delivery:
    """One callback round trip: the plaintext posted and what came back."""

    xml: str
    status: int | None  # None: no answer within 5 s
    reply: str  # the body, decrypted when it was encrypted
    encrypted: bool
    elapsed_ms: int
    failure: str | None  # what WeChat shows instead of a reply, if anything went wrong
    fields: dict[str, Any] | None  # the parsed reply message (None for success/empty/failure)


@bp.post("/api/send")
def send():
    """Do what the virtual user did in WeChat: {openid, type, …}.

    Types: text {content}; image {media_id}; subscribe {scene | qr optional}; unsubscribe;
    scan {scene | qr} (a follower's SCAN); click {key}; view {url}; scancode_push /
    scancode_waitmsg {key, scan_result | scene | qr}; pic_sysphoto / pic_photo_or_album /
    pic_weixin {key, media_id} (the event, then the photo as an image message).
    Answers {user, exchanges: [{request, status, reply, failure, recorded, elapsed_ms}]}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SimulatorError(422, "validation_failed", "请求体须为 JSON 对象")
    kind = body.get("type")
    if kind not in SEND_TYPES:
        raise SimulatorError(422, "validation_failed", f"type 须为以下之一：{'、'.join(sorted(SEND_TYPES))}")
    store = sandbox_store()
    openid = body.get("openid")
    user = store.get_user(openid) if isinstance(openid, str) and OPENID_RE.match(openid) else None
    if user is None:
        raise SimulatorError(404, "not_found", "虚拟微信用户不存在")
    if kind == "subscribe" and user["subscribed"]:
        raise SimulatorError(409, "already_following", "已经关注了公众号；关注后再扫码会推送 SCAN 事件")
    if kind != "subscribe" and not user["subscribed"]:
        raise SimulatorError(409, "not_following", "请先关注公众号：未关注的用户不能发消息、点菜单，扫描带参数二维码要先点“关注”")

    messages = _inbound_messages(store, openid, kind, body)
    # WeChat changes the follow state first and then tells the server, so the service may
    # already message a new follower (and must not message one who just left).
    if kind in ("subscribe", "unsubscribe"):
        user = store.update_user(openid, subscribed=kind == "subscribe")
    # The scene resolution above may have committed a site's new QR; nothing of this
    # request's session is needed while the callback runs in its own.
    db.session.close()

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    exchanges = []
    for fields in messages:
        logged = store.messages(openid)
        before = logged[-1]["seq"] if logged else 0
        delivery = deliver(app, _settings(), openid, fields)
        recorded = None
        if delivery.fields is not None:
            # The callback logged its reply (app.wechat_inbound.callback.observe_replies).
            replies = [m for m in store.messages(openid, after=before) if m["kind"] == "passive_reply"]
            recorded = replies[-1] if replies else None
        exchanges.append(
            {
                "request": {
                    "msg_type": fields["MsgType"],
                    "event": fields.get("Event"),
                    "xml": delivery.xml,
                    "encrypted": delivery.encrypted,
                },
                "status": delivery.status,
                "reply": delivery.reply,
                "failure": delivery.failure,
                "recorded": recorded,
                "elapsed_ms": delivery.elapsed_ms,
            }
        )
    return jsonify({"user": user, "exchanges": exchanges})


def _inbound_messages(store: SandboxStore, openid: str, kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages WeChat would post for this action, as ordered XML fields (one, or two
    for the photo menus). Raises SimulatorError for bad input."""
    settings = _settings()
    head = {
        "ToUserName": original_id(settings.wechat_app_id),
        "FromUserName": openid,
        "CreateTime": int(time.time()),
    }

    def event(name: str, **extra: Any) -> dict[str, Any]:
        return {**head, "MsgType": "event", "Event": name, **extra}

    if kind == "text":
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise SimulatorError(422, "validation_failed", "不能发送空白消息")
        if len(content) > MAX_TEXT_CHARS:
            raise SimulatorError(422, "validation_failed", f"消息不能超过 {MAX_TEXT_CHARS} 个字")
        return [{**head, "MsgType": "text", "Content": content, "MsgId": store.next_msg_id()}]
    if kind == "image":
        return [_image_message(store, head, _media_id(store, body))]
    if kind == "subscribe":
        code = _scanned_code(store, body, required=False)
        if code is None:
            return [event("subscribe")]
        return [event("subscribe", EventKey=f"qrscene_{code.scene}", Ticket=code.ticket)]
    if kind == "unsubscribe":
        return [event("unsubscribe")]
    if kind == "scan":
        code = _scanned_code(store, body, required=True)
        assert code is not None
        return [event("SCAN", EventKey=code.scene, Ticket=code.ticket)]
    if kind == "click":
        return [event("CLICK", EventKey=_menu_key(body))]
    if kind == "view":
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SimulatorError(422, "validation_failed", "url 须以 http:// 或 https:// 开头")
        return [event("VIEW", EventKey=url)]
    if kind in MENU_SCAN_EVENTS:
        key = _menu_key(body)
        result = body.get("scan_result")
        if result is None:
            code = _scanned_code(store, body, required=True)
            assert code is not None
            result = code.content
        if not isinstance(result, str) or not result.strip():
            raise SimulatorError(422, "validation_failed", "scan_result 不能为空")
        info = {"ScanType": "qrcode", "ScanResult": result}
        return [event(kind, EventKey=key, ScanCodeInfo=info)]
    # The photo menus: the event names the pictures, each picture follows as a message.
    key = _menu_key(body)
    media_id = _media_id(store, body)
    found = store.get_media(media_id)
    assert found is not None  # checked by _media_id
    md5 = hashlib.md5(found[1]).hexdigest()
    pics = {"Count": 1, "PicList": {"item": {"PicMd5Sum": md5}}}
    return [event(kind, EventKey=key, SendPicsInfo=pics), _image_message(store, head, media_id)]


def _image_message(store: SandboxStore, head: dict[str, Any], media_id: str) -> dict[str, Any]:
    return {
        **head,
        "MsgType": "image",
        "PicUrl": _media_url(media_id, external=True),
        "MediaId": media_id,
        "MsgId": store.next_msg_id(),
    }


def _media_id(store: SandboxStore, body: dict[str, Any]) -> str:
    media_id = body.get("media_id")
    if not isinstance(media_id, str) or store.get_media(media_id) is None:
        raise SimulatorError(422, "validation_failed", "图片不存在或已过期，请重新选择")
    return media_id


def _menu_key(body: dict[str, Any]) -> str:
    key = body.get("key")
    if not isinstance(key, str) or not 1 <= len(key.encode()) <= 128:
        raise SimulatorError(422, "validation_failed", "菜单 key 须为 1–128 字节的字符串")
    return key


def _scanned_code(store: SandboxStore, body: dict[str, Any], *, required: bool) -> ScannedCode | None:
    """The code behind `scene` (one of ours: a site or an invite) or `qr` (a ticket or a
    `http://weixin.qq.com/q/…` URL, e.g. decoded from a photo of a poster)."""
    scene, qr = body.get("scene"), body.get("qr")
    if isinstance(qr, str) and qr.strip():
        record = store.lookup_qr(qr)
        if record is None:
            raise SimulatorError(404, "qr_not_found", "二维码已过期，或不是本公众号的二维码")
        return _code_from_record(record)
    if isinstance(scene, str) and scene.strip():
        return code_for_scene(store, scene.strip())
    if required:
        raise SimulatorError(422, "validation_failed", "请给出要扫描的二维码：scene 或 qr")
    return None


def _code_from_record(record: dict[str, Any]) -> ScannedCode:
    scene = record.get("scene_str") or str(record.get("scene_id", ""))
    return ScannedCode(scene=scene, ticket=record["ticket"], content=record["url"])


def code_for_scene(store: SandboxStore, scene: str) -> ScannedCode:
    """The parametric QR of a site or an invite, obtained the way production does when it
    does not exist yet: a site's permanent code is created and stored on the site (as
    `qr posters` would), an invite's temporary code is the one the console shows."""
    if scene.startswith(SITE_SCENE_PREFIX):
        return _site_code(store, scene, scene[len(SITE_SCENE_PREFIX) :])
    if scene.startswith(INVITE_SCENE_PREFIX):
        return _invite_code(store, scene, scene[len(INVITE_SCENE_PREFIX) :])
    raise SimulatorError(422, "validation_failed", "只能扫描点位（site:…）或邀请（bind:…）二维码")


def _site_code(store: SandboxStore, scene: str, token: str) -> ScannedCode:
    site = site_with_token(db.session, token)
    # A retired site that has a WeChat code still answers its scan (with the refusal).
    if site is None or (not site.active and not site.wx_qr_url):
        raise SimulatorError(404, "not_found", "点位不存在或已停用")
    try:
        if ensure_site_wechat_qr(db.session, get_wechat_client(), site, utcnow()):
            db.session.commit()  # a permanent code is quota spent: keep it at once
    except WeChatQrUnavailable as exc:
        db.session.rollback()
        raise SimulatorError(503, "wechat_unavailable", exc.message) from exc
    except WeChatAPIError as exc:
        db.session.rollback()
        raise SimulatorError(503, "wechat_unavailable", f"沙箱微信接口出错：{exc}") from exc
    record = store.lookup_qr(site.wx_qr_url or "")
    if record is None:
        # The sandbox state was reset (e.g. in-process Redis restarted) while the database
        # kept the site's code: WeChat would still know it, so register it again.
        record = store.create_qr("QR_LIMIT_STR_SCENE", {"scene_str": scene}, None)
    return ScannedCode(scene=scene, ticket=record["ticket"], content=site.wx_qr_url or record["url"])


def _invite_code(store: SandboxStore, scene: str, token: str) -> ScannedCode:
    invite = db.session.scalar(select(Invite).where(Invite.token == token)) if token else None
    if invite is None:
        raise SimulatorError(404, "not_found", "邀请不存在")
    now = utcnow()
    if invite.expires_at <= now:
        raise SimulatorError(410, "qr_expired", "二维码已过期")
    try:
        url = temporary_qr_url(get_wechat_client(), redis_client(), scene, invite.expires_at, now)
    except WeChatAPIError as exc:
        raise SimulatorError(503, "wechat_unavailable", f"沙箱微信接口出错：{exc}") from exc
    record = store.lookup_qr(url)
    if record is None:
        seconds = max(int((invite.expires_at - now).total_seconds()), 1)
        record = store.create_qr("QR_STR_SCENE", {"scene_str": scene}, seconds)
    return ScannedCode(scene=scene, ticket=record["ticket"], content=record["url"])


# ---------------------------------------------------------------------------------------
# The callback round trip
# ---------------------------------------------------------------------------------------


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA; split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_element(k, v) for k, v in value.items())
    elif isinstance(value, bool):
        raise TypeError(f"{name}: booleans have no XML form here")
    elif isinstance(value, int):
        inner = str(value)  # numbers go bare, as WeChat sends CreateTime and MsgId
    else:
        inner = _cdata(str(value))
    return f"<{name}>{inner}</{name}>"


def inbound_xml(fields: dict[str, Any]) -> str:
    """The callback XML of a message: strings in CDATA, numbers bare, dicts nested."""
    return "<xml>" + "".join(_element(k, v) for k, v in fields.items()) + "</xml>"


def deliver(app: Flask, settings: Settings, openid: str, fields: dict[str, Any]) -> Delivery:
    """Post one message to `/wechat/callback` as WeChat does and read the passive reply."""
    xml = inbound_xml(fields)
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**10))  # WeChat's nonces are decimal digits
    token = settings.wechat_token
    params = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "openid": openid}
    body = xml
    crypto = None
    if settings.WECHAT_ENCODING_AES_KEY:
        # Safe mode: only the ciphertext travels; msg_signature covers it.
        crypto = MessageCrypto(token, settings.WECHAT_ENCODING_AES_KEY, settings.wechat_app_id)
        encrypted = crypto.encrypt(xml)
        params.update(encrypt_type="aes", msg_signature=sign(token, timestamp, nonce, encrypted))
        body = inbound_xml({"ToUserName": fields["ToUserName"], "Encrypt": encrypted})
    started = time.monotonic()
    status, text = post_to_callback(app, settings.PUBLIC_BASE_URL, params, body.encode("utf-8"))
    elapsed_ms = int((time.monotonic() - started) * 1000)

    def outcome(reply: str, failure: str | None = None, parsed: dict[str, Any] | None = None) -> Delivery:
        return Delivery(xml, status, reply, crypto is not None, elapsed_ms, failure, parsed)

    if status is None:
        return outcome("", f"{SERVICE_UNAVAILABLE}（服务器 {CALLBACK_TIMEOUT_SECONDS:g} 秒内没有应答）")
    if status != 200:
        return outcome(text, f"{SERVICE_UNAVAILABLE}（回调返回 HTTP {status}）")
    if text.strip() in ("", "success"):
        return outcome(text)  # "nothing to say": WeChat shows nothing, even in safe mode
    try:
        reply = parse_xml(text)
        if crypto is not None:
            if "Encrypt" not in reply:
                # In safe mode WeChat only accepts encrypted replies.
                return outcome(text, f"{SERVICE_UNAVAILABLE}（安全模式下回复未加密）")
            text = crypto.decrypt_checked(
                str(reply["Encrypt"]), reply.get("MsgSignature"), str(reply.get("TimeStamp", "")), str(reply.get("Nonce", ""))
            )
            reply = parse_xml(text)
    except (InboundError, CallbackAuthError) as exc:
        log.warning("simulator: the callback's reply is not a valid message: %s", exc)
        return outcome(text, f"{SERVICE_UNAVAILABLE}（回复不是有效的消息：{exc}）")
    if not reply.get("MsgType") or reply.get("ToUserName") != openid:
        return outcome(text, f"{SERVICE_UNAVAILABLE}（回复缺少 MsgType 或 ToUserName 不是该用户）")
    return outcome(text, parsed=reply)


def post_to_callback(app: Flask, base_url: str, params: dict[str, str], body: bytes) -> tuple[int | None, str]:
    """POST `body` to the app's `/wechat/callback?params` over the in-process transport
    (its own thread, so the callback gets its own request context and database session).
    Returns (HTTP status, body text), or (None, "") when no answer came within 5 s."""
    with requests.Session() as http:
        http.mount(f"{base_url}/", WSGITransport(app))
        try:
            response = http.post(
                f"{base_url}{CALLBACK_PATH}?{urlencode(params)}",
                data=body,
                headers={"Content-Type": "text/xml; charset=utf-8", "User-Agent": "Mozilla/4.0 (WeChat sandbox)"},
                timeout=CALLBACK_TIMEOUT_SECONDS,
            )
        except requests.Timeout:
            return None, ""
    return response.status_code, response.content.decode("utf-8", errors="replace")
