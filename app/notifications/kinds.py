"""Message kinds as data: what each notice says, to whom it may be folded or held, and how
it is laid out as a WeChat template message and as a customer-service text.

Template rules since 2023-05-04 (docs/wechat.md §2.4): `first`, `remark` and colours are
not shown, so everything essential is in keyword fields, each at most 20 characters with no
line break; longer values are cut here with "…" rather than by WeChat.

Kinds of one family share their keyword keys, so an account (limited to 25 templates) can
serve a whole family with one template: the template id is read from
`WECHAT_TEMPLATE_<KIND>`, else `WECHAT_TEMPLATE_<FAMILY>` (see config.settings).

Payloads are the JSON written by the code that enqueues (hazard notices:
app/hazard_reporting/hazards/recording.py `_notify`); the shapes of the others are documented
on their kinds below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from app.clock import LOCAL_TZ
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckLevel
from app.hazard_reporting.hazards.domain import HazardLevel
from app.notifications.domain import Channel

MAX_KEYWORD_LENGTH = 20
ELLIPSIS = "…"
MISSING = "—"
# A customer-service text is at most 2048 bytes (UTF-8).
MAX_TEXT_BYTES = 2048
_LINE_BREAKS = re.compile(r"[\s\u2028\u2029]+")

Payload = Mapping[str, Any]


class Family(StrEnum):
    """Kinds with one keyword layout (one template can serve them all)."""

    HAZARD = "hazard"
    CHECK = "check"
    TIP = "tip"
    DIGEST = "digest"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class Field:
    """One keyword field: its template key, its label, and its value from the payload."""

    key: str
    label: str
    value: Callable[[Payload], Any]


@dataclass(frozen=True)
class Kind:
    """One kind of notice.

    `urgent` notices are never held in quiet hours nor folded into a digest (also true for
    any payload whose `level` is major, see `is_urgent`); `foldable` ones may be folded for a
    digest-only recipient. `channels` in order of preference: a customer-service message is
    only used inside the recipient's service window, the template always works."""

    name: str
    title: str
    family: Family
    fields: tuple[Field, ...]
    link: Callable[[Payload], str]
    urgent: bool = False
    foldable: bool = True
    channels: tuple[Channel, ...] = (Channel.TEMPLATE,)

    @property
    def setting(self) -> str:
        """The environment variable naming this kind's template id."""
        return f"WECHAT_TEMPLATE_{self.name.upper()}"


@dataclass(frozen=True)
class Rendered:
    """A notice ready to send: template keyword data, the deep link, and the same content
    as one customer-service text."""

    data: dict[str, dict[str, str]]
    url: str
    text: str


# --- value helpers -----------------------------------------------------------------------


def keyword(value: Any) -> str:
    """A keyword value WeChat shows as sent: one line, at most 20 characters ("…" marks a
    cut), MISSING for nothing."""
    text = _one_line(value)
    if not text:
        return MISSING
    if len(text) > MAX_KEYWORD_LENGTH:
        return text[: MAX_KEYWORD_LENGTH - 1].rstrip() + ELLIPSIS
    return text


def _one_line(value: Any) -> str:
    if value is None:
        return ""
    return _LINE_BREAKS.sub(" ", str(value)).strip()


def local_time(value: Any) -> str | None:
    """An ISO timestamp (or datetime) as local "YYYY-MM-DD HH:MM"; None when absent or
    unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def local_date(value: Any) -> str | None:
    """An ISO date (or date) as "M月D日"; None when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return None
    if not isinstance(value, date):
        return None
    return f"{value.month}月{value.day}日"


def _get(name: str) -> Callable[[Payload], Any]:
    return lambda payload: payload.get(name)


def _time(name: str, default: str = MISSING) -> Callable[[Payload], Any]:
    return lambda payload: local_time(payload.get(name)) or default


def _const(text: str) -> Callable[[Payload], Any]:
    return lambda _payload: text


def _check_task(payload: Payload) -> str:
    try:
        level = CHECK_LEVEL_LABELS[CheckLevel(payload.get("level"))]
    except ValueError:
        level = "排查任务"
    name = payload.get("schedule_name") or level
    day = local_date(payload.get("period_start"))
    return f"{name} {day}" if day else name


def _count(name: str, unit: str, label: str) -> Callable[[Payload], str]:
    return lambda payload: f"{label}{int(payload.get(name) or 0)}{unit}"


def _hazard_link(payload: Payload) -> str:
    hazard_id = payload.get("hazard_id")
    return f"/h5/hazards/{int(hazard_id)}" if hazard_id is not None else "/h5/hazards"


def _tip_link(payload: Payload) -> str:
    tip_id = payload.get("tip_id")
    return f"/h5/tips/{int(tip_id)}" if tip_id is not None else "/h5/tips"


