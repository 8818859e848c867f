"""Escalation rules: which levels are due when, the policy's checks, who hears at each level
about an overdue check or hazard, and the dedupe keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import app.notices  # noqa: F401  (registers the features' kinds)
from app.accounts.domain import Role
from app.hazard_reporting.checks.domain import CheckLevel, MemberFacts, ScheduleFacts, ScheduleKind
from app.hazard_reporting.escalation.domain import (
    DEFAULT_POLICY,
    HAZARD_KINDS,
    TASK_KINDS,
    EscalationPolicy,
    HazardFacts,
    HazardNotice,
    Staff,
    due_soon_at,
    hazard_audience,
    hazard_dedupe_key,
    hazard_notices_due,
    hazard_owners,
    levels_due,
    responsible_label,
    task_audience,
    task_dedupe_key,
)
from app.hazard_reporting.hazards.domain import HazardLevel, HazardStatus
from app.notifications.kinds import KINDS

DUE = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 17:00 in Asia/Shanghai
H = timedelta(hours=1)
N = HazardNotice


# --- when ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (-H, ()),
        (-timedelta(seconds=1), ()),
        (timedelta(0), (1,)),  # at the due time exactly
        (H, (1,)),
        (2 * H, (1, 2)),
        (24 * H - timedelta(seconds=1), (1, 2)),
        (24 * H, (1, 2, 3)),
        (6 * 24 * H, (1, 2, 3)),  # a run late by days catches up every level
    ],
)
def test_levels_due_by_time_with_the_default_ladder(after, expected):
    assert levels_due(DUE, DUE + after, DEFAULT_POLICY.task_delays, DEFAULT_POLICY.lookback) == expected


def test_an_item_older_than_the_lookback_climbs_no_further():
    lookback = DEFAULT_POLICY.lookback
    assert levels_due(DUE, DUE + lookback - timedelta(seconds=1), DEFAULT_POLICY.task_delays, lookback) == (1, 2, 3)
    assert levels_due(DUE, DUE + lookback, DEFAULT_POLICY.task_delays, lookback) == ()
    assert levels_due(DUE, DUE + 10 * lookback, DEFAULT_POLICY.task_delays) == (1, 2, 3)  # no lookback given


def test_configured_delays_move_the_levels():
    delays = (30 * timedelta(minutes=1), 4 * H)
    assert levels_due(DUE, DUE + 29 * timedelta(minutes=1), delays) == ()
    assert levels_due(DUE, DUE + 3 * H, delays) == (1,)
    assert levels_due(DUE, DUE + 4 * H, delays) == (1, 2)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        levels_due(DUE.replace(tzinfo=None), DUE, DEFAULT_POLICY.task_delays)


@pytest.mark.parametrize(
    "policy_args",
    [
        {"task_delays": ()},
        {"task_delays": (timedelta(0), H, 2 * H, 3 * H)},
        {"task_delays": (-H,)},
        {"hazard_delays": (2 * H, H)},
        {"due_soon_lead": -H},
        {"lookback": 24 * H},  # not longer than the last level's delay
    ],
)
def test_impossible_policies_are_refused(policy_args):
    with pytest.raises(ValueError):
        EscalationPolicy(**policy_args)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (-3 * H, ()),
        (-2 * H, (N.DUE_SOON,)),  # the start of the due-soon window
        (-timedelta(seconds=1), (N.DUE_SOON,)),
        (timedelta(0), (N.L1,)),  # once overdue, no "due soon" any more
        (2 * H, (N.L1, N.L2)),
        (30 * H, (N.L1, N.L2, N.L3)),
        (8 * 24 * H, ()),  # stale
    ],
)
def test_hazard_notices_by_time(after, expected):
    assert hazard_notices_due(DUE, DUE + after) == expected


def test_due_soon_waits_for_the_second_half_of_a_short_window():
    since = DUE - 70 * timedelta(minutes=1)  # reported 70 minutes before the deadline
    assert due_soon_at(DUE, since, 2 * H) == DUE - 35 * timedelta(minutes=1)
    assert hazard_notices_due(DUE, since + timedelta(minutes=1), since=since) == ()
    assert hazard_notices_due(DUE, DUE - 36 * timedelta(minutes=1), since=since) == ()
    assert hazard_notices_due(DUE, DUE - 35 * timedelta(minutes=1), since=since) == (N.DUE_SOON,)
    # A long window: the lead alone decides, as without `since`.
    assert due_soon_at(DUE, DUE - 20 * H, 2 * H) == DUE - 2 * H
    assert due_soon_at(DUE, None, 2 * H) == DUE - 2 * H
    assert hazard_notices_due(DUE, DUE - 2 * H, since=DUE - 20 * H) == (N.DUE_SOON,)


def test_every_notice_has_a_registered_kind():
    assert set(TASK_KINDS) == {1, 2, 3} and set(HAZARD_KINDS) == set(HazardNotice)
    assert {*TASK_KINDS.values(), *HAZARD_KINDS.values()} <= set(KINDS)


# --- who: overdue checks -------------------------------------------------------------------

DEPT, OTHER_DEPT, TEAM = 10, 11, 20
DAILY = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.DAILY, TEAM, DEPT, None)
WEEKLY = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.WEEKLY, None, DEPT, None)
MONTHLY = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.MONTHLY, None, None, None)
RISK_DEPT = ScheduleFacts(ScheduleKind.RISK_POINT, CheckLevel.DAILY, None, DEPT, 5)
RISK_NONE = ScheduleFacts(ScheduleKind.RISK_POINT, CheckLevel.DAILY, None, None, 5)

LEADER = MemberFacts(Role.TEAM_LEADER, TEAM, DEPT)
HEAD = MemberFacts(Role.DEPARTMENT_HEAD, None, DEPT)
OTHER_HEAD = MemberFacts(Role.DEPARTMENT_HEAD, None, OTHER_DEPT)
MANAGER = MemberFacts(Role.MANAGER)
OFFICER = MemberFacts(Role.SAFETY_OFFICER)
WORKER = MemberFacts(Role.WORKER, TEAM, DEPT)
EVERYONE = {"leader": LEADER, "head": HEAD, "other_head": OTHER_HEAD, "manager": MANAGER,
            "officer": OFFICER, "worker": WORKER}


@pytest.mark.parametrize(
    ("schedule", "ladder"),
    [
        # The brief's ladder: the owner, then the department head, then the manager.
        (DAILY, [{"leader"}, {"head"}, {"manager"}]),
        # The head owes the weekly check: level 2 would only go back to them.
        (WEEKLY, [{"head"}, set(), {"manager"}]),
        # The manager's own monthly check climbs no further.
        (MONTHLY, [{"manager"}, set(), set()]),
        (RISK_DEPT, [{"leader", "head"}, set(), {"manager"}]),
        (RISK_NONE, [{"officer", "manager"}, set(), set()]),
    ],
)
def test_task_audience_per_level(schedule, ladder):
    for level, expected in enumerate(ladder, start=1):
        got = {name for name, member in EVERYONE.items() if task_audience(level, schedule, member)}
        assert got == expected, (level, got)


def test_task_audience_refuses_an_unknown_level():
    with pytest.raises(ValueError):
        task_audience(4, DAILY, MANAGER)


def test_responsible_label():
    assert responsible_label(ScheduleKind.ROUTINE, CheckLevel.DAILY, "熔炼班", "熔炼车间") == "熔炼班"
    assert responsible_label(ScheduleKind.ROUTINE, CheckLevel.WEEKLY, None, "熔炼车间") == "熔炼车间"
    assert responsible_label(ScheduleKind.ROUTINE, CheckLevel.MONTHLY, None, None) == "经理（主要负责人）"
    assert responsible_label(ScheduleKind.RISK_POINT, CheckLevel.DAILY, None, None) == "安全管理员、经理"


# --- who: overdue hazards ------------------------------------------------------------------

ASSIGNEE, HEAD_ID, OTHER_HEAD_ID, MANAGER_ID, OFFICER_ID = 1, 2, 3, 4, 5
STAFF = (
    Staff(HEAD_ID, Role.DEPARTMENT_HEAD, DEPT),
    Staff(OTHER_HEAD_ID, Role.DEPARTMENT_HEAD, OTHER_DEPT),
    Staff(MANAGER_ID, Role.MANAGER),
    Staff(OFFICER_ID, Role.SAFETY_OFFICER),
)


def facts(level=HazardLevel.GENERAL, status=HazardStatus.ASSIGNED, assignee=ASSIGNEE, department=DEPT, staff=STAFF):
    return HazardFacts(level=level, status=status, assignee_id=assignee, department_id=department, staff=staff)


def ladder(hazard: HazardFacts) -> list[set[int]]:
    return [hazard_audience(notice, hazard) for notice in HazardNotice]


def test_general_hazard_climbs_from_the_assignee_to_the_head_to_the_manager():
    # The first overdue notice also tells the safety officer (and the enterprise admin).
    assert ladder(facts()) == [{ASSIGNEE}, {ASSIGNEE, OFFICER_ID}, {HEAD_ID}, {MANAGER_ID}]


def test_an_unassigned_hazard_goes_to_its_department_head_first_and_not_twice():
    assert ladder(facts(status=HazardStatus.REPORTED, assignee=None)) == [
        {HEAD_ID},
        {HEAD_ID, OFFICER_ID},
        set(),
        {MANAGER_ID},
    ]


def test_the_enterprise_admin_hears_of_the_first_overdue_notice_and_of_every_major_one():
    admin = 6
    staff = (*STAFF, Staff(admin, Role.ENTERPRISE_ADMIN))
    assert ladder(facts(staff=staff)) == [{ASSIGNEE}, {ASSIGNEE, OFFICER_ID, admin}, {HEAD_ID}, {MANAGER_ID}]
    major = ladder(facts(level=HazardLevel.MAJOR, status=HazardStatus.RECTIFYING, staff=staff))
    assert all(admin in audience for audience in major)


def test_without_a_department_head_the_safety_officer_then_the_manager_owns_it():
    assert hazard_owners(facts(assignee=None, department=None)) == {OFFICER_ID}
    managers_only = (Staff(MANAGER_ID, Role.MANAGER),)
    assert hazard_owners(facts(assignee=None, department=None, staff=managers_only)) == {MANAGER_ID}


def test_a_rectified_hazard_waits_for_its_verifier():
    assert hazard_owners(facts(status=HazardStatus.RECTIFIED)) == {HEAD_ID}
    assert hazard_owners(facts(level=HazardLevel.MAJOR, status=HazardStatus.RECTIFIED)) == {MANAGER_ID}


def test_a_major_hazard_reaches_the_manager_and_safety_officer_from_the_first_notice():
    major = facts(level=HazardLevel.MAJOR, status=HazardStatus.RECTIFYING)
    assert ladder(major) == [
        {ASSIGNEE, MANAGER_ID, OFFICER_ID},
        {ASSIGNEE, MANAGER_ID, OFFICER_ID},
        {HEAD_ID, MANAGER_ID, OFFICER_ID},
        {MANAGER_ID, OFFICER_ID},
    ]


def test_dedupe_keys_name_the_item_level_and_person():
    assert task_dedupe_key(7, 2, 31) == "esc:task:7:L2:31"
    key = hazard_dedupe_key(9, DUE, N.L1, 4)
    assert key == "esc:hazard:9:20261127T090000:L1:4"
    # An extended deadline is a new promise: its notices have keys of their own.
    assert hazard_dedupe_key(9, DUE + 24 * H, N.L1, 4) != key
