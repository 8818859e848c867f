"""Console pages of the working calendar (工作日历): a year month by month with each day's
source; the bureau admin overrides days, imports the State Council's arrangement (preview,
then import), confirms or reopens a year. A banner on every console page reminds the bureau
admin of a year still provisional."""

from __future__ import annotations

import base64
import binascii
from datetime import date

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import local_today, utcnow
from app.errors import DomainError, PermissionDenied, readable_message
from app.extensions import db
from app.hazard_reporting.work_calendar import queries, service
from app.hazard_reporting.work_calendar.domain import (
    ACTION_LABELS,
    MAX_FILE_BYTES,
    MAX_YEAR,
    MIN_YEAR,
    SOURCE_LABELS,
    YEAR_BASIS_LABELS,
    ArrangementFileError,
)
from app.web import csrf_required

bp = Blueprint("calendar_console", __name__, url_prefix="/console/calendar", template_folder="../../templates")


def _actor_may_view():
    actor = current_actor()
    if not actor.is_bureau:
        raise PermissionDenied("工作日历由区安监局维护，仅安监局人员可以查看。")
    return actor


def _year_arg(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    # ASCII only: str.isdigit() also accepts ² and full-width digits, which int() refuses or reads.
    if not (value.isascii() and value.isdigit()) or not MIN_YEAR <= int(value) <= MAX_YEAR:
        abort(404)
    return int(value)


def _back(year: int):
    return redirect(url_for("calendar_console.year", year=year))


def banner_context() -> dict:
    """`calendar_banner()` for every console page: the years the logged-in bureau admin
    still has to confirm (registered by the app factory)."""

    def calendar_banner() -> list[int]:
        actor = current_actor()
        if actor is None or not actor.can(Action.MANAGE_CALENDAR):
            return []
        return service.unconfirmed_years(db.session, utcnow())

    return {"calendar_banner": calendar_banner}


@bp.get("")
@login_required
def year():
    actor = _actor_may_view()
    now = utcnow()
    pending = service.unconfirmed_years(db.session, now)
    chosen = _year_arg(request.args.get("year"), pending[-1] if pending else local_today(now).year)
    return _render_year(actor, chosen)


def _render_year(actor, chosen: int, preview=None, preview_content: str = "", preview_name: str = "", status: int = 200):
    view = queries.year_view(db.session, chosen)
    return (
        render_template(
            "calendar/console_year.html",
            view=view,
            year=chosen,
            today=local_today(utcnow()),
            can_edit=actor.can(Action.MANAGE_CALENDAR),
            messages=get_flashed_messages(),
            SOURCE_LABELS=SOURCE_LABELS,
            YEAR_BASIS_LABELS=YEAR_BASIS_LABELS,
            ACTION_LABELS=ACTION_LABELS,
            preview=preview,
            preview_content=preview_content,
            preview_name=preview_name,
            max_kb=MAX_FILE_BYTES // 1024,
        ),
        status,
    )


FIELD_LABELS = {"day": "日期", "name": "名称", "note": "说明", "year": "年份"}


def _attempt(year: int, change, done: str):
    """Run a change and commit it, then back to the year with `done` and what the change
    did; a refused change (ValidationFailed …) is rolled back and told, a permission
    refusal answers 403."""
    try:
        outcome = change()
    except PermissionDenied:
        raise
    except DomainError as exc:
        db.session.rollback()
        flash(readable_message(exc, FIELD_LABELS))
        return _back(year)
    db.session.commit()
    flash(done + outcome.describe())
    return _back(year)


def _today_year() -> int:
    return local_today(utcnow()).year


@bp.post("/days")
@login_required
@csrf_required
def set_day():
    form = request.form
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        flash("请选择要调整的日期（YYYY-MM-DD）。")
        return _back(_year_arg(form.get("year"), _today_year()))
    year = day.year if MIN_YEAR <= day.year <= MAX_YEAR else _today_year()
    kind = form.get("kind")
    if kind not in ("work", "rest"):
        flash("请选择该日是「上班」还是「休息」。")
        return _back(year)
    workday = kind == "work"
    return _attempt(
        year,
        lambda: service.set_day(
            db.session, current_actor(), utcnow(), day, workday, form.get("name", ""), form.get("note", "")
        ),
        f"已将 {day.isoformat()} 设为{'工作日' if workday else '休息日'}。",
    )


@bp.post("/days/<day>/remove")
@login_required
@csrf_required
def clear_day(day: str):
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        abort(404)
    return _attempt(
        parsed.year,
        lambda: service.clear_day(db.session, current_actor(), utcnow(), parsed),
        f"已撤销 {parsed.isoformat()} 的调整。",
    )


@bp.post("/<int:year>/confirm")
@login_required
@csrf_required
def confirm(year: int):
    year = _year_arg(str(year), 0)
    return _attempt(
        year, lambda: service.confirm_year(db.session, current_actor(), utcnow(), year), f"已确认 {year} 年工作日历。"
    )


@bp.post("/<int:year>/reopen")
@login_required
@csrf_required
def reopen(year: int):
    year = _year_arg(str(year), 0)
    return _attempt(
        year,
        lambda: service.reopen_year(db.session, current_actor(), utcnow(), year),
        f"已撤销 {year} 年工作日历的确认，该年度恢复为待确认。",
    )


@bp.post("/import")
@login_required
@csrf_required
def import_file():
    """Step 1 (a file uploaded): a dry run, shown as a preview with the content carried in
    the form. Step 2 (`confirm`): the same content imported for real."""
    actor = current_actor()
    if not actor.can(Action.MANAGE_CALENDAR):
        raise PermissionDenied("只有安监局管理员可以导入放假安排。")
    year = _year_arg(request.form.get("year"), _today_year())
    confirming = request.form.get("confirm") == "1"
    if confirming:
        try:
            content = base64.b64decode(request.form.get("content", ""), validate=True)
        except (binascii.Error, ValueError):
            flash("导入内容已损坏，请重新选择文件。")
            return _back(year)
        filename = request.form.get("filename", "")
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要导入的放假安排文件（CSV 或 YAML）。")
            return _back(year)
        content, filename = upload.read(MAX_FILE_BYTES + 1), upload.filename
    try:
        rows = service.read_arrangement(content, filename)
        report = service.import_arrangement(db.session, actor, utcnow(), rows, dry_run=not confirming)
    except ArrangementFileError as exc:
        db.session.rollback()
        return _render_year(actor, year, preview={"problems": exc.problems}, status=422)
    except PermissionDenied:
        raise
    except DomainError as exc:
        db.session.rollback()
        return _render_year(actor, year, preview={"problems": [(0, readable_message(exc, FIELD_LABELS))]}, status=422)
    if not confirming:
        db.session.rollback()
        return _render_year(
            actor,
            report.years[-1],
            preview={"report": report},
            preview_content=base64.b64encode(content).decode(),
            preview_name=filename,
        )
    db.session.commit()
    flash(
        f"已导入 {'、'.join(map(str, report.years))} 年放假安排：新增 {report.count('create')} 天，"
        f"修改 {report.count('update')} 天，未变 {report.count('unchanged')} 天。" + report.outcome.describe()
    )
    return _back(report.years[-1])
