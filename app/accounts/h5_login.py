"""H5 identity: who opened a page inside WeChat, and the JS-SDK configuration.

Pages under `/h5/` learn the visitor's openid through WeChat's web authorisation
(`snsapi_base`, silent): `h5_login_required` sends a visitor without a session to the
authorize URL with a random `state` kept in the signed session cookie; the callback checks
the state, exchanges the single-use code server-side (through the API client's base URL),
finds the user bound to that openid and remembers the user id in the session.
`GET /h5/jssdk/config?url=` returns the signed `wx.config` arguments for a page of this site.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.accounts.domain import BUREAU_ROLE_LABELS, Actor
from app.accounts.models import User
from app.accounts.queries import active_user, load_actor, my_roles, user_by_openid
from app.errors import h5_notice, wants_json
from app.extensions import db
from app.web import csrf_required
from app.wechat.client import InvalidOAuthCode, WeChatAPIError, get_wechat_client, strip_fragment

log = logging.getLogger(__name__)

bp = Blueprint("h5_identity", __name__, url_prefix="/h5")

OFFICIAL_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
SESSION_USER_ID = "h5_user_id"
SESSION_OPENID = "h5_openid"
SESSION_PENDING = "h5_oauth"
# A pending authorisation is honoured this long (the code itself lives 5 minutes).
STATE_TTL_SECONDS = 600
# Several pages may start an authorisation at once (tabs); keep the newest few.
MAX_PENDING = 5
DEFAULT_NEXT = "/h5/me"


# ---------------------------------------------------------------------------------------
# Who is here
# ---------------------------------------------------------------------------------------


def current_h5_user() -> User | None:
    """The active user signed in through WeChat on this browser, or None."""
    if "h5_user" not in g:
        g.h5_user = active_user(db.session, session.get(SESSION_USER_ID))
    return g.h5_user


def current_h5_actor() -> Actor | None:
    """The Actor (roles and scope) of `current_h5_user()`, or None."""
    if "h5_actor" not in g:
        user = current_h5_user()
        g.h5_actor = load_actor(db.session, user) if user else None
    return g.h5_actor


def current_h5_openid() -> str | None:
    """The openid WeChat vouched for on this browser (also for visitors not bound yet)."""
    return session.get(SESSION_OPENID)


def h5_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run `view` only for a signed-in WeChat user. A page (GET) without a session is sent
    through WeChat's authorisation and comes back to the same URL; form posts and JSON
    requests get 401 instead (a redirect would lose the submission or confuse the script)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_h5_user() is not None:
            return view(*args, **kwargs)
        if request.method in ("GET", "HEAD") and not wants_json():
            return redirect(start_oauth(request.full_path.rstrip("?")))
        message = "登录已失效，请返回公众号重新打开页面。"
        if wants_json():
            return jsonify({"error": "unauthorized", "message": message}), 401
        return h5_notice(401, "登录已失效", [message], icon="warn")

    return wrapped


def start_oauth(next_path: str) -> str:
    """Remember a fresh `state` (and where to return) in the session; return the authorize
    URL to redirect the browser to."""
    settings = current_app.config["SETTINGS"]
    state = secrets.token_hex(16)  # WeChat allows [a-zA-Z0-9], at most 128 bytes
    now = int(time.time())
    pending = {
        s: entry
        for s, entry in (session.get(SESSION_PENDING) or {}).items()
        if now - int(entry[1]) < STATE_TTL_SECONDS
    }
    pending[state] = [_safe_path(next_path), now]
    session[SESSION_PENDING] = dict(sorted(pending.items(), key=lambda item: item[1][1])[-MAX_PENDING:])
    if settings.sandbox:
        # The sandbox page runs on whatever host the browser uses, so the session cookie
        # (holding the state) comes back with the callback.
        redirect_uri = url_for("h5_identity.oauth_callback", _external=True)
    else:
        redirect_uri = f"{settings.PUBLIC_BASE_URL}{url_for('h5_identity.oauth_callback')}"
    return authorize_url(settings, redirect_uri, state)


def authorize_url(settings: Any, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
    """WeChat's authorize URL (the sandbox's page while the sandbox is on). The parameter
    order is the documented one: WeChat is known to reject other orders."""
    query = urlencode(
        [
            ("appid", settings.wechat_app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ],
        quote_via=quote,
    )
    if settings.sandbox:
        return f"{url_for('sandbox_connect.authorize')}?{query}"
    return f"{OFFICIAL_AUTHORIZE_URL}?{query}#wechat_redirect"


def _safe_path(target: str | None) -> str:
    # Same-site paths only: never an open redirect ("//host", "/\\host", "http://…").
    if (
        target
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and not urlsplit(target).netloc
        and not any(ch in target for ch in "\r\n")
    ):
        return target
    return DEFAULT_NEXT


# ---------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------


@bp.get("/oauth/callback")
def oauth_callback():
    """Finish the authorisation: state must match one we issued, the code is exchanged once."""
    state = request.args.get("state", "")
    code = request.args.get("code", "")
    pending = dict(session.get(SESSION_PENDING) or {})
    entry = pending.pop(state, None) if state else None
    session[SESSION_PENDING] = pending  # a state is good for one callback only
    if entry is None or int(time.time()) - int(entry[1]) >= STATE_TTL_SECONDS:
        return h5_notice(
            400,
            "登录校验失败",
            ["登录请求已失效或不是从本页面发起的。", "请返回公众号，重新打开要访问的页面。"],
            icon="error",
        )
    next_path = _safe_path(entry[0])
    if not code:
        return h5_notice(400, "未获得微信授权", ["请返回公众号重新打开页面，并同意授权。"], icon="warn")
    try:
        answer = get_wechat_client().oauth_exchange_code(code)
    except InvalidOAuthCode:
        return h5_notice(
            400, "授权已失效", ["微信授权码已使用或已过期。"], icon="warn", retry_url=next_path
        )
    except WeChatAPIError as exc:
        log.warning("OAuth code exchange failed: %s", exc)
        return h5_notice(
            503, "微信服务暂时不可用", ["请稍后重新打开页面。"], icon="error", retry_url=next_path
        )
    openid = str(answer.get("openid") or "")
    if not openid:
        return h5_notice(503, "微信服务暂时不可用", ["未能获取您的微信身份，请稍后重试。"], icon="error")
    session[SESSION_OPENID] = openid
    session.pop(SESSION_USER_ID, None)
    user = user_by_openid(db.session, openid)
    if user is None:
        return h5_notice(
            403,
            "尚未绑定账号",
            [
                "您的微信还没有绑定安查账号，暂时不能使用此功能。",
                "请联系本单位的企业管理员或安全管理员，为您生成邀请二维码；"
                "用微信扫描该二维码并关注公众号后，即可完成绑定，再重新打开此页面。",
            ],
            icon="warn",
        )
    if not user.is_active:
        return h5_notice(403, "账号已停用", ["您的安查账号已被停用，如有疑问请联系企业管理员。"], icon="error")
    session[SESSION_USER_ID] = user.id
    return redirect(next_path)


@bp.get("/me")
@h5_login_required
def me():
    """我的: name, enterprises with roles, bureau role, bound WeChat."""
    user: User = current_h5_user()  # type: ignore[assignment]  # set: h5_login_required
    enterprises, bureau = my_roles(db.session, user)
    return render_template(
        "wechat/h5_me.html",
        user=user,
        enterprises=enterprises,
        bureau_label=BUREAU_ROLE_LABELS[bureau.role] if bureau else None,
        bureau_towns=[t.name for t in bureau.towns] if bureau else [],
        masked_openid=_mask(user.openid),
    )


@bp.post("/logout")
@csrf_required
def logout():
    """Forget the WeChat identity on this browser (the console login is left alone). Needs
    the page's CSRF token: a foreign page must not be able to sign a worker out mid-shift."""
    for key in (SESSION_USER_ID, SESSION_OPENID, SESSION_PENDING):
        session.pop(key, None)
    return h5_notice(200, "已退出", ["重新打开公众号中的页面即可再次登录。"], icon="success")


