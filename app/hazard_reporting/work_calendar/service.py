"""Use cases of the working calendar. Take (session, actor, now, …) — or (session, now) for
the scheduler — flush, never commit.

Every change (a day set or cleared, an arrangement imported, a year confirmed or reopened)
goes through `_change`: it resolves the affected years before and after, refuses to turn a
day already past into a working day, excuses the 班组日排查 already generated for a day that
became a rest day (never deletes them), writes the rows and one calendar event. Days that
become working days need nothing here: tasks are generated up to today only, so the next
generation run creates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import yaml
from sqlalchemy import and_, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, BureauRole, require
from app.accounts.models import BureauMembership, User
from app.clock import local_today
from app.database import UTCDateTime
from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.work_calendar import sources
from app.hazard_reporting.work_calendar.domain import (
    MAX_FILE_BYTES,
    MAX_NAME,
    MAX_NOTE,
    ROW_ERROR,
    ArrangementFileError,
    ArrangementRow,
    CalendarAction,
    DayChange,
    DayMark,
    OverrideOrigin,
    WorkCalendar,
    YearBasis,
    changed_days,
    check_year,
    clean_mark_text,
    excuse_reason,
    parse_arrangement,
    read_arrangement_csv,
    refuse_retroactive_workdays,
    years_to_confirm,
)
from app.hazard_reporting.work_calendar.models import CalendarEvent, CalendarOverride, CalendarYear
from app.hazard_reporting.work_calendar.notices import REMINDER_KIND
from app.notifications.service import enqueue


@dataclass
class CalendarState:
    """What the bureau has decided about some years: overrides by day, confirmed years."""

    overrides: dict[date, DayMark] = field(default_factory=dict)
    confirmed: dict[int, YearBasis] = field(default_factory=dict)

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(
            overrides=self.overrides,
            official=sources.official_mark,
            official_years=sources.official_years(),
            rule=sources.rule_rest_days,
            confirmed=self.confirmed,
        )

    def copy(self) -> CalendarState:
        return CalendarState(dict(self.overrides), dict(self.confirmed))


def load_state(session: Session, first: date, last: date) -> CalendarState:
    """The overrides of [first, last] and the confirmations of its years."""
    rows = session.execute(
        select(
            CalendarOverride.day,
            CalendarOverride.is_workday,
            CalendarOverride.name,
            CalendarOverride.note,
            CalendarOverride.origin,
        ).where(CalendarOverride.day >= first, CalendarOverride.day <= last)
    ).all()
    years = session.execute(
        select(CalendarYear.year, CalendarYear.basis).where(
            CalendarYear.year >= first.year, CalendarYear.year <= last.year
        )
    ).all()
    return CalendarState(
        overrides={row.day: DayMark(row.is_workday, row.name, row.note, OverrideOrigin(row.origin)) for row in rows},
        confirmed={row.year: YearBasis(row.basis) for row in years},
    )


def work_calendar(session: Session, first: date, last: date) -> WorkCalendar:
    """The working calendar, exact for every day of [first, last]."""
    return load_state(session, first, last).calendar()


def unconfirmed_years(session: Session, now: datetime) -> list[int]:
    """The years the bureau still has to confirm now (domain.years_to_confirm): read from
    the confirmations alone — whether a year is provisional does not depend on its
    overrides — since every console page of the bureau admin asks (the banner)."""
    today = local_today(now)
    rows = session.execute(
        select(CalendarYear.year, CalendarYear.basis).where(CalendarYear.year.in_([today.year, today.year + 1]))
    ).all()
    state = CalendarState(confirmed={row.year: YearBasis(row.basis) for row in rows})
    return years_to_confirm(state.calendar(), today)


# --- Changes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change did (or, as a dry run, would do): the days whose working status flips
    and how many already generated daily checks it excuses."""

    changes: list[DayChange]
    excused: int
    dry_run: bool = False

    def describe(self) -> str:
        """What it does to the calendar, for the person who made the change."""
        if not self.changes:
            return "工作日与休息日没有变化。"
        rest = sum(1 for c in self.changes if c.became_rest)
        work = len(self.changes) - rest
        parts = [f"{n} 天{what}" for n, what in ((rest, "改为休息日"), (work, "改为工作日")) if n]
        text = "、".join(parts) + "。"
        if self.excused:
            verb = "将" if self.dry_run else "已"
            text += f"已生成的 {self.excused} 项班组日排查{verb}按休息日免检（不删除）。"
        return text


