"""Pure rules of hazards (隐患): levels, categories, the lifecycle as a transition table with
the roles allowed per action, the 不过夜 deadline, major-hazard criteria and 五到位.

Standard library and other domain modules only; services apply these rules to rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from app.accounts.domain import BUREAU_PERMISSIONS, ENTERPRISE_PERMISSIONS, Action, Actor, EnterpriseRef, Role
from app.clock import LOCAL_TZ
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists.domain import OnFail  # the checklists' vocabulary (docs/DOMAIN.md §8)

# --- vocabularies ------------------------------------------------------------------------


class HazardSource(StrEnum):
    CHECK = "check"  # a failed item of a scheduled check (班组日/部门周/经理月排查)
    ADHOC = "adhoc"  # 随手拍
    ENFORCEMENT = "enforcement"  # found by a bureau inspection (执法检查)


SOURCE_LABELS = {
    HazardSource.CHECK: "排查发现",
    HazardSource.ADHOC: "随手拍",
    HazardSource.ENFORCEMENT: "执法检查",
}


class HazardLevel(StrEnum):
    GENERAL = "general"
    MAJOR = "major"


LEVEL_LABELS = {HazardLevel.GENERAL: "一般隐患", HazardLevel.MAJOR: "重大隐患"}


class HazardCategory(StrEnum):
    """The three kinds of hazard in the definition (173号令第三条)."""

    UNSAFE_CONDITION = "unsafe_condition"  # 物的危险状态
    UNSAFE_BEHAVIOR = "unsafe_behavior"  # 人的不安全行为
    MANAGEMENT_DEFECT = "management_defect"  # 管理缺陷


CATEGORY_LABELS = {
    HazardCategory.UNSAFE_CONDITION: "物的状态",
    HazardCategory.UNSAFE_BEHAVIOR: "人的行为",
    HazardCategory.MANAGEMENT_DEFECT: "管理缺陷",
}

# Checklist item categories (docs/DOMAIN.md §8) → hazard category. Emergency items (预案、演练、
# 应急物资配备) are the enterprise's management duty.
_ITEM_CATEGORY = {
    "site": HazardCategory.UNSAFE_CONDITION,
    "equip": HazardCategory.UNSAFE_CONDITION,
    "behav": HazardCategory.UNSAFE_BEHAVIOR,
    "mgmt": HazardCategory.MANAGEMENT_DEFECT,
    "emerg": HazardCategory.MANAGEMENT_DEFECT,
}


def category_for_item(item_category: str) -> HazardCategory:
    """The hazard category of a failed checklist item of category SITE/EQUIP/BEHAV/MGMT/EMERG.

    Raises ValidationFailed for an unknown item category."""
    try:
        return _ITEM_CATEGORY[item_category.strip().lower()]
    except KeyError:
        raise ValidationFailed.for_field("item_category", "检查项类别无效") from None




def level_for_failed_item(on_fail: OnFail) -> tuple[HazardLevel, bool]:
    """(level, review_required) of a hazard raised by a failed item."""
    if on_fail is OnFail.MAJOR:
        return HazardLevel.MAJOR, False
    return HazardLevel.GENERAL, on_fail is OnFail.REVIEW


class HazardStatus(StrEnum):
    REPORTED = "reported"
    ASSIGNED = "assigned"
    # The major-hazard duties before rectification (docs/DOMAIN.md §1.5), in order.
    ASSESSED = "assessed"  # 评估认定
    REGISTERED = "registered"  # 登记建档 (reported to the bureau)
    PLAN_APPROVED = "plan_approved"  # 立项审核 of the 五到位 plan
    SUPERVISING = "supervising"  # 督导督办 (挂牌督办 by the bureau)
    RECTIFYING = "rectifying"
    RECTIFIED = "rectified"  # waiting for verification / acceptance
    CLOSED = "closed"  # verified (一般) or accepted (重大): 销号
    REJECTED = "rejected"  # judged not a hazard


STATUS_LABELS = {
    HazardStatus.REPORTED: "已上报",
    HazardStatus.ASSIGNED: "已指派",
    HazardStatus.ASSESSED: "已评估认定",
    HazardStatus.REGISTERED: "已登记建档",
    HazardStatus.PLAN_APPROVED: "已立项审核",
    HazardStatus.SUPERVISING: "督导督办中",
    HazardStatus.RECTIFYING: "整改中",
    HazardStatus.RECTIFIED: "待复查验收",
    HazardStatus.CLOSED: "已销号",
    HazardStatus.REJECTED: "已驳回",
}

TERMINAL_STATUSES = frozenset({HazardStatus.CLOSED, HazardStatus.REJECTED})
OPEN_STATUSES = frozenset(HazardStatus) - TERMINAL_STATUSES
# A hazard waiting for verification was fixed in time from the fixer's side: a deadline
# passing while it waits is the verifier's delay, not an overdue rectification.
OVERDUE_STATUSES = frozenset(OPEN_STATUSES - {HazardStatus.RECTIFIED})


def place_label(site_name: str, location: str, separator: str = " · ") -> str:
    """Where a hazard is, as people read it: the QR point, then the free-text location —
    once: a location that already names the point (a reporter typing "一号厂房 熔炼车间炉前"
    at the point 熔炼车间炉前) stands alone. "" when neither is known."""
    site_name, location = site_name.strip(), location.strip()
    if site_name and location and site_name in location:
        return location
    return separator.join(part for part in (site_name, location) if part)


def is_overdue(status: str, deadline: datetime | None, now: datetime) -> bool:
    """Is a hazard's rectification overdue at `now`: not yet rectified (nor closed or
    rejected) and its deadline passed. The SQL of the same rule is
    queries.overdue_clause (tests/integration/test_hazard_overdue.py keeps them equal)."""
    return status in OVERDUE_STATUSES and deadline is not None and deadline < now


class HazardAction(StrEnum):
    """Everything that can happen to a hazard; each writes one HazardEvent."""

    REPORT = "report"
    ASSIGN = "assign"
    START_RECTIFICATION = "start_rectification"
    SUBMIT_RECTIFICATION = "submit_rectification"
    VERIFY = "verify"  # 复查通过 → closed
    REOPEN = "reopen"  # 复查/验收不通过 → back to rectifying, with a reason
    REJECT = "reject"
    UPGRADE_TO_MAJOR = "upgrade_to_major"
    ASSESS = "assess"
    REGISTER = "register"
    SAVE_PLAN = "save_plan"
    APPROVE_PLAN = "approve_plan"
    SUPERVISE = "supervise"
    ACCEPT = "accept"  # 验收确认 → closed
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    ADD_BEFORE_PHOTO = "add_before_photo"
    ADD_AFTER_PHOTO = "add_after_photo"


ACTION_LABELS = {
    HazardAction.REPORT: "上报隐患",
    HazardAction.ASSIGN: "指派整改人",
    HazardAction.START_RECTIFICATION: "开始整改",
    HazardAction.SUBMIT_RECTIFICATION: "提交整改结果",
    HazardAction.VERIFY: "复查销号",
    HazardAction.REOPEN: "退回重新整改",
    HazardAction.REJECT: "驳回（认定不属于隐患）",
    HazardAction.UPGRADE_TO_MAJOR: "升级为重大隐患",
    HazardAction.ASSESS: "评估认定",
    HazardAction.REGISTER: "登记建档",
    HazardAction.SAVE_PLAN: "编制治理方案",
    HazardAction.APPROVE_PLAN: "立项审核",
    HazardAction.SUPERVISE: "督导督办",
    HazardAction.ACCEPT: "验收确认",
    HazardAction.REQUEST_EXTENSION: "申请延期",
    HazardAction.DECIDE_EXTENSION: "审批延期",
    HazardAction.ADD_BEFORE_PHOTO: "上传隐患照片",
    HazardAction.ADD_AFTER_PHOTO: "上传整改照片",
}


class PhotoKind(StrEnum):
    BEFORE = "before"  # the hazard as found
    AFTER = "after"  # the rectified state


PHOTO_ACTIONS = {PhotoKind.BEFORE: HazardAction.ADD_BEFORE_PHOTO, PhotoKind.AFTER: HazardAction.ADD_AFTER_PHOTO}


class ExtensionStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    # Voided without a decision because the hazard moved on (closed, rejected, upgraded).
    CANCELLED = "cancelled"


# --- the transition table ------------------------------------------------------------------


class Party(StrEnum):
    """People who may act on a hazard because of who they are to it, not their role."""

    REPORTER = "reporter"
    ASSIGNEE = "assignee"


@dataclass(frozen=True)
class Rule:
    """`action` on a hazard of one of `levels` in one of `sources` leads to `target` (None:
    the status stays). Allowed to whoever holds any of `permissions` on the enterprise, or
    is one of `parties` to the hazard and still a member of the enterprise."""

    action: HazardAction
    sources: frozenset[HazardStatus]
    target: HazardStatus | None
    levels: frozenset[HazardLevel]
    permissions: frozenset[Action]
    parties: frozenset[Party] = frozenset()


_S = HazardStatus
GENERAL = frozenset({HazardLevel.GENERAL})
MAJOR = frozenset({HazardLevel.MAJOR})
BOTH = frozenset(HazardLevel)
_A = HazardAction
_P = Action


def _rule(
    action: HazardAction,
    sources: Iterable[HazardStatus],
    target: HazardStatus | None,
    levels: frozenset[HazardLevel],
    permissions: Iterable[Action],
    parties: Iterable[Party] = (),
) -> Rule:
    granted = frozenset(permissions)
    if granted & {_P.ASSIGN_HAZARD, _P.VERIFY_HAZARD}:
        # Whoever may act as the safety officer on hazards (the enterprise admin) may too.
        granted |= {_P.HANDLE_HAZARDS}
    return Rule(action, frozenset(sources), target, levels, granted, frozenset(parties))


RULES: tuple[Rule, ...] = (
    # --- general hazards: 不过夜 — report, assign, rectify, verify.
    _rule(_A.ASSIGN, {_S.REPORTED, _S.ASSIGNED}, _S.ASSIGNED, GENERAL, {_P.ASSIGN_HAZARD}),
    _rule(_A.START_RECTIFICATION, {_S.ASSIGNED}, _S.RECTIFYING, GENERAL, {_P.ASSIGN_HAZARD}, {Party.ASSIGNEE}),
    _rule(_A.SUBMIT_RECTIFICATION, {_S.RECTIFYING}, _S.RECTIFIED, BOTH, {_P.ASSIGN_HAZARD}, {Party.ASSIGNEE}),
    _rule(_A.VERIFY, {_S.RECTIFIED}, _S.CLOSED, GENERAL, {_P.VERIFY_HAZARD}),
    _rule(_A.REOPEN, {_S.RECTIFIED}, _S.RECTIFYING, GENERAL, {_P.VERIFY_HAZARD}),
    _rule(_A.REJECT, {_S.REPORTED, _S.ASSIGNED}, _S.REJECTED, GENERAL, {_P.VERIFY_HAZARD}),
    # A reviewed general hazard (e.g. an on_fail=review item) turns out to be major: it starts
    # the major-hazard duties from the beginning, even if rectification had begun.
    _rule(_A.UPGRADE_TO_MAJOR, {_S.REPORTED, _S.ASSIGNED, _S.RECTIFYING}, _S.REPORTED, GENERAL, {_P.VERIFY_HAZARD}),
    # --- major hazards: 评估认定 → 登记建档 → 立项审核 → 督导督办 → rectification → 验收确认.
    # The rectification owner can be named at any point before rectification starts.
    _rule(
        _A.ASSIGN,
        {_S.REPORTED, _S.ASSESSED, _S.REGISTERED, _S.PLAN_APPROVED, _S.SUPERVISING},
        None,
        MAJOR,
        {_P.ASSIGN_HAZARD},
    ),
    # Dismissing a claimed major hazard is the principal's call (主要负责人), not a checker's.
    _rule(_A.REJECT, {_S.REPORTED}, _S.REJECTED, MAJOR, {_P.APPROVE_MAJOR_PLAN}),
    # 评估认定 is the enterprise's (the safety officer's) or the bureau's, on its own inspection.
    _rule(_A.ASSESS, {_S.REPORTED}, _S.ASSESSED, MAJOR, {_P.VERIFY_HAZARD, _P.SUPERVISE_MAJOR_HAZARD}),
    _rule(_A.REGISTER, {_S.ASSESSED}, _S.REGISTERED, MAJOR, {_P.VERIFY_HAZARD}),
    # The plan is drafted before approval and frozen by it (later dates go through extensions).
    _rule(
        _A.SAVE_PLAN,
        {_S.REPORTED, _S.ASSESSED, _S.REGISTERED},
        None,
        MAJOR,
        {_P.VERIFY_HAZARD, _P.APPROVE_MAJOR_PLAN},
        {Party.ASSIGNEE},
    ),
    _rule(_A.APPROVE_PLAN, {_S.REGISTERED}, _S.PLAN_APPROVED, MAJOR, {_P.APPROVE_MAJOR_PLAN}),
    _rule(_A.SUPERVISE, {_S.PLAN_APPROVED}, _S.SUPERVISING, MAJOR, {_P.SUPERVISE_MAJOR_HAZARD}),
    _rule(_A.START_RECTIFICATION, {_S.SUPERVISING}, _S.RECTIFYING, MAJOR, {_P.ASSIGN_HAZARD}, {Party.ASSIGNEE}),
    _rule(_A.ACCEPT, {_S.RECTIFIED}, _S.CLOSED, MAJOR, {_P.APPROVE_MAJOR_PLAN, _P.SUPERVISE_MAJOR_HAZARD}),
    _rule(_A.REOPEN, {_S.RECTIFIED}, _S.RECTIFYING, MAJOR, {_P.APPROVE_MAJOR_PLAN, _P.SUPERVISE_MAJOR_HAZARD}),
    # --- deadline extensions: asked by the one fixing it, decided by who verifies/approves.
    _rule(
        _A.REQUEST_EXTENSION,
        {_S.REPORTED, _S.ASSIGNED, _S.RECTIFYING},
        None,
        GENERAL,
        {_P.ASSIGN_HAZARD},
        {Party.ASSIGNEE},
    ),
    _rule(
        _A.REQUEST_EXTENSION,
        {_S.PLAN_APPROVED, _S.SUPERVISING, _S.RECTIFYING},
        None,
        MAJOR,
        {_P.ASSIGN_HAZARD},
        {Party.ASSIGNEE},
    ),
    _rule(
        _A.DECIDE_EXTENSION,
        {_S.REPORTED, _S.ASSIGNED, _S.RECTIFYING, _S.RECTIFIED},
        None,
        GENERAL,
        {_P.VERIFY_HAZARD},
    ),
    _rule(
        _A.DECIDE_EXTENSION,
        {_S.PLAN_APPROVED, _S.SUPERVISING, _S.RECTIFYING, _S.RECTIFIED},
        None,
        MAJOR,
        {_P.APPROVE_MAJOR_PLAN},
    ),
    # --- photos: the hazard as found while it is open; the fix while it is being fixed.
    _rule(
        _A.ADD_BEFORE_PHOTO,
        OPEN_STATUSES,
        None,
        BOTH,
        {_P.ASSIGN_HAZARD, _P.VERIFY_HAZARD},
        {Party.REPORTER},
    ),
    _rule(_A.ADD_AFTER_PHOTO, {_S.RECTIFYING}, None, BOTH, {_P.ASSIGN_HAZARD}, {Party.ASSIGNEE}),
)


def _index(rules: Iterable[Rule]) -> Mapping[tuple[HazardAction, HazardLevel, HazardStatus], Rule]:
    index: dict[tuple[HazardAction, HazardLevel, HazardStatus], Rule] = {}
    for rule in rules:
        for level in rule.levels:
            for source in rule.sources:
                key = (rule.action, level, source)
                if key in index:
                    raise ValueError(f"two rules for {key}")
                index[key] = rule
    return index


TRANSITIONS = _index(RULES)


def rule_for(action: HazardAction, level: HazardLevel, status: HazardStatus) -> Rule:
    """The rule for `action` on a hazard of `level` in `status`.

    Raises InvalidTransition (Chinese) when the action is not possible there."""
    rule = TRANSITIONS.get((action, level, status))
    if rule is not None:
        return rule
    if not any(level in r.levels for r in RULES if r.action is action):
        raise InvalidTransition(f"{LEVEL_LABELS[level]}不能{ACTION_LABELS[action]}。")
    raise InvalidTransition(f"该隐患当前为“{STATUS_LABELS[status]}”，不能{ACTION_LABELS[action]}。")


def may_act(
    rule: Rule, actor: Actor, enterprise: EnterpriseRef, *, reporter_id: int | None, assignee_id: int | None
) -> bool:
    """Does `actor` hold a permission of `rule`, or is a party to the hazard that the rule
    names (and still a member who may see the enterprise)?"""
    if any(actor.can(permission, enterprise) for permission in rule.permissions):
        return True
    if not actor.can(Action.VIEW_ENTERPRISE, enterprise):
        return False
    parties = {Party.REPORTER: reporter_id, Party.ASSIGNEE: assignee_id}
    return any(parties[party] == actor.user_id for party in rule.parties)


def authorize(
    action: HazardAction,
    *,
    status: HazardStatus,
    level: HazardLevel,
    actor: Actor,
    enterprise: EnterpriseRef,
    reporter_id: int | None,
    assignee_id: int | None,
) -> Rule:
    """The rule `actor` may apply now. Raises InvalidTransition when the hazard's status
    (or level) does not allow the action, PermissionDenied when the actor may not take it."""
    rule = rule_for(action, level, status)
    if not may_act(rule, actor, enterprise, reporter_id=reporter_id, assignee_id=assignee_id):
        raise PermissionDenied(f"您没有权限对该隐患进行“{ACTION_LABELS[action]}”操作。")
    return rule


def roles_with(permission: Action) -> frozenset[Role]:
    """The enterprise roles that grant `permission`."""
    return frozenset(role for role, actions in ENTERPRISE_PERMISSIONS.items() if permission in actions)


# --- what a person may do now (the actions pages offer) -------------------------------------


class HazardFacts(Protocol):
    """What the offer rules read of a hazard (a Hazard row, or any object with these)."""

    level: HazardLevel
    status: HazardStatus
    reporter_id: int
    assignee_id: int | None
    deadline: datetime | None


class RequestFacts(Protocol):
    """What the offer rules read of a pending extension request."""

    requested_by_id: int


# The actions offered as forms, in the order a page lists them. REOPEN is the "not passed"
# outcome of the verify/accept forms; ADD_AFTER_PHOTO is part of submitting the fix.
FORM_ACTIONS: tuple[HazardAction, ...] = (
    HazardAction.START_RECTIFICATION,
    HazardAction.SUBMIT_RECTIFICATION,
    HazardAction.VERIFY,
    HazardAction.ACCEPT,
    HazardAction.ASSESS,
    HazardAction.REGISTER,
    HazardAction.SAVE_PLAN,
    HazardAction.APPROVE_PLAN,
    HazardAction.SUPERVISE,
    HazardAction.DECIDE_EXTENSION,
    HazardAction.ASSIGN,
    HazardAction.REQUEST_EXTENSION,
    HazardAction.ADD_BEFORE_PHOTO,
    HazardAction.UPGRADE_TO_MAJOR,
    HazardAction.REJECT,
)
# The ones that wait for a decision by someone other than the fixer (the 待我处理 list).
DECISIONS = frozenset(
    {
        HazardAction.ASSIGN,
        HazardAction.VERIFY,
        HazardAction.ACCEPT,
        HazardAction.ASSESS,
        HazardAction.REGISTER,
        HazardAction.APPROVE_PLAN,
        HazardAction.SUPERVISE,
        HazardAction.DECIDE_EXTENSION,
    }
)
# Side actions never open by themselves: the page opens the first of the others (the
# thing this person came to do), so a worker sees one form, not five.
_SIDE_ACTIONS = frozenset(
    {
        HazardAction.ADD_BEFORE_PHOTO,
        HazardAction.REQUEST_EXTENSION,
        HazardAction.UPGRADE_TO_MAJOR,
        HazardAction.REJECT,
    }
)


def available_actions(
    actor: Actor, hazard: HazardFacts, ref: EnterpriseRef, pending: RequestFacts | None
) -> list[HazardAction]:
    """The form actions `actor` may take on `hazard` now, by the transition table and the
    actor's role or part in it, leaving out those whose preconditions are visibly unmet
    (starting without an assignee, asking for an extension twice, deciding one's own)."""
    actions = []
    for action in FORM_ACTIONS:
        rule = TRANSITIONS.get((action, hazard.level, hazard.status))
        if rule is None or not may_act(
            rule, actor, ref, reporter_id=hazard.reporter_id, assignee_id=hazard.assignee_id
        ):
            continue
        if action is HazardAction.START_RECTIFICATION and hazard.assignee_id is None:
            continue
        if action is HazardAction.REQUEST_EXTENSION and (hazard.deadline is None or pending is not None):
            continue
        if action is HazardAction.DECIDE_EXTENSION and (
            pending is None or pending.requested_by_id == actor.user_id
        ):
            continue
        actions.append(action)
    return actions


def primary_action(hazard: HazardFacts, actions: Sequence[HazardAction]) -> HazardAction | None:
    """The action a page opens for its viewer: the first that is not a side action
    (re-assigning an assigned hazard is one too)."""
    for action in actions:
        if action in _SIDE_ACTIONS or (action is HazardAction.ASSIGN and hazard.assignee_id is not None):
            continue
        return action
    return None


def possible_permissions(actor: Actor) -> frozenset[Action]:
    """Every permission the actor holds on some enterprise (which one is checked per hazard)."""
    permissions: set[Action] = set()
    for roles in actor.roles.values():
        for role in roles:
            permissions |= ENTERPRISE_PERMISSIONS[role]
    if actor.bureau_role is not None:
        permissions |= BUREAU_PERMISSIONS[actor.bureau_role][0]
    return frozenset(permissions)


def awaited_rules(permissions: frozenset[Action]) -> list[Rule]:
    """The decision rules someone holding `permissions` may be waited for under (extension
    requests aside: they wait by their own row, not by the hazard's status)."""
    return [
        rule
        for rule in RULES
        if rule.action in DECISIONS
        and rule.action is not HazardAction.DECIDE_EXTENSION
        and rule.permissions & permissions
    ]


def waits_for_decision(hazard: HazardFacts, actions: Sequence[HazardAction]) -> bool:
    """Is a decision among `actions` (what the viewer may do now) waiting for them?"""
    relevant = [a for a in actions if a in DECISIONS]
    # Re-assigning is always possible before the work starts; it is not "waiting".
    if relevant == [HazardAction.ASSIGN] and hazard.assignee_id is not None:
        return False
    return bool(relevant)


# --- who hears about what ------------------------------------------------------------------


class Audience(StrEnum):
    REPORTER = "reporter"
    ASSIGNEE = "assignee"
    ASSIGNERS = "assigners"  # members who may assign (ASSIGN_HAZARD)
    # The safety officers and enterprise admins, whatever their department: they keep the
    # enterprise's hazards in hand and hear of every new one.
    OVERSEERS = "overseers"
    MAJOR_APPROVERS = "major_approvers"  # members who approve major plans (APPROVE_MAJOR_PLAN)
    DECIDERS = "deciders"  # who decides next: VERIFY_HAZARD (一般) / APPROVE_MAJOR_PLAN (重大)
    BUREAU = "bureau"  # bureau admins and the staff of the enterprise's town
    REQUESTER = "requester"  # who asked for a deadline extension


@dataclass(frozen=True)
class Notice:
    kind: str
    audiences: tuple[Audience, ...]


_AU = Audience
NOTICES: Mapping[HazardAction, Notice] = {
    _A.REPORT: Notice("hazard_reported", (_AU.ASSIGNERS, _AU.OVERSEERS)),
    _A.ASSIGN: Notice("hazard_assigned", (_AU.ASSIGNEE,)),
    _A.START_RECTIFICATION: Notice("hazard_rectification_started", (_AU.REPORTER,)),
    _A.SUBMIT_RECTIFICATION: Notice("hazard_rectified", (_AU.DECIDERS,)),
    _A.VERIFY: Notice("hazard_verified", (_AU.REPORTER, _AU.ASSIGNEE)),
    _A.REOPEN: Notice("hazard_reopened", (_AU.ASSIGNEE,)),
    _A.REJECT: Notice("hazard_rejected", (_AU.REPORTER,)),
    _A.UPGRADE_TO_MAJOR: Notice("hazard_upgraded", (_AU.MAJOR_APPROVERS, _AU.ASSIGNEE)),
    _A.ASSESS: Notice("major_hazard_assessed", (_AU.MAJOR_APPROVERS,)),
    _A.REGISTER: Notice("major_hazard_registered", (_AU.BUREAU,)),
    _A.APPROVE_PLAN: Notice("major_plan_approved", (_AU.BUREAU, _AU.ASSIGNEE)),
    _A.SUPERVISE: Notice("major_hazard_supervised", (_AU.MAJOR_APPROVERS, _AU.ASSIGNEE)),
    _A.ACCEPT: Notice("major_hazard_accepted", (_AU.REPORTER, _AU.ASSIGNEE, _AU.BUREAU)),
    _A.REQUEST_EXTENSION: Notice("deadline_extension_requested", (_AU.DECIDERS,)),
    _A.DECIDE_EXTENSION: Notice("deadline_extension_decided", (_AU.REQUESTER,)),
}


# The roles of Audience.OVERSEERS.
OVERSEER_ROLES = frozenset({Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN})


def decider_permission(level: HazardLevel) -> Action:
    """Who verifies a rectification and decides extensions: VERIFY_HAZARD for general
    hazards, APPROVE_MAJOR_PLAN (the principal) for major ones."""
    return Action.APPROVE_MAJOR_PLAN if level is HazardLevel.MAJOR else Action.VERIFY_HAZARD


# --- deadlines -----------------------------------------------------------------------------

END_OF_DAY = time(23, 59, 59)


def local_end_of_day(day: date) -> datetime:
    """23:59:59 of `day` in Asia/Shanghai, as an aware UTC datetime."""
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TZ).astimezone(UTC)