@bp.get("/jssdk/config")
def jssdk_config():
    """`wx.config` arguments for `url` (the exact page URL; its fragment is ignored).
    Only pages of this site are signed."""
    url = request.args.get("url", "").strip()
    if not url:
        return _json_problem(400, "validation_failed", "缺少 url 参数（当前页面的完整地址）。")
    page = strip_fragment(url)
    if not _is_own_page(page):
        return _json_problem(400, "foreign_url", "只能为本站页面生成 JS-SDK 签名。")
    try:
        config = get_wechat_client().jssdk_config(page)
    except WeChatAPIError as exc:
        log.warning("JS-SDK config failed: %s", exc)
        return _json_problem(503, "wechat_unavailable", "微信接口暂时不可用，请稍后再试。")
    response = jsonify(config)
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_own_page(url: str) -> bool:
    settings = current_app.config["SETTINGS"]
    parts = urlsplit(url)
    base = urlsplit(settings.PUBLIC_BASE_URL)
    allowed = {(base.scheme, base.netloc)}
    if settings.sandbox:
        # Local development reaches the sandbox on whatever host the browser uses.
        allowed.add((request.scheme, request.host))
    return (parts.scheme, parts.netloc) in allowed and not parts.username and not parts.password


def _json_problem(status: int, error: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message}), status


def _mask(openid: str | None) -> str:
    if not openid:
        return ""
    return openid if len(openid) <= 10 else f"{openid[:4]}…{openid[-4:]}"
