"""Pure rules of enforcement inspections (执法检查): the record's life cycle as a transition
table with the permission each action needs, the five 见 (见问题清单、见处罚指令、
见责任人签字、见整改结果、见复查验收) and what signing and acceptance require.
Standard library and other domain modules only.

Readings the brief leaves open, decided here:
- A record is drafted on the spot (problems, directive, attributes), then signed by the
  enterprise's responsible person. Signing freezes the problems and the directive and turns
  each problem into a hazard of the enterprise's ledger (source 执法检查).
- 见整改结果 is read from those hazards: done when none is still open. A hazard the
  enterprise rejected (judged not a hazard) is settled, not rectified; it no longer blocks
  the re-inspection, which is where the bureau judges whether that was right.
- A re-inspection that fails keeps the record open ("rectifying") with the reason; the next
  one may pass. A passed re-inspection (复查验收) needs every hazard settled.
- Every action is the bureau's (Action.INSPECT: the bureau admin anywhere, staff in their
  towns). The enterprise's principal, safety officer and admin read signed records of their
  own enterprise; drafts are the bureau's work in progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.accounts.domain import Action, Actor, EnterpriseRef, Role
from app.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.hazard_reporting.hazards.domain import HazardStatus

# --- vocabularies -----------------------------------------------------------------------------


class InspectionStatus(StrEnum):
    DRAFT = "draft"  # 检查中: problems, directive and attributes may change
    SIGNED = "signed"  # 已签字: frozen, problems are hazards in the ledger
    RECTIFYING = "rectifying"  # 复查未通过: still being rectified
    ACCEPTED = "accepted"  # 复查验收通过: closed


STATUS_LABELS = {
    InspectionStatus.DRAFT: "检查中（未签字）",
    InspectionStatus.SIGNED: "已签字，整改中",
    InspectionStatus.RECTIFYING: "复查未通过，继续整改",
    InspectionStatus.ACCEPTED: "复查验收通过",
}


class InspectionAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"  # details, attributes, the responsible person
    ADD_PROBLEM = "add_problem"
    REMOVE_PROBLEM = "remove_problem"
    SET_DIRECTIVE = "set_directive"
    SIGN = "sign"
    ACCEPT = "accept"  # 复查验收通过
    REOPEN = "reopen"  # 复查未通过


ACTION_LABELS = {
    InspectionAction.CREATE: "新建检查记录",
    InspectionAction.EDIT: "修改检查信息",
    InspectionAction.ADD_PROBLEM: "添加问题",
    InspectionAction.REMOVE_PROBLEM: "删除问题",
    InspectionAction.SET_DIRECTIVE: "填写处罚指令",
    InspectionAction.SIGN: "责任人签字",
    InspectionAction.ACCEPT: "复查验收通过",
    InspectionAction.REOPEN: "复查未通过",
}


class PenaltyKind(StrEnum):
    NONE = "none"  # 无
    RECTIFY_ORDER = "rectify_order"  # 责令限期整改
    ADMINISTRATIVE_PENALTY = "administrative_penalty"  # 行政处罚


PENALTY_LABELS = {
    PenaltyKind.NONE: "无",
    PenaltyKind.RECTIFY_ORDER: "责令限期整改",
    PenaltyKind.ADMINISTRATIVE_PENALTY: "行政处罚",
}

# Who reads signed records of their own enterprise (the 一企一档 readers).
ENTERPRISE_READERS = frozenset({Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN})

# --- the transition table -------------------------------------------------------------------------

_D, _S, _R, _A = (
    InspectionStatus.DRAFT,
    InspectionStatus.SIGNED,
    InspectionStatus.RECTIFYING,
    InspectionStatus.ACCEPTED,
)

# action → (the statuses it may start from, the status it leaves; None: unchanged)
TRANSITIONS: dict[InspectionAction, tuple[frozenset[InspectionStatus], InspectionStatus | None]] = {
    InspectionAction.EDIT: (frozenset({_D}), None),
    InspectionAction.ADD_PROBLEM: (frozenset({_D}), None),
    InspectionAction.REMOVE_PROBLEM: (frozenset({_D}), None),
    InspectionAction.SET_DIRECTIVE: (frozenset({_D}), None),
    InspectionAction.SIGN: (frozenset({_D}), _S),
    InspectionAction.ACCEPT: (frozenset({_S, _R}), _A),
    InspectionAction.REOPEN: (frozenset({_S, _R}), _R),
}

# The permission each action needs on the inspected enterprise.
ACTION_PERMISSIONS: dict[InspectionAction, Action] = {action: Action.INSPECT for action in InspectionAction}

_FROZEN = "该检查记录已由责任人签字，问题清单、处罚指令和检查信息不能再修改。"
_REFUSALS: dict[tuple[InspectionAction, InspectionStatus], str] = {
    (InspectionAction.SIGN, _S): "该检查记录已签字，不能重复签字。",
    (InspectionAction.SIGN, _R): "该检查记录已签字，不能重复签字。",
    (InspectionAction.SIGN, _A): "该检查记录已签字并复查验收，不能重复签字。",
    (InspectionAction.ACCEPT, _D): "检查记录尚未由责任人签字，不能复查验收。",
    (InspectionAction.REOPEN, _D): "检查记录尚未由责任人签字，不能复查。",
    (InspectionAction.ACCEPT, _A): "该检查记录已复查验收通过，不能重复验收。",
    (InspectionAction.REOPEN, _A): "该检查记录已复查验收通过，不能再复查。",
}


def check_transition(action: InspectionAction, status: InspectionStatus) -> InspectionStatus:
    """The status after `action`; raises InvalidTransition (Chinese) when `status` forbids it."""
    sources, target = TRANSITIONS[action]
    if status not in sources:
        raise InvalidTransition(_REFUSALS.get((action, status), _FROZEN))
    return target or status


def may_take(actor: Actor, action: InspectionAction, enterprise: EnterpriseRef) -> bool:
    return actor.can(ACTION_PERMISSIONS[action], enterprise)


def require_inspection_action(actor: Actor, action: InspectionAction, enterprise: EnterpriseRef) -> None:
    """Raise PermissionDenied unless `actor` may take `action` on an inspection of `enterprise`."""
    if not may_take(actor, action, enterprise):
        raise PermissionDenied("执法检查由安监局人员办理；您只能办理所辖镇（街道）企业的执法检查。")


def may_read(actor: Actor, enterprise: EnterpriseRef, status: InspectionStatus) -> bool:
    """The bureau in scope reads every record; the enterprise's readers its signed ones."""
    if actor.can(Action.INSPECT, enterprise):
        return True
    roles = actor.roles.get(enterprise.id, frozenset())
    return status is not InspectionStatus.DRAFT and bool(roles & ENTERPRISE_READERS)


