"""Use cases of accounts: console login, API tokens, memberships. Flush, never commit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import roster
from app.accounts.domain import (
    DEFAULT_INVITE_TTL,
    INVITE_MEMBER_HAS_OTHER_WECHAT,
    INVITE_UNKNOWN,
    INVITE_USED,
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_ADDRESS,
    LOGIN_LOCK_WINDOW,
    Action,
    Actor,
    EnterpriseRef,
    MemberEventKind,
    check_invite_redeemable,
    check_invite_ttl,
    check_member_units,
    clean_unbind_reason,
    invite_scene,
    login_lock_message,
    login_locked,
    new_invite_token,
    rebinding_refused,
    require,
)
from app.accounts.models import ApiToken, Invite, MemberEvent, Membership, User
from app.accounts.schemas import MemberIn
from app.clock import to_local
from app.enterprises.models import Department, Enterprise, Post, Team
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.validation import parse

# Roles whose duty is tied to a unit: the daily check is per team, the weekly per department.


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

_LOGIN_FAILURES = "ancha:login:failures:"


def _failure_keys(username: str, address: str) -> tuple[str, str]:
    return (_LOGIN_FAILURES + "account:" + (username or "").strip()[:64], _LOGIN_FAILURES + "address:" + address)


def check_login_allowed(redis: Any, username: str, address: str, now: datetime) -> None:
    """Refuse a login attempt while its account or address is locked (too many recent
    failures). Raises PermissionDenied (429) saying when to try again."""
    account_key, address_key = _failure_keys(username, address)
    with redis.pipeline() as pipe:
        pipe.get(account_key).get(address_key).ttl(account_key).ttl(address_key)
        account, address_count, account_ttl, address_ttl = pipe.execute()
    if login_locked(int(account or 0), int(address_count or 0)):
        locked_ttl = max(
            ttl for count, limit, ttl in (
                (int(account or 0), LOGIN_FAILURES_PER_ACCOUNT, account_ttl),
                (int(address_count or 0), LOGIN_FAILURES_PER_ADDRESS, address_ttl),
            ) if count >= limit
        )
        retry_at = now + timedelta(seconds=max(int(locked_ttl), 1))
        raise PermissionDenied(login_lock_message(to_local(retry_at)), http_status=429)


def record_login_failure(redis: Any, username: str, address: str) -> None:
    """Count a failed login against its account and address, for LOGIN_LOCK_WINDOW from the
    first failure."""
    seconds = int(LOGIN_LOCK_WINDOW.total_seconds())
    with redis.pipeline() as pipe:
        for key in _failure_keys(username, address):
            pipe.incr(key).expire(key, seconds, nx=True)
        pipe.execute()


def forget_login_failures(redis: Any, username: str) -> None:
    """A successful login clears its account's count (not its address's)."""
    redis.delete(_failure_keys(username, "")[0])


def end_console_sessions(session: Session, user: User) -> None:
    """Every console session of `user` stops working (退出, or access withdrawn)."""
    user.session_version = (user.session_version or 0) + 1
    session.flush()


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


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    return user


def create_invite(
    session: Session,
    actor: Actor,
    now: datetime,
    membership_id: int,
    ttl: timedelta = DEFAULT_INVITE_TTL,
) -> Invite:
    """A single-use invite binding a WeChat user to `membership_id`'s user; show it as a QR
    with scene `invite_scene(invite.token)`.

    Raises NotFound (no such membership, or not visible), PermissionDenied (needs
    MANAGE_MEMBERS on its enterprise), ValidationFailed (ttl, inactive, already bound)."""
    membership = session.get(Membership, membership_id)
    enterprise = membership.enterprise if membership is not None else None
    ref = EnterpriseRef(enterprise.id, enterprise.town_id) if enterprise is not None else None
    if ref is None or not actor.can(Action.VIEW_ENTERPRISE, ref):
        raise NotFound("成员不存在或您无权查看。")
    require(actor, Action.MANAGE_MEMBERS, ref)
    check_invite_ttl(ttl)
    if not membership.active or not membership.user.is_active:
        raise ValidationFailed("该成员身份已停用，不能生成邀请。")
    if membership.user.openid is not None:
        raise ValidationFailed("该成员已绑定微信，无需邀请。")
    token = new_invite_token()
    invite_scene(token)  # the QR scene must fit WeChat's 64 characters
    invite = Invite(
        token=token,
        membership_id=membership.id,
        created_by_id=actor.user_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    record_event(session, membership, MemberEventKind.INVITED, actor.user_id, now)
    session.flush()
    return invite


def redeem_invite(session: Session, now: datetime, token: str, openid: str) -> Membership:
    """Bind `openid` to the invited membership's user (openid set, subscribed) and use the
    invite up. Single use holds under concurrency: the invite is taken by a conditional
    UPDATE … WHERE used_at IS NULL, the user by one WHERE openid IS NULL (or already ours).

    Raises NotFound (unknown token), Conflict (expired, used, the openid bound to another
    user, the user bound to another openid, membership or user deactivated)."""
    invite = session.scalar(select(Invite).where(Invite.token == token)) if token else None
    if invite is None:
        raise NotFound(INVITE_UNKNOWN)
    check_invite_redeemable(now, invite.expires_at, invite.used_at, invite.used_by_openid, openid)
    membership = invite.membership
    user = membership.user
    if not membership.active or not user.is_active:
        raise Conflict("该成员身份已停用，请联系企业管理员。")
    holder = session.scalar(select(User).where(User.openid == openid))
    if holder is not None and holder.id != user.id:
        raise Conflict(rebinding_refused(holder.display_name))
    if user.openid is not None and user.openid != openid:
        raise Conflict(INVITE_MEMBER_HAS_OTHER_WECHAT)
    taken = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by_openid=openid)
    )
    if taken.rowcount != 1:
        raise Conflict(INVITE_USED)  # another scan won the race
    # Scanning a fresh invite with the WeChat already bound keeps the first binding's time.
    bound_at = user.wechat_bound_at if user.openid == openid and user.wechat_bound_at else now
    try:
        # Savepoint: a unique violation (this openid bound to someone else meanwhile) must
        # leave the session usable for the caller's rollback and reply.
        with session.begin_nested():
            bound = session.execute(
                update(User)
                .where(User.id == user.id, or_(User.openid.is_(None), User.openid == openid))
                .values(openid=openid, subscribed=True, wechat_bound_at=bound_at)
            )
    except IntegrityError:
        raise Conflict(rebinding_refused("其他账号")) from None
    if bound.rowcount != 1:
        raise Conflict(INVITE_MEMBER_HAS_OTHER_WECHAT)
    session.expire(user, ["openid", "subscribed", "wechat_bound_at"])  # reread what the UPDATE set
    record_event(session, membership, MemberEventKind.BOUND, user.id, now)
    session.flush()
    return membership


def set_subscribed(session: Session, openid: str, subscribed: bool) -> User | None:
    """Record a follow/unfollow on the bound user (records are kept either way); None when
    the openid is not bound to anyone."""
    user = session.scalar(select(User).where(User.openid == openid))
    if user is not None and user.subscribed != subscribed:
        user.subscribed = subscribed
        session.flush()
    return user


def record_location(
    session: Session, now: datetime, openid: str, latitude: float, longitude: float
) -> User | None:
    """Keep the last position WeChat reported for the bound user; None when unbound.

    Raises ValidationFailed for coordinates off the globe."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise ValidationFailed("位置信息无效。")
    user = session.scalar(select(User).where(User.openid == openid))
    if user is not None:
        user.last_latitude = latitude
        user.last_longitude = longitude
        user.last_location_at = now
        session.flush()
    return user


