"""Use cases of the five duties of a major hazard (docs/DOMAIN.md §1.5): 评估认定, 登记建档, the
五到位 plan and its 立项审核, 督导督办 and 验收确认. Take (session, actor, now, …); flush, never
commit; check everything before writing, like service.py.

Kept apart from service.py so that each stays readable (and under the house limit of 900
lines); both build on recording.py, and service.act dispatches the forms of these too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.clock import LOCAL_TZ
from app.errors import ValidationFailed
from app.hazard_reporting.hazards.domain import (
    HazardAction,
    PhotoKind,
    check_criteria,
    registration_number,
    require_five_in_place,
    rule_for,
)
from app.hazard_reporting.hazards.models import Hazard, MajorHazardPlan
from app.hazard_reporting.hazards.recording import (
    apply,
    authorize_on,
    cancel_pending_extension,
    count_photos,
    load,
)
from app.hazard_reporting.hazards.schemas import AcceptIn, AssessIn, NoteIn, PlanIn, SuperviseIn
from app.validation import parse


def _plan(session: Session, hazard: Hazard) -> MajorHazardPlan:
    """The hazard's plan, created empty on first use."""
    if hazard.plan is None:
        hazard.plan = MajorHazardPlan(hazard_id=hazard.id, milestones=[])
        session.flush()
    return hazard.plan


def assess(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """评估认定: confirm the major hazard against the standard in force (criteria code or
    outside factors), with the assessor and their opinion. Raises NotFound,
    InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.ASSESS)
    payload = parse(AssessIn, data)
    code, version = check_criteria(payload.criteria_code, payload.criteria_note, now)
    hazard.criteria_code = code
    hazard.criteria_note = payload.criteria_note or None
    hazard.standard_version = version
    plan = _plan(session, hazard)
    plan.assessed_by_id = actor.user_id
    plan.assessed_at = now
    plan.assessor = payload.assessor
    plan.assessment_opinion = payload.opinion
    facts = {"criteria_code": code, "standard_version": version.value, "assessor": payload.assessor}
    apply(session, actor, now, hazard, enterprise, rule, note=payload.opinion, data=facts)
    return hazard


def register(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None) -> Hazard:
    """登记建档: enter the hazard in the major-hazard ledger (numbered) and report it to the
    bureau (an outbox notice to its admins and the town's staff). The ledger needs the
    location and at least one photo. Raises NotFound, InvalidTransition, PermissionDenied,
    ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.REGISTER)
    payload = parse(NoteIn, data or {})
    if not hazard.location.strip():
        raise ValidationFailed.for_field("location", "登记建档须有隐患具体位置")
    if count_photos(session, hazard, PhotoKind.BEFORE) == 0:
        raise ValidationFailed.for_field("photos", "登记建档须至少有一张隐患照片")
    plan = _plan(session, hazard)
    plan.registration_no = registration_number(hazard.id, now)
    plan.registered_by_id = actor.user_id
    plan.registered_at = now
    facts = {"registration_no": plan.registration_no}
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note, data=facts)
    return hazard


def save_plan(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> MajorHazardPlan:
    """Draft or revise the 五到位 plan until it is approved; only the fields sent change.
    The deadline must be in the future and milestones not after it.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.SAVE_PLAN)
    payload = parse(PlanIn, data)
    changes = payload.model_dump(exclude_unset=True)
    plan = _plan(session, hazard)
    deadline = changes.get("deadline", plan.deadline)
    if "deadline" in changes and deadline is not None and deadline <= now:
        raise ValidationFailed.for_field("deadline", "整改时限须晚于当前时间")
    if "milestones" in changes:
        # JSON holds dates as ISO strings; sending null clears the list.
        changes["milestones"] = [
            {"title": m.title, "due": m.due.isoformat(), "done": m.done} for m in payload.milestones or []
        ]
    milestones = changes.get("milestones", plan.milestones or [])
    if deadline is not None:
        last_day = deadline.astimezone(LOCAL_TZ).date()
        if any(date.fromisoformat(m["due"]) > last_day for m in milestones):
            raise ValidationFailed.for_field("milestones", "节点日期不能晚于整改时限")
    for name, value in changes.items():
        setattr(plan, name, value)
    plan.drafted_by_id = actor.user_id
    plan.drafted_at = now
    apply(session, actor, now, hazard, enterprise, rule, data={"fields": sorted(changes)})
    return plan


def approve_plan(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None) -> Hazard:
    """立项审核: approve the plan; all of the five must be in place and its deadline ahead.
    The plan's deadline becomes the hazard's. Raises NotFound, InvalidTransition,
    PermissionDenied, ValidationFailed (naming the missing five-in-place items)."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.APPROVE_PLAN)
    payload = parse(NoteIn, data or {})
    plan = hazard.plan
    require_five_in_place(plan.five_in_place() if plan else None)
    if plan.deadline <= now:
        raise ValidationFailed.for_field("deadline", "整改时限已过，请先修改治理方案")
    plan.approved_by_id = actor.user_id
    plan.approved_at = now
    plan.approval_note = payload.note or None
    hazard.deadline = plan.deadline
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def supervise(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """督导督办: the bureau puts the approved major hazard under its supervision (挂牌督办);
    rectification may start after it. Raises NotFound, InvalidTransition, PermissionDenied
    (SUPERVISE_MAJOR_HAZARD), ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.SUPERVISE)
    payload = parse(SuperviseIn, data)
    plan = _plan(session, hazard)
    plan.supervised_by_id = actor.user_id
    plan.supervised_at = now
    plan.supervising_unit = payload.supervising_unit
    plan.supervision_note = payload.note or None
    facts = {"supervising_unit": payload.supervising_unit}
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note, data=facts)
    return hazard


def accept(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """验收确认: accept a major hazard's rectification (passed → closed, 销号) or send it back
    to rectifying, with the acceptor and their opinion. Raises NotFound, InvalidTransition
    (general hazards are verified, not accepted), PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule_for(HazardAction.ACCEPT, hazard.level, hazard.status)  # the level/status gate of both outcomes
    payload = parse(AcceptIn, data)
    action = HazardAction.ACCEPT if payload.passed else HazardAction.REOPEN
    rule = authorize_on(actor, hazard, enterprise, action)
    extra: dict[str, Any] = {"passed": payload.passed, "acceptor": payload.acceptor}
    if payload.passed:
        plan = _plan(session, hazard)
        plan.accepted_by_id = actor.user_id
        plan.accepted_at = now
        plan.acceptor = payload.acceptor
        plan.acceptance_opinion = payload.opinion
        hazard.closed_at = now
        extra |= cancel_pending_extension(session, actor, now, hazard, "重大隐患已验收销号")
    apply(session, actor, now, hazard, enterprise, rule, note=payload.opinion, data=extra)
    return hazard