# --- the five 见 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFacts:
    """What the five 见 read of a record (and its problems' hazards)."""

    status: InspectionStatus
    problems: int
    no_problems: bool
    penalty_kind: PenaltyKind | None
    penalty_content: str
    penalty_number: str
    penalty_deadline: date | None
    signed: bool
    hazard_statuses: tuple[HazardStatus, ...] = ()


@dataclass(frozen=True)
class Seen:
    key: str
    label: str
    done: bool
    detail: str


FIVE_SEEN_LABELS = (
    ("problems", "见问题清单"),
    ("directive", "见处罚指令"),
    ("signature", "见责任人签字"),
    ("rectification", "见整改结果"),
    ("acceptance", "见复查验收"),
)


def directive_problems(
    kind: PenaltyKind | None, content: str, number: str, deadline: date | None
) -> dict[str, str]:
    """What a penalty directive lacks, per field (empty: filled). 「无」 is a filled directive."""
    if kind is None:
        return {"penalty_kind": "请选择处罚指令（没有处罚请选择“无”）"}
    if kind is PenaltyKind.NONE:
        return {}
    missing: dict[str, str] = {}
    if not content.strip():
        missing["penalty_content"] = f"请填写{PENALTY_LABELS[kind]}的内容"
    if kind is PenaltyKind.RECTIFY_ORDER and deadline is None:
        missing["penalty_deadline"] = "责令限期整改须填写整改期限"
    if kind is PenaltyKind.ADMINISTRATIVE_PENALTY and not number.strip():
        missing["penalty_number"] = "行政处罚须填写处罚决定书文号"
    return missing


def settled(status: HazardStatus) -> bool:
    """A hazard no longer open: closed (verified/accepted) or rejected."""
    return status in (HazardStatus.CLOSED, HazardStatus.REJECTED)


def rectification_counts(statuses: Iterable[HazardStatus]) -> tuple[int, int, int]:
    """(hazards, closed, still open) of a record's problems."""
    items = list(statuses)
    closed = sum(1 for s in items if s is HazardStatus.CLOSED)
    still_open = sum(1 for s in items if not settled(s))
    return len(items), closed, still_open


