"""Console pages of an enterprise's checks (排查管理): its check tasks with 免检 approval, its
own inspection list (copy-on-write edits of the standard templates), and its schedules with
the four-colour risk points that give sites their own rounds. (Confined-space jobs, the last
tab, are confined_space/console.py.)

Views are thin: parse the form, call the service with (session, actor, now), commit and
redirect (post/redirect/get). A DomainError rolls the unit of work back and the page is
shown again with the service's Chinese message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import ENTERPRISE_PERMISSIONS, ROLE_LABELS, Action
from app.clock import local_today, utcnow
from app.enterprises import service as enterprise_service
from app.errors import DomainError, ValidationFailed, readable_message
from app.extensions import db
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checklists.domain import ITEM_CATEGORY_LABELS, ItemCategory, OnFail
from app.hazard_reporting.checklists.queries import current_enterprise_items
from app.hazard_reporting.checks import queries, service
from app.hazard_reporting.checks.domain import (
    CHECK_LEVEL_LABELS,
    CHECK_TASK_STATUS_LABELS,
    ITEM_RESULT_LABELS,
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    ScheduleKind,
)
from app.hazard_reporting.checks.schemas import task_filter
from app.hazard_reporting.schedules import queries as schedule_queries
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.domain import RISK_LEVEL_LABELS, RiskLevel
from app.hazard_reporting.schedules.models import CheckSchedule
from app.web import csrf_required

bp = Blueprint(
    "checks_console",
    __name__,
    url_prefix="/console/enterprises/<id:enterprise_id>/checks",
    template_folder="../../templates",
)

EXCUSABLE = frozenset({CheckTaskStatus.PENDING, CheckTaskStatus.MISSED})
ON_FAIL_LABELS = {OnFail.GENERAL: "一般隐患", OnFail.MAJOR: "重大隐患", OnFail.REVIEW: "由安全管理员定级"}
LEVEL_CODES = {"D": "日", "W": "周", "M": "月"}
FIELD_LABELS = {
    "text": "排查内容",
    "category": "类别",
    "levels": "排查层级",
    "on_fail": "不符合时定级",
    "note": "说明",
    "reason": "原因",
    "risk_level": "风险等级",
    "due_time": "截止时间",
    "grace_minutes": "宽限时间（分钟）",
    "active": "启用",
}
DONE_MESSAGES = {
    "excused": "已批准免检。",
    "added": "已新增条目。",
    "reworded": "已修改条目表述。",
    "disabled": "已停用条目。",
    "enabled": "已启用条目。",
    "schedule": "已保存排查计划。",
    "risk": "已保存点位风险等级，巡查计划已随之调整。",
}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "CHECK_LEVEL_LABELS": CHECK_LEVEL_LABELS,
        "CHECK_TASK_STATUS_LABELS": CHECK_TASK_STATUS_LABELS,
        "ITEM_CATEGORY_LABELS": ITEM_CATEGORY_LABELS,
        "ON_FAIL_LABELS": ON_FAIL_LABELS,
        "LEVEL_CODES": LEVEL_CODES,
        "ItemCategory": ItemCategory,
        "OnFail": OnFail,
        "EXCUSABLE": EXCUSABLE,
        "RISK_LEVEL_LABELS": RISK_LEVEL_LABELS,
        "RiskLevel": RiskLevel,
        "ScheduleKind": ScheduleKind,
        "CheckLevel": CheckLevel,
        "ItemResult": ItemResult,
        "ITEM_RESULT_LABELS": ITEM_RESULT_LABELS,
    }


def _enterprise(enterprise_id: int):
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    return actor, enterprise


def _can(actor, enterprise, action: Action) -> bool:
    return actor.can(action, enterprise.ref)


# Who may excuse a check (免检): the roles holding VERIFY_HAZARD (service.excuse_task), for
# the explanation beside a missed task.
EXCUSERS = "、".join(ROLE_LABELS[r] for r, actions in ENTERPRISE_PERMISSIONS.items() if Action.VERIFY_HAZARD in actions)


def _tasks_context(enterprise_id: int) -> dict[str, Any]:
    """The task list page: filters from the URL (a bad one: the default list and the
    message, status 422), one page of rows, the teams for the filter."""
    actor, enterprise = _enterprise(enterprise_id)
    now = utcnow()
    today = local_today(now)
    error, status = None, 200
    try:
        filters = task_filter(request.args, today)
    except ValidationFailed as exc:
        filters, error, status = task_filter({}, today), readable_message(exc, FILTER_LABELS), 422
    page = queries.task_page(db.session, enterprise.id, filters)
    return {
        "e": enterprise,
        "page": page,
        "filters": filters,
        "teams": queries.enterprise_teams(db.session, enterprise.id),
        "now": now,
        "can_excuse": _can(actor, enterprise, Action.VERIFY_HAZARD),
        "excusers": EXCUSERS,
        "filter_error": error,
        "status": status,
        "page_args": lambda n: _filter_args(filters, n),
        "template": "checks/console_tasks.html",
    }


FILTER_LABELS = {"start": "开始日期", "end": "结束日期", "level": "排查层级", "team_id": "班组", "status": "状态", "page": "页码"}


def _filter_args(filters: queries.TaskFilter, page: int) -> dict[str, Any]:
    """URL arguments of the task list with these filters on `page`, empty ones left out."""
    args = {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "level": filters.level.value if filters.level else None,
        "team_id": filters.team_id,
        "status": filters.status.value if filters.status else None,
        "page": page if page > 1 else None,
    }
    return {k: v for k, v in args.items() if v is not None}


def _items_context(enterprise_id: int) -> dict[str, Any]:
    actor, enterprise = _enterprise(enterprise_id)
    checklist, items = current_enterprise_items(db.session, enterprise.id)
    return {
        "e": enterprise,
        "checklist": checklist,
        "items": items,
        "can_edit": _can(actor, enterprise, Action.MANAGE_STRUCTURE),
        "template": "checks/console_items.html",
    }


def _plans_context(enterprise_id: int) -> dict[str, Any]:
    actor, enterprise = _enterprise(enterprise_id)
    plans = schedule_queries.enterprise_plans(db.session, enterprise.id)
    site_names = {s.id: s.name for s in plans.sites}

    def unit(schedule: CheckSchedule) -> str:
        if schedule.site_id is not None:
            return f"点位：{site_names.get(schedule.site_id, '')}"
        if schedule.team_id is not None:
            return f"班组：{plans.team_names.get(schedule.team_id, '')}"
        if schedule.department_id is not None:
            return f"部门：{plans.department_names.get(schedule.department_id, '')}"
        return "企业经理"

    return {
        "e": enterprise,
        "schedules": [(s, unit(s)) for s in plans.schedules],
        "sites": plans.sites,
        "profiles": plans.profiles,
        "can_edit": _can(actor, enterprise, Action.MANAGE_STRUCTURE),
        "template": "checks/console_plans.html",
    }


def _page(context: dict[str, Any], status: int | None = None, **extra: Any):
    status = status or context.get("status", 200)
    return render_template(context["template"], **context, **extra), status


def _act(
    enterprise_id: int,
    change: Callable[[Any, Any], Any],
    done: str,
    endpoint: str,
    context_of: Callable[[int], dict[str, Any]],
):
    """Run `change(actor, now)` in one unit of work; redirect on success, otherwise show
    the page again with the Chinese message and nothing stored."""
    actor, enterprise = _enterprise(enterprise_id)
    try:
        change(actor, utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _page(context_of(enterprise_id), exc.http_status, error=readable_message(exc, FIELD_LABELS), form=request.form)
    return redirect(url_for(endpoint, enterprise_id=enterprise.id, done=done))


def _done() -> str:
    return DONE_MESSAGES.get(request.args.get("done", ""), "")


# --- 排查任务 ---------------------------------------------------------------------------


@bp.get("/")
@login_required
def tasks(enterprise_id: int):
    return _page(_tasks_context(enterprise_id), done=_done())


@bp.post("/tasks/<id:task_id>/excuse")
@login_required
@csrf_required
def excuse(enterprise_id: int, task_id: int):
    def change(actor, now):
        queries.task_of(db.session, enterprise_id, task_id)
        service.excuse_task(db.session, actor, now, task_id, request.form.get("reason", ""))

    return _act(enterprise_id, change, "excused", "checks_console.tasks", _tasks_context)


# --- 排查清单 ---------------------------------------------------------------------------


@bp.get("/items")
@login_required
def items(enterprise_id: int):
    return _page(_items_context(enterprise_id), done=_done())


@bp.post("/items")
@login_required
@csrf_required
def add_item(enterprise_id: int):
    form = request.form
    data = {
        "text": form.get("text", ""),
        "category": form.get("category", ""),
        "levels": form.getlist("levels"),
        "on_fail": form.get("on_fail") or OnFail.GENERAL.value,
        "note": form.get("note", ""),
    }

    def change(actor, now):
        checklist_service.add_checklist_item(db.session, actor, now, enterprise_id, data)

    return _act(enterprise_id, change, "added", "checks_console.items", _items_context)


@bp.post("/items/<code>/reword")
@login_required
@csrf_required
def reword_item(enterprise_id: int, code: str):
    def change(actor, now):
        checklist_service.reword_checklist_item(
            db.session, actor, now, enterprise_id, code, request.form.get("text", "")
        )

    return _act(enterprise_id, change, "reworded", "checks_console.items", _items_context)


@bp.post("/items/<code>/disable")
@login_required
@csrf_required
def disable_item(enterprise_id: int, code: str):
    def change(actor, now):
        checklist_service.set_checklist_item_enabled(
            db.session, actor, now, enterprise_id, code, False, request.form.get("reason", "")
        )

    return _act(enterprise_id, change, "disabled", "checks_console.items", _items_context)


@bp.post("/items/<code>/enable")
@login_required
@csrf_required
def enable_item(enterprise_id: int, code: str):
    def change(actor, now):
        checklist_service.set_checklist_item_enabled(db.session, actor, now, enterprise_id, code, True)

    return _act(enterprise_id, change, "enabled", "checks_console.items", _items_context)


# --- 排查计划与风险点 -----------------------------------------------------------------------


@bp.get("/plans")
@login_required
def plans(enterprise_id: int):
    return _page(_plans_context(enterprise_id), done=_done())


@bp.post("/schedules/<id:schedule_id>")
@login_required
@csrf_required
def update_schedule(enterprise_id: int, schedule_id: int):
    form = request.form
    data: dict[str, Any] = {"active": form.get("active", "")}
    for name in ("due_time", "grace_minutes"):
        if form.get(name, "").strip():
            data[name] = form[name].strip()

    def change(actor, now):
        schedule_queries.schedule_of(db.session, enterprise_id, schedule_id)
        schedule_service.update_schedule(db.session, actor, now, schedule_id, data)

    return _act(enterprise_id, change, "schedule", "checks_console.plans", _plans_context)


@bp.post("/sites/<id:site_id>/risk")
@login_required
@csrf_required
def set_risk(enterprise_id: int, site_id: int):
    form = request.form
    data = {
        "risk_level": form.get("risk_level", ""),
        "is_major_risk_point": form.get("is_major_risk_point") == "1",
        "note": form.get("note", ""),
    }

    def change(actor, now):
        schedule_queries.site_of(db.session, enterprise_id, site_id)
        schedule_service.set_site_risk_profile(db.session, actor, now, site_id, data)

    return _act(enterprise_id, change, "risk", "checks_console.plans", _plans_context)
