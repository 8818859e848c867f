"""Console pages of confined-space jobs (有限空间作业), under the enterprise's 排查管理: the
recent jobs, registering one, and a job's sheet where each work-condition item is confirmed
and the job is confirmed, started, finished or cancelled.

Views are thin: parse the form, call the service with (session, actor, now), commit and
redirect (post/redirect/get). A DomainError rolls the unit of work back and the page is
shown again with the service's Chinese message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.clock import LOCAL_TZ, utcnow
from app.enterprises import service as enterprise_service
from app.errors import DomainError, ValidationFailed, readable_message
from app.extensions import db
from app.hazard_reporting.confined_space import queries, service
from app.hazard_reporting.confined_space.domain import JOB_STATUS_LABELS, JobStatus
from app.web import csrf_required

bp = Blueprint(
    "confined_space_console",
    __name__,
    url_prefix="/console/enterprises/<id:enterprise_id>/checks",
    template_folder="../../templates",
)

RECENT_JOBS = 50
FIELD_LABELS = {
    "note": "说明",
    "reason": "原因",
    "site_id": "作业点位",
    "description": "作业内容",
    "planned_start": "计划开始时间",
    "item_code": "确认项",
    "passed": "是否符合",
    "confirmed_by": "确认人",
}
DONE_MESSAGES = {
    "job_created": "已登记有限空间作业，请逐项确认作业条件。",
    "confirmation": "已记录确认项。",
    "job_confirmed": "作业条件已确认。",
    "job_started": "作业已开始。",
    "job_finished": "作业已完成。",
    "job_cancelled": "作业已取消。",
}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"JOB_STATUS_LABELS": JOB_STATUS_LABELS, "JobStatus": JobStatus}


def _jobs_context(enterprise_id: int) -> dict[str, Any]:
    enterprise = enterprise_service.get_enterprise(db.session, current_actor(), enterprise_id)
    sites = queries.job_sites(db.session, enterprise.id)
    return {
        "e": enterprise,
        "jobs": queries.recent_jobs(db.session, enterprise.id, RECENT_JOBS),
        "sites": sites,
        "site_names": {s.id: s.name for s in sites},
        "template": "confined_space/console_jobs.html",
    }


def _job_context(enterprise_id: int, job_id: int) -> dict[str, Any]:
    enterprise = enterprise_service.get_enterprise(db.session, current_actor(), enterprise_id)
    sheet = queries.job_sheet(db.session, enterprise.id, job_id)
    return {
        "e": enterprise,
        "job": sheet.job,
        "site": sheet.site,
        "lines": sheet.lines,
        "confirmations": sheet.confirmations,
        "template": "confined_space/console_job.html",
    }


def _page(context: dict[str, Any], status: int = 200, **extra: Any):
    return render_template(context["template"], **context, **extra), status


def _planned_start(value: str) -> datetime:
    """A datetime-local value (Asia/Shanghai wall-clock time) as an aware instant."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed.for_field("planned_start", "应为日期时间（YYYY-MM-DD HH:MM）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


@bp.get("/jobs")
@login_required
def jobs(enterprise_id: int):
    return _page(_jobs_context(enterprise_id), done=DONE_MESSAGES.get(request.args.get("done", ""), ""))


@bp.post("/jobs")
@login_required
@csrf_required
def create_job(enterprise_id: int):
    """Register a job in one unit of work and show its sheet; or the list again with the
    Chinese message and nothing stored."""
    form = request.form
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    try:
        data = {
            "site_id": form.get("site_id", ""),
            "description": form.get("description", ""),
            "planned_start": _planned_start(form.get("planned_start", "")),
        }
        job_id = service.create_confined_space_job(db.session, actor, utcnow(), enterprise.id, data).id
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        error = readable_message(exc, FIELD_LABELS)
        return _page(_jobs_context(enterprise_id), exc.http_status, error=error, form=form)
    return redirect(
        url_for("confined_space_console.job", enterprise_id=enterprise_id, job_id=job_id, done="job_created")
    )


@bp.get("/jobs/<id:job_id>")
@login_required
def job(enterprise_id: int, job_id: int):
    return _page(_job_context(enterprise_id, job_id), done=DONE_MESSAGES.get(request.args.get("done", ""), ""))


def _job_act(enterprise_id: int, job_id: int, change: Callable[[Any, Any], Any], done: str):
    """Run `change(actor, now)` on one job of the enterprise in one unit of work; its sheet
    again on success (redirect) or with the Chinese message and nothing stored."""
    enterprise = enterprise_service.get_enterprise(db.session, current_actor(), enterprise_id)
    try:
        queries.job_of(db.session, enterprise.id, job_id)
        change(current_actor(), utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        error = readable_message(exc, FIELD_LABELS)
        return _page(_job_context(enterprise_id, job_id), exc.http_status, error=error)
    return redirect(url_for("confined_space_console.job", enterprise_id=enterprise.id, job_id=job_id, done=done))


@bp.post("/jobs/<id:job_id>/confirmations")
@login_required
@csrf_required
def record_confirmation(enterprise_id: int, job_id: int):
    form = request.form
    data = {
        "item_code": form.get("item_code", ""),
        "passed": form.get("passed", ""),
        "confirmed_by": form.get("confirmed_by", ""),
        "note": form.get("note", ""),
    }

    def change(actor, now):
        service.record_confirmation(db.session, actor, now, job_id, data)

    return _job_act(enterprise_id, job_id, change, "confirmation")


@bp.post("/jobs/<id:job_id>/<any(confirm, start, finish, cancel):step>")
@login_required
@csrf_required
def move_job(enterprise_id: int, job_id: int, step: str):
    def change(actor, now):
        if step == "confirm":
            service.confirm_job(db.session, actor, now, job_id)
        elif step == "start":
            service.start_job(db.session, actor, now, job_id)
        elif step == "finish":
            service.finish_job(db.session, actor, now, job_id)
        else:
            service.cancel_job(db.session, actor, now, job_id, request.form.get("reason", ""))

    done = {
        "confirm": "job_confirmed",
        "start": "job_started",
        "finish": "job_finished",
        "cancel": "job_cancelled",
    }
    return _job_act(enterprise_id, job_id, change, done[step])