def five_seen(facts: RecordFacts) -> list[Seen]:
    """The five 见 of a record, in order, each done or missing with what it says."""
    labels = dict(FIVE_SEEN_LABELS)
    if facts.problems:
        problems = Seen("problems", labels["problems"], True, f"发现问题 {facts.problems} 项")
    elif facts.no_problems:
        problems = Seen("problems", labels["problems"], True, "未发现问题")
    else:
        problems = Seen("problems", labels["problems"], False, "尚未列出问题（或勾选“未发现问题”）")
    lacks = directive_problems(facts.penalty_kind, facts.penalty_content, facts.penalty_number, facts.penalty_deadline)
    if lacks:
        directive = Seen("directive", labels["directive"], False, "；".join(lacks.values()))
    else:
        directive = Seen("directive", labels["directive"], True, PENALTY_LABELS[facts.penalty_kind])
    signature = Seen(
        "signature", labels["signature"], facts.signed, "已签字" if facts.signed else "责任人尚未签字"
    )
    total, closed, still_open = rectification_counts(facts.hazard_statuses)
    if not facts.signed:
        rectification = Seen("rectification", labels["rectification"], False, "签字后问题转为隐患，按隐患整改")
    elif total == 0:
        rectification = Seen("rectification", labels["rectification"], True, "无需整改")
    else:
        rectification = Seen(
            "rectification",
            labels["rectification"],
            still_open == 0,
            f"{total} 项隐患中 {closed} 项已整改销号" + (f"，{still_open} 项未完成" if still_open else ""),
        )
    accepted = facts.status is InspectionStatus.ACCEPTED
    acceptance_detail = {
        InspectionStatus.ACCEPTED: "复查验收通过",
        InspectionStatus.RECTIFYING: "复查未通过，继续整改",
    }.get(facts.status, "尚未复查验收")
    acceptance = Seen("acceptance", labels["acceptance"], accepted, acceptance_detail)
    return [problems, directive, signature, rectification, acceptance]


def seen_done(facts: RecordFacts) -> int:
    return sum(1 for s in five_seen(facts) if s.done)


# --- signing and acceptance ----------------------------------------------------------------------


def check_ready_to_sign(
    facts: RecordFacts, responsible_name: str, deadlines: Iterable[date], today: date
) -> None:
    """Signing needs the problem list (≥ 1 problem, or 「未发现问题」 ticked, not both), the
    directive filled (it may be 「无」), the responsible person named, and no problem due
    before today. Raises ValidationFailed naming everything missing."""
    missing: dict[str, str] = {}
    if facts.problems and facts.no_problems:
        missing["no_problems"] = "已列出问题，不能同时勾选“未发现问题”"
    elif not facts.problems and not facts.no_problems:
        missing["problems"] = "请至少列出一项问题，或勾选“未发现问题”"
    missing |= directive_problems(facts.penalty_kind, facts.penalty_content, facts.penalty_number, facts.penalty_deadline)
    if not responsible_name.strip():
        missing["responsible_name"] = "请填写企业责任人姓名"
    if any(d < today for d in deadlines):
        missing["deadline"] = "有问题的整改期限已过，请删除后按新期限重新添加"
    if missing:
        raise ValidationFailed("签字前请补全：" + "；".join(missing.values()) + "。", fields=missing)


def check_acceptance(statuses: Iterable[HazardStatus]) -> None:
    """复查验收 needs every hazard of the record settled. Raises InvalidTransition."""
    _total, _closed, still_open = rectification_counts(statuses)
    if still_open:
        raise InvalidTransition(
            f"尚有 {still_open} 项隐患未整改销号，不能复查验收通过；请待企业整改并复查销号后再验收，"
            "或记录“复查未通过”并说明原因。"
        )


# --- input rules ---------------------------------------------------------------------------------

MAX_INSPECTORS = 200
MAX_NAME = 64
MAX_AGENCIES = 200
MAX_SUMMARY = 4000
MAX_PROBLEM = 1000
MAX_DIRECTIVE = 4000
MAX_NUMBER = 64
MAX_RESULT = 2000


def invalid(field_name: str, problem: str) -> ValidationFailed:
    return ValidationFailed(problem, fields={field_name: problem})


def clean_line(value: object, field_name: str, label: str, limit: int, *, required: bool = False) -> str:
    """One line of text, spaces collapsed. Raises ValidationFailed."""
    text = " ".join(str(value or "").split())
    if required and not text:
        raise invalid(field_name, f"请填写{label}")
    if len(text) > limit:
        raise invalid(field_name, f"{label}不能超过 {limit} 个字")
    return text


def clean_text(value: object, field_name: str, label: str, limit: int, *, required: bool = False) -> str:
    """A paragraph (line breaks kept). Raises ValidationFailed."""
    text = str(value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise invalid(field_name, f"请填写{label}")
    if len(text) > limit:
        raise invalid(field_name, f"{label}不能超过 {limit} 个字")
    return text


def parse_day(value: object, field_name: str, label: str, *, required: bool = False) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        if required:
            raise invalid(field_name, f"请填写{label}")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(field_name, f"{label}应为 YYYY-MM-DD 格式的日期") from None


def truthy(value: object) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "on", "yes", "y"}
