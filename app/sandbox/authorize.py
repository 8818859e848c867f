"""The sandbox's stand-in for `https://open.weixin.qq.com/connect/oauth2/authorize`.

A small mobile page asks which virtual WeChat user you are (or takes `openid=` directly,
for tests, or from the simulator's cookie: the user it plays), then redirects to
`redirect_uri?code=…&state=…` like WeChat does. The code is single-use and valid for
5 minutes; `/sandbox/wx/sns/oauth2/access_token` exchanges it.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request

from app.sandbox.store import OPENID_RE, sandbox_store

connect = Blueprint("sandbox_connect", __name__, url_prefix="/sandbox/connect")

# Set by the simulator (`/sandbox/open`) for the virtual user it plays, so pages opened in
# its webview sign in as that user without asking.
SIMULATOR_OPENID_COOKIE = "ancha_sandbox_openid"
SCOPES = {"snsapi_base": "静默授权（仅获取身份标识 openid）", "snsapi_userinfo": "获取你的昵称、头像"}


def _refuse(message: str):
    return render_template("sandbox/authorize.html", error=message, users=[], params={}), 400


@connect.get("/oauth2/authorize")
def authorize():
    """Check the parameters as WeChat does, then issue a code for the chosen user."""
    settings = current_app.config["SETTINGS"]
    args = request.args
    if args.get("appid") != settings.wechat_app_id:
        return _refuse("参数错误：appid 无效。")
    if args.get("response_type") != "code":
        return _refuse("参数错误：response_type 必须为 code。")
    scope = args.get("scope", "")
    if scope not in SCOPES:
        return _refuse("scope 参数错误或没有 scope 权限（10005）。")
    redirect_uri = args.get("redirect_uri", "")
    target = urlsplit(redirect_uri)
    # WeChat only redirects to the account's configured web-authorisation domain; here that
    # is PUBLIC_BASE_URL's host, or the host this page was opened on (local development).
    allowed_hosts = {urlsplit(settings.PUBLIC_BASE_URL).netloc, request.host}
    if target.scheme not in ("http", "https") or target.netloc not in allowed_hosts:
        return _refuse("redirect_uri 域名与后台配置不一致（10003）。")
    state = args.get("state", "")

    openid = args.get("openid") or request.cookies.get(SIMULATOR_OPENID_COOKIE)
    if openid:
        if not OPENID_RE.match(openid):
            return _refuse("openid 格式不正确。")
        store = sandbox_store()
        if store.get_user(openid) is None:
            # Any WeChat user can authorise, follower or not: a new one starts unfollowed.
            store.create_user(openid=openid, subscribed=False)
        code = store.issue_oauth_code(openid, scope)
        separator = "&" if target.query else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}")

    params = {k: v for k, v in args.items() if k != "openid"}
    return render_template(
        "sandbox/authorize.html",
        error=None,
        users=sandbox_store().list_users(),
        params=params,
        scope_label=SCOPES[scope],
        redirect_host=target.netloc,
    )
