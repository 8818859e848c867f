"""Read side of 组织与岗位: the console page's departments, teams and post cards, and the
cards of the posts a person holds (H5 「我的岗位风险」, the site scan page)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Membership
from app.enterprises.models import Department, Enterprise, Post, Team
from app.enterprises.organisation.domain import valid_id


@dataclass
class Organisation:
    """What the console page shows: departments with their teams, posts with their cards,
    and how many active members sit in each unit."""

    departments: list[Department]
    posts: list[Post]
    members_by_department: dict[int, int] = field(default_factory=dict)
    members_by_team: dict[int, int] = field(default_factory=dict)
    members_by_post: dict[int, int] = field(default_factory=dict)


def organisation(session: Session, enterprise: Enterprise) -> Organisation:
    """The enterprise's organisation, in four queries."""
    departments = list(
        session.scalars(
            select(Department)
            .where(Department.enterprise_id == enterprise.id)
            .options(selectinload(Department.teams))
            .order_by(Department.id)
        )
    )
    posts = list(
        session.scalars(
            select(Post)
            .where(Post.enterprise_id == enterprise.id)
            .options(selectinload(Post.hazard_factors), selectinload(Post.department))
            .order_by(Post.department_id.is_(None), Post.department_id, Post.id)
        )
    )
    counts = Organisation(departments, posts)
    active = (Membership.enterprise_id == enterprise.id) & Membership.active.is_(True)
    for column, target in (
        (Membership.department_id, counts.members_by_department),
        (Membership.team_id, counts.members_by_team),
        (Membership.post_id, counts.members_by_post),
    ):
        rows = session.execute(
            select(column, func.count(func.distinct(Membership.user_id)))
            .where(active, column.is_not(None))
            .group_by(column)
        )
        target.update({unit_id: count for unit_id, count in rows})
    return counts


@dataclass(frozen=True)
class PostCards:
    """The cards of the posts one person holds in one enterprise."""

    enterprise_id: int
    enterprise_name: str
    posts: list[Post]


def my_post_cards(session: Session, user_id: int, enterprise_id: int | None = None) -> list[PostCards]:
    """The posts of the user's active memberships (in one enterprise when given), each with
    its department and factors, grouped by enterprise; a post held in several roles once."""
    query = (
        select(Membership)
        .where(Membership.user_id == user_id, Membership.active.is_(True), Membership.post_id.is_not(None))
        .options(
            selectinload(Membership.enterprise),
            selectinload(Membership.post).selectinload(Post.hazard_factors),
            selectinload(Membership.post).selectinload(Post.department),
        )
        .order_by(Membership.enterprise_id, Membership.id)
    )
    if enterprise_id is not None:
        query = query.where(Membership.enterprise_id == enterprise_id)
    grouped: dict[int, PostCards] = {}
    for membership in session.scalars(query):
        cards = grouped.setdefault(
            membership.enterprise_id, PostCards(membership.enterprise_id, membership.enterprise.name, [])
        )
        if all(p.id != membership.post_id for p in cards.posts):
            cards.posts.append(membership.post)
    return list(grouped.values())


def enterprise_id_of(session: Session, unit: str, unit_id: int) -> int | None:
    """The enterprise a department / team / post belongs to (None when there is none)."""
    if not valid_id(unit_id):
        return None
    if unit == "department":
        query = select(Department.enterprise_id).where(Department.id == unit_id)
    elif unit == "team":
        query = select(Department.enterprise_id).join(Team, Team.department_id == Department.id).where(Team.id == unit_id)
    elif unit == "post":
        query = select(Post.enterprise_id).where(Post.id == unit_id)
    else:
        raise ValueError(f"unknown unit {unit!r}")
    return session.scalar(query)
