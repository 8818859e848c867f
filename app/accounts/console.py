"""Console login/logout, member invites, and the helpers every console view uses to know who is acting."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from wechatpy.exceptions import WeChatClientException

from app.accounts import queries, service
from app.accounts.domain import Action, invite_scene
from app.accounts.models import User
from app.accounts.queries import active_user, load_actor
from app.clock import utcnow
from app.errors import NotFound, PermissionDenied, ValidationFailed, readable_message
from app.extensions import db, redis_client
from app.web import csrf_required
from app.wechat.client import get_wechat_client
from app.wechat.qrcodes import render_qr, temporary_qr_url

bp = Blueprint("accounts", __name__, url_prefix="/console")


def current_user() -> User | None:
    if "user" not in g:
        g.user = active_user(db.session, session.get("user_id"))
    return g.user


def current_actor():
    if "actor" not in g:
        user = current_user()
        g.actor = load_actor(db.session, user) if user else None
    return g.actor


def console_context() -> dict[str, Any]:
    """`console_can(action)` for every template (registered by the app factory)."""
    def console_can(action: str) -> bool:
        """May the logged-in console user take this district-wide action (menu entries)?"""
        actor = current_actor() if session.get("user_id") else None
        return actor is not None and actor.can(Action(action))

    def console_can_on(action: str, enterprise) -> bool:
        """May the logged-in console user take this action on `enterprise` (tabs, buttons)?"""
        actor = current_actor() if session.get("user_id") else None
        return actor is not None and actor.can(Action(action), enterprise.ref)

    return {"console_can": console_can, "console_can_on": console_can_on}


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("enterprises.console_home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = service.authenticate(
                db.session, request.form.get("username", ""), request.form.get("password", "")
            )
        except PermissionDenied as exc:
            error = exc.message
        else:
            session.clear()
            session["user_id"] = user.id
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("accounts/login.html", error=error), status


@bp.post("/members/<int:membership_id>/invite")
@login_required
@csrf_required
def invite_member(membership_id: int):
    """Create a single-use binding invite for a member and show its QR."""
    invite = service.create_invite(db.session, current_actor(), utcnow(), membership_id)
    db.session.commit()
    return redirect(url_for("accounts.show_invite", invite_id=invite.id))


@bp.get("/invites/<int:invite_id>")
@login_required
def show_invite(invite_id: int):
    """The invite's temporary WeChat QR, for the member to scan (on screen or printed)."""
    now = utcnow()
    invite = service.get_invite(db.session, current_actor(), invite_id)
    qr_png = error = None
    if invite.used_at is None and invite.expires_at > now:
        try:
            url = temporary_qr_url(
                get_wechat_client(), redis_client(), invite_scene(invite.token), invite.expires_at, now
            )
        except WeChatClientException as exc:
            error = f"微信暂时无法生成二维码（错误码 {exc.errcode}），请稍后重试。"
        else:
            buffer = io.BytesIO()
            render_qr(url, 600).save(buffer, format="PNG")
            qr_png = base64.b64encode(buffer.getvalue()).decode()
    return render_template("accounts/invite.html", invite=invite, qr_png=qr_png, error=error, now=now)


# --- members of an enterprise -------------------------------------------------------------

MEMBER_FIELDS = ("name", "phone", "role", "department_id", "team_id", "post_id")
MEMBER_LABELS = {"name": "姓名", "phone": "手机号", "role": "角色", "department_id": "部门", "team_id": "班组", "post_id": "岗位"}


def _member_form() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in MEMBER_FIELDS}


def _members_page(enterprise_id: int, *, values=None, error=None, editing=None, status=200):
    actor = current_actor()
    enterprise = service.enterprise_to_staff(db.session, actor, enterprise_id)
    return (
        render_template(
            "accounts/console_members.html",
            enterprise=enterprise,
            members=queries.enterprise_members(db.session, enterprise.id),
            choices=queries.member_choices(db.session, enterprise.id),
            values=values or {"role": "worker"},
            editing=editing,
            error=error,
            messages=get_flashed_messages(),
        ),
        status,
    )


@bp.get("/enterprises/<int:enterprise_id>/members")
@login_required
def members(enterprise_id: int):
    """人员管理: the enterprise's members with their WeChat binding, and the form to add one."""
    return _members_page(enterprise_id)


@bp.post("/enterprises/<int:enterprise_id>/members")
@login_required
@csrf_required
def add_member(enterprise_id: int):
    values = _member_form()
    try:
        membership = service.add_member(db.session, current_actor(), utcnow(), enterprise_id, values)
    except ValidationFailed as exc:
        db.session.rollback()
        return _members_page(enterprise_id, values=values, error=readable_message(exc, MEMBER_LABELS), status=422)
    db.session.commit()
    flash(f"已添加成员「{membership.user.display_name}」，可生成邀请二维码让其绑定微信。")
    return redirect(url_for("accounts.members", enterprise_id=enterprise_id))


@bp.get("/members/<int:membership_id>/edit")
@login_required
def edit_member(membership_id: int):
    found = queries.membership(db.session, membership_id)
    if found is None:
        raise NotFound("成员不存在或您无权查看。")
    values = {
        "name": found.user.display_name, "phone": found.user.phone, "role": found.role.value,
        "department_id": str(found.department_id or ""), "team_id": str(found.team_id or ""),
        "post_id": str(found.post_id or ""),
    }
    return _members_page(found.enterprise_id, values=values, editing=found)


@bp.post("/members/<int:membership_id>/edit")
@login_required
@csrf_required
def update_member(membership_id: int):
    values = _member_form()
    try:
        membership = service.update_member(db.session, current_actor(), utcnow(), membership_id, values)
    except ValidationFailed as exc:
        db.session.rollback()
        found = queries.membership(db.session, membership_id)
        return _members_page(
            found.enterprise_id, values=values, editing=found, error=readable_message(exc, MEMBER_LABELS), status=422
        )
    db.session.commit()
    flash(f"已保存成员「{membership.user.display_name}」。")
    return redirect(url_for("accounts.members", enterprise_id=membership.enterprise_id))


@bp.post("/members/<int:membership_id>/deactivate")
@login_required
@csrf_required
def deactivate_member(membership_id: int):
    try:
        membership = service.deactivate_member(db.session, current_actor(), utcnow(), membership_id)
    except ValidationFailed as exc:
        db.session.rollback()
        found = queries.membership(db.session, membership_id)
        flash(readable_message(exc, MEMBER_LABELS))
        return redirect(url_for("accounts.members", enterprise_id=found.enterprise_id))
    db.session.commit()
    flash(f"「{membership.user.display_name}」已停用，即刻失去本企业的权限。")
    return redirect(url_for("accounts.members", enterprise_id=membership.enterprise_id))


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("accounts.login"))
