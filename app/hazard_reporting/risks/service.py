"""Use cases of the risk register (风险辨识清单). Take (session, actor, now, …); flush, never
commit.

Editing the register needs MANAGE_STRUCTURE, the action of an enterprise's structure and
checklists: the register is the structure the checks are built from, and the people who keep
the checklists keep it. Every change goes through `_record`: the register's version is
bumped (the row is created on the first change), an event is written, and the colour of each
site the change touched is derived again (`refresh_sites`) and set through
`schedules.service.set_site_risk_profile`, so the site's extra rounds follow its worst risk.
Rows are retired, never deleted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.models import Membership
from app.enterprises.models import Department, Enterprise, Post, Site, Team
from app.enterprises.service import get_enterprise
from app.errors import Conflict, NotFound, ValidationFailed
from app.hazard_reporting.risks.domain import (
    CONTROL_KIND_LABELS,
    CONTROL_LEVEL_LABELS,
    RISK_POINT_KIND_LABELS,
    ControlLevel,
    check_responsible_unit,
    clean_accident_types,
    grade_of,
    lec_score,
    site_profile,
)
from app.hazard_reporting.risks.models import (
    RiskControl,
    RiskPoint,
    RiskRegister,
    RiskRegisterEvent,
    RiskSource,
)
from app.hazard_reporting.risks.schemas import RiskControlIn, RiskPointIn, RiskSourceIn
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import SiteRiskProfile
from app.validation import parse

POINT_NOT_FOUND = "风险点不存在或您无权查看。"
SOURCE_NOT_FOUND = "危险源不存在或您无权查看。"
CONTROL_NOT_FOUND = "管控措施不存在或您无权查看。"


# --- lookups (scoped through the actor) ------------------------------------------------------


def enterprise_to_edit(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    enterprise = get_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    return enterprise


def get_point(session: Session, actor: Actor, point_id: int) -> RiskPoint:
    """A risk point the actor may see. Raises NotFound."""
    point = session.get(RiskPoint, point_id)
    if point is None:
        raise NotFound(POINT_NOT_FOUND)
    get_enterprise(session, actor, point.enterprise_id)
    return point


def _point_to_edit(session: Session, actor: Actor, point_id: int) -> RiskPoint:
    point = get_point(session, actor, point_id)
    enterprise_to_edit(session, actor, point.enterprise_id)
    return point


def _source_to_edit(session: Session, actor: Actor, source_id: int) -> RiskSource:
    source = session.get(RiskSource, source_id)
    if source is None:
        raise NotFound(SOURCE_NOT_FOUND)
    _point_to_edit(session, actor, source.risk_point_id)
    return source


def _control_to_edit(session: Session, actor: Actor, control_id: int) -> RiskControl:
    control = session.get(RiskControl, control_id)
    if control is None:
        raise NotFound(CONTROL_NOT_FOUND)
    _source_to_edit(session, actor, control.source_id)
    return control


# --- validation against the enterprise ---------------------------------------------------------


def _check_site(session: Session, enterprise_id: int, site_id: int | None) -> None:
    if site_id is None:
        return
    site = session.get(Site, site_id)
    if site is None or site.enterprise_id != enterprise_id:
        raise ValidationFailed("所选排查点位不属于本企业", fields={"site_id": "请选择本企业的排查点位"})
    if not site.active:
        raise ValidationFailed(f"排查点位「{site.name}」已停用，请先重新启用或选择其他点位", fields={"site_id": "点位已停用"})


def _check_units(session: Session, enterprise_id: int, data: RiskControlIn) -> None:
    """The responsible department, team, post and person belong to the enterprise; the
    level names the unit whose check verifies it (domain.check_responsible_unit)."""
    check_responsible_unit(data.control_level, data.department_id, data.team_id)
    if data.department_id is not None:
        department = session.get(Department, data.department_id)
        if department is None or department.enterprise_id != enterprise_id:
            raise ValidationFailed("责任部门不属于本企业", fields={"department_id": "请选择本企业的部门"})
    if data.team_id is not None:
        team = session.get(Team, data.team_id)
        if team is None or team.department.enterprise_id != enterprise_id:
            raise ValidationFailed("责任班组不属于本企业", fields={"team_id": "请选择本企业的班组"})
        if data.department_id is not None and team.department_id != data.department_id:
            raise ValidationFailed(
                f"班组「{team.name}」不属于所选责任部门", fields={"team_id": "班组应属于所选部门"}
            )
    if data.post_id is not None:
        post = session.get(Post, data.post_id)
        if post is None or post.enterprise_id != enterprise_id:
            raise ValidationFailed("岗位不属于本企业", fields={"post_id": "请选择本企业的岗位"})
    if data.control_level is ControlLevel.POST and data.post_id is None:
        raise ValidationFailed("岗位级管控措施须指定岗位", fields={"post_id": "请选择岗位"})
    if data.responsible_user_id is not None:
        member = session.scalar(
            select(Membership.id).where(
                Membership.user_id == data.responsible_user_id,
                Membership.enterprise_id == enterprise_id,
                Membership.active.is_(True),
            )
        )
        if member is None:
            raise ValidationFailed("责任人不是本企业在职人员", fields={"responsible_user_id": "请选择本企业的人员"})


def _assess(data: RiskSourceIn) -> dict[str, Any]:
    score = lec_score(data.likelihood, data.exposure, data.consequence)
    return {
        "name": data.name,
        "is_major_factor": data.is_major_factor,
        "accident_types": clean_accident_types(data.accident_types),
        "likelihood": _decimal(data.likelihood),
        "exposure": _decimal(data.exposure),
        "consequence": _decimal(data.consequence),
        "score": score,
        "grade": grade_of(score),
    }


def _decimal(value: str) -> Decimal:
    return Decimal(str(value).strip())


# --- the version, the event, the site colours -------------------------------------------------


def _register(session: Session, enterprise_id: int) -> RiskRegister:
    """The enterprise's register row, locked (PostgreSQL) so two changes take two versions."""
    register = session.scalar(
        select(RiskRegister).where(RiskRegister.enterprise_id == enterprise_id).with_for_update()
    )
    if register is None:
        register = RiskRegister(enterprise_id=enterprise_id, version=0)
        session.add(register)
        session.flush()
    return register


