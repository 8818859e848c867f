"""Pure rules of the bureau's figures (辖区概况): which month is asked for and which day its
standardization is judged on, how a certificate stands, how a check task counts towards the
on-time rate, and the figures' names. Standard library and other domain modules only.

The standardization rule itself (three years' validity, the 70 % target, the deduction) is
app/enterprises/domain.py's; it is applied here, never restated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction

from app.clock import LOCAL_TZ
from app.enterprises.domain import (
    StandardizationLevel,
    standardization_expires_on,
    standardization_valid_on,
)
from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    Period,
    is_task_overdue,
    period_containing,
)

# --- the month asked for ----------------------------------------------------------------

TREND_MONTHS = 12
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FORM_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
EARLIEST_YEAR = 2000


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Asia/Shanghai."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """"YYYY-MM" (or "YYYY-M") of a form, 2000–2100. Raises ValidationFailed (`month`)."""
        match = _FORM_MONTH.match((text or "").strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
            problem = "月份格式应为 YYYY-MM，如 2026-11"
            raise ValidationFailed(problem, fields={"month": problem})
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def minus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    @property
    def starts_at(self) -> datetime:
        """The month's first instant (local midnight of the 1st), in UTC."""
        return datetime.combine(self.first_day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the month, in UTC (half-open: [starts_at, ends_at))."""
        return self.next().starts_at

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"


def parse_month(raw: str | None, today: date) -> Month:
    """The month of `?month=YYYY-MM`; the current month when absent or empty. Raises
    ValidationFailed for anything else, for a month after the current one and before 2000."""
    current = Month.of(today)
    if raw is None or raw.strip() == "":
        return current
    match = _MONTH.match(raw.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationFailed.for_field("month", "月份格式应为 YYYY-MM，例如 2026-11")
    month = Month(int(match.group(1)), int(match.group(2)))
    if month > current:
        raise ValidationFailed.for_field("month", f"不能选择未来的月份（本月为 {current.key}）")
    if month.year < EARLIEST_YEAR:
        raise ValidationFailed.for_field("month", f"月份不能早于 {EARLIEST_YEAR} 年")
    return month


def judgement_day(month: Month, today: date) -> date:
    """The day a month's standardization is judged on: its last day, or today while the
    month is running."""
    return min(month.last_day, today)


def trend_months(month: Month) -> list[Month]:
    """The 12 months ending with `month`, oldest first."""
    return [month.minus(n) for n in range(TREND_MONTHS - 1, -1, -1)]


def current_week(today: date) -> Period:
    """The ISO week (Monday–Sunday, local) containing `today`."""
    return period_containing(CheckLevel.WEEKLY, today)


def week_bounds(week: Period) -> tuple[datetime, datetime]:
    """[start, end) of a local week in UTC."""
    start = datetime.combine(week.start, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=7)


# --- certificates ------------------------------------------------------------------------

EXPIRY_WARNING_DAYS = 90


class CertificateStanding(StrEnum):
    VALID = "valid"  # counts, and runs more than 90 days on
    EXPIRING = "expiring"  # counts, and runs out within 90 days (the day itself included)
    LAPSED = "lapsed"  # had a certificate, its three years are over
    NONE = "none"  # no level, no date, or certified after the day


CERTIFICATE_STANDING_LABELS = {
    CertificateStanding.VALID: "有效",
    CertificateStanding.EXPIRING: "90天内到期",
    CertificateStanding.LAPSED: "已过期",
    CertificateStanding.NONE: "未达标",
}


def certificate_standing(level: StandardizationLevel | str, certified_on: date | None, day: date) -> CertificateStanding:
    """How an enterprise's certificate stands on `day`. Valid and expiring both count
    towards the target (enterprises.domain.standardization_valid_on)."""
    if standardization_valid_on(level, certified_on, day):
        assert certified_on is not None
        if standardization_expires_on(certified_on) <= day + timedelta(days=EXPIRY_WARNING_DAYS):
            return CertificateStanding.EXPIRING
        return CertificateStanding.VALID
    if level != StandardizationLevel.NONE and certified_on is not None and certified_on <= day:
        return CertificateStanding.LAPSED
    return CertificateStanding.NONE


def standing_bounds(day: date) -> tuple[date, date]:
    """certificate_standing as two dates, for SQL (queries.standing_case): a certificate
    dated on or before `day` is lapsed before the first date returned, expiring from it to
    the second, valid after. Found with standardization_expires_on itself, which never
    decreases as the certificate date grows, so the two rules cannot drift apart."""
    candidate = date(day.year - 3, 1, 1) - timedelta(days=400)
    while standardization_expires_on(candidate) < day:
        candidate += timedelta(days=1)
    valid_from = candidate
    horizon = day + timedelta(days=EXPIRY_WARNING_DAYS)
    while standardization_expires_on(candidate + timedelta(days=1)) <= horizon:
        candidate += timedelta(days=1)
    return valid_from, candidate


def counts_as_standardized(standing: CertificateStanding) -> bool:
    return standing in (CertificateStanding.VALID, CertificateStanding.EXPIRING)


# --- check completion --------------------------------------------------------------------


class Completion(StrEnum):
    """How a check task due in a month counts."""

    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"
    EXCUSED = "excused"
    OVERDUE = "overdue"  # pending, past its due time, still within grace: not on time
    OPEN = "open"  # pending, not yet due: not counted in the rate


COMPLETION_LABELS = {
    Completion.ON_TIME: "按时完成",
    Completion.LATE: "逾期完成",
    Completion.MISSED: "漏检",
    Completion.EXCUSED: "批准免检",
    Completion.OVERDUE: "已过截止（宽限中）",
    Completion.OPEN: "未到期",
}


def completion_of(status: CheckTaskStatus | str, due_at: datetime, grace_until: datetime, now: datetime) -> Completion:
    """The completion of a task at `now`. A pending task whose grace is over counts as
    missed whether or not the sweep has run (checks.domain.timeliness says the same); one
    past its due time (checks.domain.is_task_overdue) but within grace is overdue. The SQL of
    this rule is service.completion_case (tests/integration/test_oversight_stats.py keeps
    them equal)."""
    status = CheckTaskStatus(status)
    if status is CheckTaskStatus.DONE:
        return Completion.ON_TIME
    if status is CheckTaskStatus.DONE_LATE:
        return Completion.LATE
    if status is CheckTaskStatus.EXCUSED:
        return Completion.EXCUSED
    if status is CheckTaskStatus.MISSED or now > grace_until:
        return Completion.MISSED
    if is_task_overdue(status, due_at, now):
        return Completion.OVERDUE
    return Completion.OPEN


@dataclass(frozen=True)
class CheckCompletion:
    """Check tasks due (by their due time, local) in a month, by completion. The on-time
    rate is the enterprise dashboard's (hazard_reporting.dashboard.domain.rate_counts) over a
    calendar month: tasks whose due time has passed, excused ones left out; on time = done by
    the due time."""

    on_time: int = 0
    late: int = 0
    missed: int = 0
    excused: int = 0
    overdue: int = 0
    open: int = 0

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.missed + self.excused + self.overdue + self.open

    @property
    def judged(self) -> int:
        """Tasks the on-time rate is computed over: due time passed, not excused."""
        return self.on_time + self.late + self.missed + self.overdue

    @property
    def on_time_rate(self) -> Fraction | None:
        return Fraction(self.on_time, self.judged) if self.judged else None

    def __add__(self, other: CheckCompletion) -> CheckCompletion:
        return CheckCompletion(
            self.on_time + other.on_time,
            self.late + other.late,
            self.missed + other.missed,
            self.excused + other.excused,
            self.overdue + other.overdue,
            self.open + other.open,
        )


@dataclass(frozen=True)
class HazardCounts:
    """Hazards found (reported) and rectified (closed: verified or accepted) in a month, and
    the current overdue and open-major counts."""

    general_found: int = 0
    major_found: int = 0
    general_rectified: int = 0
    major_rectified: int = 0
    general_overdue: int = 0
    major_overdue: int = 0
    majors_open: int = 0

    @property
    def found(self) -> int:
        return self.general_found + self.major_found

    @property
    def rectified(self) -> int:
        return self.general_rectified + self.major_rectified

    @property
    def overdue(self) -> int:
        return self.general_overdue + self.major_overdue

    def __add__(self, other: HazardCounts) -> HazardCounts:
        return HazardCounts(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))


def _fields(counts: HazardCounts) -> tuple[int, ...]:
    return (
        counts.general_found,
        counts.major_found,
        counts.general_rectified,
        counts.major_rectified,
        counts.general_overdue,
        counts.major_overdue,
        counts.majors_open,
    )


def percent(rate: Fraction | None, digits: int = 1) -> str:
    """A rate as people read it: '71.4%'; '—' when there is nothing to rate."""
    if rate is None:
        return "—"
    return f"{float(rate) * 100:.{digits}f}%"


def percent_value(rate: Fraction | None) -> float | None:
    """A rate in percent rounded to 0.1 (charts, exports, the API)."""
    return None if rate is None else round(float(rate) * 100, 1)


# --- the figures behind the links --------------------------------------------------------


class Figure(StrEnum):
    """Every number on the dashboard that links to its list."""

    ABOVE_SCALE = "above_scale"  # 规上企业
    STANDARDIZED = "standardized"  # 规上企业中持有效证书的
    NOT_STANDARDIZED = "not_standardized"  # 规上企业中没有有效证书的
    EXPIRING = "expiring"  # 证书 90 天内到期（全部企业）
    LAPSED = "lapsed"  # 证书已过期（全部企业）
    CHECKS_DUE = "checks_due"
    CHECKS_ON_TIME = "checks_on_time"
    CHECKS_LATE = "checks_late"
    CHECKS_MISSED = "checks_missed"
    CHECKS_EXCUSED = "checks_excused"
    HAZARDS_FOUND = "hazards_found"
    HAZARDS_RECTIFIED = "hazards_rectified"
    HAZARDS_OVERDUE = "hazards_overdue"
    MAJORS_OPEN = "majors_open"
    UNCHECKED_THIS_WEEK = "unchecked_this_week"


FIGURE_LABELS = {
    Figure.ABOVE_SCALE: "规上企业",
    Figure.STANDARDIZED: "规上企业标准化达标（证书有效）",
    Figure.NOT_STANDARDIZED: "规上企业未达标或证书过期",
    Figure.EXPIRING: "标准化证书90天内到期",
    Figure.LAPSED: "标准化证书已过期",
    Figure.CHECKS_DUE: "应排查任务",
    Figure.CHECKS_ON_TIME: "按时完成的排查",
    Figure.CHECKS_LATE: "逾期完成的排查",
    Figure.CHECKS_MISSED: "漏检的排查",
    Figure.CHECKS_EXCUSED: "批准免检的排查",
    Figure.HAZARDS_FOUND: "本月发现隐患",
    Figure.HAZARDS_RECTIFIED: "本月整改销号隐患",
    Figure.HAZARDS_OVERDUE: "当前逾期未整改隐患",
    Figure.MAJORS_OPEN: "挂牌督办中的重大隐患",
    Figure.UNCHECKED_THIS_WEEK: "本周未排查企业",
}

CHECK_FIGURES = {
    Figure.CHECKS_DUE: None,
    Figure.CHECKS_ON_TIME: Completion.ON_TIME,
    Figure.CHECKS_LATE: Completion.LATE,
    Figure.CHECKS_MISSED: Completion.MISSED,
    Figure.CHECKS_EXCUSED: Completion.EXCUSED,
}


def parse_figure(raw: str) -> Figure:
    try:
        return Figure(raw)
    except ValueError:
        raise ValidationFailed.for_field("figure", "没有这一项统计") from None


def parse_level(raw: str | None) -> CheckLevel | None:
    """`?level=daily|weekly|monthly`, or None for all levels."""
    if raw is None or raw == "":
        return None
    try:
        return CheckLevel(raw)
    except ValueError:
        raise ValidationFailed.for_field("level", "排查层级应为 daily、weekly 或 monthly") from None