def _year_span(years: Iterable[int]) -> tuple[date, date]:
    return date(min(years), 1, 1), date(max(years), 12, 31)


def _change(
    session: Session,
    actor: Actor,
    now: datetime,
    years: set[int],
    edit: Callable[[CalendarState], None],
    action: CalendarAction,
    summary: str,
    *,
    dry_run: bool = False,
) -> ChangeOutcome:
    require(actor, Action.MANAGE_CALENDAR)
    first, last = _year_span(years)
    before = load_state(session, first, last)
    after = before.copy()
    edit(after)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    changes = changed_days(before.calendar(), after.calendar(), days)
    refuse_retroactive_workdays(changes, local_today(now))
    rest = [c for c in changes if c.became_rest]
    if dry_run:
        return ChangeOutcome(changes, _count_excusable(session, [c.day for c in rest]), dry_run=True)
    _write_overrides(session, actor, before.overrides, after.overrides)
    _write_years(session, actor, now, before.confirmed, after.confirmed)
    excused = sum(_excuse_daily_tasks(session, actor, now, change) for change in rest)
    if excused:
        summary += f"；{excused} 项已生成的班组日排查免检"
    for year in sorted(years):
        session.add(CalendarEvent(at=now, year=year, actor_id=actor.user_id, action=action, summary=summary[:500]))
    session.flush()
    return ChangeOutcome(changes, excused)


def _write_overrides(
    session: Session, actor: Actor, old: dict[date, DayMark], new: dict[date, DayMark]
) -> None:
    gone = [day for day in old if day not in new]
    if gone:
        session.execute(delete(CalendarOverride).where(CalendarOverride.day.in_(gone)))
    changed = {day: mark for day, mark in new.items() if old.get(day) != mark}
    if not changed:
        return
    existing = {
        row.day: row
        for row in session.scalars(select(CalendarOverride).where(CalendarOverride.day.in_(list(changed))))
    }
    for day, mark in changed.items():
        row = existing.get(day) or CalendarOverride(day=day)
        row.is_workday, row.name, row.note, row.origin = mark.workday, mark.name, mark.note, mark.origin
        row.updated_by_id = actor.user_id
        session.add(row)


def _write_years(
    session: Session, actor: Actor, now: datetime, old: dict[int, YearBasis], new: dict[int, YearBasis]
) -> None:
    for year in old.keys() - new.keys():
        session.execute(delete(CalendarYear).where(CalendarYear.year == year))
    for year, basis in new.items():
        if old.get(year) is basis:
            continue
        row = session.get(CalendarYear, year) or CalendarYear(year=year)
        row.basis, row.confirmed_at, row.confirmed_by_id = basis, now, actor.user_id
        session.add(row)


def _excusable(day: date):
    """Open daily checks of `day` that follow the working calendar (a red or orange risk
    point's round runs every day, holidays included, and is not touched)."""
    return and_(
        CheckTask.period_start == day,
        CheckTask.status.in_([CheckTaskStatus.PENDING, CheckTaskStatus.MISSED]),
        CheckTask.schedule_id.in_(
            select(CheckSchedule.id).where(
                CheckSchedule.level == CheckLevel.DAILY, CheckSchedule.workdays_only.is_(True)
            )
        ),
    )


def _count_excusable(session: Session, days: list[date]) -> int:
    if not days:
        return 0
    return session.scalar(select(func.count()).select_from(CheckTask).where(or_(*map(_excusable, days)))) or 0


def _excuse_daily_tasks(session: Session, actor: Actor, now: datetime, change: DayChange) -> int:
    """Excuse (not delete) the open daily checks of a day that became a rest day."""
    ids = session.scalars(
        update(CheckTask)
        .where(_excusable(change.day))
        .values(
            status=CheckTaskStatus.EXCUSED,
            excuse_reason=excuse_reason(change),
            excused_by_id=actor.user_id,
            excused_at=now,
            closed_at=func.coalesce(CheckTask.closed_at, literal(now, UTCDateTime())),
        )
        .returning(CheckTask.id)
        .execution_options(synchronize_session=False)
    ).all()
    excused = set(ids)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, CheckTask) and loaded.id in excused:
            session.expire(loaded)
    return len(excused)


