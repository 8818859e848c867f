"""The notices of the hazard life cycle, as kinds of the notification outbox.

Payload (written by recording.py `_notify` and the escalation job): hazard_id, enterprise_id,
enterprise_name, level, status, description, location, deadline, action, actor_id,
actor_name, note, at, plus the event's data; overdue notices add `notice` ("L1"…).
Every notice about a major hazard is urgent (never held in quiet hours, never folded).
"""

from __future__ import annotations

from app.hazard_reporting.hazards.domain import HazardLevel
from app.notifications.domain import Channel
from app.notifications.kinds import (
    CS_FIRST,
    Family,
    Field,
    Kind,
    Payload,
    constant,
    from_payload,
    time_of,
)

_ENTERPRISE = Field("thing2", "企业名称", from_payload("enterprise_name"))
_DESCRIPTION = Field("thing3", "隐患内容", from_payload("description"))
_LOCATION = Field("thing4", "隐患位置", from_payload("location"))


def _fields(title: str, deadline: str) -> tuple[Field, ...]:
    """Hazard family: 事项 · 企业 · 隐患 · 位置 · 期限 (thing1–thing4, time5)."""
    return (
        Field("thing1", "通知事项", constant(title)),
        _ENTERPRISE,
        _DESCRIPTION,
        _LOCATION,
        Field("time5", "整改期限", time_of(deadline, "未定")),
    )


def _link(payload: Payload) -> str:
    hazard_id = payload.get("hazard_id")
    return f"/h5/hazards/{int(hazard_id)}" if hazard_id is not None else "/h5/hazards"


def _about_a_major_hazard(payload: Payload) -> bool:
    return payload.get("level") == HazardLevel.MAJOR.value


def _hazard(
    name: str,
    title: str,
    *,
    urgent: bool = False,
    channels: tuple[Channel, ...] = (Channel.TEMPLATE,),
    deadline: str = "deadline",
) -> Kind:
    return Kind(
        name, title, Family.HAZARD, _fields(title, deadline), _link,
        urgent=urgent, channels=channels, urgent_when=_about_a_major_hazard,
    )


KINDS: tuple[Kind, ...] = (
    # --- the hazard life cycle (service.NOTICES) ---
    _hazard("hazard_reported", "新隐患待指派"),
    _hazard("hazard_assigned", "隐患待您整改"),
    _hazard("hazard_rectification_started", "隐患已开始整改", channels=CS_FIRST),
    # Verification requested: the rectification is done and waits for the decider.
    _hazard("hazard_rectified", "整改完成待复查"),
    _hazard("hazard_verified", "隐患已复查销号", channels=CS_FIRST),
    _hazard("hazard_reopened", "复查未通过请重改", channels=CS_FIRST),
    _hazard("hazard_rejected", "上报隐患未受理", channels=CS_FIRST),
    _hazard("hazard_upgraded", "隐患升级为重大隐患", urgent=True),
    _hazard("deadline_extension_requested", "延期申请待审批", deadline="new_deadline"),
    _hazard("deadline_extension_decided", "延期申请已审批", channels=CS_FIRST, deadline="new_deadline"),
    # --- major hazards: the five duties; always urgent ---
    _hazard("major_hazard_assessed", "重大隐患已评估认定", urgent=True),
    # To the bureau (admins and the town's staff).
    _hazard("major_hazard_registered", "重大隐患登记建档", urgent=True),
    _hazard("major_plan_approved", "重大隐患方案已审批", urgent=True),
    _hazard("major_hazard_supervised", "重大隐患挂牌督办", urgent=True),
    _hazard("major_hazard_accepted", "重大隐患验收确认", urgent=True),
    # --- deadline reminders (the escalation job) ---
    _hazard("hazard_due_soon", "隐患整改即将到期"),
    # --- overdue hazards, one kind per escalation level: L1 to whoever must act, L2 to their
    # department head, L3 to the managers ---
    _hazard("hazard_overdue_l1", "隐患整改已逾期"),
    _hazard("hazard_overdue_l2", "下级隐患逾期未整改"),
    _hazard("hazard_overdue_l3", "隐患逾期请督促整改"),
)
