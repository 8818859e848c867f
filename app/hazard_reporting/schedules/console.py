"""Console page 排查计划 of one enterprise: its routine schedules by level (班组日 / 部门周 /
经理月排查) and its risk-point rounds, with names and due rules in words; those who manage
the enterprise's structure (MANAGE_STRUCTURE) add, edit, pause and resume schedules, every
other member and the bureau read.

Views are thin: parse the form, call the service with (session, actor, now), commit and
redirect; a DomainError rolls the unit of work back and shows the page again with the
service's Chinese message (422 bad input, 409 a duplicate, 404 another enterprise's)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, get_flashed_messages, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import utcnow
from app.enterprises import service as enterprise_service
from app.errors import DomainError, PermissionDenied, readable_message
from app.extensions import db
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckLevel, ScheduleKind
from app.hazard_reporting.schedules import queries, service
from app.hazard_reporting.schedules.domain import MAX_GRACE_MINUTES, ROUTINE_DEFAULTS, WEEKDAY_NAMES
from app.web import csrf_required

bp = Blueprint(
    "schedules_console",
    __name__,
    url_prefix="/console/enterprises/<id:enterprise_id>/schedules",
    template_folder="../../templates",
)

FIELD_LABELS = {
    "level": "排查层级",
    "label": "名称",
    "team_id": "班组",
    "department_id": "部门",
    "site_id": "点位",
    "due_time": "截止时间",
    "due_weekday": "每周截止日",
    "due_month_day": "每月截止日",
    "grace_minutes": "宽限时间（分钟）",
    "workdays_only": "仅工作日",
    "active": "状态",
}
LEVEL_HINTS = {
    CheckLevel.DAILY: "班组长每天在本班组的点位扫码排查；节假日是否排查按“仅工作日”。",
    CheckLevel.WEEKLY: "部门负责人每周（周一至周日）排查一次，截止于所选的周几。",
    CheckLevel.MONTHLY: "企业经理每月排查一次；所选日期超过当月天数时（如 31 日遇小月），截止于当月最后一天。",
}
# What the create form sends besides the level; empty fields take the level's defaults.
CREATE_FIELDS = ("label", "team_id", "department_id", "site_id", "due_time", "due_weekday", "due_month_day", "grace_minutes")


def _enterprise(enterprise_id: int):
    actor = current_actor()
    return actor, enterprise_service.get_enterprise(db.session, actor, enterprise_id)


def _page(enterprise_id: int, status: int = 200, **extra: Any):
    actor, enterprise = _enterprise(enterprise_id)
    context = {
        "e": enterprise,
        "page": queries.schedules_page(db.session, enterprise.id),
        "can_edit": actor.can(Action.MANAGE_STRUCTURE, enterprise.ref),
        "messages": get_flashed_messages(),
        "form": {},
        "form_level": None,
        **extra,
    }
    return render_template("schedules/console_schedules.html", **context), status


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "CHECK_LEVEL_LABELS": CHECK_LEVEL_LABELS,
        "CheckLevel": CheckLevel,
        "ScheduleKind": ScheduleKind,
        "LEVEL_HINTS": LEVEL_HINTS,
        "ROUTINE_DEFAULTS": ROUTINE_DEFAULTS,
        "WEEKDAY_NAMES": WEEKDAY_NAMES,
        "MAX_GRACE_MINUTES": MAX_GRACE_MINUTES,
    }


def _flag(name: str) -> bool:
    return request.form.get(name, "") in ("1", "true", "on")


@bp.get("")
@login_required
def schedules(enterprise_id: int):
    """排查计划: a table per level, the risk-point rounds, and (for managers of the
    structure) a form per level to add a schedule."""
    return _page(enterprise_id)


@bp.post("")
@login_required
@csrf_required
def create_schedule(enterprise_id: int):
    form = request.form
    data: dict[str, Any] = {"level": form.get("level", "")}
    for name in CREATE_FIELDS:
        value = form.get(name, "").strip()
        if value:
            data[name] = value
    if data["level"] == CheckLevel.DAILY.value:
        data["workdays_only"] = _flag("workdays_only")
    try:
        schedule = service.create_schedule(db.session, current_actor(), utcnow(), enterprise_id, data)
    except DomainError as exc:
        db.session.rollback()
        return _page(
            enterprise_id,
            exc.http_status,
            error=readable_message(exc, FIELD_LABELS),
            form=form,
            form_level=data["level"],
        )
    db.session.commit()
    flash(f"已新增排查计划「{schedule.label}」，从今天起生成排查任务。")
    return redirect(url_for("schedules_console.schedules", enterprise_id=enterprise_id))


def _edit_page(enterprise_id: int, schedule_id: int, status: int = 200, **extra: Any):
    actor, enterprise = _enterprise(enterprise_id)
    if not actor.can(Action.MANAGE_STRUCTURE, enterprise.ref):
        raise PermissionDenied("只有企业管理员或安全管理员可以调整排查计划。")
    schedule = queries.schedule_of(db.session, enterprise.id, schedule_id)
    page = queries.schedules_page(db.session, enterprise.id)
    context = {
        "e": enterprise,
        "row": queries.schedule_row(db.session, schedule),
        "sites": page.sites,
        "form": {},
        **extra,
    }
    return render_template("schedules/console_schedule_edit.html", **context), status


@bp.get("/<id:schedule_id>")
@login_required
def edit_schedule(enterprise_id: int, schedule_id: int):
    """The edit form of one schedule (label, timing, site; never its level or unit)."""
    return _edit_page(enterprise_id, schedule_id)


@bp.post("/<id:schedule_id>")
@login_required
@csrf_required
def update_schedule(enterprise_id: int, schedule_id: int):
    form = request.form
    actor, enterprise = _enterprise(enterprise_id)
    try:
        schedule = queries.schedule_of(db.session, enterprise.id, schedule_id)
        level = CheckLevel(schedule.level)
        data: dict[str, Any] = {
            "label": form.get("label", "").strip() or None,
            "due_time": form.get("due_time", "").strip() or None,
            "grace_minutes": form.get("grace_minutes", "").strip() or None,
        }
        if schedule.kind is ScheduleKind.ROUTINE:
            data["site_id"] = form.get("site_id", "").strip() or None
        if level is CheckLevel.DAILY:
            data["workdays_only"] = _flag("workdays_only")
        elif level is CheckLevel.WEEKLY:
            data["due_weekday"] = form.get("due_weekday", "").strip() or None
        else:
            data["due_month_day"] = form.get("due_month_day", "").strip() or None
        service.update_schedule(db.session, actor, utcnow(), schedule.id, data)
    except DomainError as exc:
        db.session.rollback()
        if exc.http_status in (403, 404):
            raise
        return _edit_page(enterprise_id, schedule_id, exc.http_status, error=readable_message(exc, FIELD_LABELS), form=form)
    db.session.commit()
    flash(f"已保存排查计划「{schedule.label}」，新的时间从尚未生成的周期起生效。")
    return redirect(url_for("schedules_console.schedules", enterprise_id=enterprise_id))


def _set_active(enterprise_id: int, schedule_id: int, active: bool):
    actor, enterprise = _enterprise(enterprise_id)
    try:
        schedule = queries.schedule_of(db.session, enterprise.id, schedule_id)
        service.set_schedule_active(db.session, actor, utcnow(), schedule.id, active)
    except DomainError as exc:
        db.session.rollback()
        if exc.http_status in (403, 404):
            raise
        return _page(enterprise_id, exc.http_status, error=readable_message(exc, FIELD_LABELS))
    db.session.commit()
    if active:
        flash(f"已恢复排查计划「{schedule.label}」：从今天起重新生成排查任务，暂停期间不补生成。")
    else:
        flash(f"已暂停排查计划「{schedule.label}」：不再生成新的排查任务，已开始周期的任务保留。")
    return redirect(url_for("schedules_console.schedules", enterprise_id=enterprise_id))


@bp.post("/<id:schedule_id>/pause")
@login_required
@csrf_required
def pause_schedule(enterprise_id: int, schedule_id: int):
    return _set_active(enterprise_id, schedule_id, False)


@bp.post("/<id:schedule_id>/resume")
@login_required
@csrf_required
def resume_schedule(enterprise_id: int, schedule_id: int):
    return _set_active(enterprise_id, schedule_id, True)
