"""Web helpers every blueprint may use: the time filters of every template, and CSRF tokens
on state-changing forms.

Flask-WTF's CSRFProtect issues the tokens (`csrf_token()` in templates, tied to the
session) and checks them. Checking is per view (`csrf_required`) for now: the pages that
predate it are switched over by the security issue, so that none breaks half-done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import IntegerConverter

from app.clock import to_local, utcnow
from app.ids import MAX_ID

csrf = CSRFProtect()

CSRF_MESSAGE = "页面已过期或来源不明（缺少有效的表单令牌），请刷新页面后重新提交。"


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a row id, 1 … MAX_ID; anything else is a 404 before the view."""

    def __init__(self, map: Any) -> None:  # noqa: A002 - werkzeug's parameter name
        super().__init__(map, min=1, max=MAX_ID)


# What a page may load and who may frame it. Scripts and styles come from this site (and
# WeChat's JS-SDK); inline <script>/<style> blocks are still allowed because the pages use
# them for their chart and form set-up (their data is escaped by Jinja, never interpolated
# into code); frames only from this site (the sandbox's phone shows the H5 pages in one).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://res.wx.qq.com",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def init_security_headers(app: Flask, https: bool) -> None:
    """Every answer carries the security headers (HSTS too when served over HTTPS)."""
    headers = dict(SECURITY_HEADERS)
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"

    @app.after_request
    def _secure(response: Any) -> Any:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def init_url_converters(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter


def init_csrf(app: Flask) -> None:
    # A console page may stay open all day: the token lives as long as the login session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(_exc: CSRFError):
        from app.errors import render_error

        return render_error(400, {"error": "csrf_failed", "message": CSRF_MESSAGE})

    @app.before_request
    def _same_origin_only():
        # A browser names the page a POST came from (Origin); the console's and the phone
        # pages' forms are only ever sent from this site. Requests without Origin (old
        # clients, curl) still need their CSRF token.
        if request.method in SAFE_METHODS or not request.path.startswith(BROWSER_PATHS):
            return None
        origin = request.headers.get("Origin")
        if origin and origin != "null" and origin.rstrip("/") not in _own_origins():
            from app.errors import render_error

            return render_error(403, {"error": "foreign_origin", "message": FOREIGN_ORIGIN_MESSAGE})
        return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BROWSER_PATHS = ("/console/", "/h5/")
FOREIGN_ORIGIN_MESSAGE = "请求来自其他网站，已拒绝。请在安查的页面上操作。"


def _own_origins() -> set[str]:
    """This site's origins: the one the request came to and the configured public one."""
    own = {request.host_url.rstrip("/")}
    settings = current_app.config.get("SETTINGS")
    public = getattr(settings, "PUBLIC_BASE_URL", "") or ""
    parts = urlsplit(public)
    if parts.scheme and parts.netloc:
        own.add(f"{parts.scheme}://{parts.netloc}")
    return own


def localtime(moment: datetime | None) -> str:
    """An aware UTC instant as Asia/Shanghai wall-clock time, to the minute."""
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def shorttime(moment: datetime | None) -> str:
    """Local time without the year when it is this year: 11-28 10:05."""
    if not moment:
        return ""
    local = to_local(moment)
    if local.year == to_local(utcnow()).year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def register_filters(app: Flask) -> None:
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(shorttime, "shorttime")


def csrf_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a POST without a valid CSRF token (400, nothing written)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        csrf.protect()
        return view(*args, **kwargs)

    wrapped.csrf_protected = True  # type: ignore[attr-defined]  # read by the route sweep test
    return wrapped