def get_invite(session: Session, actor: Actor, invite_id: int) -> Invite:
    """An invite the actor may manage. Raises NotFound otherwise (no existence leak)."""
    invite = session.get(Invite, invite_id)
    enterprise = invite.membership.enterprise if invite is not None else None
    if enterprise is None or not actor.can(
        Action.MANAGE_MEMBERS, EnterpriseRef(enterprise.id, enterprise.town_id)
    ):
        raise NotFound("邀请不存在或您无权查看。")
    return invite


# --- members of an enterprise --------------------------------------------------------------


def enterprise_to_staff(session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    """The enterprise, if the actor may manage its people. Raises NotFound (not visible) or
    PermissionDenied."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("企业不存在或您无权查看。")
    require(actor, Action.MANAGE_MEMBERS, enterprise.ref)
    return enterprise


def _membership_to_staff(session: Session, actor: Actor, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id, with_for_update=True)
    if membership is None:
        raise NotFound("成员不存在或您无权查看。")
    enterprise_to_staff(session, actor, membership.enterprise_id)
    return membership


def _units(session: Session, enterprise: Enterprise, payload: MemberIn) -> tuple[int | None, int | None, int | None]:
    """(department, team, post) ids of the form, each checked to belong to the enterprise;
    a team names its department when none is chosen. Raises ValidationFailed."""
    department = session.get(Department, payload.department_id) if payload.department_id else None
    team = session.get(Team, payload.team_id) if payload.team_id else None
    post = session.get(Post, payload.post_id) if payload.post_id else None
    for name, unit, given in (("department_id", department, payload.department_id), ("post_id", post, payload.post_id)):
        if given is not None and (unit is None or unit.enterprise_id != enterprise.id):
            raise ValidationFailed.for_field(name, "不属于本企业")
    if payload.team_id is not None:
        if team is None or team.department.enterprise_id != enterprise.id:
            raise ValidationFailed.for_field("team_id", "不属于本企业")
        if department is not None and team.department_id != department.id:
            raise ValidationFailed.for_field("team_id", "班组不属于所选部门")
        department = team.department
    department_id = department.id if department else None
    check_member_units(payload.role, department_id, team.id if team else None)
    return department_id, team.id if team else None, post.id if post else None


def _refuse_taken_phone(session: Session, enterprise_id: int, phone: str, except_user_id: int | None) -> None:
    if not phone:
        return
    holder = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.enterprise_id == enterprise_id, Membership.active.is_(True), User.phone == phone)
    )
    if holder is not None and holder.id != except_user_id:
        raise ValidationFailed.for_field("phone", f"已登记为本企业成员「{holder.display_name}」的手机号")


def add_member(session: Session, actor: Actor, now: datetime, enterprise_id: int, data: Any) -> Membership:
    """A new person with a role in the enterprise (no WeChat yet: an invite binds it).
    Raises NotFound, PermissionDenied (MANAGE_MEMBERS), ValidationFailed (fields, units of
    another enterprise, the role's unit missing, a phone already on the enterprise's roll)."""
    enterprise = enterprise_to_staff(session, actor, enterprise_id)
    payload = parse(MemberIn, data)
    department_id, team_id, post_id = _units(session, enterprise, payload)
    _refuse_taken_phone(session, enterprise.id, payload.phone, None)
    user = User(display_name=payload.name, phone=payload.phone)
    session.add(user)
    session.flush()
    membership = Membership(
        user_id=user.id, enterprise_id=enterprise.id, role=payload.role,
        department_id=department_id, team_id=team_id, post_id=post_id, active=True,
    )
    session.add(membership)
    session.flush()
    record_event(session, membership, MemberEventKind.ADDED, actor.user_id, now)
    session.flush()
    return membership


def update_member(session: Session, actor: Actor, now: datetime, membership_id: int, data: Any) -> Membership:
    """Change a member's name, phone, role and units. Raises NotFound, PermissionDenied,
    ValidationFailed (as add_member; a member who has left is not edited)."""
    membership = _membership_to_staff(session, actor, membership_id)
    if not membership.active:
        raise ValidationFailed("该成员已停用，不能修改。")
    payload = parse(MemberIn, data)
    department_id, team_id, post_id = _units(session, membership.enterprise, payload)
    _refuse_taken_phone(session, membership.enterprise_id, payload.phone, membership.user_id)
    before = _member_state(membership)
    membership.user.display_name, membership.user.phone = payload.name, payload.phone
    membership.role = payload.role
    membership.department_id, membership.team_id, membership.post_id = department_id, team_id, post_id
    if _member_state(membership) != before:
        record_event(session, membership, MemberEventKind.UPDATED, actor.user_id, now)
    session.flush()
    return membership


def _member_state(membership: Membership) -> tuple:
    user = membership.user
    return (user.display_name, user.phone, membership.role, membership.department_id, membership.team_id, membership.post_id)


def deactivate_member(session: Session, actor: Actor, now: datetime, membership_id: int) -> Membership:
    """A member leaves: the role ends at once (every permission and the scan lookups read only
    active memberships). Raises NotFound, PermissionDenied, ValidationFailed (oneself, or
    already left)."""
    membership = _membership_to_staff(session, actor, membership_id)
    if membership.user_id == actor.user_id:
        raise ValidationFailed("不能停用自己的身份，请由本企业其他管理员操作。")
    if not membership.active:
        raise ValidationFailed("该成员已停用。")
    membership.active = False
    record_event(session, membership, MemberEventKind.DEACTIVATED, actor.user_id, now)
    session.flush()
    return membership


def unbind_member(session: Session, actor: Actor, now: datetime, membership_id: int, reason: str | None) -> Membership:
    """Free a member's WeChat (a lost or changed phone): the user's openid and binding time
    are cleared, so a new invite can bind another WeChat; every record stays. The person is
    the same in every enterprise they serve, so the binding ends everywhere.
    Raises NotFound, PermissionDenied, ValidationFailed (no reason, not bound)."""
    membership = _membership_to_staff(session, actor, membership_id)
    text = clean_unbind_reason(reason)
    user = membership.user
    if user.openid is None:
        raise ValidationFailed("该成员尚未绑定微信，无需解绑。")
    user.openid, user.wechat_bound_at, user.subscribed = None, None, False
    record_event(session, membership, MemberEventKind.UNBOUND, actor.user_id, now, text)
    session.flush()
    return membership


def record_event(
    session: Session, membership: Membership, kind: MemberEventKind, actor_id: int | None, now: datetime, reason: str = ""
) -> MemberEvent:
    """Append one row to the member's history (never updated or deleted)."""
    event = MemberEvent(
        membership_id=membership.id, user_id=membership.user_id, kind=kind, reason=reason, actor_id=actor_id, at=now
    )
    session.add(event)
    return event


# --- the roster (花名册) import ---------------------------------------------------------------


def roster_units(session: Session, enterprise_id: int) -> roster.Units:
    """The enterprise's department, team and post names, as the roster names them."""
    departments = session.scalars(select(Department).where(Department.enterprise_id == enterprise_id)).all()
    teams = session.execute(
        select(Department.name, Team.name, Department.id, Team.id)
        .join(Team, Team.department_id == Department.id)
        .where(Department.enterprise_id == enterprise_id)
    ).all()
    posts = session.execute(select(Post.name, Post.id).where(Post.enterprise_id == enterprise_id)).all()
    return roster.Units(
        departments={d.name: d.id for d in departments},
        teams={(dept, team): (dept_id, team_id) for dept, team, dept_id, team_id in teams},
        posts=dict(posts),
    )


def _members_by_phone(session: Session, enterprise_id: int) -> dict[str, roster.Existing]:
    memberships = session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.enterprise_id == enterprise_id, Membership.active.is_(True), User.phone != "")
        .order_by(Membership.id)
    ).all()
    found: dict[str, roster.Existing] = {}
    for m in memberships:
        data = roster.MemberData(m.user.display_name, m.user.phone, m.role, m.department_id, m.team_id, m.post_id)
        found[m.user.phone] = roster.Existing(m.id, data, ambiguous=m.user.phone in found)
    return found


