"""普查导入/导出 in the bureau's console: download the census of the enterprises in scope or
the empty template, upload a filled sheet for a dry run (every row's verdict, errors first),
then 确认导入 the same file, kept server-side for 30 minutes. Bureau users who may register
enterprises only: the bureau admin for the district, staff for their towns."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action, Actor, require
from app.clock import utcnow
from app.errors import Conflict, ValidationFailed, readable_message
from app.extensions import db
from app.oversight.census import domain, queries, service, uploads
from app.web import csrf_required

bp = Blueprint("census_console", __name__, url_prefix="/console/census")

# The file plus the form around it: a larger body is refused from its Content-Length, unread.
BODY_LIMIT = domain.MAX_BYTES + 64 * 1024


def _bureau() -> Actor:
    actor = current_actor()
    require(actor, Action.CREATE_ENTERPRISE)
    return actor


def census_sized(view: Callable[..., Any]) -> Callable[..., Any]:
    """Lower the body limit to the census file's before anything reads the form (the CSRF
    check does): a larger upload — 15 MB or 50 MB alike — gets the census page's refusal."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = BODY_LIMIT
        return view(*args, **kwargs)

    return wrapped


def _page(report=None, token: str = "", error: str | None = None, status: int = 200):
    actor = _bureau()
    towns = [t for t in queries.towns(db.session, actor) if t.in_scope]
    return (
        render_template(
            "oversight/census/console.html",
            report=report,
            token=token,
            error=error,
            towns=towns,
            district=actor.enterprise_scope().all,
            columns=domain.COLUMNS,
            action_labels=domain.ACTION_LABELS,
            max_rows=domain.MAX_ROWS,
            max_mb=domain.MAX_BYTES // (1024 * 1024),
            messages=get_flashed_messages(),
        ),
        status,
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):
    db.rollback_request_session()
    return _page(error=domain.TOO_LARGE, status=413)


@bp.get("")
@login_required
def index():
    """普查导入/导出: the downloads and the upload form."""
    return _page()


def _xlsx(file: queries.CensusFile):
    response = make_response(file.content)
    response.headers["Content-Type"] = domain.XLSX_MIME
    response.headers["Content-Disposition"] = "attachment; filename=census.xlsx; filename*=UTF-8''" + quote(
        file.filename
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/export.xlsx")
@login_required
def export():
    """导出普查表: every enterprise in the user's scope, in the import's own format."""
    return _xlsx(queries.census_export(db.session, _bureau(), utcnow()))


@bp.get("/template.xlsx")
@login_required
def template():
    """下载导入模板: the census sheet with no rows."""
    return _xlsx(queries.census_export(db.session, _bureau(), utcnow(), template=True))


def _uploaded() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise domain.CensusFileRefused(domain.NO_FILE)
    return upload.stream.read(domain.MAX_BYTES + 1)


@bp.post("/preview")
@login_required
@census_sized
@csrf_required
def preview():
    """The dry run: each row's verdict (新增/更新/无变化/错误) with its reasons; nothing is
    written. A file without errors is kept for 确认导入."""
    actor = _bureau()
    try:
        data = _uploaded()
        report = service.import_census(db.session, actor, utcnow(), data, apply=False)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(error=readable_message(exc), status=exc.http_status)
    db.session.rollback()  # a preview writes nothing
    token = uploads.keep(actor.user_id, data) if report.ok else ""
    return _page(report=report, token=token, status=200 if report.ok else 422)


@bp.post("/confirm")
@login_required
@csrf_required
def confirm():
    """确认导入: the previewed file, planned again and written all together, or not at all."""
    actor = _bureau()
    token = request.form.get("upload", "")
    data = uploads.kept(actor.user_id, token)
    if data is None:
        return _page(error=uploads.EXPIRED, status=410)
    try:
        report = service.import_census(db.session, actor, utcnow(), data, apply=True)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(error=readable_message(exc), status=exc.http_status)
    except Conflict as exc:
        db.session.rollback()
        report = service.import_census(db.session, actor, utcnow(), data, apply=False)
        db.session.rollback()
        return _page(report=report, token=token if report.ok else "", error=exc.message, status=409)
    if not report.ok:
        db.session.rollback()
        return _page(
            report=report,
            error="文件中有错误行（企业档案在预览之后有变化），未导入任何企业。请修改文件后重新上传。",
            status=422,
        )
    db.session.commit()
    uploads.discard(actor.user_id, token)
    counts = report.counts
    flash(
        f"普查表已导入：新增 {counts[domain.CREATE]} 家，更新 {counts[domain.UPDATE]} 家，"
        f"无变化 {counts[domain.UNCHANGED]} 家。"
    )
    return redirect(url_for("census_console.index"))
