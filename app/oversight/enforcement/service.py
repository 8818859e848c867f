"""Use cases of enforcement inspections (执法检查): open a record for an enterprise, edit its
details, problems and penalty directive while it is a draft, have the responsible person
sign it (the signature stored and hashed; every problem entered as a hazard in the
enterprise's ledger through the hazards service), and record the re-inspection (复查验收,
passed only once every hazard is settled; failed with the reason).

Every verb takes (session, actor, now, …), checks the actor and the status against
domain.py, writes an event row, flushes; the caller commits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor
from app.clock import local_today
from app.enterprises.models import Department, Enterprise, Site
from app.errors import NotFound, ValidationFailed
from app.hazard_reporting.hazards import service as hazards_service
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel
from app.ids import parse_id
from app.oversight.enforcement import queries
from app.oversight.enforcement.domain import (
    MAX_AGENCIES,
    MAX_DIRECTIVE,
    MAX_INSPECTORS,
    MAX_NAME,
    MAX_NUMBER,
    MAX_PROBLEM,
    MAX_RESULT,
    MAX_SUMMARY,
    PENALTY_LABELS,
    InspectionAction,
    InspectionStatus,
    PenaltyKind,
    check_acceptance,
    check_ready_to_sign,
    check_transition,
    clean_line,
    clean_text,
    directive_problems,
    invalid,
    parse_day,
    require_inspection_action,
    truthy,
)
from app.oversight.enforcement.models import Inspection, InspectionEvent, InspectionProblem
from app.oversight.enforcement.signature import store_signature


def _event(
    session: Session,
    inspection: Inspection,
    actor: Actor,
    now: datetime,
    action: InspectionAction,
    before: InspectionStatus | None,
    note: str | None = None,
) -> None:
    session.add(
        InspectionEvent(
            inspection_id=inspection.id,
            actor_id=actor.user_id,
            at=now,
            action=action,
            from_status=before,
            to_status=inspection.status,
            note=note,
        )
    )


def _details(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The record's details from a form: date, inspectors, 异地/联合, summary, the
    responsible person. Raises ValidationFailed."""
    inspected_on = parse_day(data.get("inspected_on"), "inspected_on", "检查日期", required=True)
    if inspected_on > local_today(now):
        raise invalid("inspected_on", "检查日期不能晚于今天")
    cross_region = truthy(data.get("cross_region"))
    district = clean_line(data.get("cross_region_district"), "cross_region_district", "异地执法所属区县", MAX_NAME)
    if cross_region and not district:
        raise invalid("cross_region_district", "异地执法请填写执法人员所属的区（县）")
    joint = truthy(data.get("joint"))
    agencies = clean_line(data.get("joint_agencies"), "joint_agencies", "联合执法部门", MAX_AGENCIES)
    if joint and not agencies:
        raise invalid("joint_agencies", "联合执法请填写参加的部门")
    return {
        "inspected_on": inspected_on,
        "inspectors": clean_line(data.get("inspectors"), "inspectors", "执法人员", MAX_INSPECTORS, required=True),
        "cross_region": cross_region,
        "cross_region_district": district if cross_region else "",
        "joint": joint,
        "joint_agencies": agencies if joint else "",
        "summary": clean_text(data.get("summary"), "summary", "检查情况", MAX_SUMMARY),
        "responsible_name": clean_line(data.get("responsible_name"), "responsible_name", "企业责任人", MAX_NAME),
        "responsible_title": clean_line(data.get("responsible_title"), "responsible_title", "责任人职务", MAX_NAME),
    }


def create(session: Session, actor: Actor, now: datetime, data: dict[str, Any]) -> Inspection:
    """Open a draft inspection record of an enterprise in the actor's scope. Raises
    ValidationFailed, PermissionDenied."""
    enterprise_id = parse_id(str(data.get("enterprise_id") or ""))
    enterprise = session.get(Enterprise, enterprise_id) if enterprise_id else None
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise invalid("enterprise_id", "请选择被检查的企业")
    require_inspection_action(actor, InspectionAction.CREATE, enterprise.ref)
    details = _details(data, now)
    inspection = Inspection(
        enterprise_id=enterprise.id,
        status=InspectionStatus.DRAFT,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
        **details,
    )
    session.add(inspection)
    session.flush()
    _event(session, inspection, actor, now, InspectionAction.CREATE, None, f"{enterprise.name}，检查日期 {details['inspected_on']}")
    session.flush()
    return inspection


