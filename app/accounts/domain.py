"""Who may see and do what. Pure: roles, actions, the permission table, the Actor.

The single question every view, handler and job asks is `actor.can(action, enterprise)`;
the list of visible enterprises comes from `accounts.queries.visible_enterprises`, which
applies `Actor.enterprise_scope()` below.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from app.errors import Conflict, PermissionDenied, ValidationFailed


class Role(StrEnum):
    """A member's role inside one enterprise."""

    WORKER = "worker"  # 岗位员工
    TEAM_LEADER = "team_leader"  # 班组长
    DEPARTMENT_HEAD = "department_head"  # 部门负责人
    MANAGER = "manager"  # 经理 / 主要负责人
    SAFETY_OFFICER = "safety_officer"  # 安全管理员
    ENTERPRISE_ADMIN = "enterprise_admin"  # 企业管理员


ROLE_LABELS = {
    Role.WORKER: "岗位员工",
    Role.TEAM_LEADER: "班组长",
    Role.DEPARTMENT_HEAD: "部门负责人",
    Role.MANAGER: "经理",
    Role.SAFETY_OFFICER: "安全管理员",
    Role.ENTERPRISE_ADMIN: "企业管理员",
}


class BureauRole(StrEnum):
    ADMIN = "bureau_admin"  # 安监局管理员: the whole district
    STAFF = "bureau_staff"  # 安监局工作人员: the towns assigned to them


BUREAU_ROLE_LABELS = {BureauRole.ADMIN: "安监局管理员", BureauRole.STAFF: "安监局工作人员"}


class Action(StrEnum):
    # Enterprise-scoped actions: asked with a target enterprise.
    VIEW_ENTERPRISE = "view_enterprise"
    EDIT_ENTERPRISE = "edit_enterprise"  # the 一企一档 fields
    MANAGE_STRUCTURE = "manage_structure"  # departments, teams, posts, sites, checklists
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove
    DO_DAILY_CHECK = "do_daily_check"  # 班组日排查
    DO_WEEKLY_CHECK = "do_weekly_check"  # 部门周排查
    DO_MONTHLY_CHECK = "do_monthly_check"  # 经理月排查
    REPORT_HAZARD = "report_hazard"  # 随手拍
    ASSIGN_HAZARD = "assign_hazard"
    VERIFY_HAZARD = "verify_hazard"
    # Act on hazards as the safety officer does (assign, verify, the 五到位 plan) without the
    # safety officer's other duties (excusing checks, confined-space jobs): the enterprise admin.
    HANDLE_HAZARDS = "handle_hazards"
    APPROVE_MAJOR_PLAN = "approve_major_plan"  # 五到位 plan approval
    SUPERVISE_MAJOR_HAZARD = "supervise_major_hazard"  # 督导督办 (挂牌督办) and acceptance
    EXPORT_LEDGER = "export_ledger"  # 台账
    SET_CREDIT_STATUS = "set_credit_status"
    # District-scoped actions: asked without a target enterprise.
    CREATE_ENTERPRISE = "create_enterprise"
    VIEW_DISTRICT_STATS = "view_district_stats"
    PUBLISH_BULLETIN = "publish_bulletin"
    BROADCAST_TIP = "broadcast_tip"
    MANAGE_TOWNS = "manage_towns"
    MANAGE_CALENDAR = "manage_calendar"  # the district's working calendar (工作日历)
    MANAGE_BUREAU_USERS = "manage_bureau_users"
    # Special campaigns (专项整治): the bureau creates, launches and closes them; an
    # enterprise's principal, safety officer and admin submit its campaign self-check.
    MANAGE_CAMPAIGNS = "manage_campaigns"  # district
    DO_CAMPAIGN_CHECK = "do_campaign_check"  # enterprise-scoped
    MANAGE_TRAINING = "manage_training"  # 安全培训: record and correct the enterprise's sessions
    INSPECT = "inspect"  # 执法检查: record an inspection of an enterprise in scope


DISTRICT_ACTIONS = frozenset(
    {
        Action.CREATE_ENTERPRISE,
        Action.VIEW_DISTRICT_STATS,
        Action.PUBLISH_BULLETIN,
        Action.BROADCAST_TIP,
        Action.MANAGE_TOWNS,
        Action.MANAGE_CALENDAR,
        Action.MANAGE_BUREAU_USERS,
        Action.MANAGE_CAMPAIGNS,
    }
)

