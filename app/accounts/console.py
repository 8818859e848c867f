"""Console login/logout, member invites, and the helpers every console view uses to know who is acting."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

from flask import (
    Blueprint,
    flash,
    g,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from redis.exceptions import RedisError
from wechatpy.exceptions import WeChatClientException
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts import queries, roster, service
from app.accounts.domain import MEMBER_EVENT_LABELS, Action, invite_scene
from app.accounts.models import User
from app.accounts.queries import active_user, load_actor
from app.clock import utcnow
from app.errors import NotFound, PermissionDenied, ValidationFailed, readable_message
from app.extensions import db, redis_client
from app.ids import parse_id
from app.instruments import LOGIN_FAILURES
from app.web import csrf_required
from app.wechat.client import get_wechat_client
from app.wechat.qrcodes import render_qr, temporary_qr_url

bp = Blueprint("accounts", __name__, url_prefix="/console")
log = logging.getLogger(__name__)


SESSION_VERSION = "sv"


def current_user() -> User | None:
    """The console user of this request: the session's user, if active and the session is of
    the user's current version (退出 raised it; sessions from before carry none, i.e. 0)."""
    if "user" not in g:
        user = active_user(db.session, session.get("user_id"))
        if user is not None and session.get(SESSION_VERSION, 0) != user.session_version:
            user = None
        g.user = user
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


