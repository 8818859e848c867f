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

from collections.abc import Iterable
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
    point.active = False
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
    source.active = False
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
