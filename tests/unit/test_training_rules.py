"""Safety training rules: the coverage window (exactly one year, leap years), the kinds that
cover, hours, dates, attendees named once, the correction window, rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.errors import ValidationFailed
from app.oversight.training.domain import (
    COVERING_KINDS,
    EDIT_WINDOW_DAYS,
    Coverage,
    TrainingKind,
    check_attendees,
    check_correctable,
    clean_held_on,
    clean_hours,
    clean_kind,
    counts_for_coverage,
    coverage_of,
    covered_until,
    is_covered,
    may_correct,
    total,
    window_start,
)


def test_a_session_covers_up_to_the_day_before_its_first_anniversary():
    held = date(2025, 12, 5)
    assert covered_until(held) == date(2026, 12, 4)
    assert is_covered(held, date(2026, 12, 4))  # 364 days on
    assert not is_covered(held, date(2026, 12, 5))  # exactly 365 days on: the anniversary
    assert is_covered(held, held)


def test_exactly_365_days_still_covers_across_a_29_february():
    held = date(2023, 3, 1)
    assert (date(2024, 2, 29) - held).days == 365
    assert is_covered(held, date(2024, 2, 29))
    assert not is_covered(held, date(2024, 3, 1))  # 366 days: the anniversary


def test_a_session_of_29_february_covers_to_28_february():
    held = date(2024, 2, 29)
    assert covered_until(held) == date(2025, 2, 28)
    assert is_covered(held, date(2025, 2, 28))
    assert not is_covered(held, date(2025, 3, 1))


def test_no_session_or_a_later_one_does_not_cover():
    assert not is_covered(None, date(2026, 1, 1))
    assert not is_covered(date(2026, 1, 2), date(2026, 1, 1))


@pytest.mark.parametrize("as_of", [date(2024, 2, 29), date(2024, 3, 1), date(2025, 2, 28), date(2025, 3, 1), date(2026, 12, 5)])
def test_the_queries_prefilter_agrees_with_the_rule(as_of):
    """window_start (the earliest covering day, for SQL) and is_covered agree on every day
    around it."""
    for offset in range(-3, 400):
        held = as_of - timedelta(days=offset)
        assert is_covered(held, as_of) == (window_start(as_of) <= held <= as_of), held


def test_only_principal_and_refresher_sessions_passed_count():
    assert COVERING_KINDS == {TrainingKind.PRINCIPAL_OFFICER, TrainingKind.ANNUAL_REFRESHER}
    assert counts_for_coverage("principal_officer", True)
    assert counts_for_coverage(TrainingKind.ANNUAL_REFRESHER, True)
    assert not counts_for_coverage(TrainingKind.ANNUAL_REFRESHER, False)
    for kind in (TrainingKind.THREE_LEVEL, TrainingKind.CONFINED_SPACE, TrainingKind.SPECIAL_OPERATION, TrainingKind.OTHER):
        assert not counts_for_coverage(kind, True)


@pytest.mark.parametrize("raw,expected", [("0.5", Decimal("0.5")), ("40", Decimal("40.0")), ("1.5", Decimal("1.5")), (Decimal("8"), Decimal("8.0"))])
def test_hours_in_range(raw, expected):
    assert clean_hours(raw) == expected


@pytest.mark.parametrize("raw", ["0", "0.4", "40.5", "41", "-1", "abc", "", None, "NaN", "Infinity", "1.25"])
def test_hours_out_of_range_or_not_numbers_are_refused(raw):
    with pytest.raises(ValidationFailed) as refused:
        clean_hours(raw)
    assert "hours" in refused.value.fields


def test_a_session_in_the_future_is_refused():
    today = date(2026, 12, 5)
    assert clean_held_on("2026-12-05", today) == today
    assert clean_held_on(date(2020, 1, 1), today) == date(2020, 1, 1)
    with pytest.raises(ValidationFailed) as refused:
        clean_held_on("2026-12-06", today)
    assert "晚于今天" in refused.value.message
    for bad in ("", "2026/12/01", None):
        with pytest.raises(ValidationFailed):
            clean_held_on(bad, today)


def test_kind_must_be_one_of_the_list():
    assert clean_kind("confined_space") is TrainingKind.CONFINED_SPACE
    with pytest.raises(ValidationFailed):
        clean_kind("fire_drill")


def test_attendees_once_each_and_at_least_one():
    assert check_attendees([3, 1]) == [3, 1]
    with pytest.raises(ValidationFailed, match="只能登记一次"):
        check_attendees([1, 2, 1])
    with pytest.raises(ValidationFailed, match="至少选择一名"):
        check_attendees([])


def test_a_session_may_be_corrected_for_thirty_days():
    held = date(2026, 11, 1)
    assert may_correct(held, held + timedelta(days=EDIT_WINDOW_DAYS))
    assert not may_correct(held, held + timedelta(days=EDIT_WINDOW_DAYS + 1))
    with pytest.raises(ValidationFailed, match="更正期限"):
        check_correctable(held, held + timedelta(days=EDIT_WINDOW_DAYS + 1))


def test_coverage_rates_add_up():
    as_of = date(2026, 12, 5)
    a = coverage_of([date(2026, 1, 1), None, date(2025, 1, 1)], as_of)
    assert (a.people, a.covered, a.uncovered, a.percent) == (3, 1, 2, "33%")
    b = coverage_of([date(2026, 6, 1)], as_of)
    assert total([a, b]) == Coverage(4, 2)
    assert Coverage().rate is None and Coverage().percent == "—"
    with pytest.raises(ValueError):
        Coverage(1, 2)