def _record(
    session: Session,
    actor: Actor,
    now: datetime,
    enterprise_id: int,
    action: str,
    note: str | None,
    data: dict[str, Any],
    site_ids: Iterable[int | None],
) -> RiskRegisterEvent:
    register = _register(session, enterprise_id)
    register.version += 1
    register.updated_at = now
    event = RiskRegisterEvent(
        enterprise_id=enterprise_id,
        version=register.version,
        actor_id=actor.user_id,
        at=now,
        action=action,
        note=note,
        data=data,
    )
    session.add(event)
    session.flush()
    refresh_sites(session, actor, now, {s for s in site_ids if s is not None})
    return event


def active_sources_of_site(session: Session, site_id: int) -> list[RiskSource]:
    return list(
        session.scalars(
            select(RiskSource)
            .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
            .where(RiskPoint.site_id == site_id, RiskPoint.active.is_(True), RiskSource.active.is_(True))
        )
    )


def site_has_register(session: Session, site_id: int) -> bool:
    """A site is register-driven while an active risk point of the register is at it."""
    return (
        session.scalar(
            select(RiskPoint.id).where(RiskPoint.site_id == site_id, RiskPoint.active.is_(True)).limit(1)
        )
        is not None
    )


def refresh_sites(session: Session, actor: Actor, now: datetime, site_ids: Iterable[int]) -> None:
    """Derive each site's colour and major-risk-point flag from its active risk points
    (domain.site_profile) and set them through the schedules service, which re-plans the
    rounds. A site left with no active risk point keeps its last profile, which becomes
    hand-set again."""
    for site_id in sorted(set(site_ids)):
        site = session.get(Site, site_id)
        if site is None:
            continue
        points_here = session.scalar(select(RiskPoint.id).where(RiskPoint.site_id == site_id).limit(1))
        if points_here is None:
            continue
        sources = active_sources_of_site(session, site_id) if site_has_register(session, site_id) else []
        colour, major = site_profile((s.grade, s.is_major_factor) for s in sources)
        profile = session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site_id))
        if profile is not None and profile.risk_level == colour and profile.is_major_risk_point == major:
            continue
        schedule_service.set_site_risk_profile(
            session,
            actor,
            now,
            site_id,
            {"risk_level": colour.value, "is_major_risk_point": major, "note": "由风险辨识清单确定"},
            by_register=True,
        )