_EVERY_MEMBER = {Action.VIEW_ENTERPRISE, Action.REPORT_HAZARD}

# Inside their own enterprise, what each role may do.
ENTERPRISE_PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.WORKER: frozenset(_EVERY_MEMBER),
    Role.TEAM_LEADER: frozenset(_EVERY_MEMBER | {Action.DO_DAILY_CHECK}),
    Role.DEPARTMENT_HEAD: frozenset(
        _EVERY_MEMBER | {Action.DO_WEEKLY_CHECK, Action.ASSIGN_HAZARD, Action.VERIFY_HAZARD}
    ),
    Role.MANAGER: frozenset(
        _EVERY_MEMBER
        | {
            Action.DO_MONTHLY_CHECK,
            Action.ASSIGN_HAZARD,
            Action.VERIFY_HAZARD,
            Action.APPROVE_MAJOR_PLAN,
            Action.EXPORT_LEDGER,
        }
    ),
    Role.SAFETY_OFFICER: frozenset(
        _EVERY_MEMBER
        | {
            Action.ASSIGN_HAZARD,
            Action.VERIFY_HAZARD,
            Action.EXPORT_LEDGER,
            Action.MANAGE_STRUCTURE,
        }
    ),
    # The enterprise admin sees everything and may act as the safety officer on hazards
    # (HANDLE_HAZARDS: assign, verify, the 五到位 plan): in a small enterprise they are often
    # the same person, and the console is where the admin works. Approving a major plan
    # stays the principal's.
    Role.ENTERPRISE_ADMIN: frozenset(
        _EVERY_MEMBER
        | {
            Action.EDIT_ENTERPRISE,
            Action.MANAGE_STRUCTURE,
            Action.MANAGE_MEMBERS,
            Action.HANDLE_HAZARDS,
            Action.EXPORT_LEDGER,
        }
    ),
}

# The bureau supervises; it does not perform an enterprise's own checks or approve its plans.
_BUREAU_ON_ENTERPRISES = frozenset(
    {Action.VIEW_ENTERPRISE, Action.EDIT_ENTERPRISE, Action.EXPORT_LEDGER, Action.SUPERVISE_MAJOR_HAZARD}
)
BUREAU_PERMISSIONS: Mapping[BureauRole, tuple[frozenset[Action], frozenset[Action]]] = {
    # (actions on enterprises in scope, district actions)
    BureauRole.ADMIN: (_BUREAU_ON_ENTERPRISES | {Action.SET_CREDIT_STATUS}, DISTRICT_ACTIONS),
    BureauRole.STAFF: (
        _BUREAU_ON_ENTERPRISES,
        frozenset({Action.CREATE_ENTERPRISE, Action.VIEW_DISTRICT_STATS}),
    ),
}
# 执法检查 is the bureau's, admin and staff alike, on the enterprises in their scope.
BUREAU_PERMISSIONS = {
    role: (on_enterprises | {Action.INSPECT}, district)
    for role, (on_enterprises, district) in BUREAU_PERMISSIONS.items()
}

# Special campaigns and safety training are the principal's, the safety officer's and the
# enterprise admin's: they submit the campaign self-check (专项整治; MANAGE_CAMPAIGNS is a
# district action, the bureau admin's, not staff's) and record the enterprise's training
# sessions (安全培训; every member may read them, the bureau reads them and the coverage).
_PRINCIPAL_ROLES = frozenset({Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN})
ENTERPRISE_PERMISSIONS = {
    role: actions | {Action.DO_CAMPAIGN_CHECK, Action.MANAGE_TRAINING} if role in _PRINCIPAL_ROLES else actions
    for role, actions in ENTERPRISE_PERMISSIONS.items()
}


@dataclass(frozen=True)
class EnterpriseRef:
    """What access rules need to know about a target enterprise."""

    id: int
    town_id: int


@dataclass(frozen=True)
class EnterpriseScope:
    """Which enterprises an actor may see: everything, some towns, and/or some ids."""

    all: bool = False
    town_ids: frozenset[int] = frozenset()
    enterprise_ids: frozenset[int] = frozenset()

    def contains(self, enterprise: EnterpriseRef) -> bool:
        return self.all or enterprise.town_id in self.town_ids or enterprise.id in self.enterprise_ids

    @property
    def empty(self) -> bool:
        return not (self.all or self.town_ids or self.enterprise_ids)


