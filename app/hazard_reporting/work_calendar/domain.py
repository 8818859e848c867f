"""Pure rules of the district's working calendar (工作日历). Standard library only.

Which days are working days, and why (each day carries its source):

1. `override`        a correction the bureau entered (区安监局调整), with a name and a note;
                     it wins over everything.
2. `official`        the State Council's published arrangement as shipped in
                     `chinese-calendar` (法定节假日 and 调休上班) for the years it covers.
3. `weekday`         for a year whose arrangement the bureau imported (basis ARRANGEMENT):
                     the imported days are overrides and every other day is Monday–Friday.
4. `statutory_rule`  for a year nobody has published yet: the holidays of 《全国年节及纪念日
                     放假办法》 (as revised in 2024, in force from 2025) computed by rule,
                     lunar dates included, with article 6's substitute days (补假);
5. `weekday`         every other day: Monday–Friday work, Saturday and Sunday rest.

A day from (4) or (5) in a year that neither the official data covers nor the bureau has
confirmed is *provisional*: the State Council's real arrangement usually adds 调休 on
weekends that no rule can foresee.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from app.errors import ValidationFailed


class DaySource(StrEnum):
    OFFICIAL = "official"
    STATUTORY_RULE = "statutory_rule"
    OVERRIDE = "override"
    WEEKDAY = "weekday"


SOURCE_LABELS = {
    DaySource.OFFICIAL: "国务院安排（官方数据）",
    DaySource.STATUTORY_RULE: "法定节假日（按规则推算）",
    DaySource.OVERRIDE: "区安监局调整",
    DaySource.WEEKDAY: "按星期（周一至周五上班）",
}


class OverrideOrigin(StrEnum):
    """Where an override came from: entered by hand, or a line of an imported arrangement."""

    MANUAL = "manual"
    ARRANGEMENT = "arrangement"


class YearBasis(StrEnum):
    """How the bureau confirmed a year."""

    RULE = "rule"  # the statutory rule plus the bureau's overrides, as shown, accepted
    ARRANGEMENT = "arrangement"  # the State Council's arrangement imported: overrides + weekdays


YEAR_BASIS_LABELS = {
    YearBasis.RULE: "已确认（法定规则 + 区级调整）",
    YearBasis.ARRANGEMENT: "已确认（已导入国务院放假安排）",
}

class CalendarAction(StrEnum):
    """What a calendar event records."""

    SET = "set"  # a day overridden
    REMOVE = "remove"  # an override removed
    IMPORT = "import"  # an arrangement file imported
    CONFIRM = "confirm"  # a year confirmed as shown
    REOPEN = "reopen"  # a confirmation withdrawn


ACTION_LABELS = {
    CalendarAction.SET: "调整日期",
    CalendarAction.REMOVE: "撤销调整",
    CalendarAction.IMPORT: "导入放假安排",
    CalendarAction.CONFIRM: "确认年度日历",
    CalendarAction.REOPEN: "撤销确认",
}

# The revised rules (国务院令第 795 号, 2024-11-10) apply from 2025; earlier years differ
# (春节 without 除夕, one day for 劳动节) and are covered by the official data anyway.
FIRST_RULE_YEAR = 2025
# Years the calendar pages and the API accept at all.
MIN_YEAR, MAX_YEAR = 2004, 2099
MAX_NAME = 32
MAX_NOTE = 128


@dataclass(frozen=True)
class FestivalDates:
    """The Gregorian dates of a year's lunar and solar-term festivals: 春节 (正月初一),
    清明 (the solar term), 端午 (五月初五) and 中秋 (八月十五)."""

    spring_festival: date
    qingming: date
    dragon_boat: date
    mid_autumn: date


def statutory_rest_days(year: int, festivals: FestivalDates) -> dict[date, str]:
    """The rest days the law itself gives in `year`, by name (全国年节及纪念日放假办法, 2024):

    art. 2 — 元旦 1 day (1 Jan); 春节 4 days (除夕 and 正月初一–初三); 清明 1 day; 劳动节
    2 days (1–2 May); 端午 1 day; 中秋 1 day; 国庆 3 days (1–3 Oct);
    art. 6 — a holiday that falls on a Saturday or Sunday is made up on a working day: here
    the first Monday–Friday after that holiday's block that is not a holiday itself.

    Raises ValueError for a year before the rules took effect."""
    if year < FIRST_RULE_YEAR:
        raise ValueError(f"the statutory rule is only defined from {FIRST_RULE_YEAR}")
    eve = festivals.spring_festival - timedelta(days=1)
    blocks: list[tuple[str, list[date]]] = [
        ("元旦", [date(year, 1, 1)]),
        ("春节", [eve + timedelta(days=n) for n in range(4)]),
        ("清明节", [festivals.qingming]),
        ("劳动节", [date(year, 5, 1), date(year, 5, 2)]),
        ("端午节", [festivals.dragon_boat]),
        ("中秋节", [festivals.mid_autumn]),
        ("国庆节", [date(year, 10, n) for n in (1, 2, 3)]),
    ]
    rest: dict[date, str] = {}
    for name, days in blocks:
        for day in days:
            rest.setdefault(day, name)
    # Substitutes in block order, so a block's make-up days never take another's holiday.
    for name, days in sorted(blocks, key=lambda block: min(block[1])):
        owed = sum(1 for day in days if not is_weekday(day))
        candidate = max(days)
        while owed:
            candidate += timedelta(days=1)
            if is_weekday(candidate) and candidate not in rest:
                rest[candidate] = f"{name}（补假）"
                owed -= 1
    return rest


def is_weekday(day: date) -> bool:
    return day.isoweekday() <= 5


@dataclass(frozen=True)
class DayMark:
    """What a source says of one day: working or not, and its name (春节, 春节调休上班 …);
    for an override, its note and origin."""

    workday: bool
    name: str = ""
    note: str = ""
    origin: OverrideOrigin = OverrideOrigin.MANUAL


@dataclass(frozen=True)
class CalendarDay:
    """One resolved day of the working calendar."""

    day: date
    workday: bool
    name: str
    source: DaySource
    provisional: bool
    note: str = ""
    arranged: bool = False  # an override imported from the State Council's arrangement

    @property
    def label(self) -> str:
        """At most two characters for a day cell (the full name goes in its tooltip)."""
        if self.workday and not is_weekday(self.day):
            return "上班"
        if not self.name:
            return ""
        if self.name.endswith("（补假）"):
            return "补假"
        if "上班" in self.name:
            return "上班"
        return self.name[:2]


@dataclass(frozen=True)
class WorkCalendar:
    """The district's working calendar over some range of days.

    - `overrides`: the bureau's corrections by day (they win);
    - `official`: the published arrangement of a day, or None for a year it does not cover;
    - `official_years`: the years the official data covers;
    - `rule`: a year's statutory rest days by name (`statutory_rest_days` with its festivals);
    - `confirmed`: the years the bureau has confirmed, with how.
    """

    overrides: Mapping[date, DayMark] = field(default_factory=dict)
    official: Callable[[date], DayMark | None] = lambda _day: None
    official_years: range = range(0)
    rule: Callable[[int], Mapping[date, str]] = lambda _year: {}
    confirmed: Mapping[int, YearBasis] = field(default_factory=dict)

    def provisional_year(self, year: int) -> bool:
        """A year nobody has published or confirmed: its days come from the rule."""
        return year not in self.official_years and year not in self.confirmed

    def day(self, day: date) -> CalendarDay:
        mark = self.overrides.get(day)
        if mark is not None:
            return CalendarDay(
                day, mark.workday, mark.name, DaySource.OVERRIDE, False, mark.note,
                arranged=mark.origin is OverrideOrigin.ARRANGEMENT,
            )
        if day.year in self.official_years:
            official = self.official(day)
            if official is not None:
                return CalendarDay(day, official.workday, official.name, DaySource.OFFICIAL, False)
        provisional = self.provisional_year(day.year)
        if self.confirmed.get(day.year) is not YearBasis.ARRANGEMENT and day.year >= FIRST_RULE_YEAR:
            name = self.rule(day.year).get(day)
            if name is not None:
                return CalendarDay(day, False, name, DaySource.STATUTORY_RULE, provisional)
        return CalendarDay(day, is_weekday(day), "", DaySource.WEEKDAY, provisional)

    def is_workday(self, day: date) -> bool:
        return self.day(day).workday

    def days(self, first: date, last: date) -> list[CalendarDay]:
        """Every day of [first, last] in order."""
        return [self.day(first + timedelta(days=n)) for n in range((last - first).days + 1)]


def years_to_confirm(calendar: WorkCalendar, today: date) -> list[int]:
    """The years the bureau still has to confirm, as of `today`: this year when it is
    provisional, and from 1 December on, next year too (checks of 1 January are generated
    on 1 January: the year must be settled before)."""
    years = [today.year]
    if today.month == 12:
        years.append(today.year + 1)
    return [year for year in years if calendar.provisional_year(year)]


# --- Changes and their consequences -------------------------------------------------------


@dataclass(frozen=True)
class DayChange:
    """A day whose working status a calendar change flips."""

    day: date
    before: CalendarDay
    after: CalendarDay

    @property
    def became_rest(self) -> bool:
        return self.before.workday and not self.after.workday


def changed_days(before: WorkCalendar, after: WorkCalendar, days: Iterable[date]) -> list[DayChange]:
    """The days among `days` whose working status differs between the two calendars."""
    changes = []
    for day in sorted(set(days)):
        old, new = before.day(day), after.day(day)
        if old.workday != new.workday:
            changes.append(DayChange(day, old, new))
    return changes


def refuse_retroactive_workdays(changes: Iterable[DayChange], today: date) -> None:
    """A day already past cannot become a working day: its checks were never generated and
    could only be marked missed. Raises ValidationFailed naming the days."""
    past = [c.day for c in changes if not c.became_rest and c.day < today]
    if past:
        listed = "、".join(d.isoformat() for d in past[:5]) + ("等" if len(past) > 5 else "")
        raise ValidationFailed.for_field(
            "day", f"{listed} 已经过去，不能改为工作日（当天的排查任务无法补做）。只能把已过去的日期改为休息日。"
        )


def excuse_reason(change: DayChange) -> str:
    """Why a check task of a day that became a rest day is excused (at most 200 chars)."""
    name = change.after.name or "休息日"
    return f"工作日历调整：{change.day.isoformat()} 为{name}（区安监局），当日班组日排查免检"[:200]


def clean_mark_text(value: str | None, field_name: str, limit: int) -> str:
    """A name or note: trimmed, one line, at most `limit` characters. Raises ValidationFailed."""
    text = " ".join((value or "").split())
    if len(text) > limit:
        raise ValidationFailed.for_field(field_name, f"不能超过 {limit} 个字符")
    return text


def check_year(year: int) -> int:
    """A year the calendar handles. Raises ValidationFailed."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed.for_field("year", f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间")
    return year


