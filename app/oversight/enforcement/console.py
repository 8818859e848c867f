"""Enforcement inspections (执法检查) in the console: the bureau's list with the five 见 of
each record, a new record, the record page (details, problems, directive, re-inspection),
the signature page for the inspector's phone or tablet, the printable record and the
signature image. The enterprise's principal, safety officer and admin may read their own
signed records (record, print, signature) from the 一企一档; everything else is the bureau's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.utils import safe_join

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Actor
from app.clock import local_today, utcnow
from app.enterprises.queries import all_towns, list_enterprises
from app.errors import DomainError, NotFound
from app.extensions import db
from app.hazard_reporting.hazards.domain import (
    CATEGORY_LABELS,
    LEVEL_LABELS,
    HazardCategory,
    HazardLevel,
)
from app.hazard_reporting.hazards.domain import (
    STATUS_LABELS as HAZARD_STATUS_LABELS,
)
from app.ids import parse_id
from app.oversight.enforcement import queries, service
from app.oversight.enforcement.domain import (
    ACTION_LABELS,
    PENALTY_LABELS,
    STATUS_LABELS,
    InspectionAction,
    InspectionStatus,
    PenaltyKind,
    may_take,
)
from app.oversight.enforcement.signature import MAX_BYTES, from_data_url
from app.web import csrf_required

bp = Blueprint("enforcement_console", __name__, url_prefix="/console/inspections")

PER_PAGE = 30


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "PENALTY_LABELS": PENALTY_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "HAZARD_STATUS_LABELS": HAZARD_STATUS_LABELS,
        "InspectionStatus": InspectionStatus,
        "PenaltyKind": PenaltyKind,
        "HazardLevel": HazardLevel,
        "HazardCategory": HazardCategory,
    }


def _actor() -> Actor:
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


def _bureau() -> Actor:
    """The console user, who must be a bureau user (list and new record)."""
    actor = _actor()
    if not actor.is_bureau:
        abort(403)
    return actor


def _filter_args() -> queries.InspectionFilter:
    status = request.args.get("status") or None
    try:
        status_value = InspectionStatus(status) if status else None
    except ValueError:
        status_value = None
    town = request.args.get("town_id") or None
    enterprise = request.args.get("enterprise_id") or None
    return queries.InspectionFilter(
        status=status_value,
        town_id=parse_id(town) if town else None,
        enterprise_id=parse_id(enterprise) if enterprise else None,
    )


@bp.get("")
@login_required
def index():
    """执法检查: the records of the user's towns, newest first, with the five 见 of each."""
    actor = _bureau()
    flt = _filter_args()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = queries.list_inspections(db.session, actor, flt, page, PER_PAGE)
    scope = actor.enterprise_scope()
    towns = [t for t in all_towns(db.session) if scope.all or t.id in actor.bureau_town_ids]
    return render_template(
        "oversight/enforcement/console_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        flt=flt,
        towns=towns,
        messages=get_flashed_messages(),
    )


