"""Safety training (安全培训) in the console.

The enterprise's tab 「安全培训」: its sessions (newest first) for everyone who may see the
enterprise; recording a session with its attendees (chosen from the current members,
grouped by department) and correcting one within the correction window, with the reason,
for those with Action.MANAGE_TRAINING (principal, safety officer, admin). There is no
delete.

The bureau's page 「安全培训」 (/console/training, menu for view_district_stats): coverage of
principals and safety officers per town and per enterprise on a day (default today), the
enterprises with someone uncovered first with their names, and the Excel export."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import MultiDict

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action, Actor
from app.clock import local_today, utcnow
from app.enterprises import service as enterprise_service
from app.errors import DomainError, readable_message
from app.extensions import db
from app.ids import parse_id
from app.oversight.training import export, queries, service
from app.oversight.training.domain import (
    ACTION_LABELS,
    COVERING_KINDS,
    EDIT_WINDOW_DAYS,
    KIND_HINTS,
    KIND_LABELS,
    MAX_HOURS,
    MIN_HOURS,
    editable_until,
    may_correct,
)
from app.web import csrf_required

bp = Blueprint("training_console", __name__, template_folder="../../templates")

PER_PAGE = 30
COVERAGE_PER_PAGE = 50
FIELD_LABELS = {
    "topic": "培训主题",
    "kind": "培训类别",
    "held_on": "培训日期",
    "trainer": "授课人",
    "hours": "学时",
    "location": "培训地点",
    "notes": "备注",
    "attendees": "参训人员",
    "note": "更正原因",
}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "KIND_LABELS": KIND_LABELS,
        "KIND_HINTS": KIND_HINTS,
        "ACTION_LABELS": ACTION_LABELS,
        "COVERING_KINDS": COVERING_KINDS,
        "EDIT_WINDOW_DAYS": EDIT_WINDOW_DAYS,
        "MIN_HOURS": MIN_HOURS,
        "MAX_HOURS": MAX_HOURS,
    }


# --- the enterprise's tab ------------------------------------------------------------------------


def form_data(form: MultiDict) -> dict[str, Any]:
    """The session form as the service's data: attendees are the ticked `attendee` boxes,
    each with its `passed-<id>` box and `certificate-<id>` text."""
    attendees = []
    for raw in form.getlist("attendee"):
        attendees.append(
            {
                "membership_id": raw,
                "passed": form.get(f"passed-{raw}") == "1",
                "certificate_no": form.get(f"certificate-{raw}", ""),
            }
        )
    data: dict[str, Any] = {
        key: form.get(key, "") for key in ("topic", "kind", "held_on", "trainer", "hours", "location", "notes", "note")
    }
    data["attendees"] = attendees
    return data


def _values_of(row, attendees) -> dict[str, Any]:
    """A recorded session as the form's values."""
    return {
        "topic": row.topic,
        "kind": row.kind.value,
        "held_on": row.held_on.isoformat(),
        "trainer": row.trainer,
        "hours": f"{row.hours.normalize():f}",
        "location": row.location,
        "notes": row.notes,
        "note": "",
        "attendees": {
            str(a.membership_id): {"passed": a.passed, "certificate_no": a.certificate_no or ""} for a in attendees
        },
    }


def _values_from(data: dict[str, Any]) -> dict[str, Any]:
    """What was typed, to show it again with the refusal."""
    return {
        **{k: v for k, v in data.items() if k != "attendees"},
        "attendees": {
            str(a["membership_id"]): {"passed": a["passed"], "certificate_no": a["certificate_no"]}
            for a in data["attendees"]
        },
    }


def _blank(today: date) -> dict[str, Any]:
    return {"topic": "", "kind": "", "held_on": today.isoformat(), "trainer": "", "hours": "", "location": "",
            "notes": "", "note": "", "attendees": {}}


def _list_page(enterprise_id: int, values: dict[str, Any] | None = None, error: str | None = None, status: int = 200):
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = queries.sessions_page(db.session, enterprise.id, page, PER_PAGE)
    can_manage = actor.can(Action.MANAGE_TRAINING, enterprise.ref)
    return render_template(
        "oversight/training/sessions.html",
        e=enterprise,
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        can_manage=can_manage,
        groups=queries.candidates(db.session, enterprise.id) if can_manage else [],
        values=values or _blank(local_today(utcnow())),
        error=error,
        messages=get_flashed_messages(),
        today=local_today(utcnow()),
    ), status


@bp.get("/console/enterprises/<id:enterprise_id>/training")
@login_required
def sessions(enterprise_id: int):
    """安全培训: the enterprise's sessions, newest first; the form to record one."""
    return _list_page(enterprise_id)


