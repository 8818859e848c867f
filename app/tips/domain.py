"""Pure rules of safety tips and their broadcasts. Standard library and other domain modules only.

- The library (docs/DOMAIN.md §7, §8(b)): seasonal tips TIP-01..28 and the confined-space
  knowledge CSK-01..12, each with the months it is proposed in and a default audience.
- Audience: towns × industries × topic flags × member roles. Within a dimension any value
  matches; across dimensions all must match; an empty dimension matches everything.
- Broadcasts: status enum + transition table (draft → scheduled → released; draft or
  scheduled → cancelled), the seasonal calendar's suggested send time, outbox kinds and keys.

Channel choice (issue 13): WeChat's template rules forbid broadcast and marketing-like
content, so a general tip goes out as a mass message (群发, sendall) to the WeChat tag of each
of its towns — every follower carries the tag of one town (their first active membership's),
so nobody gets it twice — and counts against WeChat's 4 mass messages per follower and
calendar month, tracked here per person. A tip the bureau asks each person to learn and
confirm (requires_ack) is a task: one outbox row per recipient, sent as a task notice
(待办：请学习并确认) by template or customer-service message. Both write one receipt per
recipient, so reading and acknowledgement are tracked per person either way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from app.accounts.domain import ROLE_LABELS, Actor, Role
from app.clock import LOCAL_TZ, to_local
from app.enterprises.domain import INDUSTRY_LABELS, TOPIC_LABELS, Industry, Topic
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed

# --- Outbox ------------------------------------------------------------------------------

# The outbox kind of tip messages (app/notifications/kinds.py lays it out). A reminder is the
# same kind with its own dedupe key and a summary asking for the acknowledgement, so it goes
# out through the same template.
TIP_BROADCAST_KIND = "tip_broadcast"
REMINDER_SUMMARY = "请阅读后点击“我已阅读并知晓”"

MAX_TITLE = 64
MAX_SUMMARY = 200
MAX_BODY = 20_000


BROADCAST_KEY = "tip"
REMINDER_KEY = "tip-reminder"


def broadcast_key_prefix(broadcast_id: int) -> str:
    """Dedupe keys of a broadcast's messages: `tip:<broadcast id>:<user id>`."""
    return f"{BROADCAST_KEY}:{broadcast_id}:"


def reminder_key_prefix(broadcast_id: int) -> str:
    """Dedupe keys of a broadcast's reminders: `tip-reminder:<broadcast id>:<user id>`."""
    return f"{REMINDER_KEY}:{broadcast_id}:"


def tip_path(tip_id: int) -> str:
    """Where the recipient reads a tip (the H5 article page), relative to the site."""
    return f"/h5/tips/{tip_id}"


# --- The library -------------------------------------------------------------------------


class TipKind(StrEnum):
    SEASONAL = "seasonal"  # TIP-xx 季节性安全提示
    KNOWLEDGE = "knowledge"  # CSK-xx 有限空间知识
    CUSTOM = "custom"  # written by the bureau for a broadcast


TIP_KIND_LABELS = {
    TipKind.SEASONAL: "季节性提示",
    TipKind.KNOWLEDGE: "有限空间知识",
    TipKind.CUSTOM: "自定义提示",
}

_CODE_PATTERNS = {TipKind.SEASONAL: re.compile(r"TIP-\d{2}"), TipKind.KNOWLEDGE: re.compile(r"CSK-\d{2}")}
_INDUSTRY_BY_NAME = {label: i for i, label in INDUSTRY_LABELS.items()} | {i.value: i for i in Industry}
_TOPIC_BY_NAME = {label: t for t, label in TOPIC_LABELS.items()} | {t.value: t for t in Topic}
_ROLE_BY_NAME = {label: r for r, label in ROLE_LABELS.items()} | {r.value: r for r in Role}


