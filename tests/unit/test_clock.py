"""Times are aware UTC; local days are Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.clock import local_today, to_local, utcnow


def test_utcnow_is_aware_utc():
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset().total_seconds() == 0


def test_local_day_changes_at_shanghai_midnight_not_utc():
    assert local_today(datetime(2026, 11, 28, 15, 59, tzinfo=UTC)) == date(2026, 11, 28)
    assert local_today(datetime(2026, 11, 28, 16, 0, tzinfo=UTC)) == date(2026, 11, 29)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        to_local(datetime(2026, 1, 1))
