"""Use cases of hazards. Take (session, actor, now, …); flush, never commit.

Every use case checks everything first — visibility (NotFound), the transition table
(InvalidTransition), the actor's role or part in the hazard (PermissionDenied), the input
(ValidationFailed) — and only then writes: the change, its HazardEvent and the outbox rows
for the people it concerns, all in the caller's transaction. A refused action writes nothing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, BureauRole, EnterpriseRef, require
from app.accounts.models import BureauMembership, Membership, User, bureau_membership_towns
from app.accounts.queries import is_active_member
from app.clock import LOCAL_TZ
from app.enterprises.models import Department, Enterprise, Site
from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards.domain import (
    NOTICES,
    PHOTO_ACTIONS,
    Audience,
    ExtensionStatus,
    HazardAction,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
    Rule,
    authorize,
    category_for_item,
    check_criteria,
    check_extension,
    decider_permission,
    level_for_failed_item,
    pick_criteria,
    registration_number,
    require_five_in_place,
    require_ready_for_rectification,
    roles_with,
    rule_for,
    same_day_deadline,
    standard_version_on,
)
from app.hazard_reporting.hazards.models import (
    DeadlineExtension,
    Hazard,
    HazardEvent,
    HazardPhoto,
    MajorHazardPlan,
)
from app.hazard_reporting.hazards.photos import store_photo
from app.hazard_reporting.hazards.schemas import (
    AcceptIn,
    AssessIn,
    AssignIn,
    ExtensionDecisionIn,
    ExtensionRequestIn,
    HazardReportIn,
    NoteIn,
    PlanIn,
    RejectIn,
    SuperviseIn,
    UpgradeIn,
    VerifyIn,
)
from app.notifications.service import enqueue
from app.validation import parse

log = logging.getLogger(__name__)

HIDDEN = "隐患不存在或您无权查看。"
SUMMARY_LENGTH = 100  # of the description, in notification payloads


# --- loading and recording ------------------------------------------------------------------


def _ref(enterprise: Enterprise) -> EnterpriseRef:
    return EnterpriseRef(id=enterprise.id, town_id=enterprise.town_id)


def _load(session: Session, actor: Actor, hazard_id: int) -> tuple[Hazard, Enterprise]:
    """The hazard, locked for this transaction, if the actor may see its enterprise.

    Raises NotFound otherwise (no existence leak). The row lock serialises two people acting
    on the same hazard at once (PostgreSQL; SQLite serialises writers anyway)."""
    hazard = session.get(Hazard, hazard_id, with_for_update=True, populate_existing=True)
    if hazard is None:
        raise NotFound(HIDDEN)
    enterprise = session.get(Enterprise, hazard.enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, _ref(enterprise)):
        raise NotFound(HIDDEN)
    return hazard, enterprise


def _authorize(actor: Actor, hazard: Hazard, enterprise: Enterprise, action: HazardAction) -> Rule:
    return authorize(
        action,
        status=hazard.status,
        level=hazard.level,
        actor=actor,
        enterprise=_ref(enterprise),
        reporter_id=hazard.reporter_id,
        assignee_id=hazard.assignee_id,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _record(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    action: HazardAction,
    *,
    from_status: HazardStatus | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    requester_id: int | None = None,
) -> HazardEvent:
    """Write the event of `action` (hazard already updated) and the outbox rows of its notice."""
    hazard.updated_at = now
    event = HazardEvent(
        hazard_id=hazard.id,
        actor_id=actor.user_id,
        at=now,
        action=action,
        from_status=from_status,
        to_status=hazard.status,
        note=note or None,
        data=data or {},
    )
    session.add(event)
    session.flush()
    _notify(session, actor, now, hazard, enterprise, event, requester_id=requester_id)
    return event


def _apply(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    rule: Rule,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    requester_id: int | None = None,
) -> HazardEvent:
    """Move the hazard as `rule` says and record it."""
    from_status = hazard.status
    if rule.target is not None:
        hazard.status = rule.target
    return _record(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule.action,
        from_status=from_status,
        note=note,
        data=data,
        requester_id=requester_id,
    )


# --- notifications ---------------------------------------------------------------------------


def _members_with(session: Session, hazard: Hazard, permission: Action) -> set[int]:
    """Active members whose role grants `permission`. When the hazard belongs to a
    department, people attached to another department are left out."""
    query = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.enterprise_id == hazard.enterprise_id,
            Membership.active.is_(True),
            Membership.role.in_(sorted(roles_with(permission))),
            User.is_active.is_(True),
        )
    )
    if hazard.department_id is not None:
        query = query.where(
            or_(Membership.department_id.is_(None), Membership.department_id == hazard.department_id)
        )
    return set(session.scalars(query))


def _bureau_for(session: Session, enterprise: Enterprise) -> set[int]:
    """Bureau admins (the whole district) and the bureau staff of the enterprise's town."""
    in_town = select(bureau_membership_towns.c.bureau_membership_id).where(
        bureau_membership_towns.c.town_id == enterprise.town_id
    )
    query = (
        select(BureauMembership.user_id)
        .join(User, User.id == BureauMembership.user_id)
        .where(
            User.is_active.is_(True),
            or_(
                BureauMembership.role == BureauRole.ADMIN,
                (BureauMembership.role == BureauRole.STAFF) & BureauMembership.id.in_(in_town),
            ),
        )
    )
    return set(session.scalars(query))