@dataclass(frozen=True)
class Audience:
    """Who a tip is for. Empty dimensions match everything; an audience with every
    dimension empty is everyone (every subscribed member of every enterprise)."""

    town_ids: frozenset[int] = frozenset()
    industries: frozenset[Industry] = frozenset()
    topics: frozenset[Topic] = frozenset()
    roles: frozenset[Role] = frozenset()

    @property
    def everyone(self) -> bool:
        return not (self.town_ids or self.industries or self.topics or self.roles)

    def to_json(self) -> dict[str, list[Any]]:
        """Stable JSON form (sorted lists of ids / enum values)."""
        return {
            "towns": sorted(self.town_ids),
            "industries": sorted(i.value for i in self.industries),
            "topics": sorted(t.value for t in self.topics),
            "roles": sorted(r.value for r in self.roles),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Audience:
        """The audience stored by `to_json`. Raises ValueError on an unknown value."""
        data = data or {}
        try:
            return cls(
                town_ids=frozenset(int(t) for t in data.get("towns") or ()),
                industries=frozenset(Industry(i) for i in data.get("industries") or ()),
                topics=frozenset(Topic(t) for t in data.get("topics") or ()),
                roles=frozenset(Role(r) for r in data.get("roles") or ()),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid audience {dict(data)!r}: {exc}") from None

    def describe(self, town_names: Mapping[int, str] | None = None) -> str:
        """Chinese description, e.g. "专项：有限空间；行业：轻工、商贸"."""
        if self.everyone:
            return "全部企业"
        names = town_names or {}
        parts = []
        if self.town_ids:
            towns = "、".join(names.get(t, f"镇街#{t}") for t in sorted(self.town_ids))
            parts.append(f"镇街：{towns}")
        if self.topics:
            parts.append("专项：" + "、".join(TOPIC_LABELS[t] for t in Topic if t in self.topics))
        if self.industries:
            parts.append("行业：" + "、".join(INDUSTRY_LABELS[i] for i in Industry if i in self.industries))
        if self.roles:
            parts.append("角色：" + "、".join(ROLE_LABELS[r] for r in Role if r in self.roles))
        return "；".join(parts)


def audience_from_library(raw: Mapping[str, Any] | None, where: str) -> Audience:
    """A library entry's `audience` ({all: true} or topics / industries / roles by Chinese
    label or value, as in docs/DOMAIN.md §8(b)). Raises ValueError naming the entry and value."""
    raw = raw or {}
    unknown = set(raw) - {"all", "topics", "industries", "roles"}
    if unknown:
        raise ValueError(f"{where}: unknown audience keys {sorted(unknown)}")
    try:
        audience = Audience(
            industries=frozenset(_INDUSTRY_BY_NAME[str(v)] for v in raw.get("industries") or ()),
            topics=frozenset(_TOPIC_BY_NAME[str(v)] for v in raw.get("topics") or ()),
            roles=frozenset(_ROLE_BY_NAME[str(v)] for v in raw.get("roles") or ()),
        )
    except KeyError as exc:
        raise ValueError(f"{where}: unknown industry, topic or role {exc.args[0]!r}") from None
    if bool(raw.get("all")) != audience.everyone:
        raise ValueError(f"{where}: audience must be either `all: true` or name who it is for")
    return audience


@dataclass(frozen=True)
class TipSpec:
    """One library entry, validated."""

    code: str
    kind: TipKind
    title: str
    summary: str
    body: str
    months: tuple[int, ...]
    audience: Audience

    def signature(self) -> str:
        """Content hash: loading an unchanged entry again changes nothing."""
        content = {
            "kind": self.kind.value,
            "title": self.title,
            "summary": self.summary,
            "body": self.body,
            "months": list(self.months),
            "audience": self.audience.to_json(),
        }
        return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def parse_library(data: Mapping[str, Any]) -> list[TipSpec]:
    """Validate the library data file (already parsed): `tips` (TIP-xx) and `knowledge`
    (CSK-xx) lists. Raises ValueError naming the entry at fault: a bad or duplicate code,
    a missing or over-long title/summary/body, months outside 1–12, a bad audience."""
    specs: list[TipSpec] = []
    seen: set[str] = set()
    for section, kind in (("tips", TipKind.SEASONAL), ("knowledge", TipKind.KNOWLEDGE)):
        entries = data.get(section)
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"tip library: `{section}` must be a non-empty list")
        for raw in entries:
            code = str(raw.get("code", "")).strip()
            where = f"{section} {code or '?'}"
            if not _CODE_PATTERNS[kind].fullmatch(code) or code in seen:
                raise ValueError(f"{where}: missing, malformed or duplicate code")
            seen.add(code)
            title = str(raw.get("title", "")).strip()
            summary = str(raw.get("summary", "")).strip()
            body = str(raw.get("body", "")).strip()
            for name, value, limit in (
                ("title", title, MAX_TITLE),
                ("summary", summary, MAX_SUMMARY),
                ("body", body, MAX_BODY),
            ):
                if not value or len(value) > limit:
                    raise ValueError(f"{where}: {name} must be 1–{limit} characters")
            months = raw.get("months")
            if (
                not isinstance(months, list)
                or not months
                or any(not isinstance(m, int) or not 1 <= m <= 12 for m in months)
                or len(set(months)) != len(months)
            ):
                raise ValueError(f"{where}: months must be distinct numbers 1–12")
            audience = audience_from_library(raw.get("audience"), where)
            specs.append(TipSpec(code, kind, title, summary, body, tuple(sorted(months)), audience))
    return specs


# --- Article text ------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A piece of an article: a heading, a paragraph, or a list of items."""

    kind: str  # "heading" | "paragraph" | "list"
    text: str = ""
    items: tuple[str, ...] = ()


def article_blocks(body: str) -> list[Block]:
    """Split an article body into blocks. A line starting with "## " is a heading; a run of
    lines starting with "- " is a list; other lines form paragraphs, which blank lines end
    (Chinese lines of one paragraph are joined without a space). Plain text in and out:
    the template escapes it."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", "".join(paragraph)))
            paragraph.clear()
        if items:
            blocks.append(Block("list", items=tuple(items)))
            items.clear()

    for raw in body.strip().splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(Block("heading", line[3:].strip()))
        elif line.startswith("- "):
            if paragraph:
                flush()
            items.append(line[2:].strip())
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return blocks


# --- Broadcasts --------------------------------------------------------------------------


class BroadcastStatus(StrEnum):
    DRAFT = "draft"  # 待审核: proposed by the seasonal calendar, waiting for the bureau
    SCHEDULED = "scheduled"  # 已排期: approved, released at send_at
    RELEASED = "released"  # 已发送: one outbox row per recipient written
    CANCELLED = "cancelled"  # 已取消


BROADCAST_STATUS_LABELS = {
    BroadcastStatus.DRAFT: "待审核",
    BroadcastStatus.SCHEDULED: "已排期",
    BroadcastStatus.RELEASED: "已发送",
    BroadcastStatus.CANCELLED: "已取消",
}


class BroadcastAction(StrEnum):
    PROPOSE = "propose"  # the seasonal calendar drafted it
    CREATE = "create"  # the bureau created it, scheduled
    SCHEDULE = "schedule"  # approve a draft / change time or audience of a scheduled one
    CANCEL = "cancel"
    RELEASE = "release"  # fan-out at send_at
    REMIND = "remind"  # one reminder to those who have not acknowledged


BROADCAST_ACTION_LABELS = {
    BroadcastAction.PROPOSE: "季节日历建议",
    BroadcastAction.CREATE: "新建并排期",
    BroadcastAction.SCHEDULE: "审核排期",
    BroadcastAction.CANCEL: "取消",
    BroadcastAction.RELEASE: "发送",
    BroadcastAction.REMIND: "提醒未确认人员",
}

# (from, action) → to. The bureau (Action.BROADCAST_TIP) takes SCHEDULE and CANCEL; only
# the release job takes RELEASE.
BROADCAST_TRANSITIONS: Mapping[tuple[BroadcastStatus, BroadcastAction], BroadcastStatus] = {
    (BroadcastStatus.DRAFT, BroadcastAction.SCHEDULE): BroadcastStatus.SCHEDULED,
    (BroadcastStatus.SCHEDULED, BroadcastAction.SCHEDULE): BroadcastStatus.SCHEDULED,
    (BroadcastStatus.DRAFT, BroadcastAction.CANCEL): BroadcastStatus.CANCELLED,
    (BroadcastStatus.SCHEDULED, BroadcastAction.CANCEL): BroadcastStatus.CANCELLED,
    (BroadcastStatus.SCHEDULED, BroadcastAction.RELEASE): BroadcastStatus.RELEASED,
    (BroadcastStatus.RELEASED, BroadcastAction.REMIND): BroadcastStatus.RELEASED,
}


def broadcast_transition(status: BroadcastStatus, action: BroadcastAction) -> BroadcastStatus:
    """The status after `action`. Raises InvalidTransition (in Chinese) when not allowed."""
    try:
        return BROADCAST_TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(
            f"推送当前为「{BROADCAST_STATUS_LABELS[status]}」，不能执行「{BROADCAST_ACTION_LABELS[action]}」。"
        ) from None


# The bureau may fill in a form for a few minutes; a time that passed meanwhile still counts
# as "now" rather than being refused.
SEND_AT_TOLERANCE = timedelta(minutes=10)
MAX_SCHEDULE_AHEAD = timedelta(days=366)


def check_send_at(send_at: datetime, now: datetime) -> None:
    """A broadcast is scheduled from now up to a year ahead. Raises ValidationFailed."""
    if send_at.tzinfo is None:
        raise ValueError("naive datetime: pass send_at as an aware datetime")
    if send_at < now - SEND_AT_TOLERANCE:
        raise ValidationFailed.for_field("send_at", "发送时间不能早于当前时间")
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise ValidationFailed.for_field("send_at", "发送时间不能晚于一年以后")


def check_audience_scope(actor: Actor, audience: Audience) -> None:
    """Staff limited to some towns may only address those towns; district-wide actors any
    audience. Raises PermissionDenied."""
    if actor.enterprise_scope().all:
        return
    if not audience.town_ids or not audience.town_ids <= actor.bureau_town_ids:
        raise PermissionDenied("只能向您负责的镇街推送安全提示，请选择推送镇街。")


def proposal_month(now: datetime) -> str:
    """The seasonal calendar's month key at `now`, e.g. "2027-06" (Asia/Shanghai)."""
    return to_local(now).strftime("%Y-%m")


# docs/DOMAIN.md §8(b): push in the first week of the month. The calendar proposes on the 1st;
# the 3rd at 09:30 leaves the bureau two days to review before the suggested time.
PROPOSAL_DAY = 3
PROPOSAL_TIME = time(9, 30)


def proposal_send_at(now: datetime) -> datetime:
    """The suggested send time of this month's proposals: the 3rd at 09:30 local, or, when
    that has passed (the calendar ran late), 09:30 on the next day. Aware UTC."""
    local = to_local(now)
    suggested = datetime.combine(local.date().replace(day=PROPOSAL_DAY), PROPOSAL_TIME, LOCAL_TZ)
    if suggested <= local:
        suggested = datetime.combine(local.date() + timedelta(days=1), PROPOSAL_TIME, LOCAL_TZ)
    return suggested.astimezone(UTC)


def broadcast_payload(
    *, broadcast_id: int, tip_id: int, tip_code: str | None, title: str, summary: str, at: datetime
) -> dict[str, Any]:
    """What every message of a broadcast carries (the same for all recipients); `at` is the
    release time, shown as 发布时间."""
    return {
        "broadcast_id": broadcast_id,
        "tip_id": tip_id,
        "tip_code": tip_code,
        "title": title,
        "summary": summary,
        "at": at.isoformat(),
        "path": tip_path(tip_id),
    }


def reminder_payload(broadcast: Mapping[str, Any]) -> dict[str, Any]:
    """The reminder of a broadcast: its payload, asking for the acknowledgement."""
    return {**broadcast, "summary": REMINDER_SUMMARY, "reminder": True}


# --- How a broadcast reaches people: mass message or task notice --------------------------
#
# WeChat's template rules forbid broadcast and marketing-like content in template messages
# (docs/WECHAT.md §2.4), so a general tip goes out as a mass message (群发) to the tags of
# its towns, and a template message is used only where the tip is an acknowledgement task
# for that person (需逐人确认): a task notice, one per person, through the outbox.


class Delivery(StrEnum):
    MASS = "mass"  # 群发: one sendall per town tag; WeChat reports totals only
    TASK = "task"  # 待办通知: one template (or customer-service) message per person


DELIVERY_LABELS = {
    Delivery.MASS: "群发消息（按镇街标签）",
    Delivery.TASK: "待办通知（逐人模板消息）",
}

DELIVERY_RULE = (
    "需逐人确认的提示（学习任务）以待办通知逐人发送模板消息，每人须点击确认；"
    "其余一般性安全提示以群发消息按镇街标签发送，不占用模板消息，"
    "但每位关注者每月最多收到 4 条群发，超出者本次不会收到。"
)


def delivery_for(requires_ack: bool) -> Delivery:
    """The rule that picks the channel of a broadcast: an acknowledgement task → task notice
    to each person; anything else → mass message by tag."""
    return Delivery.TASK if requires_ack else Delivery.MASS


def default_requires_ack(kind: TipKind, audience: Audience) -> bool:
    """The default when the bureau does not say: confined-space knowledge (CSK-xx) is what
    the bureau asks each named person to learn and confirm, and so is a tip aimed at some
    industries, topics or roles (a mass message can only reach whole towns); any other tip
    is a general notice for mass sending."""
    return kind is TipKind.KNOWLEDGE or bool(audience.industries or audience.topics or audience.roles)


def check_mass_audience(audience: Audience) -> None:
    """A mass message reaches whole tags, and our tags are one per town: a mass broadcast
    can choose towns only. Raises ValidationFailed."""
    if audience.industries or audience.topics or audience.roles:
        raise ValidationFailed(
            "群发消息按镇街标签发送，不能再按行业、专项或人员角色筛选。"
            "如需只发给部分企业或人员，请勾选“需逐人确认（学习任务）”，以待办通知逐人发送。",
            fields={"requires_ack": "按行业、专项或角色筛选时须逐人确认"},
        )


# Certified service accounts: each follower receives at most 4 mass messages per calendar
# month; WeChat accepts the send and silently skips those over the limit (docs/WECHAT.md §2.7).
MASS_PER_FOLLOWER_PER_MONTH = 4


def quota_month(now: datetime) -> str:
    """The calendar month a mass message counts against, "2027-07" (Asia/Shanghai)."""
    return to_local(now).strftime("%Y-%m")


def over_quota(used: int) -> bool:
    """True when a follower who received `used` mass messages this month gets no more."""
    return used >= MASS_PER_FOLLOWER_PER_MONTH


def quota_message(over: int, total: int) -> str:
    """The console's warning before a mass send."""
    if not over:
        return f"本次群发 {total} 人均未达到本月 4 条群发上限。"
    return (
        f"{total} 名接收人中有 {over} 人本月已收到 4 条群发消息，已达微信上限，"
        f"本次将被排除、不会收到（其余 {total - over} 人正常接收）。"
        "如必须让他们知晓，请改为“需逐人确认”的待办通知。"
    )


TOWN_TAG_PREFIX = "安查·"
MAX_TAG_NAME_BYTES = 30  # WeChat refuses longer names with 45158


def town_tag_name(town_name: str) -> str:
    """The WeChat tag of a town's members, cut to WeChat's 30 bytes (UTF-8)."""
    name = TOWN_TAG_PREFIX + town_name.strip()
    while len(name.encode("utf-8")) > MAX_TAG_NAME_BYTES:
        name = name[:-1]
    return name


MAX_MASS_TEXT_BYTES = 2048


def mass_text(title: str, summary: str, url: str) -> str:
    """The text of a mass message: the title, the summary and a link to the H5 article,
    within WeChat's 2048 bytes (the summary is shortened when needed)."""

    def build(body: str) -> str:
        return f"【安全提示】{title}\n{body}\n<a href=\"{url}\">阅读全文</a>"

    text_ = build(summary)
    while len(text_.encode("utf-8")) > MAX_MASS_TEXT_BYTES and summary:
        summary = summary[:-1]
        text_ = build(summary + "…")
    return text_


class MassStatus(StrEnum):
    PENDING = "pending"  # written at release; the send job has not submitted it yet
    SUBMITTED = "submitted"  # WeChat accepted the job (msg_id); MASSSENDJOBFINISH awaited
    FINISHED = "finished"  # MASSSENDJOBFINISH: send success
    FAILED = "failed"  # MASSSENDJOBFINISH failed, or WeChat refused the send


MASS_STATUS_LABELS = {
    MassStatus.PENDING: "待提交",
    MassStatus.SUBMITTED: "已提交，等待结果",
    MassStatus.FINISHED: "已发送",
    MassStatus.FAILED: "失败",
}

MAX_MASS_ATTEMPTS = 5


def mass_finish_status(report: str) -> MassStatus:
    """MASSSENDJOBFINISH `Status`: success → finished; "send fail" or "err(…)" → failed.
    The documentation writes "send success", the pushes carry "sendsuccess": both count."""
    return MassStatus.FINISHED if report.replace(" ", "").lower() == "sendsuccess" else MassStatus.FAILED


def mass_client_msg_id(mass_send_id: int) -> str:
    """`clientmsgid` of a mass send: WeChat refuses a reused one (45065), so a job retried
    after a lost answer cannot send the tip twice."""
    return f"ancha-mass-{mass_send_id}"


class RecipientState(StrEnum):
    UNREAD = "unread"
    READ = "read"  # opened the H5 article, not acknowledged
    ACKNOWLEDGED = "acknowledged"


RECIPIENT_STATE_LABELS = {
    RecipientState.UNREAD: "未阅读",
    RecipientState.READ: "已阅读未确认",
    RecipientState.ACKNOWLEDGED: "已确认",
}


def recipient_state(read_at: datetime | None, acknowledged_at: datetime | None) -> RecipientState:
    if acknowledged_at is not None:
        return RecipientState.ACKNOWLEDGED
    return RecipientState.READ if read_at is not None else RecipientState.UNREAD


TASK_NOTICE = "待办：请学习并确认"
TASK_REMINDER = "待办提醒：请学习并确认"
