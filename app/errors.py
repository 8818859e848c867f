"""Domain errors and how the web layer shows them.

Domain rules and services raise DomainError subclasses with a message a person can act on
(Chinese for anything a user reads). The exceptions are importable without Flask; the
handlers registered by `register_error_handlers` roll the unit of work back and answer
JSON for API clients or a small Chinese HTML page for people.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every expected failure; carries the HTTP status it maps to."""

    http_status = 400
    code = "error"

    def __init__(self, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class NotFound(DomainError):
    http_status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    http_status = 403
    code = "permission_denied"


class InvalidTransition(DomainError):
    http_status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    http_status = 409
    code = "conflict"


class ValidationFailed(DomainError):
    """Bad input. `fields` maps each offending field to what is wrong with it."""

    http_status = 422
    code = "validation_failed"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = dict(fields or {})

    @classmethod
    def for_field(cls, field: str, problem: str) -> ValidationFailed:
        return cls(f"{field}: {problem}", fields={field: problem})

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "fields": self.fields}


def wants_json() -> bool:
    from flask import request

    if request.path.startswith(("/api/", "/healthz", "/sandbox/api/", "/sandbox/wx/")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def readable_message(exc: DomainError, labels: Mapping[str, str] | None = None) -> str:
    """The message of `exc` as a person reads it: a one-field message
    (`ValidationFailed.for_field`) as "标签：问题" (the problem alone without a label for the
    field), field names in parentheses dropped from any other."""
    message = exc.message
    if isinstance(exc, ValidationFailed):
        for name, problem in exc.fields.items():
            label = (labels or {}).get(name.split(".")[0], "")
            if message == f"{name}: {problem}":
                return f"{label}：{problem}" if label else problem
            message = message.replace(f"（{name}）", "")
    return message


def h5_notice(
    status: int,
    title: str,
    lines: list[str],
    *,
    icon: str = "warn",
    retry_url: str | None = None,
    link: tuple[str, str] | None = None,
) -> tuple[str, int]:
    """The phone-layout notice page (templates/wechat/h5_notice.html) with `status`; `link`
    is an optional (url, label) button."""
    from flask import render_template

    page = render_template(
        "wechat/h5_notice.html", title=title, lines=lines, icon=icon, retry_url=retry_url, link=link
    )
    return page, status


def h5_domain_error(
    exc: DomainError, titles: Mapping[int, str], labels: Mapping[str, str] | None = None
) -> tuple[Response | str, int]:
    """An H5 blueprint's answer to `exc`: the unit of work rolled back, then JSON for
    scripts or the notice page titled by status ("操作未完成" when `titles` has none)."""
    from flask import jsonify

    _rollback()
    message = readable_message(exc, labels)
    if wants_json():
        return jsonify({**exc.to_dict(), "message": message}), exc.http_status
    return h5_notice(exc.http_status, titles.get(exc.http_status, "操作未完成"), [message])


def too_large_message(photo_bytes: int) -> str:
    """Why a request over MAX_CONTENT_LENGTH was refused, and what to do instead."""
    from flask import current_app, request

    limit_bytes = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    if request.content_length is not None and request.content_length <= limit_bytes:
        # The whole request was within the limit: what overflowed was a text field
        # (Werkzeug's MAX_FORM_MEMORY_SIZE), not a photo.
        form_kb = (current_app.config.get("MAX_FORM_MEMORY_SIZE") or 500_000) // 1000
        return f"填写的文字太长（每一项不超过 {form_kb} KB），请精简后再提交；照片请用上传按钮添加。"
    limit = limit_bytes // (1024 * 1024)
    return (
        f"上传的照片太大（一次最多 {limit} MB，每张不超过 {photo_bytes // (1024 * 1024)} MB）。"
        "请压缩后再上传，或分几次上传；在微信中拍照上传会自动压缩。"
    )


def h5_too_large(photo_bytes: int, fallback_url: str) -> tuple[Response | str, int]:
    """An H5 upload over MAX_CONTENT_LENGTH: rolled back, then JSON or the notice page with a
    link back to the page the upload came from (when it is one of ours, else `fallback_url`)."""
    from flask import jsonify, request

    _rollback()
    message = too_large_message(photo_bytes)
    if wants_json():
        return jsonify({"error": "too_large", "message": message}), 413
    referrer = request.referrer or ""
    back = referrer if referrer.startswith(request.host_url) else fallback_url
    title = "照片太大" if message.startswith("上传的照片") else "内容太长"
    return h5_notice(413, title, [message], retry_url=back)


def _rollback() -> None:
    from app.extensions import db

    db.rollback_request_session()


PROBLEM_TITLES = {400: "请求有误", 401: "未认证", 403: "没有权限", 404: "不存在", 405: "不支持该请求方式", 409: "冲突", 413: "内容太大", 422: "输入有误", 429: "请求过于频繁", 503: "服务暂不可用"}
H5_TITLES = {401: "请重新打开", 403: "没有权限", 404: "内容不存在", 413: "上传内容太大", 429: "操作过于频繁", 503: "系统正忙"}
STORE_OUTAGE_MESSAGE = "系统暂时无法保存或读取数据，本次操作没有生效。请稍等半分钟后返回重试。"


def render_error(status: int, payload: dict[str, Any]) -> tuple[Response | str, int]:
    """Roll the unit of work back and answer an error: JSON for API clients, the phone page
    under /h5/, the console's error page otherwise."""
    _rollback()
    return _render(status, payload)


def _render(status: int, payload: dict[str, Any]) -> tuple[Response | str, int]:
    from flask import jsonify, render_template, request

    if request.path.startswith("/api/"):
        # CONTRACT.md: API errors are problem+json, whichever layer refuses (a route's
        # converter, the token check, a view); `error`/`message` stay for older clients.
        body = {
            "type": "about:blank",
            "title": PROBLEM_TITLES.get(status, "服务器内部错误" if status >= 500 else "请求未完成"),
            "status": status,
            "detail": payload.get("message", ""),
            **payload,
        }
        response = jsonify(body)
        response.mimetype = "application/problem+json"
        return response, status
    if wants_json():
        return jsonify(payload), status
    if request.path.startswith("/h5/"):
        # Pages opened inside WeChat get the phone layout, not the console's.
        title = H5_TITLES.get(status, "出错了" if status >= 500 else "操作未完成")
        icon = "error" if status >= 500 else "warn"
        return h5_notice(status, title, [payload["message"]], icon=icon)
    return render_template("error.html", status=status, payload=payload), status


HTTP_MESSAGES_ZH = {
    400: "请求格式不正确。",
    401: "请先登录。",
    403: "您没有权限进行此操作。",
    404: "页面不存在，请检查链接是否正确。",
    405: "不支持该请求方式。",
    413: "上传的内容太大，请压缩照片后再上传，或分几次上传。",
    429: "操作过于频繁，请稍后再试。",
}


def register_error_handlers(app: Flask) -> None:
    from flask import request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        _rollback()
        return _render(exc.http_status, exc.to_dict())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        _rollback()
        status = exc.code or 500
        message = HTTP_MESSAGES_ZH.get(status, exc.description or exc.name)
        body, code = _render(status, {"error": exc.name.lower().replace(" ", "_"), "message": message})
        # Keep the headers Werkzeug computed (Allow on 405, WWW-Authenticate on 401).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return body, code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from app.outages import is_store_outage

        try:
            _rollback()
        except Exception:
            log.warning("rollback failed", exc_info=True)
        if is_store_outage(exc):
            # Nothing of this request was stored; say so, and that trying again will work.
            log.warning("store outage on %s %s: %s", request.method, request.path, exc)
            body, code = _render(503, {"error": "service_unavailable", "message": STORE_OUTAGE_MESSAGE})
            return body, code, {"Retry-After": "30"}
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, {"error": "internal_error", "message": "服务器内部错误，请稍后再试。"})