# --- The arrangement file ----------------------------------------------------------------

MAX_FILE_BYTES = 64 * 1024
MAX_FILE_ROWS = 400
# A reader's note that a line could not be read at all (parse_arrangement reports it).
ROW_ERROR = "__error__"
_TRUE = {"1", "true", "yes", "y", "是", "上班", "工作日", "班"}
_FALSE = {"0", "false", "no", "n", "否", "休息", "休息日", "放假", "休"}


@dataclass(frozen=True)
class ArrangementRow:
    """One line of an arrangement file: a day, working or not, its name."""

    line: int
    day: date
    workday: bool
    name: str


class ArrangementFileError(ValidationFailed):
    """A malformed arrangement file; `problems` lists (line, message), line 0 for the file."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = "；".join(f"第 {line} 行：{msg}" if line else msg for line, msg in problems[:10])
        more = f"（另有 {len(problems) - 10} 处问题）" if len(problems) > 10 else ""
        super().__init__(f"放假安排文件有误，未导入任何内容：{shown}{more}", fields={"file": shown + more})


def _parse_workday(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _parse_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def parse_arrangement(raw_rows: Iterable[tuple[int, Mapping[str, object]]]) -> list[ArrangementRow]:
    """Rows of (line number, {"date", "workday", "name"} or {ROW_ERROR: why}) checked all at once: a date
    YYYY-MM-DD within the calendar's years, workday yes/no (是/否, 上班/休息, 1/0, true/false),
    a name of at most 32 characters, no day twice. Raises ArrangementFileError listing every
    problem with its line number."""
    rows: list[ArrangementRow] = []
    problems: list[tuple[int, str]] = []
    seen: dict[date, int] = {}
    for line, raw in raw_rows:
        if isinstance(raw.get(ROW_ERROR), str):
            problems.append((line, str(raw[ROW_ERROR])))
            continue
        keys = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        missing = [k for k in ("date", "workday") if keys.get(k) in (None, "")]
        if missing:
            problems.append((line, f"缺少 {'、'.join(missing)}"))
            continue
        day = _parse_date(keys["date"])
        workday = _parse_workday(keys["workday"])
        name = " ".join(str(keys.get("name") or "").split())
        if day is None:
            problems.append((line, f"日期「{keys['date']}」应为 YYYY-MM-DD"))
        elif not MIN_YEAR <= day.year <= MAX_YEAR:
            problems.append((line, f"日期 {day.isoformat()} 超出 {MIN_YEAR}–{MAX_YEAR} 年"))
        elif day in seen:
            problems.append((line, f"日期 {day.isoformat()} 与第 {seen[day]} 行重复"))
        if workday is None:
            problems.append((line, f"workday「{keys['workday']}」应为 是/否（上班/休息）"))
        if len(name) > MAX_NAME:
            problems.append((line, f"名称不能超过 {MAX_NAME} 个字符"))
        if day is not None and workday is not None and len(name) <= MAX_NAME and day not in seen:
            seen[day] = line
            rows.append(ArrangementRow(line, day, workday, name))
    if problems:
        raise ArrangementFileError(problems)
    if not rows:
        raise ArrangementFileError([(0, "文件中没有任何日期")])
    if len(rows) > MAX_FILE_ROWS:
        raise ArrangementFileError([(0, f"一个文件最多 {MAX_FILE_ROWS} 行")])
    return rows


def read_arrangement_csv(text: str) -> list[ArrangementRow]:
    """A CSV arrangement: a header `date,workday,name` (or 日期,是否上班,名称), then one day a
    line. Raises ArrangementFileError."""
    aliases = {"日期": "date", "是否上班": "workday", "上班": "workday", "名称": "name", "说明": "name"}
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise ArrangementFileError([(0, "文件是空的")]) from None
    except csv.Error as exc:
        raise ArrangementFileError([(1, f"CSV 格式错误：{exc}")]) from None
    columns = [aliases.get(h.strip(), h.strip().lower()) for h in header]
    if "date" not in columns or "workday" not in columns:
        raise ArrangementFileError([(1, "表头应为 date,workday,name（日期,是否上班,名称）")])
    raw: list[tuple[int, Mapping[str, object]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(columns):
                raw.append((reader.line_num, {ROW_ERROR: f"有 {len(values)} 列，多于表头的 {len(columns)} 列"}))
                continue
            raw.append((reader.line_num, dict(zip(columns, values, strict=False))))
    except csv.Error as exc:
        raise ArrangementFileError([(reader.line_num, f"CSV 格式错误：{exc}")]) from None
    return parse_arrangement(raw)