def _describe(day: date, mark: DayMark) -> str:
    kind = "工作日" if mark.workday else "休息日"
    return f"{day.isoformat()} 设为{kind}" + (f"（{mark.name}）" if mark.name else "")


def set_day(
    session: Session, actor: Actor, now: datetime, day: date, workday: bool, name: str = "", note: str = ""
) -> ChangeOutcome:
    """Declare `day` a working day or a rest day for the whole district, with a name and a
    note; wins over the official data and the rule. Bureau admins only. Raises
    PermissionDenied, ValidationFailed (a day already past made a working day, text too
    long, a year out of range)."""
    check_year(day.year)
    mark = DayMark(workday, clean_mark_text(name, "name", MAX_NAME), clean_mark_text(note, "note", MAX_NOTE))

    def edit(state: CalendarState) -> None:
        state.overrides[day] = mark

    return _change(session, actor, now, {day.year}, edit, CalendarAction.SET, _describe(day, mark))


def clear_day(session: Session, actor: Actor, now: datetime, day: date) -> ChangeOutcome:
    """Remove the override of `day` (it follows the official data or the rule again).
    Raises PermissionDenied, NotFound-like ValidationFailed when there is none, and
    ValidationFailed when that would make a day already past a working day."""
    check_year(day.year)
    if session.scalar(select(CalendarOverride.id).where(CalendarOverride.day == day)) is None:
        raise ValidationFailed.for_field("day", f"{day.isoformat()} 没有区级调整，无需撤销")

    def edit(state: CalendarState) -> None:
        state.overrides.pop(day, None)

    return _change(session, actor, now, {day.year}, edit, CalendarAction.REMOVE, f"撤销 {day.isoformat()} 的调整")


def confirm_year(session: Session, actor: Actor, now: datetime, year: int) -> ChangeOutcome:
    """The bureau accepts `year` as shown (the rule plus its overrides): no longer
    provisional. Raises PermissionDenied, ValidationFailed (a year with official data, or
    one confirmed already)."""
    check_year(year)
    if year in sources.official_years():
        raise ValidationFailed.for_field("year", f"{year} 年已有国务院官方放假安排数据，无需确认")
    if session.get(CalendarYear, year) is not None:
        raise ValidationFailed.for_field("year", f"{year} 年工作日历已经确认")

    def edit(state: CalendarState) -> None:
        state.confirmed[year] = YearBasis.RULE

    return _change(session, actor, now, {year}, edit, CalendarAction.CONFIRM, f"确认 {year} 年工作日历")


def reopen_year(session: Session, actor: Actor, now: datetime, year: int) -> ChangeOutcome:
    """Withdraw the confirmation of `year`: it is provisional again (the rule applies to the
    days without an override). Raises PermissionDenied, ValidationFailed."""
    check_year(year)
    if session.get(CalendarYear, year) is None:
        raise ValidationFailed.for_field("year", f"{year} 年工作日历尚未确认")

    def edit(state: CalendarState) -> None:
        state.confirmed.pop(year, None)

    return _change(session, actor, now, {year}, edit, CalendarAction.REOPEN, f"撤销 {year} 年工作日历的确认")


# --- Importing the State Council's arrangement ---------------------------------------------


@dataclass(frozen=True)
class ImportedRow:
    row: ArrangementRow
    action: str  # create / update / unchanged


@dataclass(frozen=True)
class ImportReport:
    """Per line what the import does, and what it changes in the calendar."""

    rows: list[ImportedRow]
    years: list[int]
    outcome: ChangeOutcome

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def read_arrangement(content: bytes, filename: str = "") -> list[ArrangementRow]:
    """An arrangement file, CSV or YAML (by extension; else by content), UTF-8, ≤ 64 KB.
    Raises ArrangementFileError naming every bad line."""
    if len(content) > MAX_FILE_BYTES:
        raise ArrangementFileError([(0, f"文件太大（{len(content) // 1024} KB），放假安排文件不应超过 64 KB")])
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ArrangementFileError([(0, "文件不是 UTF-8 编码的文本（请另存为 UTF-8 的 CSV 或 YAML）")]) from None
    lowered = filename.lower()
    if lowered.endswith((".yaml", ".yml")) or (not lowered.endswith(".csv") and _looks_like_yaml(text)):
        return _read_yaml(text)
    return read_arrangement_csv(text)


