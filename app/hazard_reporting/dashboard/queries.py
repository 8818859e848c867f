"""Read side of the enterprise dashboard (工作台): today's checks by unit, the 30-day on-time
rates by level (aggregated in SQL), open / overdue / major hazards, and the members who have
not bound WeChat. The bucket and rate rules are domain.py's; their SQL mirrors are here
(tests/integration/test_dashboard_queries.py keeps them equal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from app.accounts.domain import ROLE_LABELS, Role
from app.accounts.models import Membership, User
from app.clock import local_today
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, local_instant
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import TaskRow, tasks_due_between
from app.hazard_reporting.dashboard.domain import (
    RATE_WINDOW,
    TODAY_BUCKET_ORDER,
    LevelRate,
    TodayBucket,
    on_time_rate,
    rate_window,
    today_bucket,
)
from app.hazard_reporting.hazards.domain import OPEN_STATUSES, HazardLevel
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from app.hazard_reporting.schedules.models import CheckSchedule

# --- SQL mirrors of the domain rules ------------------------------------------------------


def today_bucket_clause(now: datetime) -> ColumnElement[str]:
    """domain.today_bucket in SQL: the bucket of a task at `now`."""
    return case(
        (CheckTask.status.in_([CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE]), TodayBucket.DONE.value),
        (CheckTask.status == CheckTaskStatus.EXCUSED, TodayBucket.EXCUSED.value),
        (CheckTask.status == CheckTaskStatus.MISSED, TodayBucket.MISSED.value),
        (CheckTask.grace_until < now, TodayBucket.MISSED.value),
        (CheckTask.due_at < now, TodayBucket.OVERDUE.value),
        else_=TodayBucket.PENDING.value,
    )


def rate_window_clause(now: datetime, window: timedelta = RATE_WINDOW) -> ColumnElement[bool]:
    """domain.rate_counts' "due" in SQL: due time in (now − window, now], not excused."""
    start, end = rate_window(now, window)
    return (CheckTask.due_at > start) & (CheckTask.due_at <= end) & (CheckTask.status != CheckTaskStatus.EXCUSED)


def on_time_clause() -> ColumnElement[int]:
    """domain.rate_counts' "on time" in SQL (within the window): 1 when done by the due time."""
    return case((CheckTask.status == CheckTaskStatus.DONE, 1), else_=0)


# --- today's checks -----------------------------------------------------------------------


@dataclass(frozen=True)
class TodayRow:
    row: TaskRow
    bucket: TodayBucket


@dataclass(frozen=True)
class UnitChecks:
    """Today's checks of one unit (班组 / 部门 / 点位 / 全企业)."""

    unit: str
    rows: list[TodayRow]

    def count(self, bucket: TodayBucket) -> int:
        return sum(1 for r in self.rows if r.bucket is bucket)


