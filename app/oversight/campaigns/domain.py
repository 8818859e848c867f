"""Pure rules of special campaigns (专项整治): the topics and the enterprise flags and
checklists each one targets, the campaign's life cycle (draft → active → closed) with who
may take each step, which enterprises a campaign targets, and the progress of a target and
of the campaign (checked, late, overdue, hazards found and rectified). Standard library and
other domain modules only.

Readings the issue leaves open, decided here:
- 冶金煤气/熔融金属 is one campaign topic over two flags: it targets enterprises with either
  flag, and each target checks the checklists of the flags it carries (煤气（燃气）专项排查清单
  and/or 高温熔融金属专项排查清单). A target added by hand without any of the topic's flags
  checks every checklist of the campaign.
- The campaign's checklists are the standard inspection checklists whose `applies_to` topics
  meet the topic's flags, pinned (their current versions) when it is launched.
- A self-check is submitted once per target, every item answered 合格 / 不合格 / 不适用.
  Submitted after the deadline (local date) it counts as checked late; a target not checked
  once the deadline has passed is overdue. A closed campaign takes no self-check.
- Hazards rectified = the hazards the self-check raised that are closed (verified or
  accepted, 销号).
- Creating, launching, closing and changing targets is the bureau admin's
  (Action.MANAGE_CAMPAIGNS); bureau staff watch the campaigns that cover their towns and the
  targets in them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.accounts.domain import Action, Actor, EnterpriseRef
from app.enterprises.domain import Topic
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed

MAX_TITLE = 120
MAX_DESCRIPTION = 4000
MAX_REASON = 200
MAX_ITEM_NOTE = 500


def invalid(field_name: str, problem: str) -> ValidationFailed:
    """A refusal of one form field, worded for the person who filled it in."""
    return ValidationFailed(problem, fields={field_name: problem})


# --- topics ---------------------------------------------------------------------------------


class CampaignTopic(StrEnum):
    DUST_EXPLOSION = "dust_explosion"  # 粉尘防爆
    CONFINED_SPACE = "confined_space"  # 有限空间
    AMMONIA_REFRIGERATION = "ammonia_refrigeration"  # 涉氨制冷
    METALLURGY = "metallurgy"  # 冶金煤气/熔融金属


TOPIC_LABELS = {
    CampaignTopic.DUST_EXPLOSION: "粉尘防爆",
    CampaignTopic.CONFINED_SPACE: "有限空间",
    CampaignTopic.AMMONIA_REFRIGERATION: "涉氨制冷",
    CampaignTopic.METALLURGY: "冶金煤气/熔融金属",
}

# The enterprise flags (一企一档 专项标签) each topic targets.
TOPIC_FLAGS: dict[CampaignTopic, frozenset[Topic]] = {
    CampaignTopic.DUST_EXPLOSION: frozenset({Topic.DUST_EXPLOSION}),
    CampaignTopic.CONFINED_SPACE: frozenset({Topic.CONFINED_SPACE}),
    CampaignTopic.AMMONIA_REFRIGERATION: frozenset({Topic.AMMONIA_REFRIGERATION}),
    CampaignTopic.METALLURGY: frozenset({Topic.METALLURGICAL_GAS, Topic.MOLTEN_METAL}),
}


def default_title(topic: CampaignTopic, year: int) -> str:
    """2026年粉尘防爆专项整治."""
    return f"{year}年{TOPIC_LABELS[topic]}专项整治"


def is_target(topic: CampaignTopic, flags: Iterable[Topic]) -> bool:
    """Does an enterprise carrying `flags` fall under the topic?"""
    return bool(TOPIC_FLAGS[topic] & frozenset(flags))


@dataclass(frozen=True)
class Candidate:
    """What target selection needs of an enterprise."""

    enterprise_id: int
    town_id: int
    flags: frozenset[Topic]


def select_targets(
    topic: CampaignTopic, town_ids: frozenset[int] | None, candidates: Iterable[Candidate]
) -> list[int]:
    """The enterprise ids a campaign targets when launched: in its towns (None: the whole
    district) and carrying one of the topic's flags; in id order."""
    return sorted(
        c.enterprise_id
        for c in candidates
        if (town_ids is None or c.town_id in town_ids) and is_target(topic, c.flags)
    )


def topic_checklists(topic: CampaignTopic, applies: Sequence[tuple[int, frozenset[Topic]]]) -> list[int]:
    """Of standard checklists (id, the topics their applies_to names), the ids the campaign
    uses: those meeting the topic's flags, in the given order."""
    return [checklist_id for checklist_id, topics in applies if topics & TOPIC_FLAGS[topic]]


def checklists_for_target(
    campaign_checklists: Sequence[tuple[int, frozenset[Topic]]], flags: frozenset[Topic]
) -> list[int]:
    """Of the campaign's checklists (version id, topics), those a target carrying `flags`
    checks: the ones of its flags, or every one when it carries none (added by hand)."""
    own = [version_id for version_id, topics in campaign_checklists if topics & flags]
    return own or [version_id for version_id, _topics in campaign_checklists]


