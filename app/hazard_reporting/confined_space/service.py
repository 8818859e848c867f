"""Use cases of confined-space jobs (有限空间作业). Take (session, actor, now, …), flush,
never commit.

A job goes draft → confirmed → started → finished / cancelled; every step appends an event
row. It is confirmed against the current work-condition confirmation list (CSC), and may
start only once every item of it is confirmed by a named person and holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor
from app.enterprises.models import Enterprise, Site
from app.enterprises.service import get_enterprise
from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists.models import ChecklistItem, ChecklistVersion
from app.hazard_reporting.checklists.service import standard_checklist
from app.hazard_reporting.confined_space.domain import (
    ConfirmationEntry,
    JobStatus,
    check_job_transition,
    require_confirmation_passed,
)
from app.hazard_reporting.confined_space.models import (
    ConfinedSpaceConfirmation,
    ConfinedSpaceJob,
    ConfinedSpaceJobEvent,
)
from app.hazard_reporting.confined_space.schemas import ConfinedSpaceJobIn, ConfirmationIn
from app.validation import parse

# Who runs confined-space jobs: those who lead checks or verify hazards (team leaders,
# department heads, managers, safety officers) — not plain workers, not the IT admin.
_JOB_ACTIONS = (Action.DO_DAILY_CHECK, Action.DO_WEEKLY_CHECK, Action.DO_MONTHLY_CHECK, Action.VERIFY_HAZARD)
WORK_CONFIRMATION_CODE = "CSC"


def _require_job_actor(actor: Actor, enterprise: Enterprise) -> None:
    ref = enterprise.ref
    if not any(actor.can(action, ref) for action in _JOB_ACTIONS):
        raise PermissionDenied("只有班组长、部门负责人、经理或安全管理员可以办理有限空间作业。")


def _job_for(session: Session, actor: Actor, job_id: int) -> ConfinedSpaceJob:
    job = session.get(ConfinedSpaceJob, job_id, with_for_update=True, populate_existing=True)
    if job is None:
        raise NotFound("作业不存在。")
    enterprise = get_enterprise(session, actor, job.enterprise_id)
    _require_job_actor(actor, enterprise)
    return job


_JOB_STAMPS = {
    JobStatus.CONFIRMED: "confirmed_at",
    JobStatus.STARTED: "started_at",
    JobStatus.FINISHED: "finished_at",
    JobStatus.CANCELLED: "cancelled_at",
}


def _move_job(
    session: Session, actor: Actor, now: datetime, job: ConfinedSpaceJob, target: JobStatus, note: str = ""
) -> None:
    """Apply one transition of the table, stamp it on the job and append the event row."""
    current = JobStatus(job.status)
    check_job_transition(current, target)
    job.status = target
    setattr(job, _JOB_STAMPS[target], now)
    session.add(
        ConfinedSpaceJobEvent(
            job_id=job.id,
            at=now,
            actor_id=actor.user_id,
            from_status=current,
            to_status=target,
            note=note[:256],
        )
    )
    session.flush()


def _required_codes(session: Session, job: ConfinedSpaceJob) -> list[str]:
    version_id = session.scalar(
        select(ChecklistVersion.id).where(
            ChecklistVersion.checklist_id == job.checklist_id,
            ChecklistVersion.version == job.checklist_version,
        )
    )
    return list(
        session.scalars(
            select(ChecklistItem.code)
            .where(ChecklistItem.version_id == version_id, ChecklistItem.enabled.is_(True))
            .order_by(ChecklistItem.position)
        )
    )


def _entries(job: ConfinedSpaceJob) -> list[ConfirmationEntry]:
    return [
        ConfirmationEntry(c.item_code, c.passed, c.confirmed_by, c.confirmed_at) for c in job.confirmations
    ]


def create_confined_space_job(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any
) -> ConfinedSpaceJob:
    """Register a planned confined-space job (draft) against the current work-condition
    confirmation list. Raises NotFound, PermissionDenied, ValidationFailed, Conflict (the
    confirmation list has not been loaded)."""
    enterprise = get_enterprise(session, actor, enterprise_id)
    _require_job_actor(actor, enterprise)
    payload = parse(ConfinedSpaceJobIn, data)
    site = session.get(Site, payload.site_id)
    if site is None or site.enterprise_id != enterprise.id:
        raise ValidationFailed.for_field("site_id", "点位不存在或不属于本企业")
    try:
        confirmation_list = standard_checklist(session, WORK_CONFIRMATION_CODE)
    except NotFound:
        raise Conflict("系统尚未导入有限空间作业条件确认单，请联系管理员。") from None
    job = ConfinedSpaceJob(
        enterprise_id=enterprise.id,
        site_id=site.id,
        description=payload.description,
        planned_start=payload.planned_start,
        status=JobStatus.DRAFT,
        checklist_id=confirmation_list.id,
        checklist_version=confirmation_list.version,
        created_by_id=actor.user_id,
    )
    session.add(job)
    session.flush()
    session.add(
        ConfinedSpaceJobEvent(
            job_id=job.id, at=now, actor_id=actor.user_id, from_status=None, to_status=JobStatus.DRAFT
        )
    )
    session.flush()
    return job


def record_confirmation(
    session: Session, actor: Actor, now: datetime, job_id: int, data: Any
) -> ConfinedSpaceConfirmation:
    """Record (or correct) one work-condition item of a draft job: holds or not, confirmed
    by a named person, timestamped now. Raises NotFound, PermissionDenied, ValidationFailed,
    InvalidTransition (job no longer a draft)."""
    job = _job_for(session, actor, job_id)
    payload = parse(ConfirmationIn, data)
    if job.status is not JobStatus.DRAFT:
        raise InvalidTransition("作业条件已确认或作业已开始，不能再修改确认项。")
    if payload.item_code not in _required_codes(session, job):
        raise ValidationFailed.for_field("item_code", "不是本作业条件确认单中的条目")
    row = next((c for c in job.confirmations if c.item_code == payload.item_code), None)
    if row is None:
        row = ConfinedSpaceConfirmation(job_id=job.id, item_code=payload.item_code)
        session.add(row)
        job.confirmations.append(row)
    row.passed = payload.passed
    row.confirmed_by = payload.confirmed_by
    row.confirmed_at = now
    row.recorded_by_id = actor.user_id
    row.note = payload.note
    session.flush()
    return row


def confirm_job(session: Session, actor: Actor, now: datetime, job_id: int) -> ConfinedSpaceJob:
    """Sign off the work conditions: every item confirmed by a named person and holding.
    Raises InvalidTransition listing every unmet item, NotFound, PermissionDenied."""
    job = _job_for(session, actor, job_id)
    check_job_transition(JobStatus(job.status), JobStatus.CONFIRMED)
    require_confirmation_passed(_required_codes(session, job), _entries(job))
    _move_job(session, actor, now, job, JobStatus.CONFIRMED)
    return job


def start_job(session: Session, actor: Actor, now: datetime, job_id: int) -> ConfinedSpaceJob:
    """Start the job. Refused unless the work-condition confirmation passed (the unmet items
    are named) and was signed off. Raises InvalidTransition, NotFound, PermissionDenied."""
    job = _job_for(session, actor, job_id)
    require_confirmation_passed(_required_codes(session, job), _entries(job))
    _move_job(session, actor, now, job, JobStatus.STARTED)
    return job


def finish_job(session: Session, actor: Actor, now: datetime, job_id: int) -> ConfinedSpaceJob:
    """Record the job finished (everyone out). Raises InvalidTransition, NotFound, PermissionDenied."""
    job = _job_for(session, actor, job_id)
    _move_job(session, actor, now, job, JobStatus.FINISHED)
    return job


def cancel_job(session: Session, actor: Actor, now: datetime, job_id: int, reason: str) -> ConfinedSpaceJob:
    """Cancel a job not yet started, with a reason. Raises ValidationFailed,
    InvalidTransition, NotFound, PermissionDenied."""
    job = _job_for(session, actor, job_id)
    why = (reason or "").strip()
    if not why:
        raise ValidationFailed.for_field("reason", "请填写取消原因")
    _move_job(session, actor, now, job, JobStatus.CANCELLED, note=why)
    job.cancel_reason = why[:200]
    return job