def _looks_like_yaml(text: str) -> bool:
    first = next((line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    return first.startswith(("-", "days:"))


def _read_yaml(text: str) -> list[ArrangementRow]:
    """A YAML list of {date, workday, name} (or a mapping with such a list under `days`)."""
    try:
        # BaseLoader: every scalar stays a string (no YAML 1.1 date or yes/no guessing), so a
        # bad date is reported by the row checks with its line, not raised by the loader.
        node = yaml.compose(text, Loader=yaml.BaseLoader)
        data = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds no objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ArrangementFileError([((mark.line + 1) if mark else 0, f"YAML 格式错误：{getattr(exc, 'problem', exc)}")]) from None
    if isinstance(data, dict) and isinstance(node, yaml.MappingNode):
        data = data.get("days")
        node = next((v for k, v in node.value if k.value == "days"), None)
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise ArrangementFileError([(1, "YAML 应为一个列表，每项包含 date、workday、name")])
    raw = []
    for item, item_node in zip(data, node.value, strict=True):
        line = item_node.start_mark.line + 1
        raw.append((line, item if isinstance(item, dict) else {ROW_ERROR: "每项应包含 date、workday、name"}))
    return parse_arrangement(raw)


def import_arrangement(
    session: Session, actor: Actor, now: datetime, rows: list[ArrangementRow], *, dry_run: bool = False
) -> ImportReport:
    """Import the State Council's arrangement (放假安排) for the years in `rows`: each listed
    day becomes an override (created, updated, or unchanged when it is already so: a second
    import of the same file changes nothing), and each year is confirmed on the basis of the
    arrangement — its other days follow the weekday (a year with official data keeps it for
    the days not listed). With `dry_run`, nothing is written.
    Raises PermissionDenied, ValidationFailed (a day already past made a working day)."""
    years = {row.day.year for row in rows}
    for year in years:
        check_year(year)
    marks = {row.day: DayMark(row.workday, row.name, "国务院放假安排", OverrideOrigin.ARRANGEMENT) for row in rows}
    existing = load_state(session, *_year_span(years)).overrides
    report_rows = [
        ImportedRow(row, "create" if row.day not in existing else "unchanged" if existing[row.day] == marks[row.day] else "update")
        for row in rows
    ]

    official = sources.official_years()

    def edit(state: CalendarState) -> None:
        state.overrides.update(marks)
        for year in years - set(official):  # a published year needs no confirmation
            state.confirmed[year] = YearBasis.ARRANGEMENT

    changed = sum(1 for r in report_rows if r.action != "unchanged")
    summary = f"导入 {'、'.join(map(str, sorted(years)))} 年放假安排：{len(rows)} 天（新增或修改 {changed} 天）"
    outcome = _change(session, actor, now, years, edit, CalendarAction.IMPORT, summary, dry_run=dry_run)
    return ImportReport(report_rows, sorted(years), outcome)


# --- Reminders -----------------------------------------------------------------------------


def remind_unconfirmed(session: Session, now: datetime) -> int:
    """From 1 December, while next year (or this year) is provisional, one notice a week to
    every active bureau admin (dedupe key per ISO week). Returns the notices queued."""
    years = unconfirmed_years(session, now)
    if not years:
        return 0
    iso_year, week, _ = local_today(now).isocalendar()
    admins = session.scalars(
        select(User.id)
        .join(BureauMembership, BureauMembership.user_id == User.id)
        .where(User.is_active.is_(True), BureauMembership.role == BureauRole.ADMIN)
        .order_by(User.id)
    ).all()
    payload = {"year": years[-1], "years": years, "at": now.isoformat()}
    queued = 0
    for user_id in admins:
        key = f"calendar:{years[-1]}:{iso_year}-W{week:02d}:{user_id}"
        if enqueue(session, kind=REMINDER_KIND, recipient_user_id=user_id, payload=payload, dedupe_key=key, now=now):
            queued += 1
    return queued
