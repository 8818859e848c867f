"""Pure rules of submissions: complete answers, how fresh a scan must be, on time or late,
and when a schedule's next check falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.clock import LOCAL_TZ
from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import (
    MAX_PHOTOS_PER_ITEM,
    AnswerFacts,
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    SubmissionStatus,
    Timing,
    answer_problems,
    check_scan_fresh,
    next_due_period,
    submission_status,
)

OK, HAZARD, NA = ItemResult.OK, ItemResult.HAZARD, ItemResult.NOT_APPLICABLE


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def test_a_complete_check_has_no_problems():
    answers = {"A": AnswerFacts(OK), "B": AnswerFacts(NA), "C": AnswerFacts(HAZARD, "漏电保护失效", 2)}
    assert answer_problems(["A", "B", "C"], answers) == {}


def test_each_kind_of_problem_is_named_by_item():
    answers = {
        "B": AnswerFacts(None),
        "C": AnswerFacts(HAZARD, "  ", 1),
        "D": AnswerFacts(HAZARD, "防护罩缺失", 0),
        "E": AnswerFacts(OK, "", 1),
        "F": AnswerFacts(HAZARD, "x", MAX_PHOTOS_PER_ITEM + 1),
        "Z": AnswerFacts(OK),
    }
    assert answer_problems(["A", "B", "C", "D", "E", "F"], answers) == {
        "A": "请选择“符合”“隐患”或“不适用”",
        "B": "请选择“符合”“隐患”或“不适用”",
        "C": "请简要描述发现的隐患",
        "D": "请至少拍摄一张隐患照片",
        "E": "只有判定为“隐患”的检查项需要上传照片",
        "F": f"每项最多 {MAX_PHOTOS_PER_ITEM} 张照片",
        "Z": "不属于本次检查的检查项，请刷新页面后重新填写",
    }


def test_a_scan_vouches_for_four_hours():
    now = local(2026, 11, 23, 15)
    check_scan_fresh(now - timedelta(hours=4), now)
    check_scan_fresh(now + timedelta(minutes=4), now)  # a little clock skew
    with pytest.raises(ValidationFailed, match="扫码已超过 4 小时"):
        check_scan_fresh(now - timedelta(hours=4, seconds=1), now)
    with pytest.raises(ValidationFailed, match="扫码时间不正确"):
        check_scan_fresh(now + timedelta(minutes=6), now)


def test_submission_status_follows_the_task():
    assert submission_status(CheckTaskStatus.DONE) is SubmissionStatus.ON_TIME
    assert submission_status(CheckTaskStatus.DONE_LATE) is SubmissionStatus.LATE
    with pytest.raises(ValueError):
        submission_status(CheckTaskStatus.MISSED)


DAILY = Timing(CheckLevel.DAILY, time(17), 120, workdays_only=True)
WEEKLY = Timing(CheckLevel.WEEKLY, time(17), 24 * 60, due_weekday=5)


def weekday(day: date) -> bool:
    return day.isoweekday() <= 5


def test_next_daily_check_is_today_until_done_or_past_grace():
    monday = local(2026, 11, 23, 10)
    assert next_due_period(DAILY, monday, set(), weekday)[1] == local(2026, 11, 23, 17)
    done_today = {date(2026, 11, 23)}
    assert next_due_period(DAILY, monday, done_today, weekday)[1] == local(2026, 11, 24, 17)
    # After the grace (19:00) today's is gone even if not closed yet (the sweep is late).
    assert next_due_period(DAILY, local(2026, 11, 23, 19, 1), set(), weekday)[1] == local(2026, 11, 24, 17)


def test_next_daily_check_skips_the_weekend_and_holidays():
    friday_night = local(2026, 11, 27, 20)
    assert next_due_period(DAILY, friday_night, set(), weekday)[1] == local(2026, 11, 30, 17)
    holiday = {date(2026, 11, 30)}
    assert next_due_period(DAILY, friday_night, set(), lambda d: weekday(d) and d not in holiday)[1] == local(
        2026, 12, 1, 17
    )
    # Without workdays_only (a red risk point) Saturday counts.
    every_day = Timing(CheckLevel.DAILY, time(17), 120)
    assert next_due_period(every_day, friday_night, set(), weekday)[1] == local(2026, 11, 28, 17)


def test_next_weekly_check_after_this_weeks_is_done():
    tuesday = local(2026, 11, 24, 9)
    period, due = next_due_period(WEEKLY, tuesday, set(), weekday)
    assert period.start == date(2026, 11, 23) and due == local(2026, 11, 27, 17)
    period, due = next_due_period(WEEKLY, tuesday, {date(2026, 11, 23)}, weekday)
    assert period.start == date(2026, 11, 30) and due == local(2026, 12, 4, 17)


def test_nothing_due_within_the_look_ahead():
    never = lambda _day: False  # noqa: E731 - a calendar with no workday at all
    assert next_due_period(DAILY, local(2026, 11, 23), set(), never, look_ahead=10) is None
