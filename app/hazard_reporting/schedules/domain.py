"""Pure rules of check schedules. Standard library and other domain modules only.

- The routine schedules every enterprise gets (班组日 / 部门周 / 经理月排查) and their default
  timing; which timings are possible.
- Risk points (较大危险因素 sites): the four-colour risk level and how often each level is
  checked.
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