@bp.post("/console/enterprises/<id:enterprise_id>/training")
@login_required
@csrf_required
def record(enterprise_id: int):
    """Record a session; the list again with the message and everything typed when refused."""
    data = form_data(request.form)
    try:
        row = service.record_session(db.session, current_actor(), utcnow(), enterprise_id, data)
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        return _list_page(enterprise_id, _values_from(data), readable_message(exc, FIELD_LABELS), exc.http_status)
    db.session.commit()
    flash(f"已登记培训「{row.topic}」，参训 {len(row.attendances)} 人。")
    return redirect(url_for("training_console.session_page", enterprise_id=enterprise_id, training_session_id=row.id))


def _session_page(
    enterprise_id: int, training_session_id: int, values: dict[str, Any] | None = None,
    error: str | None = None, status: int = 200,
):
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    row = queries.get_session(db.session, enterprise.id, training_session_id)
    attendees = queries.attendee_rows(db.session, row.id)
    today = local_today(utcnow())
    correctable = actor.can(Action.MANAGE_TRAINING, enterprise.ref) and may_correct(row.held_on, today)
    groups = queries.candidates(db.session, enterprise.id) if correctable else []
    # Attendees who have left since stay choosable on the correction form.
    current = {c.membership_id for g in groups for c in g.members}
    departed = [a for a in attendees if a.membership_id not in current]
    return render_template(
        "oversight/training/session.html",
        e=enterprise,
        s=row,
        attendees=attendees,
        events=queries.session_events(db.session, row.id),
        correctable=correctable,
        editable_until=editable_until(row.held_on),
        groups=groups,
        departed=departed,
        values=values or _values_of(row, attendees),
        error=error,
        messages=get_flashed_messages(),
        today=today,
    ), status


@bp.get("/console/enterprises/<id:enterprise_id>/training/<id:training_session_id>")
@login_required
def session_page(enterprise_id: int, training_session_id: int):
    """One session: its facts, attendees, history; the correction form while it is open."""
    return _session_page(enterprise_id, training_session_id)


@bp.post("/console/enterprises/<id:enterprise_id>/training/<id:training_session_id>")
@login_required
@csrf_required
def correct(enterprise_id: int, training_session_id: int):
    data = form_data(request.form)
    try:
        service.correct_session(db.session, current_actor(), utcnow(), enterprise_id, training_session_id, data)
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        return _session_page(
            enterprise_id, training_session_id, _values_from(data), readable_message(exc, FIELD_LABELS), exc.http_status
        )
    db.session.commit()
    flash("培训记录已更正，更正原因已记入历史。")
    return redirect(
        url_for("training_console.session_page", enterprise_id=enterprise_id, training_session_id=training_session_id)
    )


# --- the bureau's coverage page ------------------------------------------------------------------


def _bureau() -> Actor:
    actor = current_actor()
    if not actor.is_bureau or not actor.can(Action.VIEW_DISTRICT_STATS):
        abort(403)
    return actor


def as_of_arg(raw: str | None, today: date) -> tuple[date, str | None]:
    """The day asked for (default today); a bad or future one falls back to today, said why."""
    if not raw:
        return today, None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return today, "日期格式应为 YYYY-MM-DD，已显示今天的培训覆盖情况。"
    if day > today:
        return today, "不能查看今后的培训覆盖情况，已显示今天的。"
    return day, None


@bp.get("/console/training")
@login_required
def coverage():
    """安全培训覆盖: principals and safety officers trained within 12 months of the day."""
    actor = _bureau()
    today = local_today(utcnow())
    as_of, warning = as_of_arg(request.args.get("as_of"), today)
    report = queries.coverage_report(db.session, actor, as_of)
    town_id = parse_id(request.args.get("town_id", "")) if request.args.get("town_id") else None
    listed = [e for e in report.enterprises if town_id is None or e.town_id == town_id]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pages = max((len(listed) + COVERAGE_PER_PAGE - 1) // COVERAGE_PER_PAGE, 1)
    return render_template(
        "oversight/training/coverage.html",
        report=report,
        as_of=as_of,
        today=today,
        warning=warning,
        town_id=town_id,
        enterprises=listed[(page - 1) * COVERAGE_PER_PAGE : page * COVERAGE_PER_PAGE],
        listed=len(listed),
        uncovered_enterprises=sum(1 for e in listed if e.uncovered_people),
        page=page,
        pages=pages,
    )


@bp.get("/console/training/export.xlsx")
@login_required
def coverage_export():
    """The coverage of the day as Excel: towns, then every enterprise with its people."""
    actor = _bureau()
    today = local_today(utcnow())
    as_of, _warning = as_of_arg(request.args.get("as_of"), today)
    report = queries.coverage_report(db.session, actor, as_of)
    workbook = export.coverage_workbook(report, utcnow(), actor.display_name)
    response = send_file(
        workbook.content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=workbook.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
