"""Use cases of 组织与岗位: add, rename and remove departments and teams; add, edit and remove
posts with their risk cards and 较大危险因素. Take (session, actor, now, …); flush, never commit.

Every verb asks for MANAGE_STRUCTURE on the unit's enterprise: an enterprise the actor cannot
see answers NotFound (no existence leak), one they only see answers PermissionDenied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.models import Membership, User
from app.database import Base
from app.enterprises.models import Department, Enterprise, Post, PostHazardFactor, Team
from app.enterprises.organisation.domain import (
    NAMES_SHOWN,
    Reference,
    check_removable,
    check_unique_name,
    clean_factors,
    clean_name,
    valid_id,
)
from app.enterprises.organisation.schemas import PostCardIn
from app.errors import NotFound, ValidationFailed
from app.validation import parse

ENTERPRISE_NOT_FOUND = "企业不存在或您无权查看。"
DEPARTMENT_NOT_FOUND = "部门不存在或您无权查看。"
TEAM_NOT_FOUND = "班组不存在或您无权查看。"
POST_NOT_FOUND = "岗位不存在或您无权查看。"


# --- scope ---------------------------------------------------------------------------------


def visible_enterprise(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    """The enterprise if the actor may see it. Raises NotFound otherwise."""
    enterprise = session.get(Enterprise, enterprise_id) if valid_id(enterprise_id) else None
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound(ENTERPRISE_NOT_FOUND)
    return enterprise


def _structure_of(session: Session, actor: Actor, enterprise_id: int, not_found: str) -> Enterprise:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound(not_found)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    return enterprise


def _department(session: Session, actor: Actor, department_id: int) -> Department:
    department = session.get(Department, department_id) if valid_id(department_id) else None
    if department is None:
        raise NotFound(DEPARTMENT_NOT_FOUND)
    _structure_of(session, actor, department.enterprise_id, DEPARTMENT_NOT_FOUND)
    return department


def _team(session: Session, actor: Actor, team_id: int) -> Team:
    team = session.get(Team, team_id) if valid_id(team_id) else None
    if team is None:
        raise NotFound(TEAM_NOT_FOUND)
    _structure_of(session, actor, team.department.enterprise_id, TEAM_NOT_FOUND)
    return team


def post_to_edit(session: Session, actor: Actor, post_id: int) -> Post:
    """A post whose card the actor may edit. Raises NotFound, PermissionDenied."""
    post = session.get(Post, post_id) if valid_id(post_id) else None
    if post is None:
        raise NotFound(POST_NOT_FOUND)
    _structure_of(session, actor, post.enterprise_id, POST_NOT_FOUND)
    return post


# --- what refers to a unit -----------------------------------------------------------------


def references(session: Session, table: Table, row_id: int, *, own: frozenset[str] = frozenset()) -> list[Reference]:
    """Every row of the schema that points at `table`'s row `row_id`, by referring table
    (tables in `own` are parts of the unit and not counted). Found from the foreign keys of
    the mapped tables, so a feature that later points at the unit is counted too.

    A row marked inactive (`active` false) whose foreign key the database clears or cascades
    on delete does not hold the unit: a member who left, a revoked site. Any other row
    does — including inactive check schedules, whose tasks are the check ledger."""
    found = []
    for referring in Base.metadata.sorted_tables:
        if referring.name in own:
            continue
        for fk in referring.foreign_keys:
            if fk.column.table is not table:
                continue
            condition = fk.parent == row_id
            if (fk.ondelete or "").upper() in ("SET NULL", "CASCADE") and "active" in referring.c:
                condition = condition & referring.c.active.is_(True)
            count = session.scalar(select(func.count()).select_from(referring).where(condition)) or 0
            if count:
                found.append(Reference(referring.name, count, _names(session, referring, condition)))
    return found


def _names(session: Session, referring: Table, condition: Any) -> tuple[str, ...]:
    if referring.name == Membership.__tablename__:
        query = (
            select(User.display_name)
            .join(Membership, Membership.user_id == User.id)
            .where(condition)
            .order_by(Membership.id)
        )
    elif "name" in referring.c:
        query = select(referring.c.name).where(condition).order_by(referring.c.id)
    elif "label" in referring.c:
        query = select(referring.c.label).where(condition).order_by(referring.c.id)
    else:
        return ()
    return tuple(dict.fromkeys(session.scalars(query.limit(NAMES_SHOWN * 2))))[:NAMES_SHOWN]


# --- departments ---------------------------------------------------------------------------


def add_department(session: Session, actor: Actor, now: datetime, enterprise_id: int, name: str) -> Department:
    """A new department of the enterprise. Raises NotFound, PermissionDenied, ValidationFailed
    (empty, too long, taken in the enterprise)."""
    enterprise = visible_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    clean = clean_name(name, "department")
    check_unique_name(clean, _department_names(session, enterprise.id), "department", f"「{enterprise.name}」")
    department = Department(enterprise_id=enterprise.id, name=clean)
    session.add(department)
    session.flush()
    return department


def rename_department(session: Session, actor: Actor, now: datetime, department_id: int, name: str) -> Department:
    """Give a department a new name. Raises NotFound, PermissionDenied, ValidationFailed."""
    department = _department(session, actor, department_id)
    clean = clean_name(name, "department")
    others = _department_names(session, department.enterprise_id, except_id=department.id)
    check_unique_name(clean, others, "department", f"「{department.enterprise.name}」")
    department.name = clean
    session.flush()
    return department


def remove_department(session: Session, actor: Actor, now: datetime, department_id: int) -> str:
    """Remove a department nothing refers to (its teams, members, posts, sites, schedules,
    hazards …); returns its name. Raises NotFound, PermissionDenied, Conflict naming what
    still refers to it."""
    department = _department(session, actor, department_id)
    check_removable("department", department.name, references(session, Department.__table__, department.id))
    name = department.name
    session.delete(department)
    session.flush()
    return name


def _department_names(session: Session, enterprise_id: int, except_id: int | None = None) -> list[str]:
    query = select(Department.name).where(Department.enterprise_id == enterprise_id)
    if except_id is not None:
        query = query.where(Department.id != except_id)
    return list(session.scalars(query))


# --- teams ---------------------------------------------------------------------------------


def add_team(session: Session, actor: Actor, now: datetime, department_id: int, name: str) -> Team:
    """A new team (班组) of a department. Raises NotFound, PermissionDenied, ValidationFailed
    (empty, too long, taken in the department)."""
    department = _department(session, actor, department_id)
    clean = clean_name(name, "team")
    check_unique_name(clean, _team_names(session, department.id), "team", f"「{department.name}」")
    team = Team(department_id=department.id, name=clean)
    session.add(team)
    session.flush()
    return team


def rename_team(session: Session, actor: Actor, now: datetime, team_id: int, name: str) -> Team:
    """Give a team a new name. Raises NotFound, PermissionDenied, ValidationFailed."""
    team = _team(session, actor, team_id)
    clean = clean_name(name, "team")
    others = _team_names(session, team.department_id, except_id=team.id)
    check_unique_name(clean, others, "team", f"「{team.department.name}」")
    team.name = clean
    session.flush()
    return team


def remove_team(session: Session, actor: Actor, now: datetime, team_id: int) -> str:
    """Remove a team nothing refers to (members, check schedules …); returns its name.
    Raises NotFound, PermissionDenied, Conflict naming what still refers to it."""
    team = _team(session, actor, team_id)
    check_removable("team", team.name, references(session, Team.__table__, team.id))
    name = team.name
    session.delete(team)
    session.flush()
    return name


def _team_names(session: Session, department_id: int, except_id: int | None = None) -> list[str]:
    query = select(Team.name).where(Team.department_id == department_id)
    if except_id is not None:
        query = query.where(Team.id != except_id)
    return list(session.scalars(query))


# --- posts ---------------------------------------------------------------------------------


def _card(session: Session, enterprise: Enterprise, data: Any, except_id: int | None) -> tuple[PostCardIn, list]:
    payload = parse(PostCardIn, data)
    name = clean_name(payload.name, "post")
    query = select(Post.name).where(Post.enterprise_id == enterprise.id)
    if except_id is not None:
        query = query.where(Post.id != except_id)
    check_unique_name(name, session.scalars(query), "post", f"「{enterprise.name}」")
    if payload.department_id is not None:
        department = session.get(Department, payload.department_id)
        if department is None or department.enterprise_id != enterprise.id:
            raise ValidationFailed.for_field("department_id", "部门不存在或不属于本企业")
    factors = clean_factors([(row.name, row.measures) for row in payload.factors])
    return payload.model_copy(update={"name": name}), factors


def _write_factors(session: Session, post: Post, factors: list) -> None:
    # The old list goes first (flushed), so a name may move to another row without meeting
    # itself in the unique (post, name) index.
    for old in list(post.hazard_factors):
        post.hazard_factors.remove(old)
    session.flush()
    for position, factor in enumerate(factors):
        post.hazard_factors.append(PostHazardFactor(name=factor.name, measures=factor.measures, position=position))


def add_post(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> Post:
    """A new post with its risk card and factors. Raises NotFound, PermissionDenied,
    ValidationFailed (fields, a name taken in the enterprise, another enterprise's
    department, factor rows)."""
    enterprise = visible_enterprise(session, actor, enterprise_id)
    require(actor, Action.MANAGE_STRUCTURE, enterprise.ref)
    payload, factors = _card(session, enterprise, data, None)
    post = Post(enterprise_id=enterprise.id, **payload.model_dump(exclude={"factors"}))
    session.add(post)
    session.flush()
    _write_factors(session, post, factors)
    session.flush()
    return post


def update_post(session: Session, actor: Actor, now: datetime, post_id: int, data: Any) -> Post:
    """Change a post's card and replace its factors. Raises as add_post."""
    post = post_to_edit(session, actor, post_id)
    payload, factors = _card(session, post.enterprise, data, post.id)
    for field, value in payload.model_dump(exclude={"factors"}).items():
        setattr(post, field, value)
    _write_factors(session, post, factors)
    session.flush()
    return post


def remove_post(session: Session, actor: Actor, now: datetime, post_id: int) -> str:
    """Remove a post no active member holds (its factors go with it); returns its name.
    Raises NotFound, PermissionDenied, Conflict naming the members."""
    post = post_to_edit(session, actor, post_id)
    own = frozenset({PostHazardFactor.__tablename__})
    check_removable("post", post.name, references(session, Post.__table__, post.id, own=own))
    name = post.name
    session.delete(post)
    session.flush()
    return name