# 一般隐患不过夜, as a plant runs it: fixed before the shift that found it ends. A hazard found
# so late that less than this remains of its day (a night finding, after the day shift) is
# due at the end of the next day shift instead of in a few minutes (docs/DOMAIN.md §1.6).
MIN_GENERAL_WINDOW = timedelta(hours=4)
DAY_SHIFT_END = time(18, 0)


def general_deadline(now: datetime) -> datetime:
    """不过夜: a general hazard reported at `now` is due by 23:59:59 local of that day; when
    less than MIN_GENERAL_WINDOW remains of it (reported from 20:00 local), by the end of the
    next day's day shift (18:00 local) instead. Examples (local): 10:00 → 23:59:59 the same
    day; 19:59:59 → 23:59:59; 20:00 and 22:49 → 18:00 the next day; 00:30 → 23:59:59 of
    that day. Raises ValueError for a naive `now`."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    today = now.astimezone(LOCAL_TZ).date()
    end_of_day = local_end_of_day(today)
    if end_of_day - now >= MIN_GENERAL_WINDOW:
        return end_of_day
    next_shift_end = datetime.combine(today + timedelta(days=1), DAY_SHIFT_END, tzinfo=LOCAL_TZ)
    return next_shift_end.astimezone(UTC)


def check_extension(old_deadline: datetime | None, new_deadline: datetime, now: datetime) -> None:
    """An extension moves an existing deadline later, into the future. Raises ValidationFailed."""
    if old_deadline is None:
        raise ValidationFailed.for_field("new_deadline", "该隐患尚无整改期限，无需延期")
    if new_deadline <= old_deadline:
        raise ValidationFailed.for_field("new_deadline", "新期限须晚于原整改期限")
    if new_deadline <= now:
        raise ValidationFailed.for_field("new_deadline", "新期限须晚于当前时间")


# --- major-hazard criteria (判定标准, docs/DOMAIN.md §6) -----------------------------------------


class StandardVersion(StrEnum):
    GM2017 = "GM2017"  # 工贸行业重大生产安全事故隐患判定标准（2017版）
    MEM10_2023 = "MEM10_2023"  # 工贸企业重大事故隐患判定标准（应急管理部令第10号）


STANDARD_LABELS = {
    StandardVersion.GM2017: "《工贸行业重大生产安全事故隐患判定标准（2017版）》",
    StandardVersion.MEM10_2023: "《工贸企业重大事故隐患判定标准》（应急管理部令第10号）",
}
MEM10_2023_EFFECTIVE = date(2023, 5, 15)
# A hazard made major by outside factors the enterprise cannot remove itself (§1.2).
EXTERNAL_CRITERIA = "external"
_CODE_PATTERNS = {
    StandardVersion.GM2017: re.compile(r"^[ZH]17-[A-Z]{2}-\d{2}$"),
    StandardVersion.MEM10_2023: re.compile(r"^M23-[A-Z]{2}-\d{1,2}$"),
}


def standard_version_on(now: datetime) -> StandardVersion:
    """The determination standard in force on the local date of `now` (§6.3)."""
    if now.astimezone(LOCAL_TZ).date() >= MEM10_2023_EFFECTIVE:
        return StandardVersion.MEM10_2023
    return StandardVersion.GM2017


def version_of_code(code: str) -> StandardVersion | None:
    """The standard a criteria code belongs to, None when it is not a well-formed code."""
    for version, pattern in _CODE_PATTERNS.items():
        if pattern.match(code):
            return version
    return None


def pick_criteria(refs: Iterable[str], now: datetime) -> str | None:
    """Of a checklist item's criteria references, the one of the standard in force at `now`."""
    version = standard_version_on(now)
    return next((ref for ref in refs if version_of_code(ref) is version), None)