def _enterprises_to_inspect(actor: Actor) -> list:
    return [e for e in list_enterprises(db.session, actor) if may_take(actor, InspectionAction.CREATE, e.ref)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
@csrf_required
def new():
    """新建执法检查记录: the enterprise, the date, the inspectors, 异地/联合, the summary."""
    actor = _bureau()
    now = utcnow()
    error = None
    values: dict[str, Any] = {
        "enterprise_id": request.args.get("enterprise_id", ""),
        "inspected_on": local_today(now).isoformat(),
        "inspectors": actor.display_name,
    }
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            inspection = service.create(db.session, actor, now, values)
        except DomainError as exc:
            if exc.http_status == 403:
                raise
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash("检查记录已建立：请逐项列出发现的问题，填写处罚指令后请企业责任人签字。")
            return redirect(url_for("enforcement_console.detail", inspection_id=inspection.id))
    return render_template(
        "oversight/enforcement/console_new.html",
        enterprises=_enterprises_to_inspect(actor),
        values=values,
        error=error,
    ), (422 if error else 200)


def _record_page(actor: Actor, inspection_id: int, *, error: str | None = None, form: str = "", values=None, status=200):
    view = queries.record_view(db.session, actor, inspection_id)
    sites, departments = queries.units_of(db.session, view.enterprise.id)
    return render_template(
        "oversight/enforcement/console_detail.html",
        v=view,
        i=view.inspection,
        can_act=may_take(actor, InspectionAction.EDIT, view.enterprise.ref),
        sites=sites,
        departments=departments,
        events=queries.events(db.session, inspection_id),
        today=local_today(utcnow()).isoformat(),
        error=error,
        error_form=form,
        values=values or {},
        messages=get_flashed_messages(),
    ), status


@bp.get("/<id:inspection_id>")
@login_required
def detail(inspection_id: int):
    """The record: the five 见, details, problems, directive, signature, re-inspection."""
    return _record_page(_actor(), inspection_id)


def _act(inspection_id: int, form: str, action, message: str, anchor: str = ""):
    """Run one form's service call; a refusal re-renders the record with the message and
    what was typed (nothing lost), 422/409."""
    actor = _actor()
    try:
        action(actor, utcnow())
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        return _record_page(
            actor, inspection_id, error=exc.message, form=form, values=request.form.to_dict(), status=exc.http_status
        )
    db.session.commit()
    flash(message)
    return redirect(url_for("enforcement_console.detail", inspection_id=inspection_id) + anchor)


@bp.post("/<id:inspection_id>/edit")
@login_required
@csrf_required
def edit(inspection_id: int):
    def action(actor, now):
        service.edit(db.session, actor, now, inspection_id, request.form.to_dict())

    return _act(inspection_id, "details", action, "检查信息已保存。", "#details")


@bp.post("/<id:inspection_id>/problems")
@login_required
@csrf_required
def add_problem(inspection_id: int):
    def action(actor, now):
        service.add_problem(db.session, actor, now, inspection_id, request.form.to_dict())

    return _act(inspection_id, "problem", action, "问题已加入问题清单。", "#problems")


@bp.post("/<id:inspection_id>/problems/<id:problem_id>/remove")
@login_required
@csrf_required
def remove_problem(inspection_id: int, problem_id: int):
    def action(actor, now):
        service.remove_problem(db.session, actor, now, inspection_id, problem_id)

    return _act(inspection_id, "problems", action, "问题已从清单删除。", "#problems")


@bp.post("/<id:inspection_id>/directive")
@login_required
@csrf_required
def directive(inspection_id: int):
    def action(actor, now):
        service.set_directive(db.session, actor, now, inspection_id, request.form.to_dict())

    return _act(inspection_id, "directive", action, "处罚指令已保存。", "#directive")


@bp.post("/<id:inspection_id>/reinspect")
@login_required
@csrf_required
def reinspect(inspection_id: int):
    def action(actor, now):
        service.reinspect(db.session, actor, now, inspection_id, request.form.to_dict())

    passed = request.form.get("passed") in ("1", "true", "on")
    message = "复查验收通过，检查记录已办结。" if passed else "已记录复查未通过及原因，企业继续整改。"
    return _act(inspection_id, "reinspect", action, message, "#reinspect")


@bp.route("/<id:inspection_id>/sign", methods=["GET", "POST"])
@login_required
@csrf_required
def sign(inspection_id: int):
    """责任人签字 on the inspector's phone or tablet: a full-width canvas; the drawing is
    posted as a PNG data URL (or a PNG file) with the signer's name."""
    actor = _actor()
    view = queries.record_view(db.session, actor, inspection_id)
    if not may_take(actor, InspectionAction.SIGN, view.enterprise.ref):
        abort(403)
    error = None
    error_status = 422
    signer = view.inspection.signer_name or view.inspection.responsible_name
    if request.method == "POST":
        signer = request.form.get("signer_name", "")
        upload = request.files.get("signature_file")
        try:
            png = upload.read(MAX_BYTES + 1) if upload else from_data_url(request.form.get("signature"))
            service.sign(
                db.session, actor, utcnow(), inspection_id, png, signer, current_app.config["SETTINGS"].MEDIA_ROOT
            )
        except DomainError as exc:
            if exc.http_status in (403, 404):
                raise
            db.session.rollback()
            error, error_status = exc.message, exc.http_status
            view = queries.record_view(db.session, actor, inspection_id)
        else:
            db.session.commit()
            flash("责任人已签字：问题已转入企业隐患台账，来源“执法检查”。")
            return redirect(url_for("enforcement_console.detail", inspection_id=inspection_id))
    return render_template(
        "oversight/enforcement/sign.html", v=view, i=view.inspection, signer=signer, error=error
    ), (error_status if error else 200)


@bp.get("/<id:inspection_id>/print")
@login_required
def printable(inspection_id: int):
    """The record on A4 paper: the five 见, the problems with their hazards, the signature."""
    view = queries.record_view(db.session, _actor(), inspection_id)
    return render_template(
        "oversight/enforcement/print.html", v=view, i=view.inspection, printed_at=utcnow()
    )


@bp.get("/<id:inspection_id>/signature.png")
@login_required
def signature(inspection_id: int):
    """The stored signature of a record the user may read; never a public static path."""
    inspection = queries.get_inspection(db.session, _actor(), inspection_id)
    if not inspection.signature_path:
        raise NotFound("该检查记录尚未签字。")
    path = safe_join(current_app.config["SETTINGS"].MEDIA_ROOT, inspection.signature_path)
    if path is None or not Path(path).is_file():
        raise NotFound("签名图片文件已丢失，请联系管理员。")
    response = send_file(path, mimetype="image/png", conditional=True, max_age=86400)
    response.cache_control.public = False
    response.cache_control.private = True
    return response
