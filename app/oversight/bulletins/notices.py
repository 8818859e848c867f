"""The notices of a published bulletin, as kinds of the notification outbox: one to each
manager and safety officer of every enterprise it names.

Payload (service.publish): bulletin_id, bulletin_title, enterprise_id, enterprise_name,
verdict (praised | warned | visited), deadline (supervision, ISO date or None), at.

A warning and a supervision finding ask the enterprise to act (a task notice: template
message); praise is news, sent as a customer-service message inside the window and as a
template only when the window is closed."""

from __future__ import annotations

from app.notifications.kinds import (
    CS_FIRST,
    Family,
    Field,
    Kind,
    Payload,
    constant,
    from_payload,
    local_date,
    time_of,
)
from app.oversight.bulletins.domain import Verdict


def _link(payload: Payload) -> str:
    return f"/h5/bulletins/{int(payload.get('bulletin_id') or 0)}"


def _deadline(payload: Payload) -> str:
    return local_date(payload.get("deadline")) or "见通报"


def _fields(title: str, third: Field) -> tuple[Field, ...]:
    """Bulletin family: 事项 · 企业 · 通报 · (要求/期限) · 时间."""
    return (
        Field("thing1", "通知事项", constant(title)),
        Field("thing2", "企业名称", from_payload("enterprise_name")),
        Field("thing3", "通报名称", from_payload("bulletin_title")),
        third,
        Field("time5", "发布时间", time_of("at")),
    )


BULLETIN_WARNED = "bulletin_warned"
BULLETIN_PRAISED = "bulletin_praised"
BULLETIN_SUPERVISION = "bulletin_supervision"

KINDS: tuple[Kind, ...] = (
    Kind(
        BULLETIN_WARNED,
        "企业被通报预警",
        Family.BULLETIN,
        _fields("企业被通报预警请整改", Field("thing4", "办理要求", constant("查看原因，7日内整改并报镇街"))),
        _link,
        foldable=False,
    ),
    Kind(
        BULLETIN_PRAISED,
        "企业获通报表扬",
        Family.BULLETIN,
        _fields("企业获通报表扬", Field("thing4", "办理要求", constant("无需办理，请查看通报"))),
        _link,
        channels=CS_FIRST,
    ),
    Kind(
        BULLETIN_SUPERVISION,
        "督导检查问题待整改",
        Family.BULLETIN,
        _fields("督导检查问题待整改", Field("thing4", "整改期限", _deadline)),
        _link,
        foldable=False,
    ),
)

KIND_OF_VERDICT = {
    Verdict.WARNED: BULLETIN_WARNED,
    Verdict.PRAISED: BULLETIN_PRAISED,
    Verdict.VISITED: BULLETIN_SUPERVISION,
}
