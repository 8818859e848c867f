"""Console page 组织与岗位 (/console/enterprises/<id>/organisation): departments and their
teams, posts with their risk cards (岗位风险告知卡) and 较大危险因素. Whoever may
MANAGE_STRUCTURE (enterprise admin, safety officer) edits; every other viewer reads.

Views parse the form, call one service verb and own the commit; a refused change is rolled
back and the page shown again with the Chinese reason (422 bad input, 409 still referred to).
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from flask import Blueprint, flash, get_flashed_messages, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import utcnow
from app.enterprises.models import Post
from app.enterprises.organisation import queries, service
from app.enterprises.organisation.domain import BLANK_FACTOR_ROWS, CARD_TEXT_MAX, MEASURES_MAX, NAME_MAX
from app.errors import Conflict, ValidationFailed, readable_message
from app.extensions import db
from app.web import csrf_required

bp = Blueprint("organisation", __name__, url_prefix="/console")

POST_LABELS = {
    "name": "岗位名称",
    "department_id": "所属部门",
    "risks": "主要风险",
    "precautions": "防范措施",
    "emergency_measures": "应急措施",
}
CARD_FIELDS = tuple(POST_LABELS)
REFUSED = (ValidationFailed, Conflict)


def _post_form() -> dict[str, Any]:
    values: dict[str, Any] = {name: request.form.get(name, "").strip() for name in CARD_FIELDS}
    rows = zip_longest(request.form.getlist("factor_name"), request.form.getlist("factor_measures"), fillvalue="")
    values["factors"] = [{"name": name, "measures": measures} for name, measures in rows]
    return values


def _post_values(post: Post) -> dict[str, Any]:
    return {
        "name": post.name,
        "department_id": str(post.department_id or ""),
        "risks": post.risks,
        "precautions": post.precautions,
        "emergency_measures": post.emergency_measures,
        "factors": [{"name": f.name, "measures": f.measures} for f in post.hazard_factors],
    }


def _with_blank_rows(values: dict[str, Any]) -> dict[str, Any]:
    filled = [row for row in values.get("factors", []) if row["name"].strip() or row["measures"].strip()]
    return {**values, "factors": filled + [{"name": "", "measures": ""}] * BLANK_FACTOR_ROWS}


def _page(
    enterprise_id: int,
    *,
    error: str | None = None,
    post_error: str | None = None,
    values: dict[str, Any] | None = None,
    editing: Post | None = None,
    status: int = 200,
):
    actor = current_actor()
    enterprise = service.visible_enterprise(db.session, actor, enterprise_id)
    return (
        render_template(
            "organisation/console.html",
            enterprise=enterprise,
            org=queries.organisation(db.session, enterprise),
            can_manage=actor.can(Action.MANAGE_STRUCTURE, enterprise.ref),
            values=_with_blank_rows(values or {}),
            editing=editing,
            error=error,
            post_error=post_error,
            messages=get_flashed_messages(),
            NAME_MAX=NAME_MAX,
            CARD_TEXT_MAX=CARD_TEXT_MAX,
            MEASURES_MAX=MEASURES_MAX,
        ),
        status,
    )


def _refused(unit: str, unit_id: int, exc: ValidationFailed | Conflict):
    """Roll back and show the page of the unit's enterprise with the reason."""
    db.session.rollback()
    return _page(queries.enterprise_id_of(db.session, unit, unit_id), error=readable_message(exc), status=exc.http_status)


def _back(enterprise_id: int, anchor: str = ""):
    return redirect(url_for("organisation.page", enterprise_id=enterprise_id) + anchor)


@bp.get("/enterprises/<id:enterprise_id>/organisation")
@login_required
def page(enterprise_id: int):
    """组织与岗位: editable for MANAGE_STRUCTURE, read-only for every other viewer."""
    return _page(enterprise_id)


# --- departments ---------------------------------------------------------------------------


@bp.post("/enterprises/<id:enterprise_id>/organisation/departments")
@login_required
@csrf_required
def add_department(enterprise_id: int):
    try:
        department = service.add_department(db.session, current_actor(), utcnow(), enterprise_id, request.form.get("name", ""))
    except REFUSED as exc:
        db.session.rollback()
        return _page(enterprise_id, error=readable_message(exc), status=exc.http_status)
    db.session.commit()
    flash(f"已添加部门「{department.name}」。")
    return _back(enterprise_id, "#units")


