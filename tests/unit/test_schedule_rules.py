"""Rules of configurable schedules: the unit each level needs, sites that fit, grace per
level, the due rule in words (a month day past a short month's end is its last day)."""

from __future__ import annotations

from datetime import date, time

import pytest

from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import CheckLevel, Period, Timing, due_date
from app.hazard_reporting.schedules.domain import (
    check_grace,
    check_routine_unit,
    check_site_fits,
    check_timing,
    due_rule_words,
    duplicate_message,
    grace_words,
    routine_unit_key,
)

D, W, M = CheckLevel.DAILY, CheckLevel.WEEKLY, CheckLevel.MONTHLY


def field_of(call) -> str:
    with pytest.raises(ValidationFailed) as caught:
        call()
    (field,) = caught.value.fields
    return field


@pytest.mark.parametrize(
    ("timing", "words"),
    [
        (Timing(D, time(17), 120, workdays_only=True), "每个工作日 17:00 前"),
        (Timing(D, time(11, 30), 60), "每天 11:30 前"),
        (Timing(W, time(17), 1440, due_weekday=5), "每周五 17:00 前"),
        (Timing(W, time(9, 5), 0, due_weekday=7), "每周日 09:05 前"),
        (Timing(W, time(17), 0), "每周五 17:00 前"),
        (Timing(M, time(17), 2880, due_month_day=28), "每月 28 日 17:00 前"),
        (Timing(M, time(17), 2880), "每月最后一天 17:00 前"),
        (Timing(M, time(17), 0, due_month_day=31), "每月 31 日 17:00 前（当月无此日时为月末）"),
    ],
)
def test_due_rule_in_words(timing, words):
    assert due_rule_words(timing) == words


def test_a_month_day_past_the_months_end_is_its_last_day():
    timing = Timing(M, time(17), 0, due_month_day=31)
    assert due_date(timing, Period(date(2026, 2, 1), date(2026, 2, 28))) == date(2026, 2, 28)
    assert due_date(timing, Period(date(2026, 4, 1), date(2026, 4, 30))) == date(2026, 4, 30)
    assert due_date(timing, Period(date(2026, 3, 1), date(2026, 3, 31))) == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("minutes", "words"), [(0, "不宽限"), (30, "30 分钟"), (120, "2 小时"), (90, "1 小时 30 分钟"), (2880, "2 天")]
)
def test_grace_in_words(minutes, words):
    assert grace_words(minutes) == words


def test_each_level_needs_its_unit():
    assert field_of(lambda: check_routine_unit(D, None, 3)) == "team_id"
    assert field_of(lambda: check_routine_unit(W, 5, None)) == "department_id"
    check_routine_unit(D, 1, None)
    check_routine_unit(W, None, 2)
    check_routine_unit(M, None, None)


def test_the_unit_identifies_a_routine_schedule():
    assert routine_unit_key(D, 1, 2) == routine_unit_key(D, 1, 9)  # a team's daily check
    assert routine_unit_key(D, 1, 2) != routine_unit_key(D, 3, 2)
    assert routine_unit_key(W, None, 2) != routine_unit_key(W, None, 4)
    assert routine_unit_key(M, None, None) == routine_unit_key(M, 7, 8)  # one per enterprise
    assert routine_unit_key(D, 1, 2) != routine_unit_key(W, 1, 2)


def test_a_site_must_be_one_the_unit_checks():
    check_site_fits(D, 2, 2)
    check_site_fits(W, 2, None)  # a site of no department (the gate)
    check_site_fits(M, None, 5)  # the monthly check covers every site
    assert field_of(lambda: check_site_fits(D, 2, 3)) == "site_id"
    assert field_of(lambda: check_site_fits(W, 2, 3)) == "site_id"


def test_grace_per_level():
    check_grace(Timing(D, time(17), 0))
    check_grace(Timing(D, time(17), 1440))
    check_grace(Timing(M, time(17), 2880))
    assert field_of(lambda: check_grace(Timing(D, time(17), 1441))) == "grace_minutes"
    assert field_of(lambda: check_grace(Timing(W, time(17), 2881))) == "grace_minutes"
    assert field_of(lambda: check_grace(Timing(M, time(17), -1))) == "grace_minutes"


@pytest.mark.parametrize(
    ("timing", "field"),
    [
        (Timing(W, time(17), 0, due_weekday=0), "due_weekday"),
        (Timing(W, time(17), 0, due_weekday=8), "due_weekday"),
        (Timing(M, time(17), 0, due_month_day=0), "due_month_day"),
        (Timing(M, time(17), 0, due_month_day=32), "due_month_day"),
        (Timing(W, time(17), 0, workdays_only=True), "workdays_only"),
        (Timing(D, time(17), 0, due_weekday=3), "due_weekday"),
        (Timing(W, time(17), 0, due_month_day=3), "due_month_day"),
    ],
)
def test_impossible_timings(timing, field):
    assert field_of(lambda: check_timing(timing)) == field


def test_timings_at_the_bounds():
    check_timing(Timing(W, time(17), 0, due_weekday=1))
    check_timing(Timing(W, time(17), 0, due_weekday=7))
    check_timing(Timing(M, time(17), 0, due_month_day=1))
    check_timing(Timing(M, time(17), 0, due_month_day=31))


def test_duplicate_message_names_the_existing_schedule():
    message = duplicate_message(D, "班组「熔炼一班」", "熔炼一班日检")
    assert "熔炼一班日检" in message and "班组「熔炼一班」" in message and "班组日排查" in message