@dataclass(frozen=True)
class TodayChecks:
    day: date
    units: list[UnitChecks]
    totals: dict[TodayBucket, int]  # counted in SQL

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local (Asia/Shanghai) calendar day, in UTC."""
    return local_instant(day, time(0)), local_instant(day + timedelta(days=1), time(0))


def today_checks(session: Session, enterprise_id: int, now: datetime) -> TodayChecks:
    """The enterprise's tasks due today (local date), grouped by unit, each in its bucket;
    the bucket totals counted in SQL."""
    day = local_today(now)
    start, end = local_day_bounds(day)
    bucket = today_bucket_clause(now)
    totals = {b: 0 for b in TODAY_BUCKET_ORDER}
    for name, count in session.execute(
        select(bucket, func.count())
        .where(CheckTask.enterprise_id == enterprise_id, CheckTask.due_at >= start, CheckTask.due_at < end)
        .group_by(bucket)
    ):
        totals[TodayBucket(name)] = count
    units: dict[str, list[TodayRow]] = {}
    for row in tasks_due_between(session, enterprise_id, start, end):
        task = row.task
        units.setdefault(row.unit, []).append(
            TodayRow(row=row, bucket=today_bucket(task.status, task.due_at, task.grace_until, now))
        )
    return TodayChecks(
        day=day,
        units=[UnitChecks(unit=unit, rows=rows) for unit, rows in sorted(units.items())],
        totals=totals,
    )


# --- on-time rates ------------------------------------------------------------------------


@dataclass(frozen=True)
class RateSeries:
    """Per level, the on-time rate of each period start within the window (for the chart)."""

    level: CheckLevel
    points: list[tuple[date, float | None, int, int]]  # (period start, rate, on time, due)


@dataclass(frozen=True)
class OnTimeRates:
    levels: list[LevelRate]
    series: list[RateSeries]
    start: datetime
    end: datetime


def on_time_rates(session: Session, enterprise_id: int, now: datetime) -> OnTimeRates:
    """The on-time rate of each level over the last 30 days and per period start, from one
    grouped query (a few dozen rows, however many tasks)."""
    on_time = func.sum(on_time_clause())
    rows = session.execute(
        select(CheckSchedule.level, CheckTask.period_start, func.count(CheckTask.id), on_time)
        .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
        .where(CheckTask.enterprise_id == enterprise_id, rate_window_clause(now))
        .group_by(CheckSchedule.level, CheckTask.period_start)
        .order_by(CheckSchedule.level, CheckTask.period_start)
    ).all()
    due_by_level = {level: 0 for level in CheckLevel}
    on_time_by_level = {level: 0 for level in CheckLevel}
    points: dict[CheckLevel, list[tuple[date, float | None, int, int]]] = {level: [] for level in CheckLevel}
    for level, period_start, due, done in rows:
        level = CheckLevel(level)
        done = int(done or 0)
        due_by_level[level] += due
        on_time_by_level[level] += done
        points[level].append((period_start, on_time_rate(done, due), done, due))
    start, end = rate_window(now)
    return OnTimeRates(
        levels=[LevelRate(level, due_by_level[level], on_time_by_level[level]) for level in CheckLevel],
        series=[RateSeries(level, points[level]) for level in CheckLevel],
        start=start,
        end=end,
    )


def level_rates(
    session: Session, enterprise_id: int, now: datetime, window: timedelta = RATE_WINDOW
) -> list[LevelRate]:
    """The on-time rate of each level over `window` (the same rule as `on_time_rates`), from
    one grouped query of three rows."""
    rows = session.execute(
        select(CheckSchedule.level, func.count(CheckTask.id), func.sum(on_time_clause()))
        .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
        .where(CheckTask.enterprise_id == enterprise_id, rate_window_clause(now, window))
        .group_by(CheckSchedule.level)
    ).all()
    counts = {CheckLevel(level): (due, int(done or 0)) for level, due, done in rows}
    return [LevelRate(level, *counts.get(level, (0, 0))) for level in CheckLevel]


# --- hazards and members ------------------------------------------------------------------


@dataclass(frozen=True)
class HazardCounts:
    open: int
    overdue: int
    major_open: int


def hazard_counts(session: Session, enterprise_id: int, now: datetime) -> HazardCounts:
    """Open, overdue (hazards.domain.is_overdue) and open major hazards, in one query."""
    is_open = Hazard.status.in_(sorted(OPEN_STATUSES))
    row = session.execute(
        select(
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((overdue_clause(now), 1), else_=0)),
            func.sum(case((is_open & (Hazard.level == HazardLevel.MAJOR), 1), else_=0)),
        ).where(Hazard.enterprise_id == enterprise_id)
    ).one()
    return HazardCounts(*(int(n or 0) for n in row))


@dataclass(frozen=True)
class UnboundMember:
    user_id: int
    name: str
    phone: str
    roles: tuple[str, ...]  # role labels


def unbound_members(session: Session, enterprise_id: int) -> list[UnboundMember]:
    """Active members of the enterprise whose user has no WeChat openid (not bound yet:
    they get no messages and cannot scan), by name."""
    rows = session.execute(
        select(User.id, User.display_name, User.phone, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
            User.is_active.is_(True),
            User.openid.is_(None),
        )
        .order_by(User.display_name, User.id, Membership.role)
    ).all()
    members: dict[int, UnboundMember] = {}
    for user_id, name, phone, role in rows:
        current = members.get(user_id)
        label = ROLE_LABELS[Role(role)]
        roles = (current.roles if current else ()) + (label,)
        members[user_id] = UnboundMember(user_id=user_id, name=name, phone=phone or "", roles=roles)
    return list(members.values())


@dataclass(frozen=True)
class Dashboard:
    today: TodayChecks
    rates: OnTimeRates
    hazards: HazardCounts
    unbound: list[UnboundMember]


def dashboard(session: Session, enterprise_id: int, now: datetime) -> Dashboard:
    return Dashboard(
        today=today_checks(session, enterprise_id, now),
        rates=on_time_rates(session, enterprise_id, now),
        hazards=hazard_counts(session, enterprise_id, now),
        unbound=unbound_members(session, enterprise_id),
    )