def _audience(
    session: Session, hazard: Hazard, enterprise: Enterprise, audience: Audience, requester_id: int | None
) -> set[int]:
    if audience is Audience.REPORTER:
        return {hazard.reporter_id}
    if audience is Audience.ASSIGNEE:
        return {hazard.assignee_id} if hazard.assignee_id is not None else set()
    if audience is Audience.REQUESTER:
        return {requester_id} if requester_id is not None else set()
    if audience is Audience.BUREAU:
        return _bureau_for(session, enterprise)
    permission = {
        Audience.ASSIGNERS: Action.ASSIGN_HAZARD,
        Audience.MAJOR_APPROVERS: Action.APPROVE_MAJOR_PLAN,
        Audience.DECIDERS: decider_permission(hazard.level),
    }[audience]
    return _members_with(session, hazard, permission)


def _notify(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    enterprise: Enterprise,
    event: HazardEvent,
    *,
    requester_id: int | None,
) -> None:
    """One outbox row per recipient of the event's notice; the actor is not told what they
    just did themselves. Keyed by event and recipient, so the same event never notifies twice."""
    notice = NOTICES.get(event.action)
    if notice is None:
        return
    recipients: set[int] = set()
    for audience in notice.audiences:
        recipients |= _audience(session, hazard, enterprise, audience, requester_id)
    recipients.discard(actor.user_id)
    if not recipients:
        log.warning("hazard %s: nobody to notify of %s", hazard.id, notice.kind)
        return
    payload = {
        "hazard_id": hazard.id,
        "enterprise_id": enterprise.id,
        "enterprise_name": enterprise.name,
        "level": hazard.level.value,
        "status": hazard.status.value,
        "description": hazard.description[:SUMMARY_LENGTH],
        "location": hazard.location,
        "deadline": _iso(hazard.deadline),
        "action": event.action.value,
        "actor_id": actor.user_id,
        "actor_name": actor.display_name,
        "note": event.note,
        "at": _iso(now),
        **event.data,
    }
    for user_id in sorted(recipients):
        enqueue(
            session,
            kind=notice.kind,
            recipient_user_id=user_id,
            payload=payload,
            dedupe_key=f"{notice.kind}:event-{event.id}:user-{user_id}",
            now=now,
        )


# --- helpers ---------------------------------------------------------------------------------


def _check_site(session: Session, enterprise: Enterprise, site_id: int | None) -> None:
    if site_id is None:
        return
    site = session.get(Site, site_id)
    if site is None or site.enterprise_id != enterprise.id:
        raise ValidationFailed.for_field("site_id", "排查点位不存在或不属于本企业")


def _check_department(session: Session, enterprise: Enterprise, department_id: int | None) -> None:
    if department_id is None:
        return
    department = session.get(Department, department_id)
    if department is None or department.enterprise_id != enterprise.id:
        raise ValidationFailed.for_field("department_id", "部门不存在或不属于本企业")


def _count_photos(session: Session, hazard: Hazard, kind: PhotoKind) -> int:
    return session.scalar(
        select(func.count()).select_from(HazardPhoto).where(
            HazardPhoto.hazard_id == hazard.id, HazardPhoto.kind == kind
        )
    )


