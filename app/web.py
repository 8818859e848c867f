"""Web helpers every console blueprint may use: CSRF tokens on state-changing forms.

Flask-WTF's CSRFProtect issues the tokens (`csrf_token()` in templates, tied to the
session) and checks them. Checking is per view (`csrf_required`) for now: the pages that
predate it are switched over by the security issue, so that none breaks half-done.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

CSRF_MESSAGE = "页面已过期或来源不明（缺少有效的表单令牌），请刷新页面后重新提交。"


def init_csrf(app: Flask) -> None:
    # A console page may stay open all day: the token lives as long as the login session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(_exc: CSRFError):
        from app.errors import render_error

        return render_error(400, {"error": "csrf_failed", "message": CSRF_MESSAGE})


def csrf_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a POST without a valid CSRF token (400, nothing written)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        csrf.protect()
        return view(*args, **kwargs)

    return wrapped
