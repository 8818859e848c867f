"""Users, enterprise memberships, bureau scopes and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.domain import BureauRole, MemberEventKind, Role
from app.database import Base, TimestampMixin, str_enum
from app.enterprises.models import Department, Enterprise, Post, Team, Town


class User(TimestampMixin, Base):
    """A person: console login (username + password) and/or a WeChat openid."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # False after `unsubscribe`: no pushes, records kept.
    subscribed: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Last position WeChat reported (LOCATION event, when the user allows it); overwritten.
    last_latitude: Mapped[float | None]
    last_longitude: Mapped[float | None]
    last_location_at: Mapped[datetime | None]
    # When the current openid was bound (by an invite); None while unbound.
    wechat_bound_at: Mapped[datetime | None]
    # A console session is good while it carries this number; 退出 raises it (all sessions end).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")
    bureau_membership: Mapped[BureauMembership | None] = relationship(back_populates="user")


class Membership(TimestampMixin, Base):
    """A user's role in one enterprise; a person may hold several roles there."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "enterprise_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "member_role"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department | None] = relationship()
    team: Mapped[Team | None] = relationship()
    post: Mapped[Post | None] = relationship()


bureau_membership_towns = Table(
    "bureau_membership_towns",
    Base.metadata,
    Column(
        "bureau_membership_id",
        ForeignKey("bureau_memberships.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("town_id", ForeignKey("towns.id", ondelete="CASCADE"), primary_key=True),
)


class BureauMembership(TimestampMixin, Base):
    """A bureau user: the admin sees the district, staff see their towns."""

    __tablename__ = "bureau_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    role: Mapped[BureauRole] = mapped_column(str_enum(BureauRole, "bureau_role"))

    user: Mapped[User] = relationship(back_populates="bureau_membership")
    towns: Mapped[list[Town]] = relationship(secondary=bureau_membership_towns, order_by="Town.id")


class ApiToken(Base):
    """A bearer token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Invite(Base):
    """A single-use invitation binding a WeChat openid to a membership's user.

    Shown as a temporary QR with scene `bind:<token>`; redeemed by scanning it."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    # Kept when the inviter is deleted: the invite (and its use) is still history.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_openid: Mapped[str | None] = mapped_column(String(64))

    membership: Mapped[Membership] = relationship()


class MemberEvent(Base):
    """Append-only: what happened to a member (added, edited, invited, bound, unbound, left,
    imported), by whom, when, and why (the reason of an unbinding)."""

    __tablename__ = "member_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MemberEventKind] = mapped_column(str_enum(MemberEventKind, "member_event_kind"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime]

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
