"""Safety training (安全培训): the kinds of session, what a session may hold, how long a
recorded session may still be corrected, and who counts as trained.

Coverage. The rules (docs/DOMAIN.md, 工贸企业 principals and safety officers; 13号令 for
confined spaces) require the enterprise's principal (主要负责人, role `manager`) and its safety
officers (安全管理人员, role `safety_officer`) to be trained and assessed, and retrained every
year. Such a person is **covered** on `as_of` when they attended, and passed, a session of a
kind that trains them — 主要负责人和安全管理人员培训 or 年度再培训 — held within the twelve
months up to `as_of`: on or before `as_of` and no earlier than the day after the same date one
year before (a session of 29 February runs to 28 February of the next year, the rule of the
standardization certificate). Sessions of other kinds (三级安全教育, 有限空间专题培训,
特种作业, 其他) do not cover them: they train for a workplace or an operation, not for the
duties of managing safety.

Pure: no Flask, no SQLAlchemy. Times are dates in Asia/Shanghai, given by the caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from app.accounts.domain import Role
from app.errors import ValidationFailed


class TrainingKind(StrEnum):
    THREE_LEVEL = "three_level"  # 三级安全教育 (new hires: company, workshop, team)
    ANNUAL_REFRESHER = "annual_refresher"  # 年度再培训
    PRINCIPAL_OFFICER = "principal_officer"  # 主要负责人和安全管理人员培训
    CONFINED_SPACE = "confined_space"  # 有限空间专题培训
    SPECIAL_OPERATION = "special_operation"  # 特种作业
    OTHER = "other"  # 其他


KIND_LABELS = {
    TrainingKind.THREE_LEVEL: "三级安全教育",
    TrainingKind.ANNUAL_REFRESHER: "年度再培训",
    TrainingKind.PRINCIPAL_OFFICER: "主要负责人和安全管理人员培训",
    TrainingKind.CONFINED_SPACE: "有限空间专题培训",
    TrainingKind.SPECIAL_OPERATION: "特种作业",
    TrainingKind.OTHER: "其他",
}

# What each kind is for, shown beside the choice on the form.
KIND_HINTS = {
    TrainingKind.THREE_LEVEL: "新入职、转岗人员的厂级、车间级、班组级教育",
    TrainingKind.ANNUAL_REFRESHER: "全员每年的再培训；主要负责人、安全管理人员参加并考核合格的计入培训覆盖",
    TrainingKind.PRINCIPAL_OFFICER: "主要负责人、安全管理人员的安全生产知识和管理能力培训与考核，计入培训覆盖",
    TrainingKind.CONFINED_SPACE: "每年至少一次，覆盖审批人、监护人、作业人员、应急救援人员（13号令）",
    TrainingKind.SPECIAL_OPERATION: "电工、焊工、制冷与空调作业等特种作业人员，持证上岗",
    TrainingKind.OTHER: "其他专题培训",
}

# The kinds of session that cover a principal or a safety officer (module docstring).
COVERING_KINDS = frozenset({TrainingKind.PRINCIPAL_OFFICER, TrainingKind.ANNUAL_REFRESHER})
# The people whose coverage the bureau watches.
COVERED_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER)
COVERED_ROLE_LABELS = {Role.MANAGER: "主要负责人", Role.SAFETY_OFFICER: "安全管理员"}

MIN_HOURS = Decimal("0.5")
MAX_HOURS = Decimal("40")
MAX_TOPIC = 120
MAX_TRAINER = 64
MAX_LOCATION = 120
MAX_NOTES = 2000
MAX_CERTIFICATE = 64
MAX_NOTE = 200  # the reason of a correction
# A recorded session may be corrected (with the reason, kept in its history) until this
# many days after it was held: long enough for a certificate number that comes later or a
# forgotten attendee, short enough that the record the bureau reads stays a record.
EDIT_WINDOW_DAYS = 30


class TrainingAction(StrEnum):
    RECORD = "record"
    CORRECT = "correct"


ACTION_LABELS = {TrainingAction.RECORD: "登记", TrainingAction.CORRECT: "更正"}


def invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field_name: message})


def clean_text(value: object, field_name: str, label: str, max_length: int, *, required: bool = True) -> str:
    """Whitespace-trimmed text of at most `max_length` characters. Raises ValidationFailed."""
    text = value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())
    if required and not text:
        raise invalid(field_name, f"请填写{label}")
    if len(text) > max_length:
        raise invalid(field_name, f"{label}不超过 {max_length} 个字")
    return text


def clean_kind(value: object) -> TrainingKind:
    try:
        return TrainingKind(str(value or ""))
    except ValueError:
        raise invalid("kind", "请选择培训类别") from None


def clean_held_on(value: object, today: date) -> date:
    """The day the session was held: a date, not after `today` (a training is recorded once
    it has taken place). Raises ValidationFailed."""
    if isinstance(value, date):
        held_on = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise invalid("held_on", "请填写培训日期")
        try:
            held_on = date.fromisoformat(text)
        except ValueError:
            raise invalid("held_on", "培训日期应为 YYYY-MM-DD 格式的日期") from None
    if held_on > today:
        raise invalid("held_on", "培训日期不能晚于今天：请在培训举办后再登记")
    return held_on


def clean_hours(value: object) -> Decimal:
    """Class hours (学时) from 0.5 to 40, in steps of half an hour. Raises ValidationFailed."""
    if isinstance(value, Decimal):
        hours = value
    else:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise invalid("hours", "请填写培训学时")
        try:
            hours = Decimal(text)
        except InvalidOperation:
            raise invalid("hours", "培训学时应为数字，如 2 或 1.5") from None
    if not hours.is_finite() or not MIN_HOURS <= hours <= MAX_HOURS:
        raise invalid("hours", f"培训学时应在 {MIN_HOURS} 到 {MAX_HOURS} 之间")
    if (hours * 2) % 1 != 0:
        raise invalid("hours", "培训学时以 0.5 学时为单位，如 1.5")
    return hours.quantize(Decimal("0.1"))


def editable_until(held_on: date) -> date:
    """The last day a session held on `held_on` may be corrected."""
    return held_on + timedelta(days=EDIT_WINDOW_DAYS)


def may_correct(held_on: date, today: date) -> bool:
    return today <= editable_until(held_on)


def check_correctable(held_on: date, today: date) -> None:
    """Raises ValidationFailed once the correction window has closed."""
    if not may_correct(held_on, today):
        raise invalid(
            "held_on",
            f"该培训记录已超过更正期限（培训后 {EDIT_WINDOW_DAYS} 天，至 {editable_until(held_on):%Y-%m-%d}），"
            "不能再修改；如有遗漏，请另行登记一次培训。",
        )


def check_attendees(membership_ids: Iterable[int]) -> list[int]:
    """The attendees as given, each once, at least one. Raises ValidationFailed on a
    member named twice or on none."""
    ids = list(membership_ids)
    if not ids:
        raise invalid("attendees", "请至少选择一名参训人员")
    seen: set[int] = set()
    for membership_id in ids:
        if membership_id in seen:
            raise invalid("attendees", "同一人员在一次培训中只能登记一次")
        seen.add(membership_id)
    return ids


# --- coverage ------------------------------------------------------------------------------------


def one_year_before(day: date) -> date:
    """The same date one year before `day` (29 February: 28 February of the year before)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February, and the year before is common
        return date(day.year - 1, 2, 28)