@bp.post("/departments/<id:department_id>/rename")
@login_required
@csrf_required
def rename_department(department_id: int):
    try:
        department = service.rename_department(db.session, current_actor(), utcnow(), department_id, request.form.get("name", ""))
    except REFUSED as exc:
        return _refused("department", department_id, exc)
    db.session.commit()
    flash(f"部门已改名为「{department.name}」。")
    return _back(department.enterprise_id, "#units")


@bp.post("/departments/<id:department_id>/delete")
@login_required
@csrf_required
def remove_department(department_id: int):
    enterprise_id = queries.enterprise_id_of(db.session, "department", department_id)
    try:
        name = service.remove_department(db.session, current_actor(), utcnow(), department_id)
    except REFUSED as exc:
        return _refused("department", department_id, exc)
    db.session.commit()
    flash(f"已删除部门「{name}」。")
    return _back(enterprise_id, "#units")


# --- teams ---------------------------------------------------------------------------------


@bp.post("/departments/<id:department_id>/teams")
@login_required
@csrf_required
def add_team(department_id: int):
    try:
        team = service.add_team(db.session, current_actor(), utcnow(), department_id, request.form.get("name", ""))
    except REFUSED as exc:
        return _refused("department", department_id, exc)
    db.session.commit()
    flash(f"已在「{team.department.name}」添加班组「{team.name}」。")
    return _back(team.department.enterprise_id, "#units")


@bp.post("/teams/<id:team_id>/rename")
@login_required
@csrf_required
def rename_team(team_id: int):
    try:
        team = service.rename_team(db.session, current_actor(), utcnow(), team_id, request.form.get("name", ""))
    except REFUSED as exc:
        return _refused("team", team_id, exc)
    db.session.commit()
    flash(f"班组已改名为「{team.name}」。")
    return _back(team.department.enterprise_id, "#units")


@bp.post("/teams/<id:team_id>/delete")
@login_required
@csrf_required
def remove_team(team_id: int):
    enterprise_id = queries.enterprise_id_of(db.session, "team", team_id)
    try:
        name = service.remove_team(db.session, current_actor(), utcnow(), team_id)
    except REFUSED as exc:
        return _refused("team", team_id, exc)
    db.session.commit()
    flash(f"已删除班组「{name}」。")
    return _back(enterprise_id, "#units")


# --- posts ---------------------------------------------------------------------------------


@bp.post("/enterprises/<id:enterprise_id>/organisation/posts")
@login_required
@csrf_required
def add_post(enterprise_id: int):
    values = _post_form()
    try:
        post = service.add_post(db.session, current_actor(), utcnow(), enterprise_id, values)
    except REFUSED as exc:
        db.session.rollback()
        message = readable_message(exc, POST_LABELS)
        return _page(enterprise_id, post_error=message, values=values, status=exc.http_status)
    db.session.commit()
    flash(f"已添加岗位「{post.name}」及其风险告知卡。")
    return _back(enterprise_id, f"#post-{post.id}")


@bp.get("/posts/<id:post_id>/edit")
@login_required
def edit_post(post_id: int):
    post = service.post_to_edit(db.session, current_actor(), post_id)
    return _page(post.enterprise_id, values=_post_values(post), editing=post)


@bp.post("/posts/<id:post_id>/edit")
@login_required
@csrf_required
def update_post(post_id: int):
    values = _post_form()
    try:
        post = service.update_post(db.session, current_actor(), utcnow(), post_id, values)
    except REFUSED as exc:
        db.session.rollback()
        post = service.post_to_edit(db.session, current_actor(), post_id)
        message = readable_message(exc, POST_LABELS)
        return _page(post.enterprise_id, post_error=message, values=values, editing=post, status=exc.http_status)
    db.session.commit()
    flash(f"已保存岗位「{post.name}」的风险告知卡。")
    return _back(post.enterprise_id, f"#post-{post.id}")


@bp.post("/posts/<id:post_id>/delete")
@login_required
@csrf_required
def remove_post(post_id: int):
    enterprise_id = queries.enterprise_id_of(db.session, "post", post_id)
    try:
        name = service.remove_post(db.session, current_actor(), utcnow(), post_id)
    except REFUSED as exc:
        return _refused("post", post_id, exc)
    db.session.commit()
    flash(f"已删除岗位「{name}」。")
    return _back(enterprise_id, "#posts")
