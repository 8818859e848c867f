"""The member's own notification settings on H5 (我的 → 消息提醒设置): 每日汇总 instead of a
message per notice, and the quiet hours (免打扰时段). Major hazards ignore both."""

from __future__ import annotations

from datetime import time
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.accounts.h5_login import current_h5_actor, h5_login_required
from app.clock import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.notifications import queries
from app.notifications.domain import DEFAULT_QUIET_END, DEFAULT_QUIET_START
from app.notifications.models import NotificationPreference
from app.notifications.service import save_preference
from app.web import csrf_required

bp = Blueprint("notifications_h5", __name__, url_prefix="/h5/me/notifications")

HOURS = range(24)
_FIELD_TITLES = {"quiet_start": "免打扰开始时间", "quiet_end": "免打扰结束时间"}
_TRUTHY = {"1", "on", "true", "yes"}


def _hour_value(value: time | None) -> str:
    return "" if value is None else str(value.hour)


def _stored_values(preference: NotificationPreference | None) -> dict[str, Any]:
    if preference is None:  # no row: every notice as it comes, the default quiet hours
        return {
            "digest_only": False,
            "quiet_start": _hour_value(DEFAULT_QUIET_START),
            "quiet_end": _hour_value(DEFAULT_QUIET_END),
        }
    return {
        "digest_only": preference.digest_only,
        "quiet_start": _hour_value(preference.quiet_start),
        "quiet_end": _hour_value(preference.quiet_end),
    }


def _form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        "digest_only": form.get("digest_only", "").strip().lower() in _TRUTHY,
        "quiet_start": form.get("quiet_start", "").strip(),
        "quiet_end": form.get("quiet_end", "").strip(),
    }


def _hour(values: dict[str, Any], field: str, problems: dict[str, str]) -> time | None:
    raw = values[field]
    if raw == "":
        return None
    try:
        hour = int(raw)
    except ValueError:
        hour = -1
    if hour not in HOURS:
        problems[field] = f"{_FIELD_TITLES[field]}应为 0–23 点"
        return None
    return time(hour, 0)


def _preference_data(values: dict[str, Any]) -> dict[str, Any]:
    """The form as `save_preference` input; raises ValidationFailed (Chinese messages) for
    an hour outside 0–23 or quiet hours that start when they end."""
    problems: dict[str, str] = {}
    start = _hour(values, "quiet_start", problems)
    end = _hour(values, "quiet_end", problems)
    if not problems and start is not None and start == end:
        problems["quiet_end"] = "免打扰开始和结束时间不能相同；不需要免打扰请选择「不设免打扰」"
    if problems:
        raise ValidationFailed("；".join(problems.values()), fields=problems)
    return {"digest_only": values["digest_only"], "quiet_start": start, "quiet_end": end}


def _message(exc: ValidationFailed) -> str:
    return "；".join(dict.fromkeys(exc.fields.values())) if exc.fields else exc.message


def _page(values: dict[str, Any], *, saved: bool = False, error: str | None = None, status: int = 200):
    return (
        render_template(
            "notifications/h5_preferences.html", values=values, hours=HOURS, saved=saved, error=error
        ),
        status,
    )


@bp.get("")
@h5_login_required
def preferences():
    """消息提醒设置: the form, filled with what is stored (or the defaults)."""
    actor = current_h5_actor()
    preference = queries.preference_of(db.session, actor.user_id)
    return _page(_stored_values(preference), saved=request.args.get("saved") == "1")


@bp.post("")
@h5_login_required
@csrf_required
def save():
    """Store the settings and go back to the form, which says 已保存; bad input re-shows
    the form with the message and stores nothing."""
    actor = current_h5_actor()
    values = _form_values(request.form)
    try:
        save_preference(db.session, actor, utcnow(), _preference_data(values))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(values, error=_message(exc), status=exc.http_status)
    return redirect(url_for("notifications_h5.preferences", saved=1))