def _open(
    session: Session, actor: Actor, inspection_id: int, action: InspectionAction
) -> tuple[Inspection, Enterprise, InspectionStatus]:
    """The record to act on (locked), after scope, permission and status checks."""
    inspection = queries.get_inspection(session, actor, inspection_id, for_update=True)
    enterprise = session.get(Enterprise, inspection.enterprise_id)
    require_inspection_action(actor, action, enterprise.ref)
    before = inspection.status
    check_transition(action, before)
    return inspection, enterprise, before


def edit(session: Session, actor: Actor, now: datetime, inspection_id: int, data: dict[str, Any]) -> Inspection:
    """Change a draft's details (date, inspectors, 异地/联合, summary, responsible person,
    「未发现问题」)."""
    inspection, _enterprise, before = _open(session, actor, inspection_id, InspectionAction.EDIT)
    for name, value in _details(data, now).items():
        setattr(inspection, name, value)
    inspection.no_problems = truthy(data.get("no_problems"))
    inspection.updated_at = now
    _event(session, inspection, actor, now, InspectionAction.EDIT, before)
    session.flush()
    return inspection


def _unit(session: Session, model: type, value: Any, enterprise: Enterprise, field_name: str, label: str) -> int | None:
    if value in (None, ""):
        return None
    row_id = parse_id(str(value))
    row = session.get(model, row_id) if row_id else None
    if row is None or row.enterprise_id != enterprise.id:
        raise invalid(field_name, f"{label}不存在或不属于该企业")
    return row.id


def add_problem(
    session: Session, actor: Actor, now: datetime, inspection_id: int, data: dict[str, Any]
) -> InspectionProblem:
    """Add a problem to a draft's list: its text, level, category, rectification deadline,
    optionally the site or department. Raises ValidationFailed, InvalidTransition."""
    inspection, enterprise, before = _open(session, actor, inspection_id, InspectionAction.ADD_PROBLEM)
    text = clean_text(data.get("text"), "text", "问题描述", MAX_PROBLEM, required=True)
    try:
        level = HazardLevel(str(data.get("level") or HazardLevel.GENERAL.value))
    except ValueError:
        raise invalid("level", "请选择一般隐患或重大隐患") from None
    try:
        category = HazardCategory(str(data.get("category") or ""))
    except ValueError:
        raise invalid("category", "请选择隐患类别") from None
    deadline = parse_day(data.get("deadline"), "deadline", "整改期限", required=True)
    if deadline < inspection.inspected_on:
        raise invalid("deadline", "整改期限不能早于检查日期")
    site_id = _unit(session, Site, data.get("site_id"), enterprise, "site_id", "排查点位")
    department_id = _unit(session, Department, data.get("department_id"), enterprise, "department_id", "部门")
    position = max((p.position for p in inspection.problems), default=0) + 1
    problem = InspectionProblem(
        position=position,
        text=text,
        level=level,
        category=category,
        deadline=deadline,
        site_id=site_id,
        department_id=department_id,
    )
    inspection.problems.append(problem)
    inspection.no_problems = False
    inspection.updated_at = now
    _event(session, inspection, actor, now, InspectionAction.ADD_PROBLEM, before, text[:100])
    session.flush()
    return problem


def remove_problem(session: Session, actor: Actor, now: datetime, inspection_id: int, problem_id: int) -> None:
    """Take a problem off a draft's list (the history keeps its text)."""
    inspection, _enterprise, before = _open(session, actor, inspection_id, InspectionAction.REMOVE_PROBLEM)
    problem = next((p for p in inspection.problems if p.id == problem_id), None)
    if problem is None:
        raise NotFound("该问题不在这份检查记录中。")
    inspection.problems.remove(problem)
    session.delete(problem)
    inspection.updated_at = now
    _event(session, inspection, actor, now, InspectionAction.REMOVE_PROBLEM, before, problem.text[:100])
    session.flush()


