"""Read side of accounts: who is acting, and what they may see."""

from __future__ import annotations

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import ROLE_LABELS, Actor, Role
from app.accounts.models import BureauMembership, MemberEvent, Membership, User
from app.enterprises.models import Department, Enterprise, Post


def load_actor(session: Session, user: User) -> Actor:
    """The Actor for `user`: active enterprise roles and bureau scope, in two queries."""
    roles: dict[int, set[Role]] = {}
    rows = session.execute(
        select(Membership.enterprise_id, Membership.role).where(
            Membership.user_id == user.id, Membership.active.is_(True)
        )
    )
    for enterprise_id, role in rows:
        roles.setdefault(enterprise_id, set()).add(role)
    bureau = session.scalar(
        select(BureauMembership)
        .where(BureauMembership.user_id == user.id)
        .options(selectinload(BureauMembership.towns))
    )
    return Actor(
        user_id=user.id,
        display_name=user.display_name,
        roles={eid: frozenset(rs) for eid, rs in roles.items()},
        bureau_role=bureau.role if bureau else None,
        bureau_town_ids=frozenset(t.id for t in bureau.towns) if bureau else frozenset(),
    )


def visible_enterprises(actor: Actor) -> Select[tuple[Enterprise]]:
    """SELECT of the enterprises `actor` may see (add ordering/filters on top)."""
    scope = actor.enterprise_scope()
    query = select(Enterprise)
    if scope.all:
        return query
    conditions = []
    if scope.town_ids:
        conditions.append(Enterprise.town_id.in_(scope.town_ids))
    if scope.enterprise_ids:
        conditions.append(Enterprise.id.in_(scope.enterprise_ids))
    return query.where(or_(*conditions) if conditions else false())


def user_by_openid(session: Session, openid: str) -> User | None:
    """The user bound to this WeChat openid, if any."""
    if not openid:
        return None
    return session.scalar(select(User).where(User.openid == openid))


def scanner_standing(session: Session, openid: str, enterprise_id: int) -> tuple[int | None, bool, bool]:
    """(user id, user active, holds an active role in the enterprise) of the user bound to
    `openid` — (None, False, False) when unbound. One Core query returning plain values:
    the SCAN path runs it on every scan, where ORM objects would be wasted work."""
    if not openid:
        return None, False, False
    member = (
        select(Membership.id)
        .where(
            Membership.user_id == User.id,
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
        )
        .exists()
    )
    row = session.execute(select(User.id, User.is_active, member).where(User.openid == openid)).first()
    return (row[0], bool(row[1]), bool(row[2])) if row else (None, False, False)


def is_active_member(session: Session, user_id: int, enterprise_id: int) -> bool:
    """Does the user hold an active role in the enterprise?"""
    found = session.scalar(
        select(Membership.id)
        .where(
            Membership.user_id == user_id,
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
        )
        .limit(1)
    )
    return found is not None


def active_user(session: Session, user_id: int | None) -> User | None:
    """The user behind a session's user id, if it still exists and is active."""
    user = session.get(User, user_id) if user_id else None
    return user if user is not None and user.is_active else None


def my_roles(session: Session, user: User) -> tuple[list[dict], BureauMembership | None]:
    """我的: the user's enterprises, each with its name and the roles held there (label and
    unit), and the bureau membership, if any."""
    memberships = session.scalars(
        select(Membership)
        .where(Membership.user_id == user.id, Membership.active.is_(True))
        .options(
            selectinload(Membership.enterprise),
            selectinload(Membership.department),
            selectinload(Membership.team),
        )
        .order_by(Membership.enterprise_id, Membership.id)
    ).all()
    enterprises: dict[int, dict] = {}
    for membership in memberships:
        entry = enterprises.setdefault(membership.enterprise_id, {"name": membership.enterprise.name, "roles": []})
        unit = " · ".join(part.name for part in (membership.department, membership.team) if part is not None)
        entry["roles"].append({"label": ROLE_LABELS[membership.role], "unit": unit})
    bureau = session.scalar(
        select(BureauMembership)
        .where(BureauMembership.user_id == user.id)
        .options(selectinload(BureauMembership.towns))
    )
    return list(enterprises.values()), bureau


def enterprise_members(session: Session, enterprise_id: int, *, unbound_only: bool = False) -> list[Membership]:
    """The enterprise's memberships, active ones first, each with its person and units;
    `unbound_only`: the active members whose person has not bound WeChat (未绑定)."""
    query = select(Membership).where(Membership.enterprise_id == enterprise_id)
    if unbound_only:
        query = query.join(User, User.id == Membership.user_id).where(
            Membership.active.is_(True), User.openid.is_(None)
        )
    return list(
        session.scalars(
            query
            .options(
                selectinload(Membership.user),
                selectinload(Membership.department),
                selectinload(Membership.team),
                selectinload(Membership.post),
            )
            .order_by(Membership.active.desc(), Membership.department_id, Membership.team_id, Membership.id)
        )
    )


def member_choices(session: Session, enterprise_id: int) -> dict[str, list]:
    """The departments (with their teams) and posts a member's form offers."""
    departments = list(
        session.scalars(
            select(Department)
            .where(Department.enterprise_id == enterprise_id)
            .options(selectinload(Department.teams))
            .order_by(Department.id)
        )
    )
    posts = list(session.scalars(select(Post).where(Post.enterprise_id == enterprise_id).order_by(Post.id)))
    return {"departments": departments, "posts": posts}


def membership(session: Session, membership_id: int) -> Membership | None:
    return session.get(Membership, membership_id)


def member_history(session: Session, membership_id: int) -> list[MemberEvent]:
    """A member's history, newest first, with who did each step."""
    return list(
        session.scalars(
            select(MemberEvent)
            .where(MemberEvent.membership_id == membership_id)
            .options(selectinload(MemberEvent.actor))
            .order_by(MemberEvent.at.desc(), MemberEvent.id.desc())
        )
    )


def enterprise_members_page(
    session: Session, enterprise_id: int, page: int, per_page: int
) -> tuple[list[Membership], int]:
    """One page of the enterprise's memberships (in id order, with their persons) and the total."""
    total = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.enterprise_id == enterprise_id)
    )
    items = session.scalars(
        select(Membership)
        .where(Membership.enterprise_id == enterprise_id)
        .options(selectinload(Membership.user))
        .order_by(Membership.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(items), int(total or 0)