# --- life cycle -----------------------------------------------------------------------------


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


STATUS_LABELS = {
    CampaignStatus.DRAFT: "草稿",
    CampaignStatus.ACTIVE: "进行中",
    CampaignStatus.CLOSED: "已结束",
}


class CampaignAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    LAUNCH = "launch"
    ADD_TARGET = "add_target"
    REMOVE_TARGET = "remove_target"
    SELF_CHECK = "self_check"
    CLOSE = "close"


ACTION_LABELS = {
    CampaignAction.CREATE: "创建草稿",
    CampaignAction.EDIT: "修改",
    CampaignAction.LAUNCH: "启动",
    CampaignAction.ADD_TARGET: "增加对象",
    CampaignAction.REMOVE_TARGET: "移出对象",
    CampaignAction.SELF_CHECK: "企业自查",
    CampaignAction.CLOSE: "结束",
}

# The status each action needs; the status it leaves (None: unchanged).
TRANSITIONS: dict[CampaignAction, tuple[CampaignStatus, CampaignStatus | None]] = {
    CampaignAction.EDIT: (CampaignStatus.DRAFT, None),
    CampaignAction.LAUNCH: (CampaignStatus.DRAFT, CampaignStatus.ACTIVE),
    CampaignAction.ADD_TARGET: (CampaignStatus.ACTIVE, None),
    CampaignAction.REMOVE_TARGET: (CampaignStatus.ACTIVE, None),
    CampaignAction.SELF_CHECK: (CampaignStatus.ACTIVE, None),
    CampaignAction.CLOSE: (CampaignStatus.ACTIVE, CampaignStatus.CLOSED),
}

_REFUSALS = {
    CampaignStatus.DRAFT: "该专项整治还是草稿，尚未启动。",
    CampaignStatus.ACTIVE: "该专项整治已启动，不能再修改范围和期限。",
    CampaignStatus.CLOSED: "该专项整治已结束，不能再提交自查或调整对象。",
}


def check_transition(action: CampaignAction, status: CampaignStatus) -> CampaignStatus:
    """The status after `action`; raises InvalidTransition (Chinese) when the status forbids it."""
    needed, after = TRANSITIONS[action]
    if status is not needed:
        raise InvalidTransition(_REFUSALS[status])
    return after or status


def require_manage(actor: Actor) -> None:
    """Creating, launching, closing and changing targets: the bureau admin's."""
    if not actor.can(Action.MANAGE_CAMPAIGNS):
        raise PermissionDenied("专项整治由安监局管理员创建、启动和结束；如需调整，请联系管理员。")


def require_self_check(actor: Actor, enterprise: EnterpriseRef) -> None:
    if not actor.can(Action.DO_CAMPAIGN_CHECK, enterprise):
        raise PermissionDenied("专项整治自查由企业主要负责人、安全管理员或企业管理员提交。")


def covers_town(all_towns: bool, town_ids: Iterable[int], town_id: int) -> bool:
    return all_towns or town_id in set(town_ids)


def may_watch(actor: Actor, all_towns: bool, town_ids: Iterable[int]) -> bool:
    """May a bureau user see a campaign: the admin any; staff one covering a town of theirs."""
    if not actor.is_bureau or not actor.can(Action.VIEW_DISTRICT_STATS):
        return False
    if actor.enterprise_scope().all:
        return True
    return all_towns or bool(set(town_ids) & actor.bureau_town_ids)


# --- input ----------------------------------------------------------------------------------


def clean_title(value: str | None) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise invalid("title", "请填写专项整治名称")
    if len(text) > MAX_TITLE:
        raise invalid("title", f"名称不能超过 {MAX_TITLE} 个字")
    return text


def clean_description(value: str | None) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_DESCRIPTION:
        raise invalid("description", f"工作要求不能超过 {MAX_DESCRIPTION} 个字")
    return text


def clean_reason(value: str | None) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise invalid("reason", "请填写理由（将随记录保存）")
    if len(text) > MAX_REASON:
        raise invalid("reason", f"理由不能超过 {MAX_REASON} 个字")
    return text


def parse_topic(value: str | None) -> CampaignTopic:
    try:
        return CampaignTopic(str(value or ""))
    except ValueError:
        raise invalid("topic", "请选择专项类别：粉尘防爆、有限空间、涉氨制冷或冶金煤气/熔融金属") from None