def _safe_next(target: str | None, user: User | None = None) -> str:
    # Only same-site relative paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    if user is not None and user.bureau_membership is not None:
        # The bureau starts from the district at a glance (辖区概况).
        return url_for("oversight_stats.dashboard")
    return url_for("enterprises.console_home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "")
        address = request.remote_addr or "-"
        try:
            _guard(service.check_login_allowed, username, address, utcnow())
            user = service.authenticate(db.session, username, request.form.get("password", ""))
        except PermissionDenied as exc:
            error, status = exc.message, exc.http_status
            if status == 401:
                _guard(service.record_login_failure, username, address)
                LOGIN_FAILURES.labels(reason="password").inc()
                log.warning("console login failed for %r from %s", username[:64], address)
            else:
                LOGIN_FAILURES.labels(reason="locked").inc()
                log.warning("console login refused while locked for %r from %s", username[:64], address)
        else:
            _guard(service.forget_login_failures, username)
            session.clear()
            session["user_id"] = user.id
            session[SESSION_VERSION] = user.session_version
            return redirect(_safe_next(request.args.get("next"), user))
    return render_template("accounts/login.html", error=error), status


def _guard(step: Callable[..., Any], *args: Any) -> Any:
    """Run a login-lock step against Redis; with Redis unreachable the lock is skipped (and
    logged) rather than nobody being able to log in."""
    try:
        return step(redis_client(), *args)
    except RedisError:
        log.exception("login lock unavailable (Redis)")
        return None


@bp.post("/members/<id:membership_id>/invite")
@login_required
@csrf_required
def invite_member(membership_id: int):
    """Create a single-use binding invite for a member and show its QR."""
    invite = service.create_invite(db.session, current_actor(), utcnow(), membership_id)
    db.session.commit()
    return redirect(url_for("accounts.show_invite", invite_id=invite.id))


@bp.get("/invites/<id:invite_id>")
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
    unbound_only = request.args.get("filter") == "unbound"
    return (
        render_template(
            "accounts/console_members.html",
            enterprise=enterprise,
            members=queries.enterprise_members(db.session, enterprise.id, unbound_only=unbound_only),
            unbound_only=unbound_only,
            history=queries.member_history(db.session, editing.id) if editing else [],
            event_labels=MEMBER_EVENT_LABELS,
            now=utcnow(),
            choices=queries.member_choices(db.session, enterprise.id),
            values=values or {"role": "worker"},
            editing=editing,
            error=error,
            messages=get_flashed_messages(),
        ),
        status,
    )


@bp.get("/enterprises/<id:enterprise_id>/members")
@login_required
def members(enterprise_id: int):
    """人员管理: the enterprise's members with their WeChat binding, and the form to add one."""
    return _members_page(enterprise_id)


@bp.post("/enterprises/<id:enterprise_id>/members")
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


@bp.get("/members/<id:membership_id>/edit")
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


@bp.post("/members/<id:membership_id>/edit")
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


@bp.post("/members/<id:membership_id>/deactivate")
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


# Ids in the URLs below stay within PostgreSQL's integer: a larger one is a 404, not an error.
ID = "id"


@bp.post(f"/members/<{ID}:membership_id>/unbind")
@login_required
@csrf_required
def unbind_member(membership_id: int):
    """解绑微信 (a lost phone): the WeChat is freed with a reason; records stay."""
    try:
        membership = service.unbind_member(
            db.session, current_actor(), utcnow(), membership_id, request.form.get("reason", "")
        )
    except ValidationFailed as exc:
        db.session.rollback()
        found = queries.membership(db.session, membership_id)
        flash(readable_message(exc, {"reason": "解绑原因"}))
        return redirect(url_for("accounts.edit_member", membership_id=found.id) + "#history")
    db.session.commit()
    flash(f"已解绑「{membership.user.display_name}」的微信，可重新生成邀请二维码绑定新的微信。")
    return redirect(url_for("accounts.edit_member", membership_id=membership.id) + "#history")


def _qr_png(scene: str, expires_at, now, size: int) -> str:
    """The base64 PNG of the WeChat temporary QR of `scene`."""
    url = temporary_qr_url(get_wechat_client(), redis_client(), scene, expires_at, now)
    buffer = io.BytesIO()
    render_qr(url, size).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@bp.post(f"/enterprises/<{ID}:enterprise_id>/invite-sheet")
@login_required
@csrf_required
def invite_sheet(enterprise_id: int):
    """邀请单: one printable A4 page with a fresh invite QR for every unbound member of a team
    (form field `team_id`) or of the whole enterprise (no team)."""
    raw_team = request.form.get("team_id", "").strip()
    team_id = parse_id(raw_team) if raw_team else None
    if raw_team and team_id is None:
        raise NotFound("班组不存在或您无权查看。")
    now = utcnow()
    enterprise, team, invites = service.invite_sheet(
        db.session, current_actor(), now, enterprise_id, team_id
    )
    cards, error = [], None
    try:
        for invite in invites:
            cards.append((invite, _qr_png(invite_scene(invite.token), invite.expires_at, now, 300)))
    except WeChatClientException as exc:
        db.session.rollback()
        error = f"微信暂时无法生成二维码（错误码 {exc.errcode}），请稍后重试。"
        return render_template("accounts/invite_sheet.html", enterprise=enterprise, team=team, cards=[], error=error), 502
    db.session.commit()
    return render_template("accounts/invite_sheet.html", enterprise=enterprise, team=team, cards=cards, error=error)


# --- the roster (花名册) import -----------------------------------------------------------------


@bp.get(f"/enterprises/<{ID}:enterprise_id>/members/roster-template.xlsx")
@login_required
def roster_template(enterprise_id: int):
    """The roster template, with the enterprise's own departments, teams and posts listed."""
    enterprise = service.enterprise_to_staff(db.session, current_actor(), enterprise_id)
    choices = queries.member_choices(db.session, enterprise.id)
    body = roster.template_workbook(
        [(d.name, [t.name for t in d.teams]) for d in choices["departments"]], [p.name for p in choices["posts"]]
    )
    response = make_response(body)
    response.headers["Content-Type"] = roster.XLSX_MIME
    response.headers["Content-Disposition"] = "attachment; filename=roster.xlsx; filename*=UTF-8''" + quote(
        f"{enterprise.name}-花名册模板.xlsx"
    )
    return response


def _import_page(enterprise, report=None, rows_json="", error=None, status=200):
    return (
        render_template(
            "accounts/roster_import.html", enterprise=enterprise, report=report, rows_json=rows_json,
            error=error, action_labels=roster.ACTION_LABELS, max_rows=roster.MAX_ROWS,
            max_mb=roster.MAX_BYTES // (1024 * 1024),
        ),
        status,
    )


@bp.get(f"/enterprises/<{ID}:enterprise_id>/members/import")
@login_required
def roster_import(enterprise_id: int):
    """花名册导入: download the template, upload it filled in."""
    enterprise = service.enterprise_to_staff(db.session, current_actor(), enterprise_id)
    return _import_page(enterprise)


ROSTER_BODY_LIMIT = roster.MAX_BYTES + 64 * 1024  # the file plus the form around it


def roster_sized(view: Callable[..., Any]) -> Callable[..., Any]:
    """Lower the body limit to the roster's before anything reads the form (the CSRF check
    does): a larger upload is refused from its Content-Length, never read."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = ROSTER_BODY_LIMIT
        return view(*args, **kwargs)

    return wrapped


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):
    db.rollback_request_session()
    return render_template("error.html", status=413, payload={"message": roster.TOO_LARGE}), 413


@bp.post(f"/enterprises/<{ID}:enterprise_id>/members/import")
@login_required
@roster_sized
@csrf_required
def roster_preview(enterprise_id: int):
    """The dry run: each row's action (新增/更新/无变化/错误); nothing is written."""
    actor = current_actor()
    enterprise = service.enterprise_to_staff(db.session, actor, enterprise_id)
    try:
        rows = _uploaded_roster()
        report = service.import_roster(db.session, actor, utcnow(), enterprise.id, rows, apply=False)
    except ValidationFailed as exc:
        db.session.rollback()
        return _import_page(enterprise, error=readable_message(exc, {"file": "名册文件"}), status=422)
    db.session.rollback()  # a preview writes nothing
    rows_json = json.dumps([dataclasses.astuple(r) for r in rows], ensure_ascii=False)
    return _import_page(enterprise, report=report, rows_json=rows_json, status=200 if report.ok else 422)


@bp.post(f"/enterprises/<{ID}:enterprise_id>/members/import/confirm")
@login_required
@csrf_required
def roster_confirm(enterprise_id: int):
    """确认导入: the previewed rows are planned again and written all together, or not at all."""
    actor = current_actor()
    enterprise = service.enterprise_to_staff(db.session, actor, enterprise_id)
    raw = request.form.get("rows", "")
    try:
        rows = _rows_from_json(raw)
        report = service.import_roster(db.session, actor, utcnow(), enterprise.id, rows, apply=True)
    except ValidationFailed as exc:
        db.session.rollback()
        return _import_page(enterprise, error=readable_message(exc, {"file": "名册文件"}), status=422)
    if not report.ok:
        db.session.rollback()
        return _import_page(
            enterprise, report=report, rows_json=raw, error="名册中有错误行，未导入任何成员。请修改文件后重新上传。",
            status=422,
        )
    db.session.commit()
    counts = report.counts
    flash(
        f"名册已导入：新增 {counts[roster.CREATE]} 人，更新 {counts[roster.UPDATE]} 人，"
        f"无变化 {counts[roster.UNCHANGED]} 人。"
    )
    return redirect(url_for("accounts.members", enterprise_id=enterprise.id))


def _uploaded_roster() -> list[roster.RosterRow]:
    """The uploaded file's rows (`roster_sized` refused a body beyond the limit). Raises
    ValidationFailed."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed.for_field("file", "请选择要上传的名册文件（.xlsx）。")
    if not upload.filename.lower().endswith(".xlsx"):
        raise ValidationFailed.for_field("file", roster.NOT_XLSX)
    return roster.read_roster(upload.stream.read(roster.MAX_BYTES + 1))


def _rows_from_json(raw: str) -> list[roster.RosterRow]:
    """The previewed rows sent back by 确认导入. Raises ValidationFailed when they are not."""
    broken = ValidationFailed.for_field("file", "预览数据无效，请重新上传名册文件。")
    try:
        items = json.loads(raw)
    except ValueError:
        raise broken from None
    if not isinstance(items, list) or not items:
        raise broken
    if len(items) > roster.MAX_ROWS:
        raise ValidationFailed.for_field("file", roster.TOO_MANY)
    rows = []
    for item in items:
        if (
            not isinstance(item, list) or len(item) != 7 or not isinstance(item[0], int)
            or not all(isinstance(v, str) and len(v) <= 64 for v in item[1:])
        ):
            raise broken
        rows.append(roster.RosterRow(*item))
    return rows


@bp.post("/logout")
@csrf_required
def logout():
    """退出: this session and every copy of its cookie (and the account's other console
    sessions) stop working."""
    user = current_user()
    if user is not None:
        service.end_console_sessions(db.session, user)
        db.session.commit()
    session.clear()
    return redirect(url_for("accounts.login"))