@dataclass
class RosterReport:
    rows: list[roster.RowPlan]
    counts: dict[str, int]
    applied: bool

    @property
    def ok(self) -> bool:
        return self.counts[roster.ERROR] == 0


def import_roster(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, rows: list[roster.RosterRow], *, apply: bool
) -> RosterReport:
    """Plan every row of a roster against the enterprise's members; with `apply` and no error
    row, create and update them (each with an `imported` history row). With any error row
    nothing is written (the report says why, row by row). Same file twice → all unchanged.
    Raises NotFound, PermissionDenied (MANAGE_MEMBERS), ValidationFailed (too many rows)."""
    enterprise = enterprise_to_staff(session, actor, enterprise_id)
    if len(rows) > roster.MAX_ROWS:
        raise ValidationFailed.for_field("file", roster.TOO_MANY)
    plans = roster.plan_roster(rows, roster_units(session, enterprise.id), _members_by_phone(session, enterprise.id))
    if apply:
        _refuse_role_clashes(session, plans)
    report = RosterReport(plans, roster.summary(plans), applied=False)
    if not apply or not report.ok:
        return report
    for plan in plans:
        data = plan.data
        if plan.action == roster.CREATE:
            user = User(display_name=data.name, phone=data.phone)
            session.add(user)
            session.flush()
            membership = Membership(
                user_id=user.id, enterprise_id=enterprise.id, role=data.role,
                department_id=data.department_id, team_id=data.team_id, post_id=data.post_id, active=True,
            )
            session.add(membership)
            session.flush()
            record_event(session, membership, MemberEventKind.IMPORTED, actor.user_id, now, "名册导入：新增")
        elif plan.action == roster.UPDATE:
            membership = session.get(Membership, plan.membership_id, with_for_update=True)
            membership.user.display_name, membership.user.phone = data.name, data.phone
            membership.role = data.role
            membership.department_id, membership.team_id, membership.post_id = (
                data.department_id, data.team_id, data.post_id,
            )
            record_event(session, membership, MemberEventKind.IMPORTED, actor.user_id, now, "名册导入：更新")
    session.flush()
    report.applied = True
    return report