def _plan(session: Session, hazard: Hazard) -> MajorHazardPlan:
    """The hazard's plan, created empty on first use."""
    if hazard.plan is None:
        hazard.plan = MajorHazardPlan(hazard_id=hazard.id, milestones=[])
        session.flush()
    return hazard.plan


def _pending_extension(session: Session, hazard: Hazard) -> DeadlineExtension | None:
    return session.scalar(
        select(DeadlineExtension).where(
            DeadlineExtension.hazard_id == hazard.id,
            DeadlineExtension.status == ExtensionStatus.REQUESTED,
        )
    )


def _cancel_pending_extension(
    session: Session, actor: Actor, now: datetime, hazard: Hazard, why: str
) -> dict[str, Any]:
    """Void a request left undecided when the hazard moves on; its id goes into the event."""
    pending = _pending_extension(session, hazard)
    if pending is None:
        return {}
    pending.status = ExtensionStatus.CANCELLED
    pending.decided_by_id = actor.user_id
    pending.decided_at = now
    pending.decision_note = why
    return {"cancelled_extension_id": pending.id}


def _report_level(payload: HazardReportIn) -> tuple[HazardLevel, bool]:
    """(level, review_required): a failed check item's on_fail decides; otherwise the
    reporter's choice, general by default."""
    if payload.source is HazardSource.CHECK:
        missing = {
            name: "排查发现的隐患必填"
            for name in ("source_task_id", "item_code", "on_fail")
            if getattr(payload, name) is None
        }
        if missing:
            raise ValidationFailed("排查发现的隐患须注明排查任务、检查项及其定级。", fields=missing)
        if payload.level is not None:
            raise ValidationFailed.for_field("level", "排查发现的隐患按检查项定级，不能另选")
        return level_for_failed_item(payload.on_fail)
    for name in ("source_task_id", "on_fail"):
        if getattr(payload, name) is not None:
            raise ValidationFailed.for_field(name, "仅排查发现的隐患可填写")
    return payload.level or HazardLevel.GENERAL, False


# --- report, assign, rectify, verify -------------------------------------------------------


def report_hazard(session: Session, actor: Actor, now: datetime, data: Any) -> Hazard:
    """Report a hazard: 随手拍, an enforcement finding, or a failed check item (its on_fail
    sets the level: general, major, or review = general flagged for review). A general hazard
    is due by the end of the local day (不过夜); a major one gets its deadline from its plan.

    Raises NotFound, PermissionDenied (REPORT_HAZARD), ValidationFailed."""
    payload = parse(HazardReportIn, data)
    enterprise = session.get(Enterprise, payload.enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, _ref(enterprise)):
        raise NotFound("企业不存在或您无权查看。")
    require(actor, Action.REPORT_HAZARD, _ref(enterprise))
    _check_site(session, enterprise, payload.site_id)
    _check_department(session, enterprise, payload.department_id)
    level, review_required = _report_level(payload)
    if payload.category is not None:
        category = payload.category
    elif payload.item_category:
        category = category_for_item(payload.item_category)
    else:
        raise ValidationFailed.for_field("category", "请选择隐患类别")
    criteria_code = pick_criteria(payload.criteria_refs, now) if level is HazardLevel.MAJOR else None
    hazard = Hazard(
        enterprise_id=enterprise.id,
        site_id=payload.site_id,
        department_id=payload.department_id,
        source=payload.source,
        source_task_id=payload.source_task_id,
        item_code=payload.item_code,
        level=level,
        review_required=review_required,
        category=category,
        description=payload.description,
        location=payload.location,
        reporter_id=actor.user_id,
        deadline=same_day_deadline(now) if level is HazardLevel.GENERAL else None,
        status=HazardStatus.REPORTED,
        criteria_code=criteria_code,
        standard_version=standard_version_on(now) if criteria_code else None,
        created_at=now,
        updated_at=now,
    )
    session.add(hazard)
    session.flush()
    _record(
        session,
        actor,
        now,
        hazard,
        enterprise,
        HazardAction.REPORT,
        from_status=None,
        data={"source": hazard.source.value, "item_code": hazard.item_code, "criteria_code": criteria_code},
    )
    return hazard


