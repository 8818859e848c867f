"""Pure rules of scheduled checks (班组日排查 / 部门周排查 / 经理月排查). Standard library only.

- Standard checklists (隐患排查标准清单): parsing the data file, choosing an enterprise's
  lists by industry and topic flags, and resolving an enterprise's copy-on-write list.
- Periods: a calendar day, an ISO week (Mon–Sun) or a calendar month, in Asia/Shanghai;
  daily checks skip non-workdays (the working calendar: hazard_reporting/work_calendar); due times computed in
  local time, handed back in UTC.
- Check tasks: status enum + transition table, the done / done_late / missed decision.
- Who owes which check, and which checks can be done from which QR point.
- Risk points (较大危险因素 sites): how often each four-colour level is checked.
- Submissions (扫码排查): item answers, the completeness rule, how fresh a scan must be,
  and when the next check of a schedule falls due.
- Confined-space jobs: status transitions and the work-condition confirmation rule.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from app.accounts.domain import Role
from app.clock import LOCAL_TZ, local_today
from app.enterprises.domain import INDUSTRY_LABELS, TOPIC_LABELS, Industry, Topic
from app.errors import InvalidTransition, ValidationFailed

# --- Checklists --------------------------------------------------------------------------


class ChecklistKind(StrEnum):
    INSPECTION = "inspection"  # 隐患排查清单: used by the scheduled checks
    WORK_CONFIRMATION = "work_confirmation"  # 作业条件确认: signed before each confined-space job


CHECKLIST_KIND_LABELS = {
    ChecklistKind.INSPECTION: "隐患排查清单",
    ChecklistKind.WORK_CONFIRMATION: "作业条件确认单",
}


class ItemCategory(StrEnum):
    SITE = "SITE"  # 场所环境
    EQUIP = "EQUIP"  # 设备设施
    BEHAV = "BEHAV"  # 作业行为
    MGMT = "MGMT"  # 基础管理
    EMERG = "EMERG"  # 应急


ITEM_CATEGORY_LABELS = {
    ItemCategory.SITE: "场所环境",
    ItemCategory.EQUIP: "设备设施",
    ItemCategory.BEHAV: "作业行为",
    ItemCategory.MGMT: "基础管理",
    ItemCategory.EMERG: "应急管理",
}


class OnFail(StrEnum):
    """The hazard level a failed item suggests (docs/DOMAIN.md §8)."""

    GENERAL = "general"  # 一般隐患: fixed the same day (不过夜)
    MAJOR = "major"  # matches a major-hazard criterion: 五到位 workflow
    REVIEW = "review"  # a safety officer decides; general until escalated


class ItemOrigin(StrEnum):
    STANDARD = "standard"  # an item of a standard template
    OVERRIDE = "override"  # an enterprise's reworded or disabled copy of a standard item
    ADDED = "added"  # an item the enterprise added to its own list


# D 班组日排查, W 部门周排查, M 经理月排查.
ITEM_LEVELS = ("D", "W", "M")
# An enterprise's own items are coded ENT-01, ENT-02, … (never clashing with template prefixes).
ADDED_ITEM_PREFIX = "ENT-"
MAX_ITEM_TEXT = 200
ENTERPRISE_CHECKLIST_NAME = {
    ChecklistKind.INSPECTION: "本企业隐患排查标准清单",
    ChecklistKind.WORK_CONFIRMATION: "本企业作业条件确认单",
}

_INDUSTRY_BY_LABEL = {label: industry for industry, label in INDUSTRY_LABELS.items()}
_TOPIC_BY_LABEL = {label: topic for topic, label in TOPIC_LABELS.items()}


@dataclass(frozen=True)
class ItemSpec:
    """One line of a checklist."""

    code: str
    text: str
    category: ItemCategory
    levels: str  # subset of "DWM" in that order; "" for confirmation items
    on_fail: OnFail
    refs: tuple[str, ...] = ()
    note: str = ""

    def at_level(self, level: str) -> bool:
        return level in self.levels


@dataclass(frozen=True)
class TemplateSpec:
    """A standard template as the data file states it."""

    code: str
    name: str
    kind: ChecklistKind
    industries: frozenset[Industry]
    topics: frozenset[Topic]
    items: tuple[ItemSpec, ...]

    def signature(self) -> str:
        """A content hash: a template whose hash changed needs a new version."""
        return content_signature(
            {
                "code": self.code,
                "name": self.name,
                "kind": self.kind.value,
                "industries": sorted(i.value for i in self.industries),
                "topics": sorted(t.value for t in self.topics),
                "items": [_item_dict(i) for i in self.items],
            }
        )


def _item_dict(item: ItemSpec) -> dict[str, Any]:
    return {
        "code": item.code,
        "text": item.text,
        "category": item.category.value,
        "levels": item.levels,
        "on_fail": item.on_fail.value,
        "refs": list(item.refs),
        "note": item.note,
    }


def content_signature(payload: Any) -> str:
    """SHA-256 of the canonical JSON of `payload` (64 hex characters)."""
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalize_levels(levels: Iterable[str]) -> str:
    """Levels as a string in D, W, M order. Raises ValueError on an unknown level."""
    chosen = set(levels)
    unknown = chosen - set(ITEM_LEVELS)
    if unknown:
        raise ValueError(f"unknown level(s) {sorted(unknown)}; use D, W, M")
    return "".join(level for level in ITEM_LEVELS if level in chosen)


def parse_templates(data: Mapping[str, Any]) -> list[TemplateSpec]:
    """Validate the checklist data file (already parsed) into specs.

    Raises ValueError naming the template/item at fault: unknown industry/topic/category/
    level/on_fail, a missing field, or a duplicate template or item code (item codes are
    unique across all templates, so an item is identified by its code alone)."""
    templates = data.get("templates")
    if not isinstance(templates, list) or not templates:
        raise ValueError("checklist data: `templates` must be a non-empty list")
    specs: list[TemplateSpec] = []
    seen_templates: set[str] = set()
    seen_items: set[str] = set()
    for raw in templates:
        code = str(raw.get("code", "")).strip()
        where = f"template {code or '?'}"
        if not code or code in seen_templates:
            raise ValueError(f"{where}: missing or duplicate template code")
        seen_templates.add(code)
        name = str(raw.get("name", "")).strip()
        if not name:
            raise ValueError(f"{where}: missing name")
        try:
            kind = ChecklistKind(raw.get("kind", ChecklistKind.INSPECTION.value))
        except ValueError:
            raise ValueError(f"{where}: unknown kind {raw.get('kind')!r}") from None
        applies = raw.get("applies_to") or {}
        try:
            industries = frozenset(_INDUSTRY_BY_LABEL[label] for label in applies.get("industries", []))
            topics = frozenset(_TOPIC_BY_LABEL[label] for label in applies.get("topics", []))
        except KeyError as exc:
            raise ValueError(f"{where}: unknown industry or topic {exc.args[0]!r}") from None
        if not industries and not topics:
            raise ValueError(f"{where}: applies_to names no industry and no topic")
        items: list[ItemSpec] = []
        for raw_item in raw.get("items") or []:
            item = _parse_item(raw_item, where)
            if item.code in seen_items:
                raise ValueError(f"{where}: duplicate item code {item.code}")
            if kind is ChecklistKind.INSPECTION and not item.levels:
                raise ValueError(f"{where}: item {item.code} has no level")
            seen_items.add(item.code)
            items.append(item)
        if not items:
            raise ValueError(f"{where}: no items")
        specs.append(TemplateSpec(code, name, kind, industries, topics, tuple(items)))
    return specs


def _parse_item(raw: Mapping[str, Any], where: str) -> ItemSpec:
    code = str(raw.get("code", "")).strip()
    text = str(raw.get("text", "")).strip()
    if not code or not text:
        raise ValueError(f"{where}: an item lacks code or text")
    try:
        return ItemSpec(
            code=code,
            text=text,
            category=ItemCategory(raw["category"]),
            levels=normalize_levels(raw.get("levels") or []),
            on_fail=OnFail(raw["on_fail"]),
            refs=tuple(str(r) for r in raw.get("ref") or ()),
            note=str(raw.get("note") or ""),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where}: item {code}: {exc}") from None


def template_applies(
    industries: frozenset[Industry], topics: frozenset[Topic], industry: Industry, flags: frozenset[Topic]
) -> bool:
    """Does a template with these `applies_to` lists apply to an enterprise?

    Industries only: the enterprise's industry must be listed. Topics only: the enterprise
    must carry one of the topic flags. Both (GAS, MM): both conditions — the major-hazard
    criteria those templates cite are industry articles (行业类, "仅适用于对应行业"), so a
    topic flag outside those industries does not make them apply."""
    industry_ok = not industries or industry in industries
    topic_ok = not topics or bool(topics & flags)
    return industry_ok and topic_ok


def select_templates(
    templates: Sequence[TemplateSpec],
    industry: Industry,
    flags: frozenset[Topic],
    kind: ChecklistKind = ChecklistKind.INSPECTION,
) -> list[TemplateSpec]:
    """The standard templates of `kind` that apply to an enterprise, in data-file order."""
    return [
        t for t in templates if t.kind is kind and template_applies(t.industries, t.topics, industry, flags)
    ]


@dataclass(frozen=True)
class OverrideItem:
    """An enterprise's own line: a reworded/disabled copy of a standard item, or an added one."""

    item: ItemSpec
    origin: ItemOrigin
    enabled: bool = True