def covered_until(held_on: date) -> date:
    """The last day a session held on `held_on` covers its attendees: the day before its
    first anniversary (29 February: up to 28 February of the next year)."""
    year = held_on.year + 1
    try:
        anniversary = held_on.replace(year=year)
    except ValueError:  # 29 February in a common year
        anniversary = date(year, 3, 1)
    return anniversary - timedelta(days=1)


def counts_for_coverage(kind: TrainingKind | str, passed: bool) -> bool:
    return passed and TrainingKind(kind) in COVERING_KINDS


def is_covered(last_trained_on: date | None, as_of: date) -> bool:
    """Whether someone whose latest covering session (passed) was held on `last_trained_on`
    is covered on `as_of` (module docstring). A session after `as_of` does not count."""
    if last_trained_on is None or last_trained_on > as_of:
        return False
    return as_of <= covered_until(last_trained_on)


def window_start(as_of: date) -> date:
    """The earliest day of a session that covers on `as_of` (for the queries' prefilter)."""
    return one_year_before(as_of) + timedelta(days=1)


@dataclass(frozen=True)
class Coverage:
    """How many principals and safety officers are covered, of how many."""

    people: int = 0
    covered: int = 0

    def __post_init__(self) -> None:
        if self.people < 0 or not 0 <= self.covered <= self.people:
            raise ValueError(f"covered {self.covered} of {self.people} is not a coverage")

    @property
    def uncovered(self) -> int:
        return self.people - self.covered

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.covered, self.people) if self.people else None

    @property
    def percent(self) -> str:
        rate = self.rate
        return "—" if rate is None else f"{float(rate) * 100:.0f}%"

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(self.people + other.people, self.covered + other.covered)


def coverage_of(last_dates: Iterable[date | None], as_of: date) -> Coverage:
    """The coverage of a group of people, given each one's latest covering session."""
    dates = list(last_dates)
    return Coverage(people=len(dates), covered=sum(1 for d in dates if is_covered(d, as_of)))


def total(coverages: Iterable[Coverage]) -> Coverage:
    result = Coverage()
    for c in coverages:
        result = result + c
    return result
