"""Pure rules of check schedules. Standard library and other domain modules only.

- The routine schedules every enterprise gets (班组日 / 部门周 / 经理月排查) and their default
  timing; which timings are possible.
- Risk points (较大危险因素 sites): the four-colour risk level and how often each level is
  checked.
- What an enterprise may configure: the unit each routine level needs (one active routine
  schedule per level and unit), a site that fits the unit, the grace allowed per level, and
  the due rule in words for the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from app.errors import ValidationFailed
from app.hazard_reporting.checks.domain import DEFAULT_WEEKLY_DUE_WEEKDAY, CheckLevel, Timing


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


def check_timing(timing: Timing) -> None:
    """Raises ValidationFailed naming the field when a schedule's timing is impossible."""
    check_grace(timing)
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



# --- Routine schedules an enterprise configures ------------------------------------------

# The unit each routine level is owed by: a team's daily check, a department's weekly check,
# the enterprise's (its managers') monthly check.
ROUTINE_UNIT_FIELD: Mapping[CheckLevel, str | None] = {
    CheckLevel.DAILY: "team_id",
    CheckLevel.WEEKLY: "department_id",
    CheckLevel.MONTHLY: None,
}
ROUTINE_UNIT_MISSING = {
    "team_id": "班组日排查须指定班组",
    "department_id": "部门周排查须指定部门",
}

# How long past its due time a check may still be done. A daily check may run at most a day
# late (it would otherwise overlap the next day's); the weekly and monthly defaults of the
# notice are one and two days, so those levels allow up to two days.
MAX_GRACE_MINUTES: Mapping[CheckLevel, int] = {
    CheckLevel.DAILY: 24 * 60,
    CheckLevel.WEEKLY: 2 * 24 * 60,
    CheckLevel.MONTHLY: 2 * 24 * 60,
}
WEEKDAY_NAMES = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "日"}


def routine_unit_key(level: CheckLevel, team_id: int | None, department_id: int | None) -> tuple[object, ...]:
    """What identifies a routine schedule within its enterprise: its level and unit (the
    team for daily, the department for weekly, the enterprise itself for monthly)."""
    if level is CheckLevel.DAILY:
        return (level, team_id)
    if level is CheckLevel.WEEKLY:
        return (level, department_id)
    return (level,)


def check_routine_unit(level: CheckLevel, team_id: int | None, department_id: int | None) -> None:
    """The unit the level needs is given. Raises ValidationFailed naming the field."""
    field = ROUTINE_UNIT_FIELD[level]
    if field == "team_id" and team_id is None:
        raise ValidationFailed.for_field("team_id", ROUTINE_UNIT_MISSING["team_id"])
    if field == "department_id" and department_id is None:
        raise ValidationFailed.for_field("department_id", ROUTINE_UNIT_MISSING["department_id"])


def check_site_fits(level: CheckLevel, unit_department_id: int | None, site_department_id: int | None) -> None:
    """A schedule tied to a site is done only there (checks.domain.checkable_at), so the site
    must be one its unit checks: for a team or a department, a site of that department or of
    no department; the monthly check covers any site. Raises ValidationFailed."""
    if level is CheckLevel.MONTHLY or site_department_id is None:
        return
    if site_department_id != unit_department_id:
        raise ValidationFailed.for_field("site_id", "该点位属于其他部门，不能用于本计划")


def check_grace(timing: Timing) -> None:
    """The grace time of a schedule: 0 to the level's maximum. Raises ValidationFailed."""
    limit = MAX_GRACE_MINUTES[timing.level]
    if not 0 <= timing.grace_minutes <= limit:
        raise ValidationFailed.for_field("grace_minutes", f"应在 0 到 {limit} 分钟之间（{grace_words(limit)}）")


def duplicate_message(level: CheckLevel, unit_name: str, existing_label: str) -> str:
    """Why a second active routine schedule of the same level and unit is refused."""
    level_name = {CheckLevel.DAILY: "班组日排查", CheckLevel.WEEKLY: "部门周排查", CheckLevel.MONTHLY: "经理月排查"}[
        level
    ]
    return (
        f"{unit_name}已有启用中的{level_name}计划「{existing_label}」，不能重复创建；"
        "如需调整，请编辑或暂停该计划。"
    )


def due_rule_words(timing: Timing) -> str:
    """A schedule's due rule as a person reads it: "每个工作日 17:00 前", "每天 11:30 前",
    "每周五 17:00 前", "每月 28 日 17:00 前", "每月最后一天 17:00 前". A month day past a
    short month's end falls on its last day (checks.domain.due_date clamps it)."""
    at = timing.due_time.strftime("%H:%M")
    if timing.level is CheckLevel.DAILY:
        return f"{'每个工作日' if timing.workdays_only else '每天'} {at} 前"
    if timing.level is CheckLevel.WEEKLY:
        weekday = timing.due_weekday or DEFAULT_WEEKLY_DUE_WEEKDAY
        return f"每周{WEEKDAY_NAMES[weekday]} {at} 前"
    if timing.due_month_day is None:
        return f"每月最后一天 {at} 前"
    words = f"每月 {timing.due_month_day} 日 {at} 前"
    if timing.due_month_day > 28:
        words += "（当月无此日时为月末）"
    return words


def grace_words(minutes: int) -> str:
    """0 → 不宽限, 90 → 1 小时 30 分钟, 2880 → 2 天."""
    if minutes <= 0:
        return "不宽限"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} 天" if days else "", f"{hours} 小时" if hours else "", f"{mins} 分钟" if mins else ""]
    return " ".join(p for p in parts if p)