@dataclass(frozen=True)
class ResolvedItem:
    """A line of an enterprise's effective list."""

    item: ItemSpec
    template_code: str  # the standard template it comes from; "" for the enterprise's own
    origin: ItemOrigin
    enabled: bool


def resolve_items(
    bases: Sequence[tuple[str, Sequence[ItemSpec]]], overrides: Sequence[OverrideItem]
) -> list[ResolvedItem]:
    """The effective list: each base template's items in order, an enterprise override
    replacing the standard item of the same code, then the enterprise's added items.

    Overrides of items no base contains any more (a topic flag was dropped) are ignored."""
    by_code = {o.item.code: o for o in overrides}
    resolved: list[ResolvedItem] = []
    for template_code, items in bases:
        for item in items:
            override = by_code.get(item.code)
            if override is None:
                resolved.append(ResolvedItem(item, template_code, ItemOrigin.STANDARD, True))
            else:
                resolved.append(ResolvedItem(override.item, template_code, override.origin, override.enabled))
    resolved.extend(
        ResolvedItem(o.item, "", ItemOrigin.ADDED, o.enabled)
        for o in overrides
        if o.origin is ItemOrigin.ADDED
    )
    return resolved


def check_item_text(text: str, field_name: str = "text") -> str:
    """An item's text: 1–200 characters after trimming. Raises ValidationFailed."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationFailed.for_field(field_name, "不能为空")
    if len(cleaned) > MAX_ITEM_TEXT:
        raise ValidationFailed.for_field(field_name, f"不能超过 {MAX_ITEM_TEXT} 个字符")
    return cleaned


def next_added_code(existing_codes: Iterable[str]) -> str:
    """The next free ENT-nn code (numbers are never reused, so history stays unambiguous)."""
    numbers = [
        int(code.removeprefix(ADDED_ITEM_PREFIX))
        for code in existing_codes
        if code.startswith(ADDED_ITEM_PREFIX) and code.removeprefix(ADDED_ITEM_PREFIX).isdigit()
    ]
    return f"{ADDED_ITEM_PREFIX}{max(numbers, default=0) + 1:02d}"


def enterprise_signature(base_version_ids: Iterable[int]) -> str:
    """What an enterprise list is built on; a changed signature means a new version."""
    return content_signature({"bases": sorted(base_version_ids)})


# --- Periods -----------------------------------------------------------------------------


class CheckLevel(StrEnum):
    DAILY = "daily"  # 班组日排查: a calendar day
    WEEKLY = "weekly"  # 部门周排查: an ISO week, Monday to Sunday
    MONTHLY = "monthly"  # 经理月排查: a calendar month


CHECK_LEVEL_LABELS = {
    CheckLevel.DAILY: "班组日排查",
    CheckLevel.WEEKLY: "部门周排查",
    CheckLevel.MONTHLY: "经理月排查",
}
# Which checklist items a check of each level goes through.
ITEM_LEVEL_OF = {CheckLevel.DAILY: "D", CheckLevel.WEEKLY: "W", CheckLevel.MONTHLY: "M"}


@dataclass(frozen=True, order=True)
class Period:
    """A check period: local calendar dates, both ends included."""

    start: date
    end: date


def period_containing(level: CheckLevel, day: date) -> Period:
    """The day, ISO week (Mon–Sun; a week belongs to no month or year boundary) or calendar
    month containing `day`."""
    if level is CheckLevel.DAILY:
        return Period(day, day)
    if level is CheckLevel.WEEKLY:
        monday = day - timedelta(days=day.isoweekday() - 1)
        return Period(monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    return Period(first, day.replace(day=calendar.monthrange(day.year, day.month)[1]))


def next_period(level: CheckLevel, period: Period) -> Period:
    return period_containing(level, period.end + timedelta(days=1))


def iso_week_label(period: Period) -> str:
    """'2026-W53' — the ISO year may differ from the calendar year of the start/end."""
    year, week, _ = period.start.isocalendar()
    return f"{year}-W{week:02d}"


def periods_between(
    level: CheckLevel, first: date, last: date, is_workday: Callable[[date], bool] | None = None
) -> Iterator[Period]:
    """Every period overlapping [first, last] in order. With `is_workday` (daily checks on
    workdays only: the working calendar's), non-workdays are skipped: a holiday has no daily
    check."""
    if first > last:
        return
    period = period_containing(level, first)
    while period.start <= last:
        if is_workday is None or level is not CheckLevel.DAILY or is_workday(period.start):
            yield period
        period = next_period(level, period)


@dataclass(frozen=True)
class Timing:
    """When a check of a period is due, and how long past that it may still be done."""

    level: CheckLevel
    due_time: time  # local wall-clock time
    grace_minutes: int
    workdays_only: bool = False  # daily checks only
    due_weekday: int | None = None  # weekly: ISO weekday 1–7 (default Friday)
    due_month_day: int | None = None  # monthly: 1–31, clamped to month end; None = last day


DEFAULT_WEEKLY_DUE_WEEKDAY = 5  # Friday


def due_date(timing: Timing, period: Period) -> date:
    """The local date a period's check is due on: the day itself, the week's due weekday
    (default Friday), or the month's due day (default and clamp: the last day)."""
    if timing.level is CheckLevel.DAILY:
        return period.start
    if timing.level is CheckLevel.WEEKLY:
        weekday = timing.due_weekday or DEFAULT_WEEKLY_DUE_WEEKDAY
        return period.start + timedelta(days=weekday - 1)
    if timing.due_month_day is None:
        return period.end
    return period.start.replace(day=min(timing.due_month_day, period.end.day))


def local_instant(day: date, at: time) -> datetime:
    """A local (Asia/Shanghai) wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)


def due_window(timing: Timing, period: Period) -> tuple[datetime, datetime]:
    """(due_at, grace_until) of a period, both UTC."""
    due_at = local_instant(due_date(timing, period), timing.due_time)
    return due_at, due_at + timedelta(minutes=timing.grace_minutes)


def check_timing(timing: Timing) -> None:
    """Raises ValidationFailed naming the field when a schedule's timing is impossible."""
    if timing.grace_minutes < 0 or timing.grace_minutes > 31 * 24 * 60:
        raise ValidationFailed.for_field("grace_minutes", "宽限时间须在 0 分钟到 31 天之间")
    if timing.due_weekday is not None and not 1 <= timing.due_weekday <= 7:
        raise ValidationFailed.for_field("due_weekday", "应为 1（周一）到 7（周日）")
    if timing.due_month_day is not None and not 1 <= timing.due_month_day <= 31:
        raise ValidationFailed.for_field("due_month_day", "应为 1 到 31")
    if timing.workdays_only and timing.level is not CheckLevel.DAILY:
        raise ValidationFailed.for_field("workdays_only", "只有日排查可以按工作日安排")
    if timing.due_weekday is not None and timing.level is not CheckLevel.WEEKLY:
        raise ValidationFailed.for_field("due_weekday", "只有周排查可以设置每周截止日")
    if timing.due_month_day is not None and timing.level is not CheckLevel.MONTHLY:
        raise ValidationFailed.for_field("due_month_day", "只有月排查可以设置每月截止日")


# --- Schedules ---------------------------------------------------------------------------


class ScheduleKind(StrEnum):
    ROUTINE = "routine"  # 班组日 / 部门周 / 经理月排查
    RISK_POINT = "risk_point"  # 较大危险因素点位的专门巡查


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule to create: its identity within its unit (`slot`), label and timing."""

    slot: str
    label: str
    timing: Timing


# The defaults of the notice: 班组日排查 on workdays by 17:00 (+2 h), 部门周排查 by Friday
# 17:00 (+1 day), 经理月排查 by the last day 17:00 (+2 days). All configurable per schedule.
ROUTINE_DEFAULTS: Mapping[CheckLevel, ScheduleSpec] = {
    CheckLevel.DAILY: ScheduleSpec(
        "routine", "班组日排查", Timing(CheckLevel.DAILY, time(17, 0), 120, workdays_only=True)
    ),
    CheckLevel.WEEKLY: ScheduleSpec(
        "routine",
        "部门周排查",
        Timing(CheckLevel.WEEKLY, time(17, 0), 24 * 60, due_weekday=DEFAULT_WEEKLY_DUE_WEEKDAY),
    ),
    CheckLevel.MONTHLY: ScheduleSpec(
        "routine", "经理月排查", Timing(CheckLevel.MONTHLY, time(17, 0), 2 * 24 * 60)
    ),
}


class RiskLevel(StrEnum):
    """The four-colour risk level of a site (安全风险四色分级)."""

    RED = "red"  # 重大风险
    ORANGE = "orange"  # 较大风险
    YELLOW = "yellow"  # 一般风险
    BLUE = "blue"  # 低风险


RISK_LEVEL_LABELS = {
    RiskLevel.RED: "红色（重大风险）",
    RiskLevel.ORANGE: "橙色（较大风险）",
    RiskLevel.YELLOW: "黄色（一般风险）",
    RiskLevel.BLUE: "蓝色（低风险）",
}

# How often a site registered as a major risk point (较大危险因素) is checked, beyond the
# routine checks of its team and department:
#   red     twice a day, every calendar day (holidays too: a red risk does not rest while
#           the plant runs): a morning round due 11:30 and an afternoon round due 17:00,
#           1 h grace each;
#   orange  once a day, every calendar day including holidays, due 17:00, 2 h grace;
#   yellow  once a day on workdays (holidays skipped like the team's daily check), 17:00, 2 h;
#   blue    once a week, due Friday 17:00, 1 day grace.
# Due times and grace are configurable per schedule afterwards.
RISK_POINT_PLANS: Mapping[RiskLevel, tuple[ScheduleSpec, ...]] = {
    RiskLevel.RED: (
        ScheduleSpec("am", "较大危险因素点位巡查（上午）", Timing(CheckLevel.DAILY, time(11, 30), 60)),
        ScheduleSpec("pm", "较大危险因素点位巡查（下午）", Timing(CheckLevel.DAILY, time(17, 0), 60)),
    ),
    RiskLevel.ORANGE: (
        ScheduleSpec("daily", "较大危险因素点位巡查", Timing(CheckLevel.DAILY, time(17, 0), 120)),
    ),
    RiskLevel.YELLOW: (
        ScheduleSpec(
            "daily", "较大危险因素点位巡查", Timing(CheckLevel.DAILY, time(17, 0), 120, workdays_only=True)
        ),
    ),
    RiskLevel.BLUE: (
        ScheduleSpec(
            "weekly",
            "较大危险因素点位周巡查",
            Timing(CheckLevel.WEEKLY, time(17, 0), 24 * 60, due_weekday=DEFAULT_WEEKLY_DUE_WEEKDAY),
        ),
    ),
}


def risk_point_plan(risk_level: RiskLevel, is_major_risk_point: bool) -> tuple[ScheduleSpec, ...]:
    """The extra schedules a site needs: none unless it is a registered major risk point."""
    return RISK_POINT_PLANS[risk_level] if is_major_risk_point else ()


# --- Who owes which check ----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleFacts:
    """What the ownership and location rules need to know about a schedule."""

    kind: ScheduleKind
    level: CheckLevel
    team_id: int | None
    department_id: int | None
    site_id: int | None


@dataclass(frozen=True)
class MemberFacts:
    """One active membership: the role and the unit it is tied to. `department_id` is the
    membership's department, or for a team leader the department of their team."""

    role: Role
    team_id: int | None = None
    department_id: int | None = None


def owes(schedule: ScheduleFacts, member: MemberFacts) -> bool:
    """Does this membership owe checks of this schedule?

    Routine: team leader → the daily check of their team; department head → the weekly check
    of their department; manager → the monthly check of the enterprise.
    Risk point: a schedule naming a team is owed by that team's leaders; one naming a
    department by its head and, for daily rounds, by the leaders of its teams; a site with no
    owning unit by the enterprise's safety officers and managers."""
    role = member.role
    if schedule.kind is ScheduleKind.ROUTINE:
        if schedule.level is CheckLevel.DAILY:
            return role is Role.TEAM_LEADER and member.team_id == schedule.team_id
        if schedule.level is CheckLevel.WEEKLY:
            return role is Role.DEPARTMENT_HEAD and member.department_id == schedule.department_id
        return role is Role.MANAGER
    if schedule.team_id is not None:
        return role is Role.TEAM_LEADER and member.team_id == schedule.team_id
    if schedule.department_id is not None:
        if member.department_id != schedule.department_id:
            return False
        if role is Role.DEPARTMENT_HEAD:
            return True
        return role is Role.TEAM_LEADER and schedule.level is CheckLevel.DAILY
    return role in (Role.SAFETY_OFFICER, Role.MANAGER)


def checkable_at(schedule: ScheduleFacts, site_id: int, site_department_id: int | None) -> bool:
    """Can this schedule's check be done from that QR point (of the same enterprise)?

    A schedule tied to a site: only there. A team's daily or a department's weekly check:
    at the sites of that department or at sites belonging to no department. The monthly
    check covers the whole enterprise."""
    if schedule.site_id is not None:
        return schedule.site_id == site_id
    if schedule.level is CheckLevel.MONTHLY or site_department_id is None:
        return True
    return schedule.department_id == site_department_id


# --- Check tasks -------------------------------------------------------------------------


class CheckTaskStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"  # submitted by the due time
    DONE_LATE = "done_late"  # submitted after the due time, within the grace period
    MISSED = "missed"  # not submitted by the end of the grace period
    EXCUSED = "excused"  # approved not to be done (停产、放假…), with reason and approver


CHECK_TASK_STATUS_LABELS = {
    CheckTaskStatus.PENDING: "待检查",
    CheckTaskStatus.DONE: "已完成",
    CheckTaskStatus.DONE_LATE: "逾期完成",
    CheckTaskStatus.MISSED: "漏检",
    CheckTaskStatus.EXCUSED: "已批准免检",
}

# Allowed status changes. A missed check may still be excused afterwards (the plant was
# shut that day and nobody filed it in time); nothing leaves done, done_late or excused.
TASK_TRANSITIONS: frozenset[tuple[CheckTaskStatus, CheckTaskStatus]] = frozenset(
    {
        (CheckTaskStatus.PENDING, CheckTaskStatus.DONE),
        (CheckTaskStatus.PENDING, CheckTaskStatus.DONE_LATE),
        (CheckTaskStatus.PENDING, CheckTaskStatus.MISSED),
        (CheckTaskStatus.PENDING, CheckTaskStatus.EXCUSED),
        (CheckTaskStatus.MISSED, CheckTaskStatus.EXCUSED),
    }
)
OPEN_TASK_STATUSES = frozenset({CheckTaskStatus.PENDING})
MAX_EXCUSE_REASON = 200


def check_task_transition(current: CheckTaskStatus, target: CheckTaskStatus) -> None:
    """Raises InvalidTransition (Chinese message) unless the table allows it."""
    if (current, target) not in TASK_TRANSITIONS:
        raise InvalidTransition(
            f"检查任务当前为“{CHECK_TASK_STATUS_LABELS[current]}”，"
            f"不能改为“{CHECK_TASK_STATUS_LABELS[target]}”。"
        )


def timeliness(now: datetime, due_at: datetime, grace_until: datetime) -> CheckTaskStatus:
    """How a check done at `now` counts: by the due time → done; by the end of grace
    (inclusive) → done_late; later → missed. The same whether or not the sweep ran."""
    if now <= due_at:
        return CheckTaskStatus.DONE
    if now <= grace_until:
        return CheckTaskStatus.DONE_LATE
    return CheckTaskStatus.MISSED


def status_after_submission(
    current: CheckTaskStatus, now: datetime, due_at: datetime, grace_until: datetime
) -> CheckTaskStatus:
    """The task's status once a submission arrives at `now`.

    Pending: done / done_late / missed by `timeliness`. Already done or done_late: unchanged
    (a repeated submission is not a new occurrence). Missed: stays missed (the check was
    late beyond grace; the submission itself is still recorded by the caller).
    Raises InvalidTransition for an excused task."""
    if current is CheckTaskStatus.EXCUSED:
        raise InvalidTransition("该检查任务已批准免检，无需提交。")
    if current is not CheckTaskStatus.PENDING:
        return current
    return timeliness(now, due_at, grace_until)


def check_excuse_reason(reason: str) -> str:
    """An excuse needs a reason of 1–200 characters. Raises ValidationFailed."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValidationFailed.for_field("reason", "请填写免检原因")
    if len(cleaned) > MAX_EXCUSE_REASON:
        raise ValidationFailed.for_field("reason", f"不能超过 {MAX_EXCUSE_REASON} 个字符")
    return cleaned


def is_open(status: CheckTaskStatus, period_start: date, grace_until: datetime, now: datetime) -> bool:
    """A task can be done now: pending, its period has begun (local date), grace not over."""
    return status in OPEN_TASK_STATUSES and period_start <= local_today(now) and now <= grace_until


# --- Check submissions (扫码排查) ----------------------------------------------------------


class ItemResult(StrEnum):
    """The answer to one item of a check."""

    OK = "ok"  # 符合
    HAZARD = "hazard"  # 不符合: a hazard is reported for it, with a description and photos
    NOT_APPLICABLE = "not_applicable"  # 不适用 at this point (no such equipment, no such work)


ITEM_RESULT_LABELS = {
    ItemResult.OK: "符合",
    ItemResult.HAZARD: "隐患",
    ItemResult.NOT_APPLICABLE: "不适用",
}


class SubmissionStatus(StrEnum):
    ON_TIME = "on_time"  # by the due time
    LATE = "late"  # after the due time, within the grace period


SUBMISSION_STATUS_LABELS = {SubmissionStatus.ON_TIME: "按时完成", SubmissionStatus.LATE: "逾期完成"}

MAX_RESULT_NOTE = 200  # a short description: what is wrong, where exactly
MAX_PHOTOS_PER_ITEM = 9  # what wx.chooseImage offers at most
# A scan shows the checker stood at the point. It vouches for a while only: a form opened
# from a morning scan is not to be sent from the office in the evening.
SCAN_VALID_FOR = timedelta(hours=4)
# Phones and servers disagree by a little; a scan "from the future" within this is fine.
CLOCK_SKEW = timedelta(minutes=5)
SCAN_EXPIRED = "扫码已超过 4 小时，请回到现场重新扫描点位二维码后再提交（已填写的内容会保留）。"


def submission_status(task_status: CheckTaskStatus) -> SubmissionStatus:
    """On time or late, from the status the task was closed with."""
    if task_status is CheckTaskStatus.DONE:
        return SubmissionStatus.ON_TIME
    if task_status is CheckTaskStatus.DONE_LATE:
        return SubmissionStatus.LATE
    raise ValueError(f"a submission does not close a task as {task_status}")


def check_scan_fresh(scanned_at: datetime, now: datetime) -> None:
    """The scan behind a submission must be recent. Raises ValidationFailed."""
    if scanned_at > now + CLOCK_SKEW:
        raise ValidationFailed.for_field("scanned_at", "扫码时间不正确，请重新扫描点位二维码")
    if now - scanned_at > SCAN_VALID_FOR:
        raise ValidationFailed.for_field("scanned_at", SCAN_EXPIRED)


@dataclass(frozen=True)
class AnswerFacts:
    """What the completeness rule needs to know about one answer."""

    result: ItemResult | None
    note: str = ""
    photo_count: int = 0


def answer_problems(codes: Sequence[str], answers: Mapping[str, AnswerFacts]) -> dict[str, str]:
    """What keeps a check from being submitted, by item code (empty: complete).

    Every item of the check is answered; an item answered 隐患 has a short description and at
    least one photo; photos belong to 隐患 items only; no answer names an item outside the
    check (a stale form after the checklist changed)."""
    problems: dict[str, str] = {}
    wanted = set(codes)
    for code in answers:
        if code not in wanted:
            problems[code] = "不属于本次检查的检查项，请刷新页面后重新填写"
    for code in codes:
        answer = answers.get(code)
        if answer is None or answer.result is None:
            problems[code] = "请选择“符合”“隐患”或“不适用”"
        elif answer.result is ItemResult.HAZARD:
            if not answer.note.strip():
                problems[code] = "请简要描述发现的隐患"
            elif answer.photo_count < 1:
                problems[code] = "请至少拍摄一张隐患照片"
            elif answer.photo_count > MAX_PHOTOS_PER_ITEM:
                problems[code] = f"每项最多 {MAX_PHOTOS_PER_ITEM} 张照片"
        elif answer.photo_count:
            problems[code] = "只有判定为“隐患”的检查项需要上传照片"
    return problems


def in_form_order(items: Sequence[ResolvedItem]) -> list[ResolvedItem]:
    """Items as a check form lists and numbers them: by category (场所环境, 设备设施, 作业行为,
    基础管理, 应急管理), in checklist order within each. Messages say "第 N 项" by this order."""
    rank = {category: n for n, category in enumerate(ItemCategory)}
    return sorted(items, key=lambda resolved: rank[resolved.item.category])


def next_due_period(
    timing: Timing,
    now: datetime,
    closed_starts: Container[date],
    is_workday: Callable[[date], bool] | None = None,
    look_ahead: int = 62,
) -> tuple[Period, datetime] | None:
    """The first period, from the one containing today on, whose check is still to be done
    (not closed as done, missed or excused, and its grace not over), with its due time.

    Daily checks on workdays skip non-workdays by `is_workday`. None when nothing is due
    within `look_ahead` periods."""
    period = period_containing(timing.level, local_today(now))
    for _ in range(look_ahead):
        skipped = (
            timing.workdays_only
            and timing.level is CheckLevel.DAILY
            and is_workday is not None
            and not is_workday(period.start)
        )
        if not skipped and period.start not in closed_starts:
            due_at, grace_until = due_window(timing, period)
            if now <= grace_until:
                return period, due_at
        period = next_period(timing.level, period)
    return None


# --- Confined-space jobs (有限空间作业) -----------------------------------------------------


class JobStatus(StrEnum):
    DRAFT = "draft"  # 待确认: the work-condition confirmation is being filled in
    CONFIRMED = "confirmed"  # 条件已确认
    STARTED = "started"  # 作业中
    FINISHED = "finished"  # 已完成
    CANCELLED = "cancelled"  # 已取消


JOB_STATUS_LABELS = {
    JobStatus.DRAFT: "待确认",
    JobStatus.CONFIRMED: "条件已确认",
    JobStatus.STARTED: "作业中",
    JobStatus.FINISHED: "已完成",
    JobStatus.CANCELLED: "已取消",
}

JOB_TRANSITIONS: frozenset[tuple[JobStatus, JobStatus]] = frozenset(
    {
        (JobStatus.DRAFT, JobStatus.CONFIRMED),
        (JobStatus.CONFIRMED, JobStatus.STARTED),
        (JobStatus.STARTED, JobStatus.FINISHED),
        (JobStatus.DRAFT, JobStatus.CANCELLED),
        (JobStatus.CONFIRMED, JobStatus.CANCELLED),
    }
)


def check_job_transition(current: JobStatus, target: JobStatus) -> None:
    """Raises InvalidTransition (Chinese message) unless the table allows it."""
    if (current, target) not in JOB_TRANSITIONS:
        raise InvalidTransition(
            f"作业当前为“{JOB_STATUS_LABELS[current]}”，不能改为“{JOB_STATUS_LABELS[target]}”。"
        )


@dataclass(frozen=True)
class ConfirmationEntry:
    """One confirmed line: who (a named person), when, and whether the condition holds."""

    item_code: str
    passed: bool
    confirmed_by: str
    confirmed_at: datetime | None


def confirmation_problems(required_codes: Sequence[str], entries: Iterable[ConfirmationEntry]) -> list[str]:
    """What keeps a work-condition confirmation from passing, in item order (empty: passed).

    Every required item must be confirmed, by a named person, with a time, and hold."""
    by_code = {e.item_code: e for e in entries}
    problems: list[str] = []
    for code in required_codes:
        entry = by_code.get(code)
        if entry is None:
            problems.append(f"{code} 未确认")
        elif not entry.confirmed_by.strip() or entry.confirmed_at is None:
            problems.append(f"{code} 缺少确认人或确认时间")
        elif not entry.passed:
            problems.append(f"{code} 不符合要求")
    return problems


def require_confirmation_passed(required_codes: Sequence[str], entries: Iterable[ConfirmationEntry]) -> None:
    """Raises InvalidTransition listing every unmet item: the job must not start."""
    problems = confirmation_problems(required_codes, entries)
    if problems:
        raise InvalidTransition("作业条件确认未通过，严禁进入有限空间作业：" + "；".join(problems) + "。")
