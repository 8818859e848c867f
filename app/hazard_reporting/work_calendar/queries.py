"""Read side of the working calendar: a year month by month for the console, a range of
days for the API, the years still to confirm for the banner."""

from __future__ import annotations

import calendar as stdlib_calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.errors import ValidationFailed
from app.hazard_reporting.work_calendar import sources
from app.hazard_reporting.work_calendar.domain import (
    MAX_YEAR,
    MIN_YEAR,
    CalendarDay,
    DaySource,
    OverrideOrigin,
    YearBasis,
    check_year,
    is_weekday,
)
from app.hazard_reporting.work_calendar.models import CalendarEvent, CalendarOverride, CalendarYear
from app.hazard_reporting.work_calendar.service import load_state, work_calendar

MAX_RANGE_DAYS = 732  # two years a request


def calendar_days(session: Session, first: date, last: date) -> list[CalendarDay]:
    """Every day of [first, last] with its source. Raises ValidationFailed for a reversed
    range, one longer than two years, or years outside the calendar's."""
    if last < first:
        raise ValidationFailed.for_field("to", "结束日期不能早于开始日期")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed.for_field("to", f"一次最多查询 {MAX_RANGE_DAYS} 天")
    for name, day in (("from", first), ("to", last)):
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValidationFailed.for_field(name, f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间")
    return work_calendar(session, first, last).days(first, last)


@dataclass(frozen=True)
class YearStatus:
    year: int
    official: bool
    basis: YearBasis | None
    confirmed_at: datetime | None
    confirmed_by: str

    @property
    def provisional(self) -> bool:
        return not self.official and self.basis is None


@dataclass(frozen=True)
class OverrideRow:
    day: date
    workday: bool
    name: str
    note: str
    updated_at: datetime | None
    updated_by: str
    differs: bool  # False when the override only restates what the day would be anyway
    arranged: bool  # a line of an imported arrangement, not a correction by hand


@dataclass(frozen=True)
class EventRow:
    at: datetime
    actor: str
    action: str
    summary: str


@dataclass(frozen=True)
class YearView:
    """A year for the console: its status, its months as weeks of days (None pads), the
    days that are not plain weekdays, the overrides and the change log."""

    status: YearStatus
    months: list[tuple[int, list[list[CalendarDay | None]]]]
    special: list[CalendarDay]
    overrides: list[OverrideRow]
    events: list[EventRow]
    counts: dict[str, int]


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def year_view(session: Session, year: int) -> YearView:
    """Raises ValidationFailed for a year outside the calendar's."""
    check_year(year)
    first, last = date(year, 1, 1), date(year, 12, 31)
    state = load_state(session, first, last)
    cal = state.calendar()
    days = cal.days(first, last)
    confirmation = session.get(CalendarYear, year)
    overrides = session.scalars(
        select(CalendarOverride).where(CalendarOverride.day >= first, CalendarOverride.day <= last).order_by(CalendarOverride.day)
    ).all()
    events = session.scalars(
        select(CalendarEvent).where(CalendarEvent.year == year).order_by(CalendarEvent.at.desc(), CalendarEvent.id.desc()).limit(50)
    ).all()
    names = _names(
        session,
        {o.updated_by_id for o in overrides} | {e.actor_id for e in events} | {confirmation and confirmation.confirmed_by_id},
    )
    without = state.copy()
    without.overrides.clear()
    plain = without.calendar()
    status = YearStatus(
        year,
        official=year in sources.official_years(),
        basis=YearBasis(confirmation.basis) if confirmation else None,
        confirmed_at=confirmation.confirmed_at if confirmation else None,
        confirmed_by=names.get(confirmation.confirmed_by_id, "") if confirmation else "",
    )
    by_day = {d.day: d for d in days}
    months = []
    for month in range(1, 13):
        weeks = stdlib_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
        rows = [[by_day[d] if d.month == month else None for d in week] for week in weeks]
        # Six rows each, so the month grids of a row line up.
        months.append((month, rows + [[None] * 7 for _ in range(6 - len(rows))]))
    # Holidays, adjusted working days and named overrides: what differs from a plain week.
    special = [d for d in days if d.name or d.workday != is_weekday(d.day)]
    return YearView(
        status=status,
        months=months,
        special=special,
        overrides=[
            OverrideRow(
                o.day, o.is_workday, o.name, o.note, o.updated_at, names.get(o.updated_by_id, ""),
                differs=plain.is_workday(o.day) != o.is_workday,
                arranged=o.origin is OverrideOrigin.ARRANGEMENT,
            )
            for o in overrides
        ],
        events=[
            EventRow(e.at, names.get(e.actor_id, "系统"), e.action, e.summary) for e in events
        ],
        counts={
            "workdays": sum(1 for d in days if d.workday),
            "rest": sum(1 for d in days if not d.workday),
            "rule": sum(1 for d in days if d.source is DaySource.STATUTORY_RULE),
        },
    )