def _retire_source_rows(source: RiskSource) -> None:
    """Retire a source with its controls (a control in use never hangs off a retired source:
    whoever reads controls in use needs no join to know)."""
    source.active = False
    for control in source.controls:
        control.active = False


def _retire_point_rows(point: RiskPoint) -> None:
    point.active = False
    for source in point.sources:
        _retire_source_rows(source)


# --- risk points -------------------------------------------------------------------------------


def _refuse_duplicate_point(session: Session, enterprise_id: int, name: str, except_id: int | None = None) -> None:
    query = select(RiskPoint.id).where(
        RiskPoint.enterprise_id == enterprise_id, RiskPoint.name == name, RiskPoint.active.is_(True)
    )
    if except_id is not None:
        query = query.where(RiskPoint.id != except_id)
    if session.scalar(query.limit(1)) is not None:
        raise Conflict(f"本企业已有在用的风险点「{name}」，请换一个名称或修改原有的风险点。")


def add_point(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> RiskPoint:
    """Add a risk point (optionally at a site). Raises NotFound, PermissionDenied,
    ValidationFailed, Conflict."""
    enterprise = enterprise_to_edit(session, actor, enterprise_id)
    payload = parse(RiskPointIn, data)
    _check_site(session, enterprise.id, payload.site_id)
    _refuse_duplicate_point(session, enterprise.id, payload.name)
    point = RiskPoint(enterprise_id=enterprise.id, **payload.model_dump())
    session.add(point)
    session.flush()
    _record(session, actor, now, enterprise.id, "add_point", point.name, {"point_id": point.id}, [point.site_id])
    return point


def edit_point(session: Session, actor: Actor, now: datetime, point_id: int, data: Any) -> RiskPoint:
    """Change a risk point's name, kind, area and site; both sites' colours follow."""
    point = _point_to_edit(session, actor, point_id)
    if not point.active:
        raise Conflict(f"风险点「{point.name}」已停用，不能修改。")
    payload = parse(RiskPointIn, data)
    _check_site(session, point.enterprise_id, payload.site_id)
    _refuse_duplicate_point(session, point.enterprise_id, payload.name, except_id=point.id)
    before_site = point.site_id
    for key, value in payload.model_dump().items():
        setattr(point, key, value)
    session.flush()
    _record(
        session, actor, now, point.enterprise_id, "edit_point", point.name, {"point_id": point.id},
        [before_site, point.site_id],
    )
    return point


def retire_point(session: Session, actor: Actor, now: datetime, point_id: int) -> RiskPoint:
    """Retire a risk point; its site's colour drops to what is left."""
    point = _point_to_edit(session, actor, point_id)
    if not point.active:
        raise Conflict(f"风险点「{point.name}」已停用。")
    _retire_point_rows(point)
    session.flush()
    _record(session, actor, now, point.enterprise_id, "retire_point", point.name, {"point_id": point.id}, [point.site_id])
    return point


# --- sources -----------------------------------------------------------------------------------


def add_source(session: Session, actor: Actor, now: datetime, point_id: int, data: Any) -> RiskSource:
    """Add a hazard source with its LEC assessment. Raises ValidationFailed naming a factor
    the method does not allow or an accident type GB 6441 does not have."""
    point = _point_to_edit(session, actor, point_id)
    if not point.active:
        raise Conflict(f"风险点「{point.name}」已停用，不能添加危险源。")
    values = _assess(parse(RiskSourceIn, data))
    source = RiskSource(risk_point_id=point.id, position=len(point.sources), **values)
    session.add(source)
    session.flush()
    _record(
        session, actor, now, point.enterprise_id, "add_source", f"{point.name}：{source.name}",
        {"point_id": point.id, "source_id": source.id, "grade": source.grade.value, "score": str(source.score)},
        [point.site_id],
    )
    return source


def edit_source(session: Session, actor: Actor, now: datetime, source_id: int, data: Any) -> RiskSource:
    source = _source_to_edit(session, actor, source_id)
    if not source.active:
        raise Conflict(f"危险源「{source.name}」已停用，不能修改。")
    values = _assess(parse(RiskSourceIn, data))
    before = (source.grade.value, str(source.score))
    for key, value in values.items():
        setattr(source, key, value)
    session.flush()
    point = source.risk_point
    _record(
        session, actor, now, point.enterprise_id, "edit_source", f"{point.name}：{source.name}",
        {"source_id": source.id, "from": list(before), "to": [source.grade.value, str(source.score)]},
        [point.site_id],
    )
    return source


def retire_source(session: Session, actor: Actor, now: datetime, source_id: int) -> RiskSource:
    source = _source_to_edit(session, actor, source_id)
    if not source.active:
        raise Conflict(f"危险源「{source.name}」已停用。")
    _retire_source_rows(source)
    session.flush()
    point = source.risk_point
    _record(
        session, actor, now, point.enterprise_id, "retire_source", f"{point.name}：{source.name}",
        {"source_id": source.id}, [point.site_id],
    )
    return source


# --- controls ----------------------------------------------------------------------------------


def add_control(session: Session, actor: Actor, now: datetime, source_id: int, data: Any) -> RiskControl:
    """Add a control with its level and responsible unit (validated to be the enterprise's)."""
    source = _source_to_edit(session, actor, source_id)
    if not source.active or not source.risk_point.active:
        raise Conflict(f"危险源「{source.name}」已停用，不能添加管控措施。")
    payload = parse(RiskControlIn, data)
    point = source.risk_point
    _check_units(session, point.enterprise_id, payload)
    control = RiskControl(source_id=source.id, position=len(source.controls), **payload.model_dump())
    session.add(control)
    session.flush()
    _record(
        session, actor, now, point.enterprise_id, "add_control", f"{source.name}：{control.text[:40]}",
        {"source_id": source.id, "control_id": control.id, "control_level": control.control_level.value},
        [],
    )
    return control


def edit_control(session: Session, actor: Actor, now: datetime, control_id: int, data: Any) -> RiskControl:
    control = _control_to_edit(session, actor, control_id)
    if not control.active:
        raise Conflict("该管控措施已停用，不能修改。")
    payload = parse(RiskControlIn, data)
    point = control.source.risk_point
    _check_units(session, point.enterprise_id, payload)
    for key, value in payload.model_dump().items():
        setattr(control, key, value)
    session.flush()
    _record(
        session, actor, now, point.enterprise_id, "edit_control", control.text[:40], {"control_id": control.id}, []
    )
    return control


def retire_control(session: Session, actor: Actor, now: datetime, control_id: int) -> RiskControl:
    control = _control_to_edit(session, actor, control_id)
    if not control.active:
        raise Conflict("该管控措施已停用。")
    control.active = False
    session.flush()
    point = control.source.risk_point
    _record(
        session, actor, now, point.enterprise_id, "retire_control", control.text[:40], {"control_id": control.id}, []
    )
    return control


# --- import of the 风险辨识清单 ------------------------------------------------------------------
# The file is the whole register: importing it makes the register in use what the file says.
# Rows are matched by name — a risk point by its name, a source by (point, source), a control
# by (point, source, control text) — and updated in place, so the ids hazards and check
# results point at survive a re-import; what is in use but not in the file is retired.
# Importing the same file twice changes nothing the second time (no new version). A file with
# any bad row writes nothing: every row is checked before the first write, and the caller's
# transaction holds the writes.

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
ACTION_LABELS = {CREATE: "新增", UPDATE: "更新", UNCHANGED: "无变化", ERROR: "错误"}


@dataclass
class RowVerdict:
    row: int
    label: str
    action: str
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowVerdict]
    retired: list[str] = field(default_factory=list)
    applied: bool = False
    version: int | None = None

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def has_errors(self) -> bool:
        return any(r.action == ERROR for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.count(CREATE),
            "updated": self.count(UPDATE),
            "unchanged": self.count(UNCHANGED),
            "errors": self.count(ERROR),
            "retired": list(self.retired),
            "applied": self.applied,
            "version": self.version,
            "rows": [{"row": r.row, "label": r.label, "action": r.action, "errors": r.errors} for r in self.rows],
        }