def _fixed(path: str) -> Callable[[Payload], str]:
    return lambda _payload: path


# --- layouts per family ------------------------------------------------------------------

_HAZARD_ENTERPRISE = Field("thing2", "企业名称", _get("enterprise_name"))
_HAZARD_DESCRIPTION = Field("thing3", "隐患内容", _get("description"))
_HAZARD_LOCATION = Field("thing4", "隐患位置", _get("location"))


def _hazard_fields(title: str, deadline: str = "deadline") -> tuple[Field, ...]:
    """Hazard family: 事项 · 企业 · 隐患 · 位置 · 期限 (thing1–thing4, time5)."""
    return (
        Field("thing1", "通知事项", _const(title)),
        _HAZARD_ENTERPRISE,
        _HAZARD_DESCRIPTION,
        _HAZARD_LOCATION,
        Field("time5", "整改期限", _time(deadline, "未定")),
    )


def _check_fields(title: str) -> tuple[Field, ...]:
    """Check family: 事项 · 企业 · 排查任务 · 应完成时间 · 责任人."""
    return (
        Field("thing1", "通知事项", _const(title)),
        Field("thing2", "企业名称", _get("enterprise_name")),
        Field("thing3", "排查任务", _check_task),
        Field("time4", "应完成时间", _time("due_at")),
        Field("thing5", "责任人", _get("responsible")),
    )


def _hazard(name: str, title: str, *, urgent: bool = False,
            channels: tuple[Channel, ...] = (Channel.TEMPLATE,), deadline: str = "deadline") -> Kind:
    return Kind(name, title, Family.HAZARD, _hazard_fields(title, deadline), _hazard_link,
                urgent=urgent, channels=channels)


_CS_FIRST = (Channel.CUSTOM, Channel.TEMPLATE)

# Every kind, by name. Hazard notices (payload: hazard_id, enterprise_id, enterprise_name,
# level, status, description, location, deadline, action, actor_id, actor_name, note, at,
# plus the event's data) come from the hazards service; the rest from the scheduler, the
# bureau's broadcasts and build_daily_digests.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        # --- the hazard life cycle (hazards service NOTICES) ---
        _hazard("hazard_reported", "新隐患待指派"),
        _hazard("hazard_assigned", "隐患待您整改"),
        _hazard("hazard_rectification_started", "隐患已开始整改", channels=_CS_FIRST),
        # Verification requested: the rectification is done and waits for the decider.
        _hazard("hazard_rectified", "整改完成待复查"),
        _hazard("hazard_verified", "隐患已复查销号", channels=_CS_FIRST),
        _hazard("hazard_reopened", "复查未通过请重改", channels=_CS_FIRST),
        _hazard("hazard_rejected", "上报隐患未受理", channels=_CS_FIRST),
        _hazard("hazard_upgraded", "隐患升级为重大隐患", urgent=True),
        _hazard("deadline_extension_requested", "延期申请待审批", deadline="new_deadline"),
        _hazard("deadline_extension_decided", "延期申请已审批", channels=_CS_FIRST, deadline="new_deadline"),
        # --- major hazards: the five duties; always urgent ---
        _hazard("major_hazard_assessed", "重大隐患已评估认定", urgent=True),
        # To the bureau (admins and the town's staff).
        _hazard("major_hazard_registered", "重大隐患登记建档", urgent=True),
        _hazard("major_plan_approved", "重大隐患方案已审批", urgent=True),
        _hazard("major_hazard_supervised", "重大隐患挂牌督办", urgent=True),
        _hazard("major_hazard_accepted", "重大隐患验收确认", urgent=True),
        # --- deadline reminders (scheduler); payload as the hazard notices ---
        _hazard("hazard_due_soon", "隐患整改即将到期"),
        # --- overdue hazards, one kind per escalation level (app/hazard_reporting/escalation.py):
        # L1 to whoever must act, L2 to their department head, L3 to the managers. Payload as
        # the hazard notices plus `notice` ("L1"…). ---
        _hazard("hazard_overdue_l1", "隐患整改已逾期"),
        _hazard("hazard_overdue_l2", "下级隐患逾期未整改"),
        _hazard("hazard_overdue_l3", "隐患逾期请督促整改"),
        # --- overdue checks, one kind per escalation level (scheduler). Payload: task_id,
        # enterprise_id, enterprise_name, schedule_name, level (daily/weekly/monthly),
        # period_start (ISO date), due_at (ISO), responsible (name of the team/department/
        # person responsible). ---
        Kind("check_overdue_l1", "排查任务已逾期", Family.CHECK,
             _check_fields("排查任务已逾期"), _fixed("/h5/tasks")),
        Kind("check_overdue_l2", "下级排查逾期未完成", Family.CHECK,
             _check_fields("下级排查逾期未完成"), _fixed("/h5/tasks")),
        Kind("check_overdue_l3", "排查逾期请督促落实", Family.CHECK,
             _check_fields("排查逾期请督促落实"), _fixed("/h5/tasks")),
        Kind("check_overdue_bureau", "企业排查逾期未完成", Family.CHECK,
             _check_fields("企业排查逾期未完成"), _fixed("/h5/tasks")),
        # --- safety tips broadcast by the bureau (app/tips). Payload:
        # broadcast_id, tip_id, tip_code, title, summary, at, path; reminder=True on the
        # reminder to acknowledge. ---
        Kind(
            "tip_broadcast",
            "安全提示",
            Family.TIP,
            (
                Field("thing1", "通知事项", lambda p: "安全提示阅读提醒" if p.get("reminder") else "安全提示"),
                Field("thing2", "提示主题", _get("title")),
                Field("thing3", "内容摘要", _get("summary")),
                Field("time4", "发布时间", _time("at")),
            ),
            _tip_link,
            channels=_CS_FIRST,
        ),
        # --- the working calendar still provisional (hazard_reporting/work_calendar
        # remind_unconfirmed), weekly to the bureau admins. Payload: year (the latest still
        # provisional), years (all of them), at. ---
        Kind(
            "calendar_unconfirmed",
            "工作日历待确认",
            Family.CALENDAR,
            (
                Field("thing1", "通知事项", _const("工作日历待确认")),
                Field("thing2", "年度", lambda p: "、".join(f"{y}年" for y in p.get("years") or [p.get("year")])),
                Field("thing3", "当前状态", _const("节假日按法定规则推算")),
                Field("thing4", "请处理", _const("导入国务院放假安排或确认")),
                Field("time5", "提醒时间", _time("at")),
            ),
            lambda p: f"/console/calendar?year={int(p.get('year') or 0)}",
            foldable=False,
        ),
        # --- the daily digest (build_daily_digests). Payload: date (ISO), overdue_checks,
        # open_hazards, overdue_hazards, folded_notices. Never folded into itself. ---
        Kind(
            "daily_digest",
            "每日安全汇总",
            Family.DIGEST,
            (
                Field("thing1", "汇总日期", lambda p: f"安全日报 {local_date(p.get('date')) or ''}"),
                Field("thing2", "逾期排查", _count("overdue_checks", "项", "逾期排查")),
                Field("thing3", "未销号隐患", _count("open_hazards", "项", "未销号隐患")),
                Field("thing4", "逾期隐患", _count("overdue_hazards", "项", "逾期未改隐患")),
                Field("thing5", "汇总通知", _count("folded_notices", "条", "已汇总通知")),
            ),
            _fixed("/h5/hazards"),
            foldable=False,
        ),
    )
}


