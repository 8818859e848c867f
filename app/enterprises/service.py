"""Use cases of the enterprise file. Take (session, actor, now, …); flush, never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.enterprises.domain import SITE_NOT_FOUND, CreditStatus, new_site_token, site_retired_message
from app.enterprises.models import Department, Enterprise, Post, Site, Team, Town
from app.enterprises.queries import site_with_token
from app.enterprises.schemas import (
    DepartmentIn,
    EnterpriseIn,
    EnterpriseUpdate,
    PostIn,
    SiteIn,
    TeamIn,
)
from app.enterprises.sites.domain import name_taken_message
from app.enterprises.sites.queries import active_site_named
from app.errors import NotFound, ValidationFailed
from app.validation import parse


def get_enterprise(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    """The enterprise if the actor may see it. Raises NotFound otherwise (no existence leak)."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("企业不存在或您无权查看。")
    return enterprise


def _check_town(session: Session, actor: Actor, town_id: int) -> Town:
    town = session.get(Town, town_id)
    if town is None:
        raise ValidationFailed.for_field("town_id", "所属镇街不存在")
    if not actor.enterprise_scope().all and town_id not in actor.enterprise_scope().town_ids:
        raise ValidationFailed.for_field("town_id", "您只能登记本人负责镇街的企业")
    return town


def _check_uscc_free(session: Session, uscc: str, except_id: int | None = None) -> None:
    existing = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if existing is not None and existing.id != except_id:
        raise ValidationFailed.for_field("uscc", f"统一社会信用代码已被“{existing.name}”使用")


CREDIT_STATUS_REFUSED = (
    "信用状态不能在企业档案中直接修改：请在“失信名单”中将企业列入重点关注名单或严重失信主体名单，"
    "或填写理由将其移出（由安监局管理员办理）。"
)


def _refuse_credit_change(current: CreditStatus, changes: dict[str, Any]) -> None:
    """The file's forms and API may echo the credit status back unchanged, never change it."""
    if "credit_status" in changes and changes["credit_status"] != current:
        raise ValidationFailed(CREDIT_STATUS_REFUSED, fields={"credit_status": CREDIT_STATUS_REFUSED})


def create_enterprise(session: Session, actor: Actor, now: datetime, data: Any) -> Enterprise:
    """Register an enterprise file. Raises PermissionDenied, ValidationFailed."""
    require(actor, Action.CREATE_ENTERPRISE)
    payload = parse(EnterpriseIn, data)
    _refuse_credit_change(CreditStatus.NORMAL, payload.model_dump(exclude_unset=True))
    _check_town(session, actor, payload.town_id)
    _check_uscc_free(session, payload.uscc)
    enterprise = Enterprise(**payload.model_dump())
    session.add(enterprise)
    session.flush()
    return enterprise


def update_enterprise(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any
) -> Enterprise:
    """Change the given fields of an enterprise file. Raises NotFound, PermissionDenied,
    ValidationFailed. Credit status is not a field of the file: the credit list
    (oversight/credit) sets it; a value other than the current one is refused."""
    enterprise = get_enterprise(session, actor, enterprise_id)
    require(actor, Action.EDIT_ENTERPRISE, enterprise.ref)
    payload = parse(EnterpriseUpdate, data)
    changes = payload.model_dump(exclude_unset=True)
    _refuse_credit_change(enterprise.credit_status, changes)
    changes.pop("credit_status", None)
    if "uscc" in changes:
        _check_uscc_free(session, changes["uscc"], except_id=enterprise.id)
    if "town_id" in changes:
        _check_town(session, actor, changes["town_id"])
    for name, value in changes.items():
        if value is None and name in ("uscc", "name", "address", "town_id", "industry", "scale"):
            raise ValidationFailed.for_field(name, "不能为空")
        setattr(enterprise, name, value)
    session.flush()
    return enterprise


def _structure_target(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    enterprise = get_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    return enterprise


def _department_of(session: Session, enterprise: Enterprise, department_id: int | None) -> None:
    if department_id is None:
        return
    department = session.get(Department, department_id)
    if department is None or department.enterprise_id != enterprise.id:
        raise ValidationFailed.for_field("department_id", "部门不存在或不属于本企业")


def _unique_name(session: Session, model: type, name: str, field: str, **scope: int) -> None:
    query = select(model.id).where(model.name == name)
    for column, value in scope.items():
        query = query.where(getattr(model, column) == value)
    if session.scalar(query) is not None:
        raise ValidationFailed.for_field(field, f"“{name}”已存在")


def add_department(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any
) -> Department:
    """Add a department. Raises NotFound, PermissionDenied, ValidationFailed."""
    enterprise = _structure_target(session, actor, enterprise_id)
    payload = parse(DepartmentIn, data)
    _unique_name(session, Department, payload.name, "name", enterprise_id=enterprise.id)
    department = Department(enterprise_id=enterprise.id, name=payload.name)
    session.add(department)
    session.flush()
    return department


def add_team(session: Session, actor: Actor, now: datetime, department_id: int, data: Any) -> Team:
    """Add a team (班组) to a department. Raises NotFound, PermissionDenied, ValidationFailed."""
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound("部门不存在。")
    _structure_target(session, actor, department.enterprise_id)
    payload = parse(TeamIn, data)
    _unique_name(session, Team, payload.name, "name", department_id=department.id)
    team = Team(department_id=department.id, name=payload.name)
    session.add(team)
    session.flush()
    return team


def add_post(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> Post:
    """Add a post with its risk card. Raises NotFound, PermissionDenied, ValidationFailed."""
    enterprise = _structure_target(session, actor, enterprise_id)
    payload = parse(PostIn, data)
    _department_of(session, enterprise, payload.department_id)
    _unique_name(session, Post, payload.name, "name", enterprise_id=enterprise.id)
    post = Post(enterprise_id=enterprise.id, **payload.model_dump())
    session.add(post)
    session.flush()
    return post


def add_site(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> Site:
    """Register a QR point with a fresh unguessable token. Raises NotFound,
    PermissionDenied, ValidationFailed."""
    enterprise = _structure_target(session, actor, enterprise_id)
    payload = parse(SiteIn, data)
    _department_of(session, enterprise, payload.department_id)
    if active_site_named(session, enterprise.id, payload.name) is not None:
        raise ValidationFailed.for_field("name", name_taken_message(payload.name))
    site = Site(enterprise_id=enterprise.id, token=new_site_token(), **payload.model_dump())
    session.add(site)
    session.flush()
    return site


def site_by_token(session: Session, token: str) -> Site:
    """The active site behind a scanned QR token. Raises NotFound with a message for the
    scanner: that the code is unknown, or that its site was retired."""
    site = site_with_token(session, token)
    if site is None:
        raise NotFound(SITE_NOT_FOUND)
    if not site.active:
        raise NotFound(site_retired_message(site.name))
    return site
