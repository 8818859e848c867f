"""Pure rules of the bureau's figures: the month asked for, the judgement day, how a
certificate stands around its expiry, how a check task counts, the on-time rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from app.enterprises.domain import StandardizationScore
from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import CheckTaskStatus
from app.oversight.stats.domain import (
    CertificateStanding,
    CheckCompletion,
    Completion,
    Month,
    certificate_standing,
    completion_of,
    counts_as_standardized,
    current_week,
    judgement_day,
    parse_figure,
    parse_level,
    parse_month,
    percent,
    trend_months,
    week_bounds,
)

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("raw", "month"),
    [(None, Month(2026, 11)), ("", Month(2026, 11)), (" 2026-11 ", Month(2026, 11)), ("2025-01", Month(2025, 1))],
)
def test_parse_month(raw, month):
    assert parse_month(raw, TODAY) == month


@pytest.mark.parametrize("raw", ["2026-13", "2026-00", "2026-1", "202611", "2026/11", "abc", "2026-12", "1999-12"])
def test_parse_month_refuses(raw):
    with pytest.raises(ValidationFailed) as caught:
        parse_month(raw, TODAY)
    assert "month" in caught.value.fields and caught.value.http_status == 422


def test_month_arithmetic_and_bounds():
    assert Month(2026, 1).previous() == Month(2025, 12)
    assert Month(2025, 12).next() == Month(2026, 1)
    assert Month(2026, 3).minus(14) == Month(2025, 1)
    assert Month(2024, 2).last_day == date(2024, 2, 29)
    november = Month(2026, 11)
    assert november.starts_at == datetime(2026, 10, 31, 16, tzinfo=UTC)  # local midnight
    assert november.ends_at == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert [m.key for m in trend_months(november)][:2] == ["2025-12", "2026-01"]
    assert trend_months(november)[-1] == november and len(trend_months(november)) == 12


def test_judgement_day_is_month_end_or_today():
    assert judgement_day(Month(2026, 10), TODAY) == date(2026, 10, 31)
    assert judgement_day(Month(2026, 11), TODAY) == TODAY


def test_certificate_standing_around_expiry():
    certified = date(2023, 11, 26)  # valid to 25 November 2026
    assert certificate_standing("level3", certified, date(2026, 11, 25)) is CertificateStanding.EXPIRING
    assert certificate_standing("level3", certified, date(2026, 11, 26)) is CertificateStanding.LAPSED
    assert certificate_standing("level3", certified, date(2026, 8, 27)) is CertificateStanding.EXPIRING  # 90 days
    assert certificate_standing("level3", certified, date(2026, 8, 26)) is CertificateStanding.VALID
    assert certificate_standing("level3", certified, date(2023, 11, 25)) is CertificateStanding.NONE  # not yet
    assert certificate_standing("none", certified, TODAY) is CertificateStanding.NONE
    assert certificate_standing("level1", None, TODAY) is CertificateStanding.NONE
    assert counts_as_standardized(CertificateStanding.EXPIRING) and counts_as_standardized(CertificateStanding.VALID)
    assert not counts_as_standardized(CertificateStanding.LAPSED)


def test_the_deduction_is_the_enterprises_rule():
    """The figures use enterprises.domain.StandardizationScore: 0.5 per full 10 points short."""
    assert StandardizationScore(20, 13).deduction == 0  # 65 %
    assert StandardizationScore(10, 6).deduction == Fraction(1, 2)  # exactly 60 %
    assert StandardizationScore(10, 5).deduction == 1  # 50 %


NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "due", "grace", "expected"),
    [
        ("done", -5, -3, Completion.ON_TIME),
        ("done_late", -5, -3, Completion.LATE),
        ("excused", -5, -3, Completion.EXCUSED),
        ("missed", -5, -3, Completion.MISSED),
        ("missed", 1, 3, Completion.MISSED),
        ("pending", -5, -3, Completion.MISSED),  # grace over, not yet swept
        ("pending", -1, 1, Completion.OVERDUE),
        ("pending", 0, 1, Completion.OPEN),  # due this very instant: not yet overdue
        ("pending", 1, 3, Completion.OPEN),
    ],
)
def test_completion_of(status, due, grace, expected):
    hours = timedelta(hours=1)
    assert completion_of(CheckTaskStatus(status), NOW + due * hours, NOW + grace * hours, NOW) is expected


def test_on_time_rate_leaves_out_excused_and_open():
    c = CheckCompletion(on_time=6, late=1, missed=2, excused=5, overdue=1, open=7)
    assert c.due == 22 and c.judged == 10
    assert c.on_time_rate == Fraction(6, 10)
    assert CheckCompletion(excused=3, open=2).on_time_rate is None
    assert percent(c.on_time_rate) == "60.0%" and percent(None) == "—"
    assert (c + c).missed == 4


def test_week_and_arguments():
    week = current_week(TODAY)
    assert (week.start, week.end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert week_bounds(week)[0] == datetime(2026, 11, 22, 16, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        parse_figure("everything")
    with pytest.raises(ValidationFailed):
        parse_level("hourly")
    assert parse_level("") is None