def get_kind(name: str) -> Kind:
    """The kind called `name`. Raises KeyError for an unknown kind."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown notification kind {name!r}; add it to app/notifications/kinds.py") from None


def is_urgent(kind: Kind, payload: Payload) -> bool:
    """Urgent: the kind says so, it is a major_* kind, or the payload is about a major hazard."""
    return kind.urgent or kind.name.startswith("major_") or payload.get("level") == HazardLevel.MAJOR.value


def render(kind: Kind, payload: Payload, base_url: str) -> Rendered:
    """The template data (every value a valid keyword), the absolute deep link under
    `base_url`, and the customer-service text (title, one line per field, the link)."""
    url = f"{base_url.rstrip('/')}{kind.link(payload)}"
    data: dict[str, dict[str, str]] = {}
    lines = [f"【{kind.title}】"]
    for field in kind.fields:
        value = field.value(payload)
        data[field.key] = {"value": keyword(value)}
        if field.key != "thing1":  # thing1 repeats the title
            lines.append(f"{field.label}：{_one_line(value) or MISSING}")
    link = f'<a href="{url}">查看详情</a>'
    return Rendered(data=data, url=url, text=_fit_text(lines, link))


def _fit_text(lines: list[str], link: str) -> str:
    """Join lines and the link within MAX_TEXT_BYTES, shortening the longest line first."""
    while True:
        text = "\n".join([*lines, link])
        excess = len(text.encode("utf-8")) - MAX_TEXT_BYTES
        if excess <= 0:
            return text
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        if len(lines[longest]) <= 2:
            # Nothing left to shorten (an absurdly long link): cut the bytes.
            return text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
        # CJK characters are 3 bytes; cut a little more than needed and mark it.
        keep = max(len(lines[longest]) - excess // 3 - 2, 1)
        lines[longest] = lines[longest][:keep] + ELLIPSIS
