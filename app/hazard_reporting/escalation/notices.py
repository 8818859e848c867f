"""The notices the escalation job and the daily digest send, as kinds of the notification
outbox.

Overdue checks, one kind per escalation level. Payload: task_id, enterprise_id,
enterprise_name, schedule_name, level (daily/weekly/monthly), period_start (ISO date),
due_at (ISO), responsible (the team, department or person responsible).
The daily digest. Payload: date (ISO), overdue_checks, open_hazards, overdue_hazards,
folded_notices. Never folded into itself.
"""

from __future__ import annotations

from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckLevel
from app.notifications.kinds import (
    Family,
    Field,
    Kind,
    Payload,
    constant,
    count_of,
    fixed_link,
    from_payload,
    local_date,
    time_of,
)

DIGEST_KIND = "daily_digest"


def _check_task(payload: Payload) -> str:
    try:
        level = CHECK_LEVEL_LABELS[CheckLevel(payload.get("level"))]
    except ValueError:
        level = "排查任务"
    name = payload.get("schedule_name") or level
    day = local_date(payload.get("period_start"))
    return f"{name} {day}" if day else name


def _check(name: str, title: str) -> Kind:
    """Check family: 事项 · 企业 · 排查任务 · 应完成时间 · 责任人."""
    fields = (
        Field("thing1", "通知事项", constant(title)),
        Field("thing2", "企业名称", from_payload("enterprise_name")),
        Field("thing3", "排查任务", _check_task),
        Field("time4", "应完成时间", time_of("due_at")),
        Field("thing5", "责任人", from_payload("responsible")),
    )
    return Kind(name, title, Family.CHECK, fields, fixed_link("/h5/tasks"))


KINDS: tuple[Kind, ...] = (
    _check("check_overdue_l1", "排查任务已逾期"),
    _check("check_overdue_l2", "下级排查逾期未完成"),
    _check("check_overdue_l3", "排查逾期请督促落实"),
    _check("check_overdue_bureau", "企业排查逾期未完成"),
    Kind(
        DIGEST_KIND,
        "每日安全汇总",
        Family.DIGEST,
        (
            Field("thing1", "汇总日期", lambda p: f"安全日报 {local_date(p.get('date')) or ''}"),
            Field("thing2", "逾期排查", count_of("overdue_checks", "项", "逾期排查")),
            Field("thing3", "未销号隐患", count_of("open_hazards", "项", "未销号隐患")),
            Field("thing4", "逾期隐患", count_of("overdue_hazards", "项", "逾期未改隐患")),
            Field("thing5", "汇总通知", count_of("folded_notices", "条", "已汇总通知")),
        ),
        fixed_link("/h5/hazards"),
        foldable=False,
    ),
)
