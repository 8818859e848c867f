"""Who may see and do what. Pure: roles, actions, the permission table, the Actor.

The single question every view, handler and job asks is `actor.can(action, enterprise)`;
the list of visible enterprises comes from `accounts.queries.visible_enterprises`, which
applies `Actor.enterprise_scope()` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from app.errors import PermissionDenied


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
    APPROVE_MAJOR_PLAN = "approve_major_plan"  # 五到位 plan approval
    EXPORT_LEDGER = "export_ledger"  # 台账
    SET_CREDIT_STATUS = "set_credit_status"
    # District-scoped actions: asked without a target enterprise.
    CREATE_ENTERPRISE = "create_enterprise"
    VIEW_DISTRICT_STATS = "view_district_stats"
    PUBLISH_BULLETIN = "publish_bulletin"
    BROADCAST_TIP = "broadcast_tip"
    MANAGE_TOWNS = "manage_towns"
    MANAGE_BUREAU_USERS = "manage_bureau_users"


DISTRICT_ACTIONS = frozenset(
    {
        Action.CREATE_ENTERPRISE,
        Action.VIEW_DISTRICT_STATS,
        Action.PUBLISH_BULLETIN,
        Action.BROADCAST_TIP,
        Action.MANAGE_TOWNS,
        Action.MANAGE_BUREAU_USERS,
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
    Role.ENTERPRISE_ADMIN: frozenset(
        _EVERY_MEMBER
        | {
            Action.EDIT_ENTERPRISE,
            Action.MANAGE_STRUCTURE,
            Action.MANAGE_MEMBERS,
            Action.EXPORT_LEDGER,
        }
    ),
}

# The bureau supervises; it does not perform an enterprise's own checks or approve its plans.
_BUREAU_ON_ENTERPRISES = frozenset(
    {Action.VIEW_ENTERPRISE, Action.EDIT_ENTERPRISE, Action.EXPORT_LEDGER}
)
BUREAU_PERMISSIONS: Mapping[BureauRole, tuple[frozenset[Action], frozenset[Action]]] = {
    # (actions on enterprises in scope, district actions)
    BureauRole.ADMIN: (_BUREAU_ON_ENTERPRISES | {Action.SET_CREDIT_STATUS}, DISTRICT_ACTIONS),
    BureauRole.STAFF: (
        _BUREAU_ON_ENTERPRISES,
        frozenset({Action.CREATE_ENTERPRISE, Action.VIEW_DISTRICT_STATS}),
    ),
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