def check_criteria(code: str | None, note: str | None, now: datetime) -> tuple[str, StandardVersion]:
    """A major hazard is tied to an article of the standard in force, or to outside factors
    explained in `note`. Returns (code, version). Raises ValidationFailed naming the field."""
    version = standard_version_on(now)
    raw = (code or "").strip()
    if not raw:
        raise ValidationFailed.for_field("criteria_code", "请填写判定依据条目代码，或选择“外部因素”并说明")
    if raw.lower() == EXTERNAL_CRITERIA:
        if not (note or "").strip():
            raise ValidationFailed.for_field("criteria_note", "外部因素导致的重大隐患须说明具体情况")
        return EXTERNAL_CRITERIA, version
    code = raw.upper()
    code_version = version_of_code(code)
    if code_version is None:
        raise ValidationFailed.for_field("criteria_code", "判定依据条目代码格式不正确（如 M23-FC-3）")
    if code_version is not version:
        raise ValidationFailed.for_field(
            "criteria_code", f"应依据{STANDARD_LABELS[version]}判定，条目代码与之不符"
        )
    return code, version


# --- 五到位 (docs/DOMAIN.md §2) -------------------------------------------------------------------


@dataclass(frozen=True)
class FiveInPlace:
    """The plan fields the five-in-place rule looks at."""

    measures: str | None
    owner_org: str | None
    owner_person: str | None
    fund_amount: Decimal | None
    fund_source: str | None
    deadline: datetime | None
    contingency: str | None


