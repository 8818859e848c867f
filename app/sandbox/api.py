"""The sandbox's fake WeChat API and its control API.

`/sandbox/wx/…` answers the real paths and JSON of every endpoint this service calls
(`https://api.weixin.qq.com/<path>` → `/sandbox/wx/<path>`): tokens, jsapi ticket, QR codes,
menu, template / customer-service / mass messages, tags, user info, temporary media and the
OAuth code exchange. It checks the access token, appid and secret, and answers real errcodes
for bad input. Messages it accepts are logged per openid.

`/sandbox/api/…` is for tests and the simulator: virtual users, the message log, injected
faults (`POST /sandbox/api/faults`) and the global latency (`POST /sandbox/api/config`).

Only registered while the sandbox is on (`register_fake_wechat`); production refuses to
start with the sandbox on.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.sandbox.store import (
    DEFAULT_TEMPORARY_QR_SECONDS,
    MAX_TEMPORARY_QR_SECONDS,
    PERMANENT_QR_CAP,
    SandboxError,
    sandbox_store,
)

wx = Blueprint("sandbox_wx", __name__, url_prefix="/sandbox/wx")
control = Blueprint("sandbox_api", __name__, url_prefix="/sandbox/api")

# Default errmsg per errcode, worded as WeChat words them.
ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    41009: "missing openid",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, must slower, retry next minute",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
    48001: "api unauthorized",
}

TEMPLATE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
CUSTOM_MSGTYPES = {
    "text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle",
    "msgmenu", "wxcard", "miniprogrampage",
}
MASS_MSGTYPES = {"text", "image", "voice", "mpvideo", "mpnews", "wxcard"}
MENU_TYPES_NEEDING = {
    "click": "key", "scancode_push": "key", "scancode_waitmsg": "key", "pic_sysphoto": "key",
    "pic_photo_or_album": "key", "pic_weixin": "key", "location_select": "key",
    "view": "url", "miniprogram": "url", "media_id": "media_id", "view_limited": "media_id",
    "article_id": "article_id", "article_view_limited": "article_id",
}
# Temporary media limits (bytes) and accepted formats by leading bytes.
MEDIA_LIMITS = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024, "thumb": 64 * 1024}
MEDIA_SIZE_ERRCODES = {"image": 40009, "voice": 40010, "video": 40011, "thumb": 40012}
_MAGIC = {
    "image": ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif")),
    "thumb": ((b"\xff\xd8\xff", "image/jpeg"),),
    "voice": ((b"#!AMR", "audio/amr"), (b"ID3", "audio/mpeg"), (b"\xff\xfb", "audio/mpeg"), (b"\xff\xf3", "audio/mpeg")),
}


def register_fake_wechat(app: Flask) -> None:
    """Register the fake WeChat API, its control API and the fake OAuth page on `app`."""
    from app.sandbox.authorize import connect

    app.register_blueprint(wx)
    app.register_blueprint(control)
    app.register_blueprint(connect)


# ---------------------------------------------------------------------------------------
# Plumbing: latency, faults, errors, token checks
# ---------------------------------------------------------------------------------------


def _error(errcode: int, errmsg: str | None = None) -> Response:
    # WeChat answers errors with HTTP 200 and a JSON body.
    return jsonify({"errcode": errcode, "errmsg": errmsg or ERRMSGS.get(errcode, "error")})


def _ok(**fields: Any) -> Response:
    return jsonify({"errcode": 0, "errmsg": "ok", **fields})


@wx.before_request
def _latency_and_faults() -> Response | None:
    store = sandbox_store()
    latency = store.config()["latency_ms"]
    if latency:
        time.sleep(latency / 1000)
    fault = store.take_fault(request.path)
    if fault is None:
        return None
    if fault.get("delay_ms"):
        time.sleep(fault["delay_ms"] / 1000)
    if fault.get("status"):
        return Response(f"sandbox: injected HTTP {fault['status']}", status=fault["status"], mimetype="text/plain")
    if fault.get("errcode") is not None:
        return _error(int(fault["errcode"]), fault.get("errmsg"))
    return None


@wx.errorhandler(SandboxError)
def _sandbox_error(exc: SandboxError) -> Response:
    return _error(exc.errcode, exc.errmsg)


def _settings() -> Any:
    return current_app.config["SETTINGS"]


def needs_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the call unless `access_token` is a valid token (41001 / 40001 / 42001)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        errcode = sandbox_store().check_token(request.args.get("access_token"))
        if errcode:
            return _error(errcode)
        return view(*args, **kwargs)

    return wrapped


def _body() -> dict[str, Any]:
    # wechatpy posts JSON without a Content-Type, so parse regardless of it.
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise SandboxError(47001, ERRMSGS[47001])
    return body


def _check_app_credentials(appid: str | None, secret: str | None) -> None:
    settings = _settings()
    if not appid:
        raise SandboxError(41002, ERRMSGS[41002])
    if appid != settings.wechat_app_id:
        raise SandboxError(40013, ERRMSGS[40013])
    if not secret:
        raise SandboxError(41004, ERRMSGS[41004])
    if secret != settings.wechat_app_secret:
        raise SandboxError(40125, ERRMSGS[40125])


def _follower(openid: Any) -> dict[str, Any]:
    """The virtual user behind `openid`, who must follow the account. 40003 / 43004."""
    if not openid or not isinstance(openid, str):
        raise SandboxError(40003, ERRMSGS[40003])
    user = sandbox_store().get_user(openid)
    if user is None:
        raise SandboxError(40003, ERRMSGS[40003])
    if not user["subscribed"]:
        raise SandboxError(43004, ERRMSGS[43004])
    return user


# ---------------------------------------------------------------------------------------
# Tokens and tickets
# ---------------------------------------------------------------------------------------


@wx.get("/cgi-bin/token")
def token():
    if request.args.get("grant_type") != "client_credential":
        raise SandboxError(40002, ERRMSGS[40002])
    _check_app_credentials(request.args.get("appid"), request.args.get("secret"))
    value, expires_in = sandbox_store().issue_basic_token()
    return jsonify({"access_token": value, "expires_in": expires_in})


@wx.post("/cgi-bin/stable_token")
def stable_token():
    body = _body()
    if body.get("grant_type") != "client_credential":
        raise SandboxError(40002, ERRMSGS[40002])
    _check_app_credentials(body.get("appid"), body.get("secret"))
    value, expires_in = sandbox_store().stable_token(force_refresh=body.get("force_refresh") is True)
    return jsonify({"access_token": value, "expires_in": expires_in})


@wx.get("/cgi-bin/ticket/getticket")
@needs_token
def getticket():
    if request.args.get("type", "jsapi") != "jsapi":
        raise SandboxError(40035, "invalid args: only type=jsapi is simulated")
    ticket, expires_in = sandbox_store().jsapi_ticket()
    return _ok(ticket=ticket, expires_in=expires_in)


# ---------------------------------------------------------------------------------------
# QR codes
# ---------------------------------------------------------------------------------------


@wx.post("/cgi-bin/qrcode/create")
@needs_token
def qrcode_create():
    body = _body()
    action = body.get("action_name")
    if action not in ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"):
        raise SandboxError(40053, "invalid action info: unknown action_name")
    permanent = action.startswith("QR_LIMIT")
    scene_in = ((body.get("action_info") or {}).get("scene")) or {}
    if action.endswith("STR_SCENE"):
        scene_str = scene_in.get("scene_str")
        if not isinstance(scene_str, str) or not 1 <= len(scene_str) <= 64:
            raise SandboxError(40053, "invalid action info: scene_str must be 1-64 characters")
        scene: dict[str, Any] = {"scene_str": scene_str}
    else:
        scene_id = scene_in.get("scene_id")
        upper = PERMANENT_QR_CAP if permanent else 2**32 - 1
        if isinstance(scene_id, bool) or not isinstance(scene_id, int) or not 1 <= scene_id <= upper:
            raise SandboxError(40053, f"invalid action info: scene_id must be 1-{upper}")
        scene = {"scene_id": scene_id}
    expire_seconds = None
    if not permanent:
        expire_seconds = body.get("expire_seconds", DEFAULT_TEMPORARY_QR_SECONDS)
        if isinstance(expire_seconds, bool) or not isinstance(expire_seconds, int) or not (
            1 <= expire_seconds <= MAX_TEMPORARY_QR_SECONDS
        ):
            raise SandboxError(40053, f"invalid action info: expire_seconds must be 1-{MAX_TEMPORARY_QR_SECONDS}")
    record = sandbox_store().create_qr(action, scene, expire_seconds)
    answer = {"ticket": record["ticket"], "url": record["url"]}
    if not permanent:
        answer["expire_seconds"] = record["expire_seconds"]
    return jsonify(answer)


@wx.get("/cgi-bin/showqrcode")
def showqrcode():
    import qrcode

    record = sandbox_store().lookup_qr(request.args.get("ticket", ""))
    # Only the ticket itself opens the image (not the short code of its URL).
    if record is None or record["ticket"] != request.args.get("ticket"):
        return Response("ticket 无效或已过期", status=404, mimetype="text/plain")
    image = qrcode.make(record["url"], box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), mimetype="image/png")


# ---------------------------------------------------------------------------------------
# Menu
# ---------------------------------------------------------------------------------------


@wx.post("/cgi-bin/menu/create")
@needs_token
def menu_create():
    body = _body()
    _validate_menu(body)
    sandbox_store().set_menu({"button": body["button"]})
    return _ok()


@wx.get("/cgi-bin/menu/get")
@needs_token
def menu_get():
    menu = sandbox_store().get_menu()
    if menu is None:
        raise SandboxError(46003, "menu no exist")
    return jsonify({"menu": menu})


@wx.get("/cgi-bin/menu/delete")
@needs_token
def menu_delete():
    sandbox_store().delete_menu()
    return _ok()


def _validate_menu(body: dict[str, Any]) -> None:
    """The official limits: 1–3 buttons (names ≤ 16 bytes), each with ≤ 5 sub-buttons
    (names ≤ 60 bytes); key ≤ 128 bytes, url ≤ 1024 bytes; the field a type needs present."""
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise SandboxError(40016, "invalid button size")
    for button in buttons:
        if not isinstance(button, dict):
            raise SandboxError(47001, ERRMSGS[47001])
        subs = button.get("sub_button")
        if not 1 <= len(str(button.get("name", "")).encode()) <= 16:
            raise SandboxError(40018, "invalid button name size")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                raise SandboxError(40023, "invalid sub button size")
            for sub in subs:
                if not isinstance(sub, dict) or not 1 <= len(str(sub.get("name", "")).encode()) <= 60:
                    raise SandboxError(40025, "invalid sub button name size")
                _validate_button_action(sub, sub_button=True)
        else:
            _validate_button_action(button, sub_button=False)


def _validate_button_action(button: dict[str, Any], *, sub_button: bool) -> None:
    needed = MENU_TYPES_NEEDING.get(button.get("type"))  # type: ignore[arg-type]
    if needed is None:
        raise SandboxError(40024 if sub_button else 40015, "invalid button type")
    value = str(button.get(needed) or "")
    if needed == "key" and not 1 <= len(value.encode()) <= 128:
        raise SandboxError(40026 if sub_button else 40019, "invalid button key size")
    if needed == "url":
        if not 1 <= len(value.encode()) <= 1024:
            raise SandboxError(40027 if sub_button else 40020, "invalid button url size")
        if not value.startswith(("http://", "https://")):
            raise SandboxError(40055 if sub_button else 40054, "invalid button url domain")
    if needed in ("media_id", "article_id") and not value:
        raise SandboxError(40007, ERRMSGS[40007])


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------


@wx.post("/cgi-bin/message/template/send")
@needs_token
def template_send():
    body = _body()
    user = _follower(body.get("touser"))
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not TEMPLATE_ID_RE.match(template_id):
        raise SandboxError(40037, ERRMSGS[40037])
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        raise SandboxError(47003, "argument invalid! data is empty")
    for key, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise SandboxError(47003, f"argument invalid! data.{key}.value invalid")
    url = body.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise SandboxError(40039, "invalid url size")
    msgid = sandbox_store().next_msg_id()
    recorded = {k: v for k, v in body.items() if k != "touser"}
    sandbox_store().record_message(user["openid"], "template", {**recorded, "msgid": msgid})
    return _ok(msgid=msgid)


@wx.post("/cgi-bin/message/custom/send")
@needs_token
def custom_send():
    body = _body()
    user = _follower(body.get("touser"))
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_MSGTYPES:
        raise SandboxError(40008, ERRMSGS[40008])
    _check_content(msgtype, body)
    sandbox_store().record_message(user["openid"], "custom", {k: v for k, v in body.items() if k != "touser"})
    return _ok()


def _check_content(msgtype: str, body: dict[str, Any]) -> None:
    """The message body its msgtype needs: text content (≤ 2048 bytes), a live media_id."""
    part = body.get(msgtype)
    if not isinstance(part, dict):
        raise SandboxError(44002, "empty post data")
    if msgtype == "text":
        content = part.get("content")
        if not isinstance(content, str) or not content:
            raise SandboxError(44004, ERRMSGS[44004])
        if len(content.encode()) > 2048:
            raise SandboxError(45002, "content size out of limit")
    elif msgtype in ("image", "voice", "video"):
        if sandbox_store().get_media(str(part.get("media_id") or "")) is None:
            raise SandboxError(40007, ERRMSGS[40007])
    elif msgtype in ("mpnews", "mpvideo") and not part.get("media_id"):
        raise SandboxError(40007, ERRMSGS[40007])


@wx.post("/cgi-bin/message/mass/sendall")
@needs_token
def mass_sendall():
    body = _body()
    filter_ = body.get("filter")
    if not isinstance(filter_, dict):
        raise SandboxError(47001, ERRMSGS[47001])
    store = sandbox_store()
    users = store.list_users()
    if filter_.get("is_to_all") is not True:
        tag_id = filter_.get("tag_id")
        if isinstance(tag_id, bool) or not isinstance(tag_id, int) or store.tag(tag_id) is None:
            raise SandboxError(45159, "invalid tag id")
        users = [u for u in users if tag_id in u["tagid_list"]]
    return _mass_send(body, users)


@wx.post("/cgi-bin/message/mass/send")
@needs_token
def mass_send():
    body = _body()
    openids = body.get("touser")
    if not isinstance(openids, list) or len(openids) < 2:
        raise SandboxError(40130, "invalid openid list size, at least two openid")
    if len(openids) > 10_000:
        raise SandboxError(40032, "invalid openid list size")
    store = sandbox_store()
    users = []
    for openid in dict.fromkeys(openids):
        user = store.get_user(openid) if isinstance(openid, str) else None
        if user is None:
            raise SandboxError(40003, f"invalid openid {openid}")
        users.append(user)
    return _mass_send(body, users)


def _mass_send(body: dict[str, Any], users: list[dict[str, Any]]) -> Response:
    """Deliver to the followers among `users`, at most 4 mass messages per user and month;
    a reused clientmsgid is refused with 45065."""
    msgtype = body.get("msgtype")
    if msgtype not in MASS_MSGTYPES:
        raise SandboxError(40008, ERRMSGS[40008])
    _check_content(msgtype, body)
    store = sandbox_store()
    client_msg_id = body.get("clientmsgid")
    if client_msg_id is not None and not store.claim_client_msg_id(str(client_msg_id)):
        raise SandboxError(45065, "clientmsgid exist")
    msg_id = store.next_msg_id()
    content = {k: body[k] for k in (msgtype, "msgtype") if k in body}
    sent = filtered = 0
    for user in users:
        # The send succeeds as a whole; followers over their 4 this month (or no longer
        # following) are filtered out and simply do not receive it.
        if not user["subscribed"] or not store.count_mass_delivery(user["openid"]):
            filtered += 1
            continue
        store.record_message(user["openid"], "mass", {**content, "msg_id": msg_id})
        sent += 1
    # MASSSENDJOBFINISH's counts: TotalCount = the tag's followers, FilterCount = those left
    # after filtering (≈ SentCount + ErrorCount).
    store.save_mass_job(
        msg_id,
        {
            "msg_id": msg_id,
            "status": "send success",
            "total": len(users),
            "filtered": filtered,
            "filter_count": sent,
            "sent": sent,
            "errors": 0,
        },
    )
    from app.sandbox.reports import schedule_mass_report  # the reports post through the simulator

    schedule_mass_report(current_app._get_current_object(), store, msg_id)
    return jsonify(
        {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_id}
    )


# ---------------------------------------------------------------------------------------
# Users and tags
# ---------------------------------------------------------------------------------------


@wx.get("/cgi-bin/user/info")
@needs_token
def user_info():
    openid = request.args.get("openid")
    if not openid:
        raise SandboxError(41009, ERRMSGS[41009])
    user = sandbox_store().get_user(openid)
    if user is None:
        raise SandboxError(40003, ERRMSGS[40003])
    if not user["subscribed"]:
        return jsonify({"subscribe": 0, "openid": openid})
    # Since 2021-12 WeChat no longer returns nickname or avatar here.
    return jsonify(
        {
            "subscribe": 1,
            "openid": openid,
            "language": "zh_CN",
            "subscribe_time": user["subscribe_time"],
            "remark": "",
            "groupid": 0,
            "tagid_list": user["tagid_list"],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 0,
            "qr_scene_str": "",
        }
    )


@wx.post("/cgi-bin/tags/create")
@needs_token
def tags_create():
    tag = _body().get("tag") or {}
    return jsonify({"tag": sandbox_store().create_tag(str(tag.get("name") or ""))})


@wx.get("/cgi-bin/tags/get")
@needs_token
def tags_get():
    return jsonify({"tags": sandbox_store().tags()})


@wx.post("/cgi-bin/tags/update")
@needs_token
def tags_update():
    tag = _body().get("tag") or {}
    sandbox_store().rename_tag(_tag_id(tag.get("id")), str(tag.get("name") or ""))
    return _ok()


@wx.post("/cgi-bin/tags/delete")
@needs_token
def tags_delete():
    tag = _body().get("tag") or {}
    sandbox_store().delete_tag(_tag_id(tag.get("id")))
    return _ok()


@wx.post("/cgi-bin/tags/members/batchtagging")
@needs_token
def tags_batchtagging():
    return _batch_tag(add=True)


@wx.post("/cgi-bin/tags/members/batchuntagging")
@needs_token
def tags_batchuntagging():
    return _batch_tag(add=False)


def _batch_tag(*, add: bool) -> Response:
    body = _body()
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not openids:
        raise SandboxError(40032, "invalid openid list size")
    if len(openids) > 50:
        raise SandboxError(40032, "invalid openid list size, at most 50")
    sandbox_store().tag_users(_tag_id(body.get("tagid")), [str(o) for o in openids], add=add)
    return _ok()


@wx.post("/cgi-bin/tags/getidlist")
@needs_token
def tags_getidlist():
    openid = _body().get("openid")
    user = sandbox_store().get_user(openid) if isinstance(openid, str) else None
    if user is None:
        raise SandboxError(40003, ERRMSGS[40003])
    return jsonify({"tagid_list": user["tagid_list"]})


@wx.post("/cgi-bin/user/tag/get")
@needs_token
def tag_followers():
    body = _body()
    tag_id = _tag_id(body.get("tagid"))
    store = sandbox_store()
    if store.tag(tag_id) is None:
        raise SandboxError(45159, "invalid tag id")
    openids = [u["openid"] for u in store.list_users() if u["subscribed"] and tag_id in u["tagid_list"]]
    after = body.get("next_openid") or ""
    if after in openids:
        openids = openids[openids.index(after) + 1 :]
    page = openids[:10_000]
    answer: dict[str, Any] = {"count": len(page), "next_openid": page[-1] if page else ""}
    if page:
        answer["data"] = {"openid": page}
    return jsonify(answer)


def _tag_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SandboxError(45159, "invalid tag id")
    return value


# ---------------------------------------------------------------------------------------
# Temporary media
# ---------------------------------------------------------------------------------------


@wx.post("/cgi-bin/media/upload")
@needs_token
def media_upload():
    media_type = request.args.get("type", "")
    if media_type not in MEDIA_LIMITS:
        raise SandboxError(40004, ERRMSGS[40004])
    upload = request.files.get("media")
    if upload is None:
        raise SandboxError(41005, ERRMSGS[41005])
    data = upload.read()
    if not data:
        raise SandboxError(41005, ERRMSGS[41005])
    if len(data) > MEDIA_LIMITS[media_type]:
        raise SandboxError(MEDIA_SIZE_ERRCODES[media_type], f"invalid {media_type} size")
    content_type = _sniff(media_type, data, upload.filename or "")
    meta = sandbox_store().put_media(
        data, media_type=media_type, filename=upload.filename or f"media.{media_type}", content_type=content_type
    )
    return jsonify(meta)


def _sniff(media_type: str, data: bytes, filename: str) -> str:
    """The content type from the leading bytes; 40005 for a format WeChat refuses."""
    if media_type == "video":
        if data[4:8] == b"ftyp":
            return "video/mp4"
        raise SandboxError(40005, ERRMSGS[40005])
    for magic, content_type in _MAGIC[media_type]:
        if data.startswith(magic):
            return content_type
    raise SandboxError(40005, f"{ERRMSGS[40005]}: {filename}")


@wx.get("/cgi-bin/media/get")
@needs_token
def media_get():
    found = sandbox_store().get_media(request.args.get("media_id", ""))
    if found is None:
        raise SandboxError(40007, ERRMSGS[40007])
    meta, data = found
    response = Response(data, mimetype=meta["content_type"])
    response.headers["Content-Disposition"] = f'attachment; filename="{meta["media_id"]}"'
    return response


# ---------------------------------------------------------------------------------------
# OAuth code exchange (the authorize page is in authorize.py)
# ---------------------------------------------------------------------------------------


@wx.get("/sns/oauth2/access_token")
def sns_access_token():
    _check_app_credentials(request.args.get("appid"), request.args.get("secret"))
    if request.args.get("grant_type") != "authorization_code":
        raise SandboxError(40002, ERRMSGS[40002])
    code = request.args.get("code", "")
    if not code:
        raise SandboxError(41008, ERRMSGS[41008])
    store = sandbox_store()
    issued = store.take_oauth_code(code)
    if issued is None:
        raise SandboxError(40029, ERRMSGS[40029])
    return jsonify(store.issue_sns_token(issued["openid"], issued["scope"]))


# ---------------------------------------------------------------------------------------
# Control API for tests and the simulator
# ---------------------------------------------------------------------------------------


def _problem(status: int, error: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message}), status


def _json_object() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@control.get("/users")
def list_users():
    return jsonify({"users": sandbox_store().list_users()})


@control.post("/users")
def create_user():
    body = _json_object()
    if body is None:
        return _problem(422, "validation_failed", "请求体须为 JSON 对象")
    nickname = body.get("nickname") or "微信用户"
    subscribed = body.get("subscribed", True)
    if not isinstance(nickname, str) or not isinstance(subscribed, bool):
        return _problem(422, "validation_failed", "nickname 须为字符串，subscribed 须为布尔值")
    openid = body.get("openid")
    if openid is not None and not isinstance(openid, str):
        return _problem(422, "validation_failed", "openid 须为字符串")
    try:
        user = sandbox_store().create_user(openid=openid, nickname=nickname, subscribed=subscribed)
    except ValueError as exc:
        return _problem(422, "validation_failed", str(exc))
    except KeyError:
        return _problem(409, "conflict", "该 openid 的虚拟用户已存在")
    return jsonify({"user": user}), 201


@control.patch("/users/<openid>")
def update_user(openid: str):
    body = _json_object()
    if body is None:
        return _problem(422, "validation_failed", "请求体须为 JSON 对象")
    changes = {k: body[k] for k in ("nickname", "subscribed") if k in body}
    if "subscribed" in changes and not isinstance(changes["subscribed"], bool):
        return _problem(422, "validation_failed", "subscribed 须为布尔值")
    try:
        user = sandbox_store().update_user(openid, **changes)
    except KeyError:
        return _problem(404, "not_found", "虚拟用户不存在")
    return jsonify({"user": user})


@control.get("/messages")
def list_messages():
    openid = request.args.get("openid", "")
    if not openid:
        return _problem(422, "validation_failed", "缺少 openid 参数")
    after = request.args.get("after", 0, type=int)
    return jsonify({"openid": openid, "messages": sandbox_store().messages(openid, after=after)})


@control.get("/faults")
def list_faults():
    return jsonify({"faults": sandbox_store().faults()})


@control.post("/faults")
def add_fault():
    body = _json_object()
    if body is None:
        return _problem(422, "validation_failed", "请求体须为 JSON 对象")
    ints = {}
    for name in ("errcode", "status", "delay_ms", "count"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _problem(422, "validation_failed", f"{name} 须为整数")
        ints[name] = value
    errmsg = body.get("errmsg")
    try:
        fault = sandbox_store().add_fault(
            path=str(body.get("path") or ""),
            errcode=ints["errcode"],
            errmsg=str(errmsg) if errmsg is not None else None,
            status=ints["status"],
            delay_ms=ints["delay_ms"],
            count=ints["count"] if "count" in body else 1,
        )
    except ValueError as exc:
        return _problem(422, "validation_failed", str(exc))
    return jsonify({"fault": fault}), 201


@control.delete("/faults")
def clear_faults():
    sandbox_store().clear_faults()
    return jsonify({"faults": []})


@control.get("/config")
def get_config():
    return jsonify(sandbox_store().config())


@control.post("/config")
def set_config():
    body = _json_object()
    if body is None:
        return _problem(422, "validation_failed", "请求体须为 JSON 对象")
    values = {}
    for name in ("latency_ms", "token_ttl"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _problem(422, "validation_failed", f"{name} 须为整数")
        values[name] = value
    try:
        return jsonify(sandbox_store().set_config(**values))
    except ValueError as exc:
        return _problem(422, "validation_failed", str(exc))


@control.get("/qrcode")
def lookup_qrcode():
    """What a scan of a QR resolves to: ?q=<ticket | http://weixin.qq.com/q/… URL | code>."""
    record = sandbox_store().lookup_qr(request.args.get("q", ""))
    if record is None:
        return _problem(404, "not_found", "二维码不存在或已过期")
    return jsonify({"qrcode": record})


@control.get("/mass/<id:msg_id>")
def mass_job(msg_id: int):
    job = sandbox_store().mass_job(msg_id)
    if job is None:
        return _problem(404, "not_found", "群发任务不存在")
    return jsonify(job)


@control.post("/mass/<id:msg_id>/report")
def mass_report(msg_id: int):
    """Post the mass send's MASSSENDJOBFINISH to the callback now (tests; the fake posts it
    by itself a few seconds after the send outside TESTING)."""
    from app.sandbox.reports import post_mass_report

    delivery = post_mass_report(current_app._get_current_object(), sandbox_store(), msg_id)
    if delivery is None:
        return _problem(404, "not_found", "群发任务不存在")
    return jsonify({"status": delivery.status, "failure": delivery.failure})
