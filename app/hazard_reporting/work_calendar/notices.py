"""The reminder that next year's working calendar is still provisional, weekly to the bureau
admins (service.remind_unconfirmed), as a kind of the notification outbox.

Payload: year (the latest still provisional), years (all of them), at."""

from __future__ import annotations

from app.notifications.kinds import Family, Field, Kind, constant, time_of

REMINDER_KIND = "calendar_unconfirmed"

KINDS: tuple[Kind, ...] = (
    Kind(
        REMINDER_KIND,
        "工作日历待确认",
        Family.CALENDAR,
        (
            Field("thing1", "通知事项", constant("工作日历待确认")),
            Field("thing2", "年度", lambda p: "、".join(f"{y}年" for y in p.get("years") or [p.get("year")])),
            Field("thing3", "当前状态", constant("节假日按法定规则推算")),
            Field("thing4", "请处理", constant("导入国务院放假安排或确认")),
            Field("time5", "提醒时间", time_of("at")),
        ),
        lambda p: f"/console/calendar?year={int(p.get('year') or 0)}",
        foldable=False,
    ),
)