def parse_day(value: object, field_name: str, label: str) -> date:
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise invalid(field_name, f"请填写{label}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(field_name, f"{label}应为 YYYY-MM-DD 格式的日期") from None


def check_dates(starts_on: date, deadline: date) -> None:
    if deadline < starts_on:
        raise invalid("deadline", "自查截止日期不能早于开始日期")


def check_launch(starts_on: date, deadline: date, today: date, targets: int, checklists: int) -> None:
    """A campaign may be launched with a deadline still to come, at least one target and one
    checklist. Raises ValidationFailed saying what to fix."""
    if deadline < today:
        raise invalid("deadline", "自查截止日期已过，请先修改截止日期再启动")
    if checklists == 0:
        raise invalid("topic", "没有找到该专项的标准排查清单，请先导入标准清单")
    if targets == 0:
        raise invalid("towns", "所选范围内没有带该专项标签的企业，无法启动；请调整范围或先在企业档案中标注专项标签")


def check_close(deadline: date, today: date, note: str | None) -> str:
    """Closing before the deadline needs a reason; after it the note is optional."""
    text = " ".join((note or "").split())
    if today <= deadline and not text:
        raise invalid("note", "自查截止日期未到，提前结束请填写理由")
    if len(text) > MAX_REASON:
        raise invalid("note", f"说明不能超过 {MAX_REASON} 个字")
    return text


# --- the self-check -------------------------------------------------------------------------


class ItemResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NA = "na"


RESULT_LABELS = {ItemResult.PASS: "合格", ItemResult.FAIL: "不合格", ItemResult.NA: "不适用"}


@dataclass(frozen=True)
class Answer:
    code: str
    result: ItemResult
    note: str


def parse_answers(codes: Sequence[str], form: dict[str, str]) -> list[Answer]:
    """Every item of the self-check answered (`result-<code>` pass/fail/na, `note-<code>`);
    a failed item needs a note saying what was found. Raises ValidationFailed naming each
    item left open, in item order."""
    answers: list[Answer] = []
    problems: dict[str, str] = {}
    for code in codes:
        raw = str(form.get(f"result-{code}") or "")
        note = " ".join(str(form.get(f"note-{code}") or "").split())
        try:
            result = ItemResult(raw)
        except ValueError:
            problems[f"result-{code}"] = f"{code}：请选择合格、不合格或不适用"
            continue
        if len(note) > MAX_ITEM_NOTE:
            problems[f"note-{code}"] = f"{code}：说明不能超过 {MAX_ITEM_NOTE} 个字"
            continue
        if result is ItemResult.FAIL and not note:
            problems[f"note-{code}"] = f"{code}：不合格项请写明发现的问题（将作为隐患登记）"
            continue
        answers.append(Answer(code, result, note))
    if problems:
        raise ValidationFailed(f"还有 {len(problems)} 项未填写完整：" + "；".join(problems.values()), fields=problems)
    return answers


def hazard_description(campaign_title: str, item_text: str, note: str) -> str:
    """The hazard a failed item becomes names the campaign: 【专项整治：…】item：what was found."""
    return f"【专项整治：{campaign_title}】{item_text}：{note}"[:2000]


# --- progress -------------------------------------------------------------------------------


class TargetState(StrEnum):
    PENDING = "pending"  # not checked, deadline to come
    CHECKED = "checked"  # checked on time
    LATE = "late"  # checked after the deadline
    OVERDUE = "overdue"  # not checked, deadline passed
    REMOVED = "removed"  # taken off the campaign


TARGET_STATE_LABELS = {
    TargetState.PENDING: "待自查",
    TargetState.CHECKED: "已自查",
    TargetState.LATE: "逾期自查",
    TargetState.OVERDUE: "逾期未自查",
    TargetState.REMOVED: "已移出",
}


def target_state(deadline: date, today: date, checked_on: date | None, removed: bool) -> TargetState:
    """`checked_on` is the local date the self-check was submitted."""
    if removed:
        return TargetState.REMOVED
    if checked_on is not None:
        return TargetState.LATE if checked_on > deadline else TargetState.CHECKED
    return TargetState.OVERDUE if today > deadline else TargetState.PENDING


@dataclass(frozen=True)
class Progress:
    """Totals of a campaign, a town, or any set of targets (removed ones left out)."""

    targets: int = 0
    checked: int = 0  # on time or late
    late: int = 0
    overdue: int = 0
    pending: int = 0
    hazards: int = 0
    rectified: int = 0

    @property
    def checked_percent(self) -> str:
        if not self.targets:
            return "—"
        return f"{round(self.checked * 100 / self.targets)}%"


def progress(rows: Iterable[tuple[TargetState, int, int]]) -> Progress:
    """Sum (state, hazards found, hazards rectified) of each target."""
    targets = checked = late = overdue = pending = hazards = rectified = 0
    for state, found, fixed in rows:
        if state is TargetState.REMOVED:
            continue
        targets += 1
        checked += state in (TargetState.CHECKED, TargetState.LATE)
        late += state is TargetState.LATE
        overdue += state is TargetState.OVERDUE
        pending += state is TargetState.PENDING
        hazards += found
        rectified += fixed
    return Progress(targets, checked, late, overdue, pending, hazards, rectified)
