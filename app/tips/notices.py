"""The safety tips the bureau broadcasts, as a kind of the notification outbox.

Only acknowledgement tasks go out this way (general tips are mass messages, tips/mass.py):
a task notice to each person (待办：请学习并确认). Payload: broadcast_id, tip_id, tip_code, title, summary, at, path; reminder=True on the
reminder to acknowledge."""

from __future__ import annotations

from app.notifications.kinds import CS_FIRST, Family, Field, Kind, Payload, from_payload, time_of
from app.tips.domain import TASK_NOTICE, TASK_REMINDER, TIP_BROADCAST_KIND


def _link(payload: Payload) -> str:
    tip_id = payload.get("tip_id")
    return f"/h5/tips/{int(tip_id)}" if tip_id is not None else "/h5/tips"


KINDS: tuple[Kind, ...] = (
    Kind(
        TIP_BROADCAST_KIND,
        "安全学习待办",
        Family.TIP,
        (
            Field("thing1", "待办事项", lambda p: TASK_REMINDER if p.get("reminder") else TASK_NOTICE),
            Field("thing2", "提示主题", from_payload("title")),
            Field("thing3", "内容摘要", from_payload("summary")),
            Field("time4", "发布时间", time_of("at")),
        ),
        _link,
        channels=CS_FIRST,
    ),
)