class ImportRefused(ValidationFailed):
    """A real import with a bad row: nothing written; the report says which rows and why."""

    def __init__(self, report: ImportReport):
        bad = report.count(ERROR)
        super().__init__(f"清单有 {bad} 行有误，未导入任何内容。请按每行的原因修改后重新上传。", fields={"file": "有错误行"})
        self.report = report


def _by_label(enum_labels: dict, text: str) -> Any:
    for value, label in enum_labels.items():
        if text in (label, value.value, label.removesuffix("级")):
            return value
    return None


@dataclass
class _PlannedControl:
    text: str
    values: dict[str, Any]


@dataclass
class _PlannedSource:
    name: str
    values: dict[str, Any]
    first_row: int
    controls: dict[str, _PlannedControl] = field(default_factory=dict)


@dataclass
class _PlannedPoint:
    name: str
    values: dict[str, Any]
    first_row: int
    sources: dict[str, _PlannedSource] = field(default_factory=dict)


def _lookup_units(session: Session, enterprise_id: int) -> dict[str, Any]:
    departments = session.scalars(select(Department).where(Department.enterprise_id == enterprise_id)).all()
    teams = session.scalars(select(Team).where(Team.department_id.in_([d.id for d in departments] or [0]))).all()
    posts = session.scalars(select(Post).where(Post.enterprise_id == enterprise_id)).all()
    sites = session.scalars(select(Site).where(Site.enterprise_id == enterprise_id, Site.active.is_(True))).all()
    return {
        "departments": {d.name: d.id for d in departments},
        "teams": teams,
        "posts": {p.name: p.id for p in posts},
        "sites": {s.name: s.id for s in sites},
    }