def assign(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Name (or change) the person who rectifies the hazard; they must be an active member
    of its enterprise. Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.ASSIGN)
    payload = parse(AssignIn, data)
    if not is_active_member(session, payload.assignee_id, enterprise.id):
        raise ValidationFailed.for_field("assignee_id", "整改责任人须为本企业在职成员")
    _check_department(session, enterprise, payload.department_id)
    previous = hazard.assignee_id
    hazard.assignee_id = payload.assignee_id
    if payload.department_id is not None:
        hazard.department_id = payload.department_id
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        data={"assignee_id": payload.assignee_id, "previous_assignee_id": previous},
    )
    return hazard


def start_rectification(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None
) -> Hazard:
    """The assignee (or an assigner) starts fixing. A major hazard needs its plan complete
    (五到位) and approved and a named assignee. Raises NotFound, InvalidTransition,
    PermissionDenied, ValidationFailed (naming the missing five-in-place items)."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.START_RECTIFICATION)
    payload = parse(NoteIn, data or {})
    if hazard.level is HazardLevel.MAJOR:
        plan = hazard.plan
        require_ready_for_rectification(
            plan.five_in_place() if plan else None, plan.approved_at if plan else None
        )
    if hazard.assignee_id is None:
        raise ValidationFailed.for_field("assignee_id", "请先指派整改责任人")
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def submit_rectification(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None
) -> Hazard:
    """Report the fix done, for verification (一般) or acceptance (重大). Needs at least one
    after-photo. Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.SUBMIT_RECTIFICATION)
    payload = parse(NoteIn, data or {})
    if _count_photos(session, hazard, PhotoKind.AFTER) == 0:
        raise ValidationFailed.for_field("photos", "请至少上传一张整改后的照片")
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def verify(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Verify a general hazard's rectification: passed → closed (销号); failed → back to
    rectifying, with the reason. Raises NotFound, InvalidTransition (major hazards are
    accepted, not verified), PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule_for(HazardAction.VERIFY, hazard.level, hazard.status)  # the level/status gate of both outcomes
    payload = parse(VerifyIn, data)
    action = HazardAction.VERIFY if payload.passed else HazardAction.REOPEN
    rule = _authorize(actor, hazard, enterprise, action)
    if not payload.passed and not payload.note:
        raise ValidationFailed.for_field("note", "复查不通过须说明原因")
    extra: dict[str, Any] = {"passed": payload.passed}
    if payload.passed:
        hazard.closed_at = now
        extra |= _cancel_pending_extension(session, actor, now, hazard, "隐患已复查销号")
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.note, data=extra)
    return hazard


def reject(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Close a report as not a hazard, with the reason. Raises NotFound, InvalidTransition,
    PermissionDenied, ValidationFailed (reason required)."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.REJECT)
    payload = parse(RejectIn, data)
    hazard.rejected_reason = payload.reason
    extra = _cancel_pending_extension(session, actor, now, hazard, "隐患已驳回")
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.reason, data=extra)
    return hazard


def upgrade_to_major(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """After review, make a general hazard major, tied to an article of the standard in force
    (or outside factors). It starts the major-hazard duties: status back to reported, the
    same-day deadline dropped (the plan sets one), a pending extension voided.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.UPGRADE_TO_MAJOR)
    payload = parse(UpgradeIn, data)
    code, version = check_criteria(payload.criteria_code, payload.criteria_note, now)
    extra = _cancel_pending_extension(session, actor, now, hazard, "隐患已升级为重大隐患")
    hazard.level = HazardLevel.MAJOR
    hazard.review_required = False
    hazard.criteria_code = code
    hazard.criteria_note = payload.criteria_note or None
    hazard.standard_version = version
    hazard.deadline = None
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.note,
        data={"criteria_code": code, "standard_version": version.value, **extra},
    )
    return hazard


# --- the five duties of a major hazard ------------------------------------------------------


def assess(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """评估认定: confirm the major hazard against the standard in force (criteria code or
    outside factors), with the assessor and their opinion. Raises NotFound,
    InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.ASSESS)
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
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.opinion,
        data={"criteria_code": code, "standard_version": version.value, "assessor": payload.assessor},
    )
    return hazard


