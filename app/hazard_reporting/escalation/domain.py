"""Pure rules of escalation (逾期升级提醒): when an overdue check or hazard is told to whom.

An overdue item climbs a ladder of notices, each sent at most once per person:

- level 1 at the due time, to whoever must act (the check's owner; the hazard's assignee);
- level 2 a little later, to the department head over them;
- level 3 later still, to the manager (主要负责人).

A hazard also gets a "due soon" notice shortly before its deadline (一般隐患不过夜: the
deadline is 23:59:59 of the report day, or 18:00 the next day for a night finding — see
hazards.domain.general_deadline), never in the first half of its window, and a major hazard (重大隐患) reaches the managers
and safety officers from its first notice. "Overdue" is derived — an open item past its due
time — never a status of its own, so the transition tables stay as they are.

Standard library and other domain modules only; the SQL form of the audience rules lives in
app/hazard_reporting/escalation/service.py and is tested against the functions here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.accounts.domain import Role
from app.hazard_reporting.checks.domain import (
    CHECK_LEVEL_LABELS,
    CheckLevel,
    MemberFacts,
    ScheduleFacts,
    ScheduleKind,
    owes,
)
from app.hazard_reporting.hazards.domain import HazardLevel, HazardStatus

MAX_LEVEL = 3


class HazardNotice(StrEnum):
    """The notices of a hazard's ladder; the value is part of the dedupe key."""

    DUE_SOON = "soon"
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


# One notification kind per level (app/notifications/kinds.py).
TASK_KINDS = {1: "check_overdue_l1", 2: "check_overdue_l2", 3: "check_overdue_l3"}
HAZARD_KINDS = {
    HazardNotice.DUE_SOON: "hazard_due_soon",
    HazardNotice.L1: "hazard_overdue_l1",
    HazardNotice.L2: "hazard_overdue_l2",
    HazardNotice.L3: "hazard_overdue_l3",
}
_HAZARD_LEVELS = (HazardNotice.L1, HazardNotice.L2, HazardNotice.L3)


def _check_delays(delays: tuple[timedelta, ...], name: str) -> None:
    if not 1 <= len(delays) <= MAX_LEVEL:
        raise ValueError(f"{name}: between 1 and {MAX_LEVEL} levels")
    if any(d < timedelta(0) for d in delays):
        raise ValueError(f"{name}: a delay cannot be negative")
    if any(later < earlier for earlier, later in zip(delays, delays[1:], strict=False)):
        raise ValueError(f"{name}: each level comes no earlier than the one before")


@dataclass(frozen=True)
class EscalationPolicy:
    """The ladder's timing. Delays count from the due time (task) or deadline (hazard).

    Defaults: tasks — level 1 at the due time, level 2 two hours later (for a daily check
    that is the end of its grace, when it becomes missed), level 3 a day later; hazards —
    due soon two hours before the deadline, then the same 0 / 2 h / 24 h ladder.
    `lookback`: an item due longer ago than this is no longer escalated (its notices would
    be stale news; the daily digest and the ledgers report it) — it also bounds the work of
    each run. Raises ValueError for an impossible ladder."""

    task_delays: tuple[timedelta, ...] = (timedelta(0), timedelta(hours=2), timedelta(hours=24))
    hazard_delays: tuple[timedelta, ...] = (timedelta(0), timedelta(hours=2), timedelta(hours=24))
    due_soon_lead: timedelta = timedelta(hours=2)
    lookback: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        _check_delays(self.task_delays, "task_delays")
        _check_delays(self.hazard_delays, "hazard_delays")
        if self.due_soon_lead < timedelta(0):
            raise ValueError("due_soon_lead cannot be negative")
        if self.lookback <= max(self.task_delays[-1], self.hazard_delays[-1]):
            raise ValueError("lookback must be longer than the last level's delay")


DEFAULT_POLICY = EscalationPolicy()


def is_stale(due_at: datetime, now: datetime, lookback: timedelta) -> bool:
    """Was the item due `lookback` or longer before `now`? Stale items climb no further."""
    return now - due_at >= lookback


def levels_due(
    due_at: datetime, now: datetime, delays: tuple[timedelta, ...], lookback: timedelta | None = None
) -> tuple[int, ...]:
    """The levels (1-based) whose time — `due_at` + their delay — has come by `now`
    (inclusive), lowest first; () before the due time or when stale.

    A late run gets every level due by then (catch-up); the caller's dedupe makes sure a
    level already notified is not notified again. Raises ValueError for naive datetimes."""
    if due_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("naive datetime: pass aware UTC datetimes")
    if lookback is not None and is_stale(due_at, now, lookback):
        return ()
    return tuple(n for n, delay in enumerate(delays, start=1) if due_at + delay <= now)


def due_soon_at(deadline: datetime, since: datetime | None, lead: timedelta) -> datetime:
    """When the due-soon notice of `deadline` may go: `lead` before it, but not before half
    of the window from `since` (when the hazard was reported) has passed — a hazard with a
    short window is not told "due soon" a minute after it was assigned."""
    if since is None or since >= deadline:
        return deadline - lead
    return max(deadline - lead, since + (deadline - since) / 2)


def hazard_notices_due(
    deadline: datetime,
    now: datetime,
    policy: EscalationPolicy = DEFAULT_POLICY,
    since: datetime | None = None,
) -> tuple[HazardNotice, ...]:
    """The notices an open hazard with this deadline is due by `now`: due soon in the last
    `due_soon_lead` before the deadline and in the second half of the window that began
    at `since` (due_soon_at; only while the deadline has not passed: once overdue, the
    level-1 notice says more), then L1, L2, L3 as `levels_due` says."""
    notices: list[HazardNotice] = []
    if due_soon_at(deadline, since, policy.due_soon_lead) <= now < deadline:
        notices.append(HazardNotice.DUE_SOON)
    notices.extend(_HAZARD_LEVELS[n - 1] for n in levels_due(deadline, now, policy.hazard_delays, policy.lookback))
    return tuple(notices)


