"""风险管控 in the console: the enterprise's risk register (风险辨识清单) — risk points by area
with their colours and the counts per grade, each point's sources and controls with the
add/edit/retire forms and its open hazards, the history of the register, the four-colour risk
map, the Excel import (dry run, then all-or-nothing) and the export that is its template.

Everyone who may see the enterprise reads; changes need MANAGE_STRUCTURE (risks.service)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.sites.queries import sites_of
from app.errors import Conflict, DomainError, NotFound, ValidationFailed, readable_message
from app.extensions import db
from app.hazard_reporting.hazards.domain import STATUS_LABELS
from app.hazard_reporting.risks import queries, service
from app.hazard_reporting.risks.domain import (
    ACCIDENT_TYPES,
    CONSEQUENCE,
    CONTROL_KIND_LABELS,
    CONTROL_LEVEL_LABELS,
    EXPOSURE,
    LIKELIHOOD,
    RISK_GRADE_LABELS,
    RISK_POINT_KIND_LABELS,
)
from app.hazard_reporting.risks.models import RiskControl, RiskSource
from app.hazard_reporting.risks.workbook import MAX_BYTES, XLSX_MIME, read_register, register_workbook
from app.hazard_reporting.schedules.domain import RISK_LEVEL_LABELS
from app.hazard_reporting.sites.queries import RISK_TAGS
from app.web import csrf_required

bp = Blueprint("risks_console", __name__, url_prefix="/console/enterprises/<id:enterprise_id>/risks")

FIELD_LABELS = {
    "name": "名称",
    "kind": "类型",
    "area": "所在区域",
    "site_id": "排查点位",
    "accident_types": "事故类型",
    "likelihood": "L",
    "exposure": "E",
    "consequence": "C",
    "text": "管控措施",
    "control_level": "管控层级",
    "department_id": "责任部门",
    "team_id": "责任班组",
    "post_id": "岗位",
    "responsible_user_id": "责任人",
    "file": "文件",
}
ACTION_NAMES = {
    "add_point": "新增风险点",
    "edit_point": "修改风险点",
    "retire_point": "停用风险点",
    "add_source": "新增危险源",
    "edit_source": "修改危险源",
    "retire_source": "停用危险源",
    "add_control": "新增管控措施",
    "edit_control": "修改管控措施",
    "retire_control": "停用管控措施",
    "import": "导入清单",
}


@bp.app_context_processor
def _risk_helpers() -> dict[str, Any]:
    """`register_site_ids(enterprise_id)`: the sites whose level the register sets (the
    排查点位 and 风险点巡查 pages show "由风险辨识清单确定" there instead of the level form).
    `register_post_risks(post_id)`: the register's sources with post-level controls for a
    post, which templates/risks/_post_card_register.html draws into the 岗位风险告知卡 (the
    organisation package renders the card and imports nothing of the register)."""

    def register_site_ids(enterprise_id: int) -> set[int]:
        return queries.register_site_ids(db.session, enterprise_id)

    def register_post_risks(post_id: int) -> list[queries.PostRisk]:
        return queries.post_risks(db.session, post_id)

    return {"register_site_ids": register_site_ids, "register_post_risks": register_post_risks}


def _common(enterprise) -> dict[str, Any]:
    return {
        "e": enterprise,
        "can_edit": current_actor().can(Action.MANAGE_STRUCTURE, enterprise.ref),
        "messages": get_flashed_messages(),
        "GRADE_LABELS": RISK_GRADE_LABELS,
        "KIND_LABELS": RISK_POINT_KIND_LABELS,
        "CONTROL_KIND_LABELS": CONTROL_KIND_LABELS,
        "CONTROL_LEVEL_LABELS": CONTROL_LEVEL_LABELS,
        "RISK_TAGS": RISK_TAGS,
        "RISK_LEVEL_LABELS": RISK_LEVEL_LABELS,
        "ACTION_NAMES": ACTION_NAMES,
        "num": _num,
    }


def _num(value: Decimal) -> str:
    """A factor or score as people write it: 10, 0.5, 540 (never 1E+1)."""
    return f"{value.normalize():f}"


def _enterprise(enterprise_id: int):
    return enterprise_service.get_enterprise(db.session, current_actor(), enterprise_id)


def _point(enterprise_id: int, point_id: int):
    point = service.get_point(db.session, current_actor(), point_id)
    if point.enterprise_id != enterprise_id:
        raise NotFound(service.POINT_NOT_FOUND)
    return point


def _sites(enterprise_id: int):
    return sites_of(db.session, enterprise_id, active_only=True)


def _register_page(enterprise_id: int, *, values=None, error=None, status=200):
    enterprise = _enterprise(enterprise_id)
    return (
        render_template(
            "risks/console_register.html",
            overview=queries.overview(db.session, enterprise.id),
            history=queries.history(db.session, enterprise.id, limit=30),
            sites=_sites(enterprise.id),
            values=values or {},
            error=error,
            **_common(enterprise),
        ),
        status,
    )


@bp.get("/")
@login_required
def register(enterprise_id: int):
    """The register: risk points by area, counts per grade, history; the add form."""
    return _register_page(enterprise_id)


def _point_form() -> dict[str, Any]:
    return {k: request.form.get(k, "") for k in ("name", "kind", "area", "site_id")}


@bp.post("/")
@login_required
@csrf_required
def add_point(enterprise_id: int):
    values = _point_form()
    try:
        point = service.add_point(db.session, current_actor(), utcnow(), enterprise_id, values)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        return _register_page(enterprise_id, values=values, error=readable_message(exc, FIELD_LABELS), status=exc.http_status)
    db.session.commit()
    flash(f"已添加风险点「{point.name}」，请继续添加它的危险源和管控措施。")
    return redirect(url_for("risks_console.point", enterprise_id=enterprise_id, point_id=point.id))


def _point_page(enterprise_id: int, point_id: int, *, edit=None, values=None, error=None, form=None, status=200):
    point = _point(enterprise_id, point_id)
    detail = queries.point_detail(db.session, point)
    return (
        render_template(
            "risks/console_point.html",
            d=detail,
            sites=_sites(point.enterprise_id),
            edit=edit,
            form=form,
            values=values or {},
            error=error,
            LIKELIHOOD=LIKELIHOOD,
            EXPOSURE=EXPOSURE,
            CONSEQUENCE=CONSEQUENCE,
            ACCIDENT_TYPES=ACCIDENT_TYPES,
            STATUS_LABELS=STATUS_LABELS,
            **_common(_enterprise(enterprise_id)),
        ),
        status,
    )


@bp.get("/points/<id:point_id>")
@login_required
def point(enterprise_id: int, point_id: int):
    """A risk point: its sources (L/E/C, D, grade, accident types) and controls, the forms,
    its open hazards and its part of the history."""
    return _point_page(enterprise_id, point_id)


def _source_form() -> dict[str, Any]:
    return {
        "name": request.form.get("name", ""),
        "is_major_factor": request.form.get("is_major_factor") == "1",
        "accident_types": request.form.getlist("accident_types"),
        "likelihood": request.form.get("likelihood", ""),
        "exposure": request.form.get("exposure", ""),
        "consequence": request.form.get("consequence", ""),
    }


def _control_form() -> dict[str, Any]:
    return {
        k: request.form.get(k, "")
        for k in ("text", "kind", "control_level", "department_id", "team_id", "post_id", "responsible_user_id")
    }


def _change(enterprise_id: int, point_id: int, verb, values, done: str, form: str, edit=None):
    """Run one service verb; a refusal re-renders the point page with the message and
    everything typed (4xx); PermissionDenied and NotFound go to the error page."""
    try:
        verb()
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        return _point_page(
            enterprise_id, point_id, values=values, edit=edit, form=form,
            error=readable_message(exc, FIELD_LABELS), status=exc.http_status,
        )
    db.session.commit()
    flash(done)
    return redirect(url_for("risks_console.point", enterprise_id=enterprise_id, point_id=point_id))


@bp.post("/points/<id:point_id>/edit")
@login_required
@csrf_required
def edit_point(enterprise_id: int, point_id: int):
    _point(enterprise_id, point_id)
    values = _point_form()
    return _change(
        enterprise_id, point_id,
        lambda: service.edit_point(db.session, current_actor(), utcnow(), point_id, values),
        values, "已保存风险点。", "point",
    )


@bp.post("/points/<id:point_id>/retire")
@login_required
@csrf_required
def retire_point(enterprise_id: int, point_id: int):
    _point(enterprise_id, point_id)
    return _change(
        enterprise_id, point_id,
        lambda: service.retire_point(db.session, current_actor(), utcnow(), point_id),
        {}, "风险点已停用，所在点位的风险等级已重新确定。", "point",
    )


@bp.post("/points/<id:point_id>/sources")
@login_required
@csrf_required
def add_source(enterprise_id: int, point_id: int):
    _point(enterprise_id, point_id)
    values = _source_form()
    return _change(
        enterprise_id, point_id,
        lambda: service.add_source(db.session, current_actor(), utcnow(), point_id, values),
        values, "已添加危险源，风险等级已按 LEC 法计算。", "source",
    )


def _source(enterprise_id: int, source_id: int) -> RiskSource:
    source = db.session.get(RiskSource, source_id)
    if source is None:
        raise NotFound(service.SOURCE_NOT_FOUND)
    _point(enterprise_id, source.risk_point_id)
    return source


def _control(enterprise_id: int, control_id: int) -> RiskControl:
    control = db.session.get(RiskControl, control_id)
    if control is None:
        raise NotFound(service.CONTROL_NOT_FOUND)
    _source(enterprise_id, control.source_id)
    return control


@bp.get("/sources/<id:source_id>/edit")
@login_required
def edit_source_form(enterprise_id: int, source_id: int):
    source = _source(enterprise_id, source_id)
    values = {
        "name": source.name, "is_major_factor": source.is_major_factor, "accident_types": source.accident_types,
        "likelihood": _num(source.likelihood), "exposure": _num(source.exposure),
        "consequence": _num(source.consequence),
    }
    return _point_page(enterprise_id, source.risk_point_id, values=values, edit=source, form="source")


@bp.post("/sources/<id:source_id>/edit")
@login_required
@csrf_required
def edit_source(enterprise_id: int, source_id: int):
    source = _source(enterprise_id, source_id)
    values = _source_form()
    return _change(
        enterprise_id, source.risk_point_id,
        lambda: service.edit_source(db.session, current_actor(), utcnow(), source_id, values),
        values, "已保存危险源。", "source", edit=source,
    )


@bp.post("/sources/<id:source_id>/retire")
@login_required
@csrf_required
def retire_source(enterprise_id: int, source_id: int):
    source = _source(enterprise_id, source_id)
    return _change(
        enterprise_id, source.risk_point_id,
        lambda: service.retire_source(db.session, current_actor(), utcnow(), source_id),
        {}, "危险源已停用。", "source",
    )


@bp.post("/sources/<id:source_id>/controls")
@login_required
@csrf_required
def add_control(enterprise_id: int, source_id: int):
    source = _source(enterprise_id, source_id)
    values = {**_control_form(), "source_id": source_id}
    return _change(
        enterprise_id, source.risk_point_id,
        lambda: service.add_control(db.session, current_actor(), utcnow(), source_id, values),
        values, "已添加管控措施。", "control",
    )


@bp.get("/controls/<id:control_id>/edit")
@login_required
def edit_control_form(enterprise_id: int, control_id: int):
    control = _control(enterprise_id, control_id)
    values = {
        "text": control.text, "kind": control.kind.value, "control_level": control.control_level.value,
        "department_id": control.department_id, "team_id": control.team_id, "post_id": control.post_id,
        "responsible_user_id": control.responsible_user_id, "source_id": control.source_id,
    }
    return _point_page(enterprise_id, control.source.risk_point_id, values=values, edit=control, form="control")


@bp.post("/controls/<id:control_id>/edit")
@login_required
@csrf_required
def edit_control(enterprise_id: int, control_id: int):
    control = _control(enterprise_id, control_id)
    values = {**_control_form(), "source_id": control.source_id}
    return _change(
        enterprise_id, control.source.risk_point_id,
        lambda: service.edit_control(db.session, current_actor(), utcnow(), control_id, values),
        values, "已保存管控措施。", "control", edit=control,
    )


@bp.post("/controls/<id:control_id>/retire")
@login_required
@csrf_required
def retire_control(enterprise_id: int, control_id: int):
    control = _control(enterprise_id, control_id)
    return _change(
        enterprise_id, control.source.risk_point_id,
        lambda: service.retire_control(db.session, current_actor(), utcnow(), control_id),
        {}, "管控措施已停用。", "control",
    )


# --- the map --------------------------------------------------------------------------------------


@bp.get("/map")
@login_required
def risk_map(enterprise_id: int):
    """四色风险分布图: the sites in use as coloured blocks grouped by area, legend, counts."""
    enterprise = _enterprise(enterprise_id)
    return render_template("risks/console_map.html", m=queries.risk_map(db.session, enterprise.id), **_common(enterprise))


# --- import and export ----------------------------------------------------------------------------


@bp.get("/export.xlsx")
@login_required
def export(enterprise_id: int):
    """The register in use as the import's workbook (also the template)."""
    enterprise = _enterprise(enterprise_id)
    data = register_workbook(queries.export_rows(db.session, enterprise.id))
    response = send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=True, download_name=f"risk-register-{enterprise.id}.xlsx")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"risk-register-{enterprise.id}.xlsx\"; filename*=UTF-8''{quote(enterprise.name + '-风险辨识清单.xlsx')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _import_page(enterprise, *, report=None, error=None, status=200):
    return (
        render_template(
            "risks/console_import.html", report=report, error=error, MAX_MB=MAX_BYTES // (1024 * 1024),
            ACTION_LABELS=service.ACTION_LABELS, **_common(enterprise),
        ),
        status,
    )