def register(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None) -> Hazard:
    """登记建档: enter the hazard in the major-hazard ledger (numbered) and report it to the
    bureau (an outbox notice to its admins and the town's staff). The ledger needs the
    location and at least one photo. Raises NotFound, InvalidTransition, PermissionDenied,
    ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.REGISTER)
    payload = parse(NoteIn, data or {})
    if not hazard.location.strip():
        raise ValidationFailed.for_field("location", "登记建档须有隐患具体位置")
    if _count_photos(session, hazard, PhotoKind.BEFORE) == 0:
        raise ValidationFailed.for_field("photos", "登记建档须至少有一张隐患照片")
    plan = _plan(session, hazard)
    plan.registration_no = registration_number(hazard.id, now)
    plan.registered_by_id = actor.user_id
    plan.registered_at = now
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.note,
        data={"registration_no": plan.registration_no},
    )
    return hazard


def save_plan(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> MajorHazardPlan:
    """Draft or revise the 五到位 plan until it is approved; only the fields sent change.
    The deadline must be in the future and milestones not after it.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.SAVE_PLAN)
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
    _apply(session, actor, now, hazard, enterprise, rule, data={"fields": sorted(changes)})
    return plan


def approve_plan(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None) -> Hazard:
    """立项审核: approve the plan; all of the five must be in place and its deadline ahead.
    The plan's deadline becomes the hazard's. Raises NotFound, InvalidTransition,
    PermissionDenied, ValidationFailed (naming the missing five-in-place items)."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.APPROVE_PLAN)
    payload = parse(NoteIn, data or {})
    plan = hazard.plan
    require_five_in_place(plan.five_in_place() if plan else None)
    if plan.deadline <= now:
        raise ValidationFailed.for_field("deadline", "整改时限已过，请先修改治理方案")
    plan.approved_by_id = actor.user_id
    plan.approved_at = now
    plan.approval_note = payload.note or None
    hazard.deadline = plan.deadline
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def supervise(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """督导督办: the bureau puts the approved major hazard under its supervision (挂牌督办);
    rectification may start after it. Raises NotFound, InvalidTransition, PermissionDenied
    (SUPERVISE_MAJOR_HAZARD), ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.SUPERVISE)
    payload = parse(SuperviseIn, data)
    plan = _plan(session, hazard)
    plan.supervised_by_id = actor.user_id
    plan.supervised_at = now
    plan.supervising_unit = payload.supervising_unit
    plan.supervision_note = payload.note or None
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.note,
        data={"supervising_unit": payload.supervising_unit},
    )
    return hazard


