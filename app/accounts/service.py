"""Use cases of accounts: console login, API tokens, memberships. Flush, never commit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.domain import Action, Actor, EnterpriseRef, Role, require
from app.accounts.models import ApiToken, Membership, User
from app.enterprises.models import Department, Enterprise, Post, Team
from app.errors import NotFound, PermissionDenied, ValidationFailed

# Roles whose duty is tied to a unit: the daily check is per team, the weekly per department.
REQUIRED_UNIT = {Role.TEAM_LEADER: "team_id", Role.DEPARTMENT_HEAD: "department_id"}


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials. Raises PermissionDenied (one message for
    unknown user and wrong password, so usernames cannot be probed)."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    # Compare against a dummy hash for unknown users to keep timing uniform.
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password or "") or user is None or not user.is_active:
        raise PermissionDenied("用户名或密码错误。", http_status=401)
    return user


_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(
    session: Session, user: User, now: datetime, name: str, token: str | None = None
) -> tuple[ApiToken, str]:
    """Create an API token for `user`; returns the row and the plaintext (shown once)."""
    plaintext = token or "ac_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=token_digest(plaintext), created_at=now)
    session.add(row)
    session.flush()
    return row, plaintext


def user_for_api_token(session: Session, token: str, now: datetime) -> User:
    """The active user owning a non-revoked token. Raises PermissionDenied (401)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token or "")))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        raise PermissionDenied("API 令牌无效或已吊销。", http_status=401)
    row.last_used_at = now
    return row.user


def derived_token(secret_key: str, purpose: str) -> str:
    """A stable token derived from SECRET_KEY (the demo's API token survives re-seeding)."""
    digest = hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
    return "ac_" + digest[:40]


def add_membership(
    session: Session,
    actor: Actor,
    now: datetime,
    user: User,
    enterprise: Enterprise,
    role: Role,
    *,
    department: Department | None = None,
    team: Team | None = None,
    post: Post | None = None,
) -> Membership:
    """Give `user` a role in `enterprise`. Raises PermissionDenied, ValidationFailed."""
    require(actor, Action.MANAGE_MEMBERS, EnterpriseRef(enterprise.id, enterprise.town_id))
    if team is not None and department is None:
        department = team.department
    for unit in (department, post):
        if unit is not None and unit.enterprise_id != enterprise.id:
            raise ValidationFailed.for_field(
                "department_id" if unit is department else "post_id", "不属于本企业"
            )
    if team is not None and team.department_id != department.id:
        raise ValidationFailed.for_field("team_id", "班组不属于所选部门")
    needed = REQUIRED_UNIT.get(role)
    if needed == "team_id" and team is None:
        raise ValidationFailed.for_field("team_id", "班组长必须指定所在班组")
    if needed == "department_id" and department is None:
        raise ValidationFailed.for_field("department_id", "部门负责人必须指定所在部门")
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.enterprise_id == enterprise.id,
            Membership.role == role,
        )
    )
    if existing is not None:
        raise ValidationFailed.for_field("role", "该成员已有此角色")
    membership = Membership(
        user_id=user.id,
        enterprise_id=enterprise.id,
        role=role,
        department_id=department.id if department else None,
        team_id=team.id if team else None,
        post_id=post.id if post else None,
    )
    session.add(membership)
    session.flush()
    return membership


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    return user