@bp.get("/import")
@login_required
def import_form(enterprise_id: int):
    enterprise = _enterprise(enterprise_id)
    service.enterprise_to_edit(db.session, current_actor(), enterprise.id)
    return _import_page(enterprise)


@bp.post("/import")
@login_required
@csrf_required
def import_register(enterprise_id: int):
    """Check (`dry_run=1`, the default) or import the uploaded workbook."""
    enterprise = _enterprise(enterprise_id)
    service.enterprise_to_edit(db.session, current_actor(), enterprise.id)
    upload = request.files.get("file")
    dry_run = request.form.get("dry_run", "1") != "0"
    if upload is None or not upload.filename:
        return _import_page(enterprise, error="请选择要上传的风险辨识清单（.xlsx）。", status=422)
    data = upload.read(MAX_BYTES + 1)
    try:
        rows = read_register(data)
        report = service.import_register(db.session, current_actor(), utcnow(), enterprise.id, rows, dry_run=dry_run)
    except service.ImportRefused as exc:
        db.session.rollback()
        return _import_page(enterprise, report=exc.report, error=exc.message, status=422)
    except ValidationFailed as exc:
        db.session.rollback()
        return _import_page(enterprise, error=readable_message(exc, FIELD_LABELS), status=422)
    if dry_run:
        db.session.rollback()
        return _import_page(enterprise, report=report)
    db.session.commit()
    if report.applied:
        flash(f"已导入风险辨识清单（第 {report.version} 版）：新增 {report.count('create')} 行，更新 {report.count('update')} 行，停用 {len(report.retired)} 项。")
    else:
        flash("清单与当前风险辨识清单一致，没有需要导入的变化。")
    return redirect(url_for("risks_console.register", enterprise_id=enterprise.id))