def accept(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """验收确认: accept a major hazard's rectification (passed → closed, 销号) or send it back
    to rectifying, with the acceptor and their opinion. Raises NotFound, InvalidTransition
    (general hazards are verified, not accepted), PermissionDenied, ValidationFailed."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule_for(HazardAction.ACCEPT, hazard.level, hazard.status)  # the level/status gate of both outcomes
    payload = parse(AcceptIn, data)
    action = HazardAction.ACCEPT if payload.passed else HazardAction.REOPEN
    rule = _authorize(actor, hazard, enterprise, action)
    extra: dict[str, Any] = {"passed": payload.passed, "acceptor": payload.acceptor}
    if payload.passed:
        plan = _plan(session, hazard)
        plan.accepted_by_id = actor.user_id
        plan.accepted_at = now
        plan.acceptor = payload.acceptor
        plan.acceptance_opinion = payload.opinion
        hazard.closed_at = now
        extra |= _cancel_pending_extension(session, actor, now, hazard, "重大隐患已验收销号")
    _apply(session, actor, now, hazard, enterprise, rule, note=payload.opinion, data=extra)
    return hazard


# --- deadline extensions ---------------------------------------------------------------------


def request_extension(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any
) -> DeadlineExtension:
    """Ask to move the deadline later, with a reason; one request at a time.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed, Conflict."""
    hazard, enterprise = _load(session, actor, hazard_id)
    rule = _authorize(actor, hazard, enterprise, HazardAction.REQUEST_EXTENSION)
    payload = parse(ExtensionRequestIn, data)
    check_extension(hazard.deadline, payload.new_deadline, now)
    if _pending_extension(session, hazard) is not None:
        raise Conflict("该隐患已有待审批的延期申请，请等待审批结果。")
    extension = DeadlineExtension(
        hazard_id=hazard.id,
        requested_by_id=actor.user_id,
        requested_at=now,
        old_deadline=hazard.deadline,
        new_deadline=payload.new_deadline,
        reason=payload.reason,
        status=ExtensionStatus.REQUESTED,
    )
    session.add(extension)
    session.flush()
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.reason,
        data={
            "extension_id": extension.id,
            "old_deadline": _iso(extension.old_deadline),
            "new_deadline": _iso(extension.new_deadline),
        },
    )
    return extension


def decide_extension(
    session: Session, actor: Actor, now: datetime, extension_id: int, data: Any
) -> DeadlineExtension:
    """Approve or refuse a deadline extension: VERIFY_HAZARD for general hazards,
    APPROVE_MAJOR_PLAN for major ones, never one's own request. Approval moves the hazard's
    (and a major plan's) deadline. Raises NotFound, InvalidTransition, PermissionDenied,
    ValidationFailed, Conflict (the deadline changed since the request)."""
    hazard_id = session.scalar(select(DeadlineExtension.hazard_id).where(DeadlineExtension.id == extension_id))
    if hazard_id is None:
        raise NotFound("延期申请不存在或您无权查看。")
    # Lock the hazard before the request, in the same order as every other use case (verify,
    # reject, upgrade also void requests), so two of them cannot deadlock.
    hazard, enterprise = _load(session, actor, hazard_id)
    extension = session.get(DeadlineExtension, extension_id, with_for_update=True, populate_existing=True)
    if extension is None:
        raise NotFound("延期申请不存在或您无权查看。")
    rule = _authorize(actor, hazard, enterprise, HazardAction.DECIDE_EXTENSION)
    if extension.status is not ExtensionStatus.REQUESTED:
        raise InvalidTransition("该延期申请已处理，不能重复审批。")
    if extension.requested_by_id == actor.user_id:
        raise PermissionDenied("不能审批本人提交的延期申请。")
    payload = parse(ExtensionDecisionIn, data)
    if payload.approved:
        if hazard.deadline != extension.old_deadline:
            raise Conflict("整改期限在申请后已变更，请驳回该申请后重新申请。")
        if extension.new_deadline <= now:
            raise ValidationFailed.for_field("approved", "申请的新期限已过，请驳回后重新申请")
    elif not payload.note:
        raise ValidationFailed.for_field("note", "不同意延期须说明理由")
    extension.status = ExtensionStatus.APPROVED if payload.approved else ExtensionStatus.REFUSED
    extension.decided_by_id = actor.user_id
    extension.decided_at = now
    extension.decision_note = payload.note or None
    if payload.approved:
        hazard.deadline = extension.new_deadline
        if hazard.plan is not None:
            hazard.plan.deadline = extension.new_deadline
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.note,
        data={
            "extension_id": extension.id,
            "approved": payload.approved,
            "new_deadline": _iso(extension.new_deadline),
        },
        requester_id=extension.requested_by_id,
    )
    return extension


# --- photos ----------------------------------------------------------------------------------


def add_photo(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard_id: int,
    kind: PhotoKind | str,
    data: bytes,
    media_root: str | Path,
) -> HazardPhoto:
    """Attach a photo: before (the hazard as found; the reporter or an assigner/verifier,
    while open) or after (the fix; the assignee or an assigner, while rectifying). The image
    is cleaned and stored first (see photos.py); the same picture again returns the existing
    photo and records nothing. Raises NotFound, InvalidTransition, PermissionDenied,
    ValidationFailed (bad image, unknown kind)."""
    hazard, enterprise = _load(session, actor, hazard_id)
    try:
        kind = PhotoKind(kind)
    except ValueError:
        raise ValidationFailed.for_field("kind", "照片类型应为整改前（before）或整改后（after）") from None
    rule = _authorize(actor, hazard, enterprise, PHOTO_ACTIONS[kind])
    stored = store_photo(data, media_root, now)
    existing = session.scalar(
        select(HazardPhoto).where(
            HazardPhoto.hazard_id == hazard.id, HazardPhoto.kind == kind, HazardPhoto.sha256 == stored.sha256
        )
    )
    if existing is not None:
        return existing
    photo = HazardPhoto(
        hazard_id=hazard.id,
        kind=kind,
        path=stored.path,
        thumb_path=stored.thumb_path,
        width=stored.width,
        height=stored.height,
        sha256=stored.sha256,
        uploaded_by_id=actor.user_id,
        uploaded_at=now,
    )
    session.add(photo)
    session.flush()
    _apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        data={"photo_id": photo.id, "kind": kind.value, "sha256": stored.sha256},
    )
    return photo
