"""Pure rules of an enterprise's organisation: departments, teams and posts with their risk
cards (岗位风险告知卡) and major hazard factors (较大危险因素).

- A name is unique within its parent (a department within its enterprise, a team within its
  department, a post within its enterprise, a factor within its post) and has a length limit.
- A unit is removed only when nothing refers to it; the refusal names what still does
  (`removal_refused`). Which rows refer is found by the service from the schema's foreign
  keys, so a feature that later points at a department is counted without a change here.
- A post's factors are one ordered list, edited as a whole with the card (`clean_factors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.errors import Conflict, ValidationFailed
from app.ids import MAX_ID

NAME_MAX = 64  # departments, teams, posts, factors (String(64) columns)
CARD_TEXT_MAX = 2000  # 主要风险 / 防范措施 / 应急措施
MEASURES_MAX = 1000  # a factor's 管控措施
MAX_FACTORS = 20  # more than this on one card is no longer a card a worker reads
BLANK_FACTOR_ROWS = 3  # empty rows offered below a card's factors

UNIT_LABELS = {"department": "部门", "team": "班组", "post": "岗位", "factor": "较大危险因素"}

# What a referring table is called in a refusal, and its measure word. Tables not listed
# are named generically (a feature added later is still counted, just less eloquently).
REFERENCE_LABELS: dict[str, tuple[str, str]] = {
    "memberships": ("在册人员", "名"),
    "teams": ("班组", "个"),
    "posts": ("岗位", "个"),
    "sites": ("点位", "个"),
    "check_schedules": ("排查计划", "项"),
    "hazards": ("隐患记录", "条"),
    "confined_space_jobs": ("有限空间作业", "项"),
}
OTHER_REFERENCE = ("其他记录", "条")
NAMES_SHOWN = 3  # names of referring rows shown per kind


def valid_id(value: int | None) -> bool:
    """Is `value` an id the database can hold (1 … 2³¹−1)?"""
    return value is not None and 1 <= value <= MAX_ID


def clean_name(value: str | None, unit: str, field: str = "name") -> str:
    """The trimmed name of a department / team / post / factor. Raises ValidationFailed when
    empty or longer than NAME_MAX."""
    name = " ".join((value or "").split())
    label = UNIT_LABELS[unit]
    if not name:
        raise ValidationFailed.for_field(field, f"请填写{label}名称")
    if len(name) > NAME_MAX:
        raise ValidationFailed.for_field(field, f"{label}名称不能超过 {NAME_MAX} 个字")
    return name


def check_unique_name(name: str, taken: Iterable[str], unit: str, parent: str, field: str = "name") -> None:
    """Refuse `name` when a sibling already has it (case and surrounding spaces aside).
    Raises ValidationFailed naming the parent: 「熔炼车间」下已有名为「熔炼班」的班组."""
    folded = name.casefold()
    if any(folded == other.strip().casefold() for other in taken):
        raise ValidationFailed.for_field(field, f"{parent}已有名为「{name}」的{UNIT_LABELS[unit]}，名称不能重复")


@dataclass(frozen=True)
class Reference:
    """Rows of one table that still point at a unit: how many, and a few of their names."""

    table: str
    count: int
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        label, measure = REFERENCE_LABELS.get(self.table, OTHER_REFERENCE)
        text = f"{label} {self.count} {measure}"
        if self.names:
            shown = "、".join(self.names[:NAMES_SHOWN])
            more = "等" if self.count > len(self.names[:NAMES_SHOWN]) else ""
            text += f"（{shown}{more}）"
        return text


def removal_refused(unit: str, name: str, references: Sequence[Reference]) -> str | None:
    """Why the unit cannot be removed — None when nothing refers to it."""
    present = [r for r in references if r.count > 0]
    if not present:
        return None
    listed = "、".join(r.describe() for r in present)
    return f"不能删除{UNIT_LABELS[unit]}「{name}」：仍有{listed}与之关联。请先将其调整到其他{UNIT_LABELS[unit]}或删除后再试。"


def check_removable(unit: str, name: str, references: Sequence[Reference]) -> None:
    """Raises Conflict with `removal_refused`'s message when anything refers to the unit."""
    message = removal_refused(unit, name, references)
    if message is not None:
        raise Conflict(message)


@dataclass(frozen=True)
class Factor:
    name: str
    measures: str


def clean_factors(rows: Sequence[tuple[str | None, str | None]]) -> list[Factor]:
    """A card's factor rows as the form sends them (name, measures), in order: blank rows are
    dropped; a row needs both a name and its 管控措施; names are unique on the card; lengths
    and the number of factors are limited. Raises ValidationFailed naming the row (第 N 行)."""
    factors: list[Factor] = []
    seen: set[str] = set()
    for number, (raw_name, raw_measures) in enumerate(rows, start=1):
        name = " ".join((raw_name or "").split())
        measures = (raw_measures or "").strip()
        if not name and not measures:
            continue
        field = f"factors.{number}"
        if not name:
            raise ValidationFailed.for_field(field, f"较大危险因素第 {number} 行：请填写危险因素名称")
        if not measures:
            raise ValidationFailed.for_field(field, f"较大危险因素第 {number} 行：请填写「{name}」的管控措施")
        if len(name) > NAME_MAX:
            raise ValidationFailed.for_field(field, f"较大危险因素第 {number} 行：名称不能超过 {NAME_MAX} 个字")
        if len(measures) > MEASURES_MAX:
            raise ValidationFailed.for_field(field, f"较大危险因素第 {number} 行：管控措施不能超过 {MEASURES_MAX} 个字")
        if name.casefold() in seen:
            raise ValidationFailed.for_field(field, f"较大危险因素第 {number} 行：「{name}」重复填写")
        seen.add(name.casefold())
        factors.append(Factor(name, measures))
    if len(factors) > MAX_FACTORS:
        raise ValidationFailed.for_field("factors", f"较大危险因素最多 {MAX_FACTORS} 项")
    return factors
