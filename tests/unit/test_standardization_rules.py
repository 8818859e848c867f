"""The standardization rule of the notice: a certificate counts for three years, and a town
short of 70 % of its 规上 enterprises loses 0.5 point per full 10 percentage points."""

from datetime import date
from fractions import Fraction

import pytest

from app.enterprises.domain import (
    StandardizationLevel,
    StandardizationScore,
    standardization_expires_on,
    standardization_valid_on,
)

L3 = StandardizationLevel.LEVEL3


def test_a_certificate_runs_to_the_day_before_its_third_anniversary():
    assert standardization_expires_on(date(2024, 3, 15)) == date(2027, 3, 14)
    assert standardization_valid_on(L3, date(2024, 3, 15), date(2027, 3, 14))
    assert not standardization_valid_on(L3, date(2024, 3, 15), date(2027, 3, 15))


def test_a_leap_day_certificate_ends_on_the_last_day_of_february():
    assert standardization_expires_on(date(2024, 2, 29)) == date(2027, 2, 28)


def test_no_level_no_date_or_a_future_date_does_not_count():
    assert not standardization_valid_on(StandardizationLevel.NONE, date(2026, 1, 1), date(2026, 6, 1))
    assert not standardization_valid_on(StandardizationLevel.LEVEL1, None, date(2026, 6, 1))
    assert not standardization_valid_on(L3, date(2026, 7, 1), date(2026, 6, 1))
    assert standardization_valid_on("level2", date(2026, 6, 1), date(2026, 6, 1))


@pytest.mark.parametrize(
    ("above", "standardized", "deduction"),
    [
        (100, 70, 0),  # target met exactly
        (100, 65, 0),  # 5 points short: no full step
        (100, 61, 0),
        (100, 60, Fraction(1, 2)),  # exactly 10 points short
        (100, 59, Fraction(1, 2)),
        (100, 50, 1),
        (100, 0, Fraction(7, 2)),
        (3, 2, 0),  # 66.7 %
        (3, 1, Fraction(3, 2)),  # 33.3 %: 36.7 points short, three full steps
    ],
)
def test_deduction_is_half_a_point_per_full_ten_points_short(above, standardized, deduction):
    assert StandardizationScore(above, standardized).deduction == deduction


def test_no_above_scale_enterprise_has_no_rate_and_no_deduction():
    score = StandardizationScore(0, 0)
    assert score.rate is None and score.meets_target is None and score.deduction == 0
    assert StandardizationScore(10, 7).meets_target and not StandardizationScore(10, 6).meets_target
