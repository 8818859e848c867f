"""The safety tips the bureau broadcasts, as a kind of the notification outbox.

Payload: broadcast_id, tip_id, tip_code, title, summary, at, path; reminder=True on the
reminder to acknowledge."""

from __future__ import annotations

from app.notifications.kinds import CS_FIRST, Family, Field, Kind, Payload, from_payload, time_of
from app.tips.domain import TIP_BROADCAST_KIND


def _link(payload: Payload) -> str:
    tip_id = payload.get("tip_id")
    return f"/h5/tips/{int(tip_id)}" if tip_id is not None else "/h5/tips"


KINDS: tuple[Kind, ...] = (
    Kind(
        TIP_BROADCAST_KIND,
        "安全提示",
        Family.TIP,
        (
            Field("thing1", "通知事项", lambda p: "安全提示阅读提醒" if p.get("reminder") else "安全提示"),
            Field("thing2", "提示主题", from_payload("title")),
            Field("thing3", "内容摘要", from_payload("summary")),
            Field("time4", "发布时间", time_of("at")),
        ),
        _link,
        channels=CS_FIRST,
    ),
)