def set_directive(
    session: Session, actor: Actor, now: datetime, inspection_id: int, data: dict[str, Any]
) -> Inspection:
    """Fill the penalty directive (处罚指令) of a draft: none (「无」), an order to rectify
    by a date (责令限期整改), or an administrative penalty (行政处罚, with its decision's
    number). Raises ValidationFailed naming what the kind needs."""
    inspection, _enterprise, before = _open(session, actor, inspection_id, InspectionAction.SET_DIRECTIVE)
    try:
        kind = PenaltyKind(str(data.get("penalty_kind") or ""))
    except ValueError:
        raise invalid("penalty_kind", "请选择处罚指令（没有处罚请选择“无”）") from None
    content = clean_text(data.get("penalty_content"), "penalty_content", "处罚指令内容", MAX_DIRECTIVE)
    number = clean_line(data.get("penalty_number"), "penalty_number", "文书编号", MAX_NUMBER)
    deadline = parse_day(data.get("penalty_deadline"), "penalty_deadline", "整改期限")
    if deadline is not None and deadline < inspection.inspected_on:
        raise invalid("penalty_deadline", "整改期限不能早于检查日期")
    missing = directive_problems(kind, content, number, deadline)
    if missing:
        raise ValidationFailed("；".join(missing.values()), fields=missing)
    if kind is PenaltyKind.NONE:
        content, number, deadline = "", "", None
    inspection.penalty_kind = kind
    inspection.penalty_content = content
    inspection.penalty_number = number
    inspection.penalty_deadline = deadline
    inspection.updated_at = now
    _event(session, inspection, actor, now, InspectionAction.SET_DIRECTIVE, before, PENALTY_LABELS[kind])
    session.flush()
    return inspection


def sign(
    session: Session,
    actor: Actor,
    now: datetime,
    inspection_id: int,
    png: bytes,
    signer_name: str | None,
    media_root: str | Path,
) -> Inspection:
    """The responsible person signs: the record must be complete (problems or 「未发现问题」,
    the directive, the person named) and the drawing a real, non-blank PNG of at most 1 MB.
    The signature is stored by its sha256, the record frozen, and every problem entered as
    a hazard in the enterprise's ledger (source 执法检查). Raises InvalidTransition (already
    signed), ValidationFailed, PermissionDenied."""
    inspection, enterprise, before = _open(session, actor, inspection_id, InspectionAction.SIGN)
    signer = clean_line(signer_name, "signer_name", "签字人姓名", MAX_NAME) or inspection.responsible_name
    check_ready_to_sign(
        queries.facts_of(inspection, ()),
        inspection.responsible_name,
        [p.deadline for p in inspection.problems],
        local_today(now),
    )
    if not signer:
        raise invalid("signer_name", "请填写签字人姓名")
    stored = store_signature(png, media_root, now)
    inspection.signature_path = stored.path
    inspection.signature_sha256 = stored.sha256
    inspection.signer_name = signer
    inspection.signed_at = now
    inspection.status = check_transition(InspectionAction.SIGN, before)
    inspection.updated_at = now
    for problem in inspection.problems:
        hazard = hazards_service.record_enforcement_hazard(
            session,
            actor,
            now,
            enterprise_id=enterprise.id,
            inspection_id=inspection.id,
            description=problem.text,
            level=problem.level,
            category=problem.category,
            due_on=problem.deadline,
            site_id=problem.site_id,
            department_id=problem.department_id,
        )
        problem.hazard_id = hazard.id
    note = f"签字人：{signer}；问题 {len(inspection.problems)} 项转入企业隐患台账"
    _event(session, inspection, actor, now, InspectionAction.SIGN, before, note)
    session.flush()
    return inspection


def reinspect(
    session: Session, actor: Actor, now: datetime, inspection_id: int, data: dict[str, Any]
) -> Inspection:
    """Record a re-inspection (复查): passed (复查验收) only when every hazard of the record
    is settled; failed with the reason, the record stays open (rectifying). Raises
    InvalidTransition, ValidationFailed, PermissionDenied."""
    passed = truthy(data.get("passed"))
    action = InspectionAction.ACCEPT if passed else InspectionAction.REOPEN
    inspection, _enterprise, before = _open(session, actor, inspection_id, action)
    reinspected_on = parse_day(data.get("reinspected_on"), "reinspected_on", "复查日期", required=True)
    if reinspected_on > local_today(now):
        raise invalid("reinspected_on", "复查日期不能晚于今天")
    if reinspected_on < inspection.inspected_on:
        raise invalid("reinspected_on", "复查日期不能早于检查日期")
    result = clean_text(data.get("result"), "result", "复查意见", MAX_RESULT)
    if not passed and not result:
        raise invalid("result", "复查未通过须说明原因")
    if passed:
        check_acceptance(queries.hazard_statuses(session, inspection))
    inspection.reinspected_on = reinspected_on
    inspection.reinspection_result = result or "复查验收通过"
    inspection.reinspection_passed = passed
    inspection.reinspected_by_id = actor.user_id
    inspection.status = check_transition(action, before)
    inspection.updated_at = now
    _event(session, inspection, actor, now, action, before, inspection.reinspection_result)
    session.flush()
    return inspection