# --- who hears about an overdue check ------------------------------------------------------

# The role each level goes to, above the owner (level 1 is the owner, see `owes`).
TASK_LEVEL_ROLES = {2: Role.DEPARTMENT_HEAD, 3: Role.MANAGER}


def task_audience(level: int, schedule: ScheduleFacts, member: MemberFacts) -> bool:
    """Does this membership get the level-`level` notice of an overdue task of `schedule`?

    Level 1: those who owe the check (`owes`: the team leader of a daily check, the
    department head of a weekly one, the manager of the monthly one…). Level 2: the head of
    the schedule's department. Level 3: the managers. Levels 2 and 3 go over the owner's
    head, never back to them: a department head who owes the weekly check gets no level-2
    notice about it, and the manager's own monthly check climbs no further than level 1.
    Raises ValueError for a level outside 1–3."""
    if level == 1:
        return owes(schedule, member)
    if level not in TASK_LEVEL_ROLES:
        raise ValueError(f"escalation level {level} does not exist")
    if member.role is not TASK_LEVEL_ROLES[level] or owes(schedule, member):
        return False
    if level == 2:
        return schedule.department_id is not None and member.department_id == schedule.department_id
    return True


def responsible_label(kind: ScheduleKind, level: CheckLevel, team_name: str | None, department_name: str | None) -> str:
    """Who a check is owed by, as the notice names them: the team, the department, or —
    for the enterprise-wide monthly check and unassigned risk-point rounds — the role."""
    if team_name:
        return team_name
    if department_name:
        return department_name
    if kind is ScheduleKind.ROUTINE and level is CheckLevel.MONTHLY:
        return "经理（主要负责人）"
    if kind is ScheduleKind.RISK_POINT:
        return "安全管理员、经理"
    return CHECK_LEVEL_LABELS[level]


# --- who hears about an overdue hazard -----------------------------------------------------


@dataclass(frozen=True)
class Staff:
    """An active member of the hazard's enterprise in a role escalation may reach; the
    department is the membership's (a team leader's: their team's)."""

    user_id: int
    role: Role
    department_id: int | None = None


@dataclass(frozen=True)
class HazardFacts:
    """What the audience rule needs to know about a hazard. `department_id`: the hazard's
    department, else its assignee's, else its reporter's (resolved by the caller)."""

    level: HazardLevel
    status: HazardStatus
    assignee_id: int | None
    department_id: int | None
    staff: tuple[Staff, ...] = field(default=())


def _with_role(staff: Iterable[Staff], *roles: Role, department_id: int | None = None) -> set[int]:
    return {
        s.user_id
        for s in staff
        if s.role in roles and (department_id is None or s.department_id == department_id)
    }


def _department_heads(facts: HazardFacts) -> set[int]:
    if facts.department_id is None:
        return set()
    return _with_role(facts.staff, Role.DEPARTMENT_HEAD, department_id=facts.department_id)


def hazard_owners(facts: HazardFacts) -> set[int]:
    """Who must act on the hazard now, and so hears first.

    Rectified (waiting for verification): the verifier — the department's head for a general
    hazard, the managers for a major one (they accept it). Otherwise the assignee; unassigned,
    the department's head (the reporter's department when the hazard names none). Where that
    finds nobody: the safety officers, then the managers."""
    if facts.status is HazardStatus.RECTIFIED:
        if facts.level is HazardLevel.MAJOR:
            first = _with_role(facts.staff, Role.MANAGER)
        else:
            first = _department_heads(facts)
    elif facts.assignee_id is not None:
        first = {facts.assignee_id}
    else:
        first = _department_heads(facts)
    return (
        first
        or _with_role(facts.staff, Role.SAFETY_OFFICER)
        or _with_role(facts.staff, Role.MANAGER)
    )


def hazard_audience(notice: HazardNotice, facts: HazardFacts) -> set[int]:
    """The users who get `notice` about this hazard.

    Due soon and L1: the owners (`hazard_owners`); L1 also the safety officers and the
    enterprise admins, who keep the enterprise's hazards in hand (each as their notification
    preferences say: quiet hours, digest only). L2: the department's head, L3: the
    managers — over the owners' heads, never back to them. A major hazard adds the managers,
    the safety officers and the enterprise admins to every notice."""
    owners = hazard_owners(facts)
    if notice is HazardNotice.DUE_SOON:
        audience = set(owners)
    elif notice is HazardNotice.L1:
        audience = owners | _with_role(facts.staff, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN)
    elif notice is HazardNotice.L2:
        audience = _department_heads(facts) - owners
    else:
        audience = _with_role(facts.staff, Role.MANAGER) - owners
    if facts.level is HazardLevel.MAJOR:
        audience |= _with_role(facts.staff, Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN)
    return audience


def task_dedupe_key(task_id: int, level: int, user_id: int) -> str:
    """One notice per task, level and person."""
    return f"esc:task:{task_id}:L{level}:{user_id}"


def hazard_dedupe_key(hazard_id: int, deadline: datetime, notice: HazardNotice, user_id: int) -> str:
    """One notice per hazard, deadline, notice and person. The deadline is part of the key:
    after an approved extension the new deadline is a new promise, and missing it climbs
    the ladder again."""
    return f"esc:hazard:{hazard_id}:{deadline.astimezone(UTC):%Y%m%dT%H%M%S}:{notice.value}:{user_id}"
