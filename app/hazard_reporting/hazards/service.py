"""Use cases of hazards. Take (session, actor, now, …); flush, never commit.

Every use case checks everything first — visibility (NotFound), the transition table
(InvalidTransition), the actor's role or part in the hazard (PermissionDenied), the input
(ValidationFailed) — and only then writes: the change, its HazardEvent and the outbox rows
for the people it concerns, all in the caller's transaction. A refused action writes nothing.

The shared steps (load, authorize, apply and record) are in recording.py, the five duties of
a major hazard in major_hazards.py; `act` takes any action a page offers as a form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.queries import is_active_member
from app.enterprises.models import Department, Enterprise, Site
from app.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards import major_hazards
from app.hazard_reporting.hazards.domain import (
    PHOTO_ACTIONS,
    ExtensionStatus,
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
    category_for_item,
    check_criteria,
    check_extension,
    general_deadline,
    level_for_failed_item,
    local_end_of_day,
    pick_criteria,
    require_ready_for_rectification,
    rule_for,
    standard_version_on,
)
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardPhoto
from app.hazard_reporting.hazards.photos import store_photo
from app.hazard_reporting.hazards.recording import (
    apply,
    authorize_on,
    cancel_pending_extension,
    count_photos,
    iso,
    load,
    pending_extension,
    record,
)
from app.hazard_reporting.hazards.schemas import (
    NOT_A_FORM,
    AssignIn,
    ExtensionDecisionIn,
    ExtensionRequestIn,
    HazardReportIn,
    NoteIn,
    RejectIn,
    UpgradeIn,
    VerifyIn,
)
from app.validation import parse

NO_PHOTO = "请至少拍摄或选择一张隐患照片"


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


def report_hazard(
    session: Session, actor: Actor, now: datetime, data: Any, *, report_key: str | None = None
) -> Hazard:
    """Report a hazard: 随手拍, an enforcement finding, or a failed check item (its on_fail
    sets the level: general, major, or review = general flagged for review). A general hazard
    is due by the end of the local day (不过夜; a night finding by the end of the next day
    shift, domain.general_deadline); a major one gets its deadline from its plan.

    `report_key` (随手拍: the reporter's page key, unique in the table) makes a second report
    with the same key fail at the flush with IntegrityError; the caller rolls back and shows
    the hazard the key already names (queries.reported_with_key).

    Raises NotFound, PermissionDenied (REPORT_HAZARD), ValidationFailed."""
    payload = parse(HazardReportIn, data)
    enterprise = session.get(Enterprise, payload.enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("企业不存在或您无权查看。")
    require(actor, Action.REPORT_HAZARD, enterprise.ref)
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
        deadline=general_deadline(now) if level is HazardLevel.GENERAL else None,
        status=HazardStatus.REPORTED,
        criteria_code=criteria_code,
        standard_version=standard_version_on(now) if criteria_code else None,
        created_at=now,
        updated_at=now,
        report_key=report_key,
    )
    session.add(hazard)
    session.flush()
    record(
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


def record_enforcement_hazard(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    enterprise_id: int,
    inspection_id: int,
    description: str,
    level: HazardLevel,
    category: HazardCategory,
    due_on: date,
    site_id: int | None = None,
    department_id: int | None = None,
) -> Hazard:
    """Enter a problem of a signed enforcement inspection (执法检查) in the enterprise's ledger:
    source enforcement, reported by the inspector, due by the end of `due_on` (local; the
    inspection's order sets the deadline whatever the level — a major hazard's approved plan
    replaces it later, as for any major hazard). The event and the enterprise's notices are
    those of any reported hazard (record). The bureau reports no 随手拍: this needs
    Action.INSPECT, not REPORT_HAZARD. Raises NotFound, PermissionDenied, ValidationFailed."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("企业不存在或您无权查看。")
    require(actor, Action.INSPECT, enterprise.ref)
    _check_site(session, enterprise, site_id)
    _check_department(session, enterprise, department_id)
    text = (description or "").strip()
    if not text:
        raise ValidationFailed.for_field("description", "请填写隐患描述")
    hazard = Hazard(
        enterprise_id=enterprise.id,
        site_id=site_id,
        department_id=department_id,
        source=HazardSource.ENFORCEMENT,
        level=level,
        review_required=False,
        category=category,
        description=text,
        location="",
        reporter_id=actor.user_id,
        deadline=local_end_of_day(due_on),
        status=HazardStatus.REPORTED,
        created_at=now,
        updated_at=now,
    )
    session.add(hazard)
    session.flush()
    record(
        session,
        actor,
        now,
        hazard,
        enterprise,
        HazardAction.REPORT,
        from_status=None,
        data={"source": hazard.source.value, "inspection_id": inspection_id},
    )
    return hazard


def assign(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Name (or change) the person who rectifies the hazard; they must be an active member
    of its enterprise. Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.ASSIGN)
    payload = parse(AssignIn, data)
    if not is_active_member(session, payload.assignee_id, enterprise.id):
        raise ValidationFailed.for_field("assignee_id", "整改责任人须为本企业在职成员")
    _check_department(session, enterprise, payload.department_id)
    previous = hazard.assignee_id
    hazard.assignee_id = payload.assignee_id
    if payload.department_id is not None:
        hazard.department_id = payload.department_id
    apply(
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
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.START_RECTIFICATION)
    payload = parse(NoteIn, data or {})
    if hazard.level is HazardLevel.MAJOR:
        plan = hazard.plan
        require_ready_for_rectification(
            plan.five_in_place() if plan else None, plan.approved_at if plan else None
        )
    if hazard.assignee_id is None:
        raise ValidationFailed.for_field("assignee_id", "请先指派整改责任人")
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def submit_rectification(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any = None
) -> Hazard:
    """Report the fix done, for verification (一般) or acceptance (重大). Needs at least one
    after-photo. Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.SUBMIT_RECTIFICATION)
    payload = parse(NoteIn, data or {})
    if count_photos(session, hazard, PhotoKind.AFTER) == 0:
        raise ValidationFailed.for_field("photos", "请至少上传一张整改后的照片")
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note)
    return hazard


def verify(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Verify a general hazard's rectification: passed → closed (销号); failed → back to
    rectifying, with the reason. Raises NotFound, InvalidTransition (major hazards are
    accepted, not verified), PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule_for(HazardAction.VERIFY, hazard.level, hazard.status)  # the level/status gate of both outcomes
    payload = parse(VerifyIn, data)
    action = HazardAction.VERIFY if payload.passed else HazardAction.REOPEN
    rule = authorize_on(actor, hazard, enterprise, action)
    if not payload.passed and not payload.note:
        raise ValidationFailed.for_field("note", "复查不通过须说明原因")
    extra: dict[str, Any] = {"passed": payload.passed}
    if payload.passed:
        hazard.closed_at = now
        extra |= cancel_pending_extension(session, actor, now, hazard, "隐患已复查销号")
    apply(session, actor, now, hazard, enterprise, rule, note=payload.note, data=extra)
    return hazard


def reject(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """Close a report as not a hazard, with the reason. Raises NotFound, InvalidTransition,
    PermissionDenied, ValidationFailed (reason required)."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.REJECT)
    payload = parse(RejectIn, data)
    hazard.rejected_reason = payload.reason
    extra = cancel_pending_extension(session, actor, now, hazard, "隐患已驳回")
    apply(session, actor, now, hazard, enterprise, rule, note=payload.reason, data=extra)
    return hazard


def upgrade_to_major(session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any) -> Hazard:
    """After review, make a general hazard major, tied to an article of the standard in force
    (or outside factors). It starts the major-hazard duties: status back to reported, the
    same-day deadline dropped (the plan sets one), a pending extension voided.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.UPGRADE_TO_MAJOR)
    payload = parse(UpgradeIn, data)
    code, version = check_criteria(payload.criteria_code, payload.criteria_note, now)
    extra = cancel_pending_extension(session, actor, now, hazard, "隐患已升级为重大隐患")
    hazard.level = HazardLevel.MAJOR
    hazard.review_required = False
    hazard.criteria_code = code
    hazard.criteria_note = payload.criteria_note or None
    hazard.standard_version = version
    hazard.deadline = None
    apply(
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


# --- deadline extensions ---------------------------------------------------------------------


def request_extension(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any
) -> DeadlineExtension:
    """Ask to move the deadline later, with a reason; one request at a time.
    Raises NotFound, InvalidTransition, PermissionDenied, ValidationFailed, Conflict."""
    hazard, enterprise = load(session, actor, hazard_id)
    rule = authorize_on(actor, hazard, enterprise, HazardAction.REQUEST_EXTENSION)
    payload = parse(ExtensionRequestIn, data)
    check_extension(hazard.deadline, payload.new_deadline, now)
    if pending_extension(session, hazard) is not None:
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
    apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        note=payload.reason,
        data={
            "extension_id": extension.id,
            "old_deadline": iso(extension.old_deadline),
            "new_deadline": iso(extension.new_deadline),
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
    hazard, enterprise = load(session, actor, hazard_id)
    extension = session.get(DeadlineExtension, extension_id, with_for_update=True, populate_existing=True)
    if extension is None:
        raise NotFound("延期申请不存在或您无权查看。")
    rule = authorize_on(actor, hazard, enterprise, HazardAction.DECIDE_EXTENSION)
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
    apply(
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
            "new_deadline": iso(extension.new_deadline),
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
    hazard, enterprise = load(session, actor, hazard_id)
    try:
        kind = PhotoKind(kind)
    except ValueError:
        raise ValidationFailed.for_field("kind", "照片类型应为整改前（before）或整改后（after）") from None
    rule = authorize_on(actor, hazard, enterprise, PHOTO_ACTIONS[kind])
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
    apply(
        session,
        actor,
        now,
        hazard,
        enterprise,
        rule,
        data={"photo_id": photo.id, "kind": kind.value, "sha256": stored.sha256},
    )
    return photo

def report_with_photos(
    session: Session,
    actor: Actor,
    now: datetime,
    data: Any,
    photos: list[bytes],
    media_root: str | Path,
    *,
    report_key: str | None = None,
) -> Hazard:
    """随手拍: report_hazard with its photos (before), at least one. Raises ValidationFailed
    (no photo), IntegrityError (`report_key` already used) and what report_hazard and
    add_photo raise."""
    if not photos:
        raise ValidationFailed.for_field("photo", NO_PHOTO)
    hazard = report_hazard(session, actor, now, data, report_key=report_key)
    for photo in photos:
        add_photo(session, actor, now, hazard.id, PhotoKind.BEFORE, photo, media_root)
    return hazard


# --- one form, one call: the actions pages offer ---------------------------------------------


def _decide_pending(
    session: Session, actor: Actor, now: datetime, hazard_id: int, data: Any
) -> DeadlineExtension:
    """decide_extension on the hazard's pending request. Raises NotFound, Conflict (none is
    pending) and what decide_extension raises."""
    hazard, _ = load(session, actor, hazard_id)
    pending = pending_extension(session, hazard)
    if pending is None:
        raise Conflict("该隐患没有待审批的延期申请。")
    return decide_extension(session, actor, now, pending.id, data)


def _closed(passed: str, failed: str) -> Callable[[Hazard], str]:
    """The outcome of a verdict: whether it closed the hazard."""
    return lambda hazard: passed if hazard.status is HazardStatus.CLOSED else failed


def _decided(extension: DeadlineExtension) -> str:
    return "extension_approved" if extension.status is ExtensionStatus.APPROVED else "extension_refused"


@dataclass(frozen=True)
class _Form:
    """How `act` passes a form's data: the photos (data["photos"]) are added as `photos`
    first, then `verb` gets the other fields (no verb: the photos are the action, so at
    least one is needed); `outcome` names the result (default: the action's value)."""

    verb: Callable[[Session, Actor, datetime, int, dict[str, Any]], Any] | None
    photos: PhotoKind | None = None
    outcome: Callable[[Any], str] | None = None


_A = HazardAction
FORMS: dict[HazardAction, _Form] = {
    _A.ASSIGN: _Form(assign),
    _A.START_RECTIFICATION: _Form(start_rectification),
    _A.SUBMIT_RECTIFICATION: _Form(submit_rectification, photos=PhotoKind.AFTER),
    _A.VERIFY: _Form(verify, outcome=_closed("verify_passed", "verify_failed")),
    _A.ACCEPT: _Form(major_hazards.accept, outcome=_closed("accept_passed", "accept_failed")),
    _A.REJECT: _Form(reject),
    _A.UPGRADE_TO_MAJOR: _Form(upgrade_to_major),
    _A.ASSESS: _Form(major_hazards.assess),
    _A.REGISTER: _Form(major_hazards.register),
    _A.SAVE_PLAN: _Form(major_hazards.save_plan),
    _A.APPROVE_PLAN: _Form(major_hazards.approve_plan),
    _A.SUPERVISE: _Form(major_hazards.supervise),
    _A.REQUEST_EXTENSION: _Form(request_extension),
    _A.DECIDE_EXTENSION: _Form(_decide_pending, outcome=_decided),
    _A.ADD_BEFORE_PHOTO: _Form(None, photos=PhotoKind.BEFORE),
}


def act(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard_id: int,
    action: HazardAction,
    data: dict[str, Any],
    *,
    media_root: str | Path | None = None,
) -> str:
    """Take `action` on the hazard with the plain data of its form (photos as bytes under
    "photos", stored below `media_root`). Returns the outcome's name: the action's value, or
    e.g. "verify_failed". Raises NotFound (not a form action) and what the verb raises."""
    form = FORMS.get(action)
    if form is None:
        raise NotFound(NOT_A_FORM)
    fields = {name: value for name, value in data.items() if name != "photos"}
    photos = data.get("photos") or []
    if form.verb is None and not photos:
        raise ValidationFailed.for_field("photo", "请选择要上传的照片")
    if form.photos is not None:
        for photo in photos:
            add_photo(session, actor, now, hazard_id, form.photos, photo, media_root)
    if form.verb is None:
        return action.value
    result = form.verb(session, actor, now, hazard_id, fields)
    return form.outcome(result) if form.outcome else action.value
