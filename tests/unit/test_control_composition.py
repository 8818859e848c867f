"""Which routine check offers which control of the risk register (checks/domain.py): the
composition rules, pure."""

from __future__ import annotations

import pytest

from app.errors import ValidationFailed
from app.hazard_reporting.checklists.domain import OnFail
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    ControlFacts,
    ScheduleFacts,
    ScheduleKind,
    SelfCheckResult,
    check_self_check_note,
    control_item_code,
    control_offered,
    control_on_fail,
    controls_for,
    post_controls_for,
)
from app.hazard_reporting.risks.domain import CHECK_LEVEL_OF_CONTROL, ControlLevel
from app.ids import MAX_ID

DAILY_T1 = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.DAILY, team_id=1, department_id=None, site_id=None)
WEEKLY_D1 = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.WEEKLY, team_id=None, department_id=10, site_id=None)
MONTHLY = ScheduleFacts(ScheduleKind.ROUTINE, CheckLevel.MONTHLY, team_id=None, department_id=None, site_id=None)
ROUND_T1 = ScheduleFacts(ScheduleKind.RISK_POINT, CheckLevel.DAILY, team_id=1, department_id=None, site_id=100)


def control(level: ControlLevel, *, id=1, team=None, department=None, post=None, site=100, active=True):
    return ControlFacts(id, CHECK_LEVEL_OF_CONTROL[level], team, department, post, site, active)


TEAM_1 = control(ControlLevel.TEAM, team=1)
DEPT_10 = control(ControlLevel.DEPARTMENT, department=10)
COMPANY = control(ControlLevel.COMPANY, site=200)


@pytest.mark.parametrize(
    ("schedule", "site", "facts", "offered"),
    [
        (DAILY_T1, 100, TEAM_1, True),
        (DAILY_T1, 101, TEAM_1, False),  # another site
        (DAILY_T1, None, TEAM_1, True),  # wherever (the API's list)
        (DAILY_T1, 100, control(ControlLevel.TEAM, team=2), False),  # another team's
        (DAILY_T1, 100, DEPT_10, False),
        (DAILY_T1, 100, COMPANY, False),
        (WEEKLY_D1, 100, DEPT_10, True),
        (WEEKLY_D1, 101, DEPT_10, False),
        (WEEKLY_D1, 100, control(ControlLevel.DEPARTMENT, department=11), False),
        (WEEKLY_D1, 100, TEAM_1, False),
        (MONTHLY, 100, COMPANY, True),  # the whole enterprise, wherever the manager scans
        (MONTHLY, 100, TEAM_1, False),
        (ROUND_T1, 100, TEAM_1, False),  # risk-point rounds carry no controls
        (DAILY_T1, 100, control(ControlLevel.POST, post=5), False),
    ],
)
def test_control_offered(schedule, site, facts, offered):
    assert control_offered(schedule, site, facts) is offered


def test_controls_for_keeps_order_and_drops_retired():
    retired = control(ControlLevel.TEAM, id=2, team=1, active=False)
    later = control(ControlLevel.TEAM, id=3, team=1)
    assert [c.id for c in controls_for(DAILY_T1, 100, [later, retired, TEAM_1])] == [3, 1]


def test_post_controls_for_the_workers_posts_at_the_site():
    mine = control(ControlLevel.POST, id=1, post=5)
    other_post = control(ControlLevel.POST, id=2, post=6)
    elsewhere = control(ControlLevel.POST, id=3, post=5, site=101)
    retired = control(ControlLevel.POST, id=4, post=5, active=False)
    team = control(ControlLevel.TEAM, id=5, team=1)
    assert [c.id for c in post_controls_for({5}, 100, [mine, other_post, elsewhere, retired, team])] == [1]
    assert post_controls_for(set(), 100, [mine]) == []


def test_codes_and_on_fail():
    assert control_item_code(123456789012) == "RC-123456789012"
    assert len(control_item_code(MAX_ID)) <= 16  # item_code is String(16)
    assert control_on_fail("major") is OnFail.REVIEW
    assert control_on_fail("large") is OnFail.REVIEW
    assert control_on_fail("general") is OnFail.GENERAL
    assert control_on_fail("low") is OnFail.GENERAL


def test_self_check_note():
    assert check_self_check_note(SelfCheckResult.CONFIRMED, " ") == ""
    assert check_self_check_note(SelfCheckResult.PROBLEM, " 面罩破损 ") == "面罩破损"
    with pytest.raises(ValidationFailed):
        check_self_check_note(SelfCheckResult.PROBLEM, "")
    with pytest.raises(ValidationFailed):
        check_self_check_note(SelfCheckResult.CONFIRMED, "字" * 201)