@dataclass(frozen=True)
class Actor:
    """Someone acting: their enterprise roles and bureau role, loaded once per request."""

    user_id: int
    display_name: str = ""
    roles: Mapping[int, frozenset[Role]] = field(default_factory=dict)  # enterprise id → roles
    bureau_role: BureauRole | None = None
    bureau_town_ids: frozenset[int] = frozenset()

    @property
    def is_bureau(self) -> bool:
        return self.bureau_role is not None

    def enterprise_scope(self) -> EnterpriseScope:
        """The enterprises this actor may see."""
        ids = frozenset(self.roles)
        if self.bureau_role is BureauRole.ADMIN:
            return EnterpriseScope(all=True)
        if self.bureau_role is BureauRole.STAFF:
            return EnterpriseScope(town_ids=self.bureau_town_ids, enterprise_ids=ids)
        return EnterpriseScope(enterprise_ids=ids)

    def allowed_actions(self, enterprise: EnterpriseRef | None = None) -> frozenset[Action]:
        """Every action this actor may take on `enterprise` (or district-wide when None)."""
        actions: set[Action] = set()
        if self.bureau_role is not None:
            on_enterprises, district = BUREAU_PERMISSIONS[self.bureau_role]
            if enterprise is None:
                actions |= district
            elif self.enterprise_scope().contains(enterprise) and (
                self.bureau_role is BureauRole.ADMIN or enterprise.town_id in self.bureau_town_ids
            ):
                actions |= on_enterprises
        if enterprise is not None:
            for role in self.roles.get(enterprise.id, ()):
                actions |= ENTERPRISE_PERMISSIONS[role]
        return frozenset(actions)

    def can(self, action: Action, enterprise: EnterpriseRef | None = None) -> bool:
        """May this actor take `action` (on `enterprise`, for enterprise-scoped actions)?"""
        if (action in DISTRICT_ACTIONS) != (enterprise is None):
            return False
        return action in self.allowed_actions(enterprise)


def require(actor: Actor, action: Action, enterprise: EnterpriseRef | None = None) -> None:
    """Raise PermissionDenied unless `actor.can(action, enterprise)`."""
    if not actor.can(action, enterprise):
        raise PermissionDenied("您没有权限进行此操作。")


# --- WeChat binding invites ------------------------------------------------------------
# An invite is shown as a temporary parametric QR whose scene is `bind:<token>`.
INVITE_SCENE_PREFIX = "bind:"
MAX_SCENE_LENGTH = 64  # scene_str limit of qrcode/create (docs/WECHAT.md §2.2)
DEFAULT_INVITE_TTL = timedelta(days=7)
MIN_INVITE_TTL = timedelta(minutes=5)
# A temporary QR lives at most 30 days; an invite outliving its QR would be useless.
MAX_INVITE_TTL = timedelta(days=30)

INVITE_UNKNOWN = "邀请二维码无效，请联系企业管理员重新生成。"
INVITE_EXPIRED = "该邀请二维码已过期，请联系企业管理员重新生成。"
INVITE_USED = "该邀请二维码已被使用。每个邀请只能使用一次，请联系企业管理员重新生成。"
INVITE_ALREADY_YOURS = "您已通过此邀请完成绑定，无需再次扫码。"
INVITE_MEMBER_HAS_OTHER_WECHAT = (
    "该成员身份已绑定其他微信号，不能重复绑定。如需更换微信号，请联系企业管理员处理。"
)


def new_invite_token() -> str:
    """An unguessable invite token: 192 random bits, URL-safe, 32 characters."""
    return secrets.token_urlsafe(24)


def invite_scene(token: str) -> str:
    """The QR scene string of an invite. Raises ValueError beyond WeChat's 64 characters."""
    scene = INVITE_SCENE_PREFIX + token
    if len(scene) > MAX_SCENE_LENGTH:
        raise ValueError(f"scene longer than {MAX_SCENE_LENGTH} characters")
    return scene


def check_invite_ttl(ttl: timedelta) -> None:
    """An invite lives between 5 minutes and 30 days. Raises ValidationFailed."""
    if not MIN_INVITE_TTL <= ttl <= MAX_INVITE_TTL:
        raise ValidationFailed.for_field("ttl", "邀请有效期须在 5 分钟到 30 天之间")


