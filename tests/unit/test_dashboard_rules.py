"""The dashboard's pure rules (hazard_reporting/dashboard/domain.py): which bucket of today's
checks a task is in, and what a task adds to its level's 30-day on-time rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.dashboard.domain import (
    RATE_WINDOW,
    LevelRate,
    TodayBucket,
    on_time_rate,
    rate_counts,
    today_bucket,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
H = timedelta(hours=1)
S = CheckTaskStatus


@pytest.mark.parametrize(
    ("status", "due", "grace", "bucket"),
    [
        (S.DONE, NOW - H, NOW, TodayBucket.DONE),
        (S.DONE_LATE, NOW - 2 * H, NOW - H, TodayBucket.DONE),
        (S.EXCUSED, NOW - 2 * H, NOW - H, TodayBucket.EXCUSED),
        (S.MISSED, NOW - 2 * H, NOW - H, TodayBucket.MISSED),
        # Pending after its grace: missed whether or not the sweep has run.
        (S.PENDING, NOW - 2 * H, NOW - timedelta(seconds=1), TodayBucket.MISSED),
        (S.PENDING, NOW - H, NOW, TodayBucket.OVERDUE),  # grace ends exactly now: still open
        (S.PENDING, NOW - timedelta(seconds=1), NOW + H, TodayBucket.OVERDUE),
        (S.PENDING, NOW, NOW + H, TodayBucket.PENDING),  # due exactly now: not yet late
        (S.PENDING, NOW + 7 * H, NOW + 8 * H, TodayBucket.PENDING),
    ],
)
def test_today_bucket(status, due, grace, bucket):
    assert today_bucket(status.value, due, grace, NOW) is bucket


@pytest.mark.parametrize(
    ("status", "due", "counts"),
    [
        (S.DONE, NOW - H, (1, 1)),
        (S.DONE, NOW, (1, 1)),  # the window includes now
        (S.DONE, NOW - RATE_WINDOW + timedelta(seconds=1), (1, 1)),
        (S.DONE, NOW - RATE_WINDOW, (0, 0)),  # and excludes its start
        (S.DONE, NOW + H, (0, 0)),  # done early, not yet due: not counted yet
        (S.DONE_LATE, NOW - H, (1, 0)),
        (S.MISSED, NOW - H, (1, 0)),
        (S.PENDING, NOW - H, (1, 0)),  # past due, still in grace: due, not on time
        (S.PENDING, NOW + H, (0, 0)),
        (S.EXCUSED, NOW - H, (0, 0)),  # excused: neither due nor on time
    ],
)
def test_rate_counts(status, due, counts):
    assert rate_counts(status.value, due, NOW) == counts


def test_on_time_rate():
    assert on_time_rate(3, 4) == 0.75
    assert on_time_rate(0, 5) == 0.0
    assert on_time_rate(0, 0) is None
    for on_time, due in ((5, 4), (-1, 3), (0, -1)):
        with pytest.raises(ValueError):
            on_time_rate(on_time, due)


def test_level_rate_as_shown():
    assert LevelRate(CheckLevel.DAILY, due=8, on_time=7).percent == "88%"
    assert LevelRate(CheckLevel.WEEKLY, due=0, on_time=0).percent == "—"
    assert LevelRate(CheckLevel.MONTHLY, due=1, on_time=1).rate == 1.0