def _refuse_role_clashes(session: Session, plans: list[roster.RowPlan]) -> None:
    """An update may not give a member a role their person already holds in another (left)
    membership of the enterprise (one row per person and role): such rows become errors."""
    for plan in plans:
        if plan.action != roster.UPDATE:
            continue
        current = session.get(Membership, plan.membership_id)
        clash = session.scalar(
            select(Membership.id).where(
                Membership.user_id == current.user_id,
                Membership.enterprise_id == current.enterprise_id,
                Membership.role == plan.data.role,
                Membership.id != current.id,
            )
        )
        if clash is not None:
            plan.action, plan.errors = roster.ERROR, ["该成员曾以此角色在册（已停用），请在人员管理页处理"]


# --- the printable invite sheet -----------------------------------------------------------


def invite_sheet(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, team_id: int | None = None
) -> tuple[Enterprise, Team | None, list[Invite]]:
    """A fresh invite for every active member without WeChat in the team (or the whole
    enterprise when `team_id` is None), in roster order, for one printed sheet.
    Raises NotFound (the enterprise or the team not visible / not its own), PermissionDenied."""
    enterprise = enterprise_to_staff(session, actor, enterprise_id)
    team = None
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or team.department.enterprise_id != enterprise.id:
            raise NotFound("班组不存在或您无权查看。")
    query = (
        select(Membership.id, Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.enterprise_id == enterprise.id,
            Membership.active.is_(True),
            User.is_active.is_(True),
            User.openid.is_(None),
        )
        .order_by(Membership.department_id, Membership.team_id, Membership.id)
    )
    if team is not None:
        query = query.where(Membership.team_id == team.id)
    invites: list[Invite] = []
    people: set[int] = set()
    for membership_id, user_id in session.execute(query).all():
        if user_id not in people:  # one person, one WeChat: one invite even with two roles
            people.add(user_id)
            invites.append(create_invite(session, actor, now, membership_id))
    return enterprise, team, invites