def check_invite_redeemable(
    now: datetime, expires_at: datetime, used_at: datetime | None, used_by_openid: str | None, openid: str
) -> None:
    """An invite is redeemable once, before it expires. Raises Conflict saying which rule failed."""
    if used_at is not None:
        raise Conflict(INVITE_ALREADY_YOURS if used_by_openid == openid else INVITE_USED)
    if now >= expires_at:
        raise Conflict(INVITE_EXPIRED)


def rebinding_refused(bound_name: str) -> str:
    """Why an openid already bound to another person cannot be bound again."""
    return (
        f"您的微信已绑定账号「{bound_name}」，不能再绑定其他人员身份。"
        "一个微信号只能绑定一个账号；如需更换，请联系企业管理员处理。"
    )


# --- members ------------------------------------------------------------------------------

# The unit a role answers for must be named (owes() finds a team leader's daily check by team,
# a department head's weekly check by department).
REQUIRED_UNIT = {Role.TEAM_LEADER: "team_id", Role.DEPARTMENT_HEAD: "department_id"}
_REQUIRED_UNIT_MESSAGES = {"team_id": "班组长须指定所在班组", "department_id": "部门负责人须指定所在部门"}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def check_member_units(role: Role, department_id: int | None, team_id: int | None) -> None:
    """Raises ValidationFailed naming the unit a role needs and lacks."""
    needed = REQUIRED_UNIT.get(role)
    if (needed == "team_id" and team_id is None) or (needed == "department_id" and department_id is None):
        raise ValidationFailed.for_field(needed, _REQUIRED_UNIT_MESSAGES[needed])


def normalize_phone(value: str) -> str:
    """A mainland mobile number without spaces or dashes (+86 dropped); "" when not given.
    Raises ValueError with a Chinese message otherwise."""
    compact = re.sub(r"[\s-]", "", value or "")
    if compact.startswith("+86"):
        compact = compact[3:]
    if compact and not _MOBILE.match(compact):
        raise ValueError("应为 11 位手机号，如 13800000000")
    return compact


class MemberEventKind(StrEnum):
    """What happened to a member (the append-only history of 人员管理)."""

    ADDED = "added"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    UNBOUND = "unbound"
    INVITED = "invited"
    BOUND = "bound"
    IMPORTED = "imported"


MEMBER_EVENT_LABELS = {
    MemberEventKind.ADDED: "添加",
    MemberEventKind.UPDATED: "修改",
    MemberEventKind.DEACTIVATED: "停用",
    MemberEventKind.UNBOUND: "解绑微信",
    MemberEventKind.INVITED: "生成邀请",
    MemberEventKind.BOUND: "绑定微信",
    MemberEventKind.IMPORTED: "名册导入",
}

UNBIND_REASON_MAX = 200


def clean_unbind_reason(reason: str | None) -> str:
    """Unbinding a member's WeChat (a lost phone, a changed number) needs a reason a later
    reader understands. Raises ValidationFailed when it is missing or too long."""
    text = " ".join((reason or "").split())
    if not text:
        raise ValidationFailed.for_field("reason", "请填写解绑原因，如“手机丢失”")
    if len(text) > UNBIND_REASON_MAX:
        raise ValidationFailed.for_field("reason", f"解绑原因不超过 {UNBIND_REASON_MAX} 字")
    return text


# --- Console login lock ----------------------------------------------------------------------
# Guessing passwords is slowed per account and per address: after this many failures within
# the window, that account (or address) may not log in until the window has passed.
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_LOCK_WINDOW = timedelta(minutes=15)


def login_locked(account_failures: int, address_failures: int) -> bool:
    """Whether a login is refused before its password is even checked."""
    return account_failures >= LOGIN_FAILURES_PER_ACCOUNT or address_failures >= LOGIN_FAILURES_PER_ADDRESS


def login_lock_message(retry_at_local: datetime) -> str:
    """What the login page says while locked: when to try again (local time, to the minute,
    rounded up so that trying at that minute works)."""
    minute = (retry_at_local + timedelta(seconds=59)).strftime("%H:%M")
    return f"密码错误次数过多，登录已暂时锁定。请在 {minute} 后再试；忘记密码请联系本企业管理员或安监局重置。"
