"""Pure rules of the enterprise dashboard (工作台). Standard library and other domain
modules only.

Today's checks (今日排查): every check task of the enterprise due today (local date) falls in
exactly one bucket, by `today_bucket`:
  - done: submitted (on time or late);
  - excused: approved not to be done (免检);
  - missed: marked missed by the sweep, or still pending after its grace period (the same
    whether or not the sweep has run yet: checks/domain.timeliness);
  - overdue: pending, its due time passed, grace not over (it can still be done late);
  - pending: pending and not yet due.
The SQL of the same rule is dashboard/queries.today_bucket_clause
(tests/integration/test_dashboard_queries.py keeps them equal).

On-time completion rate (按时完成率), per check level over the last 30 days (the 一企一档
also shows 90: the same rule over a longer window), by `rate_counts` / `on_time_rate`:
  - a task counts when its due time fell in the window (now − 30 days, now]: a task whose
    due time is still ahead is not yet owed, even if it was already done;
  - excused tasks are left out altogether (neither due nor on time);
  - on time = status done (submitted by the due time); done late, missed and still
    pending past their due time count as due but not on time;
  - rate = on time / due; no rate (shown as "—") when nothing was due.
The SQL of the same rule is dashboard/queries.rate_window_clause and on_time_clause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus

RATE_WINDOW = timedelta(days=30)
LONG_RATE_WINDOW = timedelta(days=90)  # the 一企一档's second window


class TodayBucket(StrEnum):
    DONE = "done"
    PENDING = "pending"  # not yet due
    OVERDUE = "overdue"  # past due, within grace
    MISSED = "missed"
    EXCUSED = "excused"


TODAY_BUCKET_LABELS = {
    TodayBucket.DONE: "已完成",
    TodayBucket.PENDING: "待检查",
    TodayBucket.OVERDUE: "已超时",
    TodayBucket.MISSED: "漏检",
    TodayBucket.EXCUSED: "已免检",
}
# The order the dashboard lists buckets in (what needs attention first after done).
TODAY_BUCKET_ORDER = (
    TodayBucket.DONE,
    TodayBucket.PENDING,
    TodayBucket.OVERDUE,
    TodayBucket.MISSED,
    TodayBucket.EXCUSED,
)


def today_bucket(status: str, due_at: datetime, grace_until: datetime, now: datetime) -> TodayBucket:
    """Which bucket of today's checks a task is in at `now` (see the module docstring)."""
    status = CheckTaskStatus(status)
    if status in (CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE):
        return TodayBucket.DONE
    if status is CheckTaskStatus.EXCUSED:
        return TodayBucket.EXCUSED
    if status is CheckTaskStatus.MISSED or now > grace_until:
        return TodayBucket.MISSED
    if now > due_at:
        return TodayBucket.OVERDUE
    return TodayBucket.PENDING


def rate_window(now: datetime, window: timedelta = RATE_WINDOW) -> tuple[datetime, datetime]:
    """(start, end) of the on-time window: due times with start < due_at <= end count."""
    return now - window, now


def rate_counts(
    status: str, due_at: datetime, now: datetime, window: timedelta = RATE_WINDOW
) -> tuple[int, int]:
    """(due, on_time) one task adds to its level's on-time rate at `now`: (0, 0) outside
    the window or excused, (1, 1) done by its due time, (1, 0) otherwise."""
    start, end = rate_window(now, window)
    if not (start < due_at <= end) or CheckTaskStatus(status) is CheckTaskStatus.EXCUSED:
        return 0, 0
    return 1, int(CheckTaskStatus(status) is CheckTaskStatus.DONE)


def on_time_rate(on_time: int, due: int) -> float | None:
    """on_time / due, or None when nothing was due."""
    if due < 0 or on_time < 0 or on_time > due:
        raise ValueError(f"on_time {on_time} and due {due} do not make a rate")
    return on_time / due if due else None


@dataclass(frozen=True)
class LevelRate:
    """The on-time rate of one check level over the window."""

    level: CheckLevel
    due: int
    on_time: int

    @property
    def rate(self) -> float | None:
        return on_time_rate(self.on_time, self.due)

    @property
    def percent(self) -> str:
        """'87%' or '—' when nothing was due."""
        rate = self.rate
        return "—" if rate is None else f"{rate * 100:.0f}%"