def _row_errors(raw: Any, units: dict[str, Any]) -> tuple[list[str], dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Check one row alone: (errors, point values, source values or None, control values or None)."""
    errors: list[str] = []
    point: dict[str, Any] = {"area": raw.area, "site_id": None}
    if not raw.point:
        errors.append("风险点不能为空")
    elif len(raw.point) > 64:
        errors.append("风险点名称不超过 64 字")
    point["kind"] = _by_label(RISK_POINT_KIND_LABELS, raw.kind)
    if point["kind"] is None:
        errors.append(f"风险点类型应为：{'、'.join(RISK_POINT_KIND_LABELS.values())}")
    if len(raw.area) > 128:
        errors.append("区域不超过 128 字")
    if raw.site:
        point["site_id"] = units["sites"].get(raw.site)
        if point["site_id"] is None:
            errors.append(f"排查点位「{raw.site}」不存在或已停用（请先在「排查点位」中添加）")
    source = None
    if raw.source:
        source = {"name": raw.source}
        if len(raw.source) > 128:
            errors.append("危险源不超过 128 字")
        if raw.major not in ("", "是", "否"):
            errors.append("较大危险因素应填“是”或“否”")
        source["is_major_factor"] = raw.major == "是"
        try:
            source["accident_types"] = clean_accident_types(raw.accident_types.replace("，", "、").replace(",", "、").split("、"))
        except ValidationFailed as exc:
            errors.append(exc.message)
        try:
            score = lec_score(raw.likelihood, raw.exposure, raw.consequence)
            source.update(
                likelihood=_decimal(raw.likelihood), exposure=_decimal(raw.exposure),
                consequence=_decimal(raw.consequence), score=score, grade=grade_of(score),
            )
        except ValidationFailed as exc:
            errors.append(exc.message)
    elif any((raw.major, raw.accident_types, raw.likelihood, raw.exposure, raw.consequence, raw.control)):
        errors.append("填写了评估或管控措施，但没有填写危险源")
    control = None
    if raw.control and raw.source:
        control = {"text": raw.control, "department_id": None, "team_id": None, "post_id": None, "responsible_user_id": None}
        if len(raw.control) > 500:
            errors.append("管控措施不超过 500 字")
        control["kind"] = _by_label(CONTROL_KIND_LABELS, raw.control_kind)
        if control["kind"] is None:
            errors.append(f"措施类别应为：{'、'.join(CONTROL_KIND_LABELS.values())}")
        control["control_level"] = _by_label(CONTROL_LEVEL_LABELS, raw.level)
        if control["control_level"] is None:
            errors.append(f"管控层级应为：{'、'.join(CONTROL_LEVEL_LABELS.values())}")
        if raw.department:
            control["department_id"] = units["departments"].get(raw.department)
            if control["department_id"] is None:
                errors.append(f"责任部门「{raw.department}」不是本企业的部门")
        if raw.team:
            candidates = [
                t for t in units["teams"]
                if t.name == raw.team and (control["department_id"] is None or t.department_id == control["department_id"])
            ]
            if len(candidates) == 1:
                control["team_id"] = candidates[0].id
            elif not candidates:
                errors.append(f"责任班组「{raw.team}」不是{'所填部门' if raw.department else '本企业'}的班组")
            else:
                errors.append(f"有多个名为「{raw.team}」的班组，请同时填写责任部门")
        if raw.post:
            control["post_id"] = units["posts"].get(raw.post)
            if control["post_id"] is None:
                errors.append(f"岗位「{raw.post}」不是本企业的岗位")
        level = control["control_level"]
        if level is ControlLevel.TEAM and control["team_id"] is None and not raw.team:
            errors.append("班组级管控措施须填写责任班组")
        if level is ControlLevel.DEPARTMENT and control["department_id"] is None and not raw.department:
            errors.append("部门级管控措施须填写责任部门")
        if level is ControlLevel.POST and control["post_id"] is None and not raw.post:
            errors.append("岗位级管控措施须填写岗位")
    elif any((raw.control_kind, raw.level, raw.department, raw.team, raw.post)) and raw.source:
        errors.append("填写了管控层级或责任单位，但没有填写管控措施")
    return errors, point, source, control


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, key) != value for key, value in values.items())


def import_register(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, rows: Sequence[Any], *, dry_run: bool
) -> ImportReport:
    """Check (dry run) or import the register of `rows` (workbook.RegisterRow). A real import
    with any bad row raises ImportRefused and writes nothing."""
    enterprise = enterprise_to_edit(session, actor, enterprise_id)
    units = _lookup_units(session, enterprise.id)
    existing = {p.name: p for p in session.scalars(
        select(RiskPoint).where(RiskPoint.enterprise_id == enterprise.id, RiskPoint.active.is_(True))
    )}
    plan: dict[str, _PlannedPoint] = {}
    report = ImportReport([])
    seen_controls: dict[tuple[str, str, str], int] = {}
    for raw in rows:
        label = " / ".join(part for part in (raw.point, raw.source, raw.control[:20]) if part)
        errors, point_values, source_values, control_values = _row_errors(raw, units)
        planned = plan.get(raw.point)
        if not errors and planned is not None and planned.values != point_values:
            errors.append(f"风险点「{raw.point}」的类型、区域或排查点位与第 {planned.first_row} 行不一致")
        planned_source = planned.sources.get(raw.source) if planned and raw.source else None
        if not errors and planned_source is not None and planned_source.values != source_values:
            errors.append(f"危险源「{raw.source}」的评估（较大危险因素、事故类型、L/E/C）与第 {planned_source.first_row} 行不一致")
        if not errors and control_values is not None:
            key = (raw.point, raw.source, raw.control)
            if key in seen_controls:
                errors.append(f"与第 {seen_controls[key]} 行重复（同一风险点、危险源下的同一管控措施）")
        if errors:
            report.rows.append(RowVerdict(raw.row, label, ERROR, errors))
            continue
        if planned is None:
            planned = plan[raw.point] = _PlannedPoint(raw.point, point_values, raw.row)
        if source_values is not None:
            if planned_source is None:
                planned_source = planned.sources[raw.source] = _PlannedSource(raw.source, source_values, raw.row)
            if control_values is not None:
                seen_controls[(raw.point, raw.source, raw.control)] = raw.row
                planned_source.controls[raw.control] = _PlannedControl(raw.control, control_values)
        report.rows.append(RowVerdict(raw.row, label, _row_action(existing.get(raw.point), point_values, source_values, control_values)))
    kept_sources = {(p, s) for p, planned in plan.items() for s in planned.sources}
    kept_controls = {(p, s, c) for p, planned in plan.items() for s, ps in planned.sources.items() for c in ps.controls}
    for name, point in existing.items():
        if name not in plan:
            report.retired.append(f"风险点「{name}」")
            continue
        for source in point.sources:
            if not source.active:
                continue
            if (name, source.name) not in kept_sources:
                report.retired.append(f"危险源「{name} / {source.name}」")
                continue
            for control in source.controls:
                if control.active and (name, source.name, control.text) not in kept_controls:
                    report.retired.append(f"管控措施「{source.name} / {control.text[:20]}」")
    if report.has_errors:
        if dry_run:
            return report
        raise ImportRefused(report)
    if dry_run:
        return report
    changed = report.count(CREATE) + report.count(UPDATE) + len(report.retired)
    if not changed:
        return report
    sites = _apply(session, enterprise.id, plan, existing)
    event = _record(
        session, actor, now, enterprise.id, "import",
        f"导入风险辨识清单：新增 {report.count(CREATE)} 行、更新 {report.count(UPDATE)} 行、停用 {len(report.retired)} 项",
        {"created": report.count(CREATE), "updated": report.count(UPDATE), "retired": len(report.retired)},
        sites,
    )
    report.applied, report.version = True, event.version
    return report


def _row_action(point: RiskPoint | None, point_values, source_values, control_values) -> str:
    if point is None:
        return CREATE
    if source_values is None:
        return UPDATE if _differs(point, point_values) else UNCHANGED
    source = next((s for s in point.sources if s.active and s.name == source_values["name"]), None)
    if source is None:
        return CREATE
    if control_values is None:
        return UPDATE if _differs(point, point_values) or _differs(source, source_values) else UNCHANGED
    control = next((c for c in source.controls if c.active and c.text == control_values["text"]), None)
    if control is None:
        return CREATE
    if _differs(point, point_values) or _differs(source, source_values) or _differs(control, control_values):
        return UPDATE
    return UNCHANGED


def _apply(session: Session, enterprise_id: int, plan: dict[str, _PlannedPoint], existing: dict[str, RiskPoint]) -> set[int | None]:
    """Write the checked plan; return the sites whose colour may change."""
    sites: set[int | None] = set()
    for name, point in existing.items():
        if name not in plan:
            _retire_point_rows(point)
            sites.add(point.site_id)
    for name, planned in plan.items():
        point = existing.get(name)
        if point is None:
            point = RiskPoint(enterprise_id=enterprise_id, name=name, **planned.values)
            session.add(point)
            session.flush()
        else:
            sites.add(point.site_id)
            for key, value in planned.values.items():
                setattr(point, key, value)
        sites.add(point.site_id)
        current = {s.name: s for s in point.sources if s.active}
        for source in current.values():
            if source.name not in planned.sources:
                _retire_source_rows(source)
        for position, (source_name, planned_source) in enumerate(planned.sources.items()):
            source = current.get(source_name)
            if source is None:
                source = RiskSource(risk_point=point, position=position, **planned_source.values)
                session.add(source)
                session.flush()
            else:
                source.position = position
                for key, value in planned_source.values.items():
                    setattr(source, key, value)
            controls = {c.text: c for c in source.controls if c.active}
            for control in controls.values():
                if control.text not in planned_source.controls:
                    control.active = False
            for control_position, (text, planned_control) in enumerate(planned_source.controls.items()):
                control = controls.get(text)
                if control is None:
                    session.add(RiskControl(source=source, position=control_position, **planned_control.values))
                else:
                    control.position = control_position
                    for key, value in planned_control.values.items():
                        setattr(control, key, value)
    session.flush()
    return sites