# Each of the five: its label and the plan fields that must all be filled for it.
FIVE_IN_PLACE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("整改措施", ("measures",)),
    ("整改责任", ("owner_org", "owner_person")),
    ("整改资金", ("fund_amount", "fund_source")),
    ("整改时限", ("deadline",)),
    ("应急预案", ("contingency",)),
)


def _filled(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Decimal):
        # A plan without money is not a plan for a hazard that needs stopping production.
        return value > 0
    return True


def missing_five_in_place(plan: FiveInPlace) -> dict[str, list[str]]:
    """The five-in-place items not in place, each with its empty fields (empty: complete)."""
    missing: dict[str, list[str]] = {}
    for label, fields in FIVE_IN_PLACE:
        empty = [name for name in fields if not _filled(getattr(plan, name))]
        if empty:
            missing[label] = empty
    return missing


def require_five_in_place(plan: FiveInPlace | None) -> None:
    """五到位: none of the five may be empty. Raises ValidationFailed naming the missing ones."""
    missing = missing_five_in_place(plan or FiveInPlace(None, None, None, None, None, None, None))
    if missing:
        fields = {name: "必填" for names in missing.values() for name in names}
        raise ValidationFailed(f"五到位未落实，缺少：{'、'.join(missing)}。", fields=fields)


def require_ready_for_rectification(plan: FiveInPlace | None, approved_at: datetime | None) -> None:
    """A major hazard is rectified only under a complete (五到位) and approved plan.

    Raises ValidationFailed naming the missing items, or saying the plan is not approved."""
    require_five_in_place(plan)
    if approved_at is None:
        raise ValidationFailed("治理方案尚未通过立项审核，不能开始整改。")


def registration_number(hazard_id: int, registered_at: datetime) -> str:
    """The major-hazard ledger number: ZD + local registration date + hazard id."""
    return f"ZD{registered_at.astimezone(LOCAL_TZ):%Y%m%d}-{hazard_id:06d}"
