"""Period rules of scheduled checks: days, ISO weeks and months in Asia/Shanghai, statutory
holidays and adjusted workdays, due times, timeliness, transitions, who owes what."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest

from app.accounts.domain import Role
from app.errors import InvalidTransition, ValidationFailed
from app.hazard_reporting.checks.domain import (
    TASK_TRANSITIONS,
    CheckLevel,
    CheckTaskStatus,
    MemberFacts,
    Period,
    ScheduleFacts,
    ScheduleKind,
    Timing,
    check_task_transition,
    checkable_at,
    due_date,
    due_window,
    is_open,
    iso_week_label,
    owes,
    period_containing,
    periods_between,
    status_after_submission,
    timeliness,
)
from app.hazard_reporting.confined_space.domain import (
    ConfirmationEntry,
    confirmation_problems,
    require_confirmation_passed,
)
from app.hazard_reporting.schedules.domain import (
    RISK_POINT_PLANS,
    ROUTINE_DEFAULTS,
    RiskLevel,
    check_timing,
    risk_point_plan,
)
from app.hazard_reporting.work_calendar import sources
from app.hazard_reporting.work_calendar.domain import DayMark, WorkCalendar

D, W, M = CheckLevel.DAILY, CheckLevel.WEEKLY, CheckLevel.MONTHLY
STATUTORY = WorkCalendar(
    official=sources.official_mark, official_years=sources.official_years(), rule=sources.rule_rest_days
)


# --- periods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "day", "start", "end"),
    [
        (D, date(2026, 11, 28), date(2026, 11, 28), date(2026, 11, 28)),
        (W, date(2026, 11, 28), date(2026, 11, 23), date(2026, 11, 29)),  # Saturday → Mon..Sun
        (W, date(2026, 11, 23), date(2026, 11, 23), date(2026, 11, 29)),  # Monday starts its week
        (W, date(2026, 11, 29), date(2026, 11, 23), date(2026, 11, 29)),  # Sunday ends it
        (M, date(2026, 1, 31), date(2026, 1, 1), date(2026, 1, 31)),
        (M, date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28)),
        (M, date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 30)),
        (M, date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
        (M, date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),  # leap day
        (W, date(2028, 2, 29), date(2028, 2, 28), date(2028, 3, 5)),  # a week across months
        (D, date(2028, 2, 29), date(2028, 2, 29), date(2028, 2, 29)),
    ],
)
def test_period_containing(level, day, start, end):
    assert period_containing(level, day) == Period(start, end)


def test_iso_week_53_spans_the_new_year():
    # 2026 has 53 ISO weeks: week 53 runs Monday 2026-12-28 to Sunday 2027-01-03.
    for day in (date(2026, 12, 28), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 3)):
        period = period_containing(W, day)
        assert period == Period(date(2026, 12, 28), date(2027, 1, 3))
        assert iso_week_label(period) == "2026-W53"
    following = period_containing(W, date(2027, 1, 4))
    assert following == Period(date(2027, 1, 4), date(2027, 1, 10))
    assert iso_week_label(following) == "2027-W01"
    weeks = list(periods_between(W, date(2026, 12, 20), date(2027, 1, 5)))
    assert [iso_week_label(p) for p in weeks] == ["2026-W51", "2026-W52", "2026-W53", "2027-W01"]


def test_periods_between_is_gapless_and_ordered():
    months = list(periods_between(M, date(2027, 12, 15), date(2028, 3, 1)))
    assert [(p.start, p.end) for p in months] == [
        (date(2027, 12, 1), date(2027, 12, 31)),
        (date(2028, 1, 1), date(2028, 1, 31)),
        (date(2028, 2, 1), date(2028, 2, 29)),
        (date(2028, 3, 1), date(2028, 3, 31)),
    ]
    days = list(periods_between(D, date(2028, 2, 27), date(2028, 3, 1)))
    assert [p.start for p in days] == [
        date(2028, 2, 27),
        date(2028, 2, 28),
        date(2028, 2, 29),
        date(2028, 3, 1),
    ]
    assert list(periods_between(D, date(2028, 3, 2), date(2028, 3, 1))) == []


# --- work calendar ----------------------------------------------------------------------


def test_national_day_2025_holidays_and_adjusted_workdays():
    # 2025: 10-01..10-08 off (National Day + Mid-Autumn); Sunday 09-28 and Saturday 10-11 worked.
    for day in range(1, 9):
        assert not STATUTORY.is_workday(date(2025, 10, day)), day
    assert STATUTORY.is_workday(date(2025, 9, 28))
    assert STATUTORY.is_workday(date(2025, 10, 11))
    assert not STATUTORY.is_workday(date(2025, 9, 27))  # an ordinary Saturday
    days = [p.start for p in periods_between(D, date(2025, 9, 26), date(2025, 10, 12), STATUTORY.is_workday)]
    assert days == [
        date(2025, 9, 26),
        date(2025, 9, 28),
        date(2025, 9, 29),
        date(2025, 9, 30),
        date(2025, 10, 9),
        date(2025, 10, 10),
        date(2025, 10, 11),
    ]


def test_a_year_without_official_data_follows_the_statutory_rule_then_the_weekday():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2099, 1, 1))
    # 2099-01-01 is a Thursday and 元旦 by the statutory rule; the rest goes by weekday.
    assert not STATUTORY.is_workday(date(2099, 1, 1))
    assert STATUTORY.is_workday(date(2099, 1, 2))  # Friday
    assert not STATUTORY.is_workday(date(2099, 1, 3))  # Saturday
    assert not STATUTORY.is_workday(date(2099, 1, 4))  # Sunday
    assert STATUTORY.is_workday(date(2099, 1, 5))  # Monday


def test_override_wins_over_official_data_and_rule():
    calendar_ = WorkCalendar(
        overrides={
            date(2025, 10, 1): DayMark(True),
            date(2025, 9, 29): DayMark(False),
            date(2099, 1, 3): DayMark(True),
            date(2099, 1, 1): DayMark(True),
        },
        official=sources.official_mark,
        official_years=sources.official_years(),
        rule=sources.rule_rest_days,
    )
    assert calendar_.is_workday(date(2025, 10, 1))  # a statutory holiday declared a workday
    assert not calendar_.is_workday(date(2025, 9, 29))  # a statutory workday declared off
    assert calendar_.is_workday(date(2099, 1, 3))  # a fallback Saturday declared a workday
    assert calendar_.is_workday(date(2099, 1, 1))  # a rule holiday declared a workday
    assert not calendar_.is_workday(date(2025, 10, 2))  # no override: official


def test_without_any_source_weekdays_are_workdays():
    assert WorkCalendar().is_workday(date(2025, 10, 1))  # Wednesday
    assert not WorkCalendar().is_workday(date(2025, 10, 4))


def test_weekly_and_monthly_periods_ignore_the_work_calendar():
    weeks = list(periods_between(W, date(2025, 9, 29), date(2025, 10, 12), STATUTORY.is_workday))
    assert [p.start for p in weeks] == [date(2025, 9, 29), date(2025, 10, 6)]


# --- due times --------------------------------------------------------------------------


def test_default_due_times_in_local_time_stored_utc():
    daily = ROUTINE_DEFAULTS[D].timing
    due_at, grace_until = due_window(daily, period_containing(D, date(2026, 11, 27)))
    assert due_at == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 17:00 Asia/Shanghai
    assert grace_until == due_at + timedelta(hours=2)

    weekly = ROUTINE_DEFAULTS[W].timing
    due_at, grace_until = due_window(weekly, period_containing(W, date(2026, 11, 24)))
    assert due_at == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 17:00
    assert grace_until == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    monthly = ROUTINE_DEFAULTS[M].timing
    due_at, grace_until = due_window(monthly, period_containing(M, date(2028, 2, 3)))
    assert due_at == datetime(2028, 2, 29, 9, 0, tzinfo=UTC)  # the last day, leap year
    assert grace_until == datetime(2028, 3, 2, 9, 0, tzinfo=UTC)


def test_week_53_due_on_friday_of_the_new_year():
    weekly = ROUTINE_DEFAULTS[W].timing
    assert due_date(weekly, period_containing(W, date(2026, 12, 29))) == date(2027, 1, 1)


def test_due_month_day_clamps_to_month_end():
    timing = Timing(M, time(9, 30), 60, due_month_day=31)
    assert due_date(timing, period_containing(M, date(2028, 2, 10))) == date(2028, 2, 29)
    assert due_date(timing, period_containing(M, date(2026, 4, 10))) == date(2026, 4, 30)
    assert due_date(timing, period_containing(M, date(2026, 5, 10))) == date(2026, 5, 31)
    early = Timing(M, time(9, 30), 60, due_month_day=10)
    assert due_date(early, period_containing(M, date(2026, 5, 20))) == date(2026, 5, 10)


def test_a_local_midnight_due_time_is_the_previous_utc_day():
    timing = Timing(D, time(0, 30), 0)
    due_at, grace_until = due_window(timing, Period(date(2026, 1, 1), date(2026, 1, 1)))
    assert due_at == datetime(2025, 12, 31, 16, 30, tzinfo=UTC) == grace_until


@pytest.mark.parametrize(
    ("timing", "field"),
    [
        (Timing(D, time(17), -1), "grace_minutes"),
        (Timing(W, time(17), 0, due_weekday=8), "due_weekday"),
        (Timing(M, time(17), 0, due_month_day=0), "due_month_day"),
        (Timing(W, time(17), 0, workdays_only=True), "workdays_only"),
        (Timing(D, time(17), 0, due_weekday=5), "due_weekday"),
        (Timing(W, time(17), 0, due_month_day=5), "due_month_day"),
    ],
)
def test_impossible_timing_names_the_field(timing, field):
    with pytest.raises(ValidationFailed) as caught:
        check_timing(timing)
    assert field in caught.value.fields


# --- timeliness and transitions ---------------------------------------------------------

DUE = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
GRACE = DUE + timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (DUE - timedelta(hours=3), CheckTaskStatus.DONE),
        (DUE, CheckTaskStatus.DONE),
        (DUE + timedelta(microseconds=1), CheckTaskStatus.DONE_LATE),
        (GRACE, CheckTaskStatus.DONE_LATE),
        (GRACE + timedelta(microseconds=1), CheckTaskStatus.MISSED),
    ],
)
def test_timeliness(now, status):
    assert timeliness(now, DUE, GRACE) is status
    assert status_after_submission(CheckTaskStatus.PENDING, now, DUE, GRACE) is status


def test_a_closed_task_keeps_its_status_on_a_second_submission():
    early = DUE - timedelta(hours=1)
    for status in (CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE, CheckTaskStatus.MISSED):
        assert status_after_submission(status, early, DUE, GRACE) is status
    with pytest.raises(InvalidTransition, match="免检"):
        status_after_submission(CheckTaskStatus.EXCUSED, early, DUE, GRACE)


@pytest.mark.parametrize("current", list(CheckTaskStatus))
@pytest.mark.parametrize("target", list(CheckTaskStatus))
def test_task_transition_table(current, target):
    if (current, target) in TASK_TRANSITIONS:
        check_task_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_task_transition(current, target)


def test_only_pending_and_missed_may_be_excused():
    allowed = {c for c, t in TASK_TRANSITIONS if t is CheckTaskStatus.EXCUSED}
    assert allowed == {CheckTaskStatus.PENDING, CheckTaskStatus.MISSED}


def test_is_open_needs_pending_begun_and_in_grace():
    today_start = date(2026, 11, 27)
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 local
    assert is_open(CheckTaskStatus.PENDING, today_start, GRACE, now)
    assert not is_open(CheckTaskStatus.DONE, today_start, GRACE, now)
    assert not is_open(CheckTaskStatus.PENDING, date(2026, 11, 28), GRACE, now)  # not begun
    assert not is_open(CheckTaskStatus.PENDING, today_start, GRACE, GRACE + timedelta(seconds=1))


# --- who owes what, and where -----------------------------------------------------------


def routine(level, team=None, department=None):
    return ScheduleFacts(ScheduleKind.ROUTINE, level, team, department, None)


def risk(level, team=None, department=None, site=7):
    return ScheduleFacts(ScheduleKind.RISK_POINT, level, team, department, site)


@pytest.mark.parametrize(
    ("schedule", "member", "expected"),
    [
        (routine(D, team=1, department=10), MemberFacts(Role.TEAM_LEADER, 1, 10), True),
        (routine(D, team=1, department=10), MemberFacts(Role.TEAM_LEADER, 2, 10), False),
        (routine(D, team=1, department=10), MemberFacts(Role.DEPARTMENT_HEAD, None, 10), False),
        (routine(D, team=1, department=10), MemberFacts(Role.WORKER, 1, 10), False),
        (routine(W, department=10), MemberFacts(Role.DEPARTMENT_HEAD, None, 10), True),
        (routine(W, department=10), MemberFacts(Role.DEPARTMENT_HEAD, None, 11), False),
        (routine(W, department=10), MemberFacts(Role.TEAM_LEADER, 1, 10), False),
        (routine(M), MemberFacts(Role.MANAGER), True),
        (routine(M), MemberFacts(Role.SAFETY_OFFICER), False),
        (routine(M), MemberFacts(Role.ENTERPRISE_ADMIN), False),
        (risk(D, department=10), MemberFacts(Role.TEAM_LEADER, 1, 10), True),
        (risk(D, department=10), MemberFacts(Role.DEPARTMENT_HEAD, None, 10), True),
        (risk(D, department=10), MemberFacts(Role.TEAM_LEADER, 3, 11), False),
        (risk(D, department=10), MemberFacts(Role.WORKER, 1, 10), False),
        (risk(W, department=10), MemberFacts(Role.DEPARTMENT_HEAD, None, 10), True),
        (risk(W, department=10), MemberFacts(Role.TEAM_LEADER, 1, 10), False),
        (risk(D, team=1, department=10), MemberFacts(Role.TEAM_LEADER, 1, 10), True),
        (risk(D, team=1, department=10), MemberFacts(Role.TEAM_LEADER, 2, 10), False),
        (risk(D), MemberFacts(Role.SAFETY_OFFICER), True),
        (risk(D), MemberFacts(Role.MANAGER), True),
        (risk(D), MemberFacts(Role.TEAM_LEADER, 1, 10), False),
    ],
)
def test_owes(schedule, member, expected):
    assert owes(schedule, member) is expected


@pytest.mark.parametrize(
    ("schedule", "site_id", "site_department", "expected"),
    [
        (risk(D, department=10, site=7), 7, 10, True),
        (risk(D, department=10, site=7), 8, 10, False),  # a risk round only at its own site
        (routine(D, team=1, department=10), 8, 10, True),
        (routine(D, team=1, department=10), 8, None, True),  # a site of no department
        (routine(D, team=1, department=10), 8, 11, False),  # another department's site
        (routine(W, department=10), 8, 11, False),
        (routine(M), 8, 11, True),  # the manager's check covers the enterprise
    ],
)
def test_checkable_at(schedule, site_id, site_department, expected):
    assert checkable_at(schedule, site_id, site_department) is expected


# --- risk points ------------------------------------------------------------------------


def test_risk_point_plans():
    red = risk_point_plan(RiskLevel.RED, True)
    assert [(s.slot, s.timing.level, s.timing.workdays_only, s.timing.due_time) for s in red] == [
        ("am", D, False, time(11, 30)),
        ("pm", D, False, time(17, 0)),
    ]
    (orange,) = risk_point_plan(RiskLevel.ORANGE, True)
    assert (orange.timing.level, orange.timing.workdays_only) == (D, False)  # holidays too
    (yellow,) = risk_point_plan(RiskLevel.YELLOW, True)
    assert (yellow.timing.level, yellow.timing.workdays_only) == (D, True)
    (blue,) = risk_point_plan(RiskLevel.BLUE, True)
    assert blue.timing.level is W
    assert all(risk_point_plan(level, False) == () for level in RiskLevel)
    assert set(RISK_POINT_PLANS) == set(RiskLevel)
    for specs in RISK_POINT_PLANS.values():
        for spec in specs:
            check_timing(spec.timing)
            assert len({s.slot for s in specs}) == len(specs)


# --- work-condition confirmation ---------------------------------------------------------

AT = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CODES = ["CSC-01", "CSC-02", "CSC-03"]


def test_confirmation_passes_when_every_item_holds_signed_and_timed():
    entries = [ConfirmationEntry(code, True, "张三", AT) for code in CODES]
    assert confirmation_problems(CODES, entries) == []
    require_confirmation_passed(CODES, entries)


def test_confirmation_names_every_unmet_item_in_order():
    entries = [
        ConfirmationEntry("CSC-03", False, "李四", AT),
        ConfirmationEntry("CSC-01", True, " ", AT),
    ]
    assert confirmation_problems(CODES, entries) == [
        "CSC-01 缺少确认人或确认时间",
        "CSC-02 未确认",
        "CSC-03 不符合要求",
    ]
    with pytest.raises(InvalidTransition) as caught:
        require_confirmation_passed(CODES, entries)
    assert "严禁进入有限空间作业" in caught.value.message
    assert "CSC-03 不符合要求" in caught.value.message
