"""Input and output shapes of hazards, validated with pydantic (Chinese messages), and the
pages' forms read into the plain dicts the use cases parse.

Cross-field rules that depend on the database or the clock (which source allows which
fields, deadlines in the future) are the service's; these shapes check one field at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.clock import LOCAL_TZ
from app.errors import NotFound, ValidationFailed
from app.hazard_reporting.hazards.domain import (
    FORM_ACTIONS,
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardSource,
    OnFail,
    local_end_of_day,
)

MAX_FUND_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)


def _deadline(value: Any) -> datetime:
    """A date means the end of that day in Asia/Shanghai; a time without zone is local.
    Returns aware UTC; raises ValueError (Chinese) for anything else."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return local_end_of_day(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return local_end_of_day(date.fromisoformat(text))
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("应为日期（YYYY-MM-DD）或时间（YYYY-MM-DDTHH:MM）") from None
    else:
        raise ValueError("应为日期（YYYY-MM-DD）或时间（YYYY-MM-DDTHH:MM）")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)  # 12.5 → "12.5", not the binary expansion
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError("应为金额（元），如 150000 或 150000.50") from None
    if not amount.is_finite():
        raise ValueError("应为金额（元），如 150000 或 150000.50")
    if amount < 0:
        raise ValueError("不能为负数")
    if amount > MAX_FUND_AMOUNT:
        raise ValueError("金额过大")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("最多保留两位小数")
    return amount


Deadline = Annotated[datetime, BeforeValidator(_deadline)]
Amount = Annotated[Decimal | None, BeforeValidator(_amount)]
Note = Annotated[str, Field(max_length=1000)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HazardReportIn(_Input):
    enterprise_id: int = Field(title="企业")
    source: HazardSource = Field(HazardSource.ADHOC, title="来源")
    site_id: int | None = Field(None, title="排查点位")
    department_id: int | None = Field(None, title="责任部门")
    # From a failed check item: the task, the item and what its failure means.
    source_task_id: int | None = Field(None, title="排查任务")
    item_code: str | None = Field(None, title="检查项代码", max_length=32)
    on_fail: OnFail | None = Field(None, title="检查项定级")
    item_category: str | None = Field(None, title="检查项类别", max_length=16)
    criteria_refs: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, title="判定依据", max_length=10
    )
    level: HazardLevel | None = Field(None, title="隐患等级")
    category: HazardCategory | None = Field(None, title="隐患类别")
    description: str = Field(title="隐患描述", min_length=1, max_length=2000)
    location: str = Field("", title="具体位置", max_length=256)


class AssignIn(_Input):
    assignee_id: int = Field(title="整改责任人")
    department_id: int | None = Field(None, title="责任部门")


class NoteIn(_Input):
    note: Note = Field("", title="说明")


class RejectIn(_Input):
    reason: Reason = Field(title="驳回理由")


class VerifyIn(_Input):
    passed: bool = Field(title="复查结论")
    note: Note = Field("", title="复查意见")


class CriteriaIn(_Input):
    criteria_code: str | None = Field(None, title="判定依据条目", max_length=32)
    criteria_note: str | None = Field(None, title="外部因素说明", max_length=1000)


class UpgradeIn(CriteriaIn):
    note: Note = Field("", title="复核意见")


class AssessIn(CriteriaIn):
    assessor: str = Field(title="评估人/专家", min_length=1, max_length=128)
    opinion: str = Field(title="评估意见", min_length=1, max_length=2000)


class MilestoneIn(_Input):
    title: str = Field(title="节点", min_length=1, max_length=128)
    due: date = Field(title="节点日期")
    done: bool = Field(False, title="已完成")


class PlanIn(_Input):
    """A draft of the 五到位 plan; only the fields sent are changed."""

    measures: str | None = Field(None, title="整改措施", max_length=5000)
    owner_org: str | None = Field(None, title="责任单位", max_length=128)
    owner_person: str | None = Field(None, title="责任人", max_length=64)
    fund_amount: Amount = Field(None, title="整改资金（元）")
    fund_source: str | None = Field(None, title="资金来源", max_length=128)
    deadline: Deadline | None = Field(None, title="整改时限")
    milestones: list[MilestoneIn] | None = Field(None, title="节点计划", max_length=50)
    contingency: str | None = Field(None, title="应急预案", max_length=5000)


class SuperviseIn(_Input):
    supervising_unit: str = Field(title="督办单位", min_length=1, max_length=128)
    note: Note = Field("", title="督办要求")


class AcceptIn(_Input):
    passed: bool = Field(title="验收结论")
    acceptor: str = Field(title="验收人/专家", min_length=1, max_length=128)
    opinion: str = Field(title="验收意见", min_length=1, max_length=2000)


class ExtensionRequestIn(_Input):
    new_deadline: Deadline = Field(title="申请延至")
    reason: Reason = Field(title="延期理由")


class ExtensionDecisionIn(_Input):
    approved: bool = Field(title="审批结论")
    note: Note = Field("", title="审批意见")


# --- the pages' forms --------------------------------------------------------------------------

NOT_A_FORM = "页面不存在，请检查链接是否正确。"

# Chinese names of the form fields, for messages that name a field.
FIELD_LABELS = {
    "photo": "照片",
    "photos": "照片",
    "enterprise_id": "企业",
    "site_id": "排查点位",
    "department_id": "责任部门",
    "description": "隐患描述",
    "location": "具体位置",
    "level": "隐患等级",
    "category": "隐患类别",
    "assignee_id": "整改责任人",
    "note": "说明",
    "reason": "理由",
    "passed": "结论",
    "approved": "审批结论",
    "new_deadline": "申请延至",
    "criteria_code": "判定依据",
    "criteria_note": "外部因素说明",
    "assessor": "评估人/专家",
    "opinion": "意见",
    "acceptor": "验收人/专家",
    "supervising_unit": "督办单位",
    "measures": "整改措施",
    "owner_org": "责任单位",
    "owner_person": "责任人",
    "fund_amount": "整改资金",
    "fund_source": "资金来源",
    "deadline": "整改时限",
    "milestones": "节点计划",
    "contingency": "应急预案",
    "month": "月份",
    "idempotency_key": "提交标识",
}

PLAN_FIELDS = (
    "measures",
    "owner_org",
    "owner_person",
    "fund_amount",
    "fund_source",
    "deadline",
    "contingency",
)

# The fields each action form sends (the plan form is read by plan_data).
ACTION_FIELDS: Mapping[HazardAction, tuple[str, ...]] = {
    HazardAction.ASSIGN: ("assignee_id",),
    HazardAction.START_RECTIFICATION: ("note",),
    HazardAction.SUBMIT_RECTIFICATION: ("note",),
    HazardAction.VERIFY: ("passed", "note"),
    HazardAction.ACCEPT: ("passed", "acceptor", "opinion"),
    HazardAction.REJECT: ("reason",),
    HazardAction.UPGRADE_TO_MAJOR: ("criteria_code", "criteria_note", "note"),
    HazardAction.ASSESS: ("criteria_code", "criteria_note", "assessor", "opinion"),
    HazardAction.REGISTER: ("note",),
    HazardAction.APPROVE_PLAN: ("note",),
    HazardAction.SUPERVISE: ("supervising_unit", "note"),
    HazardAction.REQUEST_EXTENSION: ("new_deadline", "reason"),
    HazardAction.DECIDE_EXTENSION: ("approved", "note"),
    HazardAction.ADD_BEFORE_PHOTO: (),
}
# The action forms that carry photos (staged or posted).
PHOTO_FORMS = frozenset({HazardAction.SUBMIT_RECTIFICATION, HazardAction.ADD_BEFORE_PHOTO})

# The 随手拍 form: its fields as shown again after a refusal, and what a new one starts with.
REPORT_FIELDS = ("enterprise_id", "site_id", "location", "description", "level", "category")
REPORT_DEFAULTS = {"level": HazardLevel.GENERAL.value, "category": HazardCategory.UNSAFE_CONDITION.value}


class _Plan(Protocol):
    milestones: list[dict[str, Any]] | None


class _Choice(Protocol):
    id: int


class _SiteChoice(Protocol):
    id: int
    enterprise_id: int


def filled(form: Mapping[str, str], *names: str) -> dict[str, str]:
    """The named fields that were filled in (blank ones left out, so the schema says 必填)."""
    values = {}
    for name in names:
        value = (form.get(name) or "").strip()
        if value:
            values[name] = value
    return values


def milestones_from_text(text: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan milestones from lines "YYYY-MM-DD 节点内容"; a milestone already marked done
    (same date and text) stays done. Raises ValidationFailed naming the bad line."""
    done = {(m.get("due"), m.get("title")) for m in existing or [] if m.get("done")}
    milestones = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        head, _, title = line.partition(" ")
        try:
            due = date.fromisoformat(head.strip())
        except ValueError:
            raise ValidationFailed.for_field(
                "milestones", f"第 {number} 行应为“YYYY-MM-DD 节点内容”，如 2026-12-10 完成除尘器泄爆片更换"
            ) from None
        title = title.strip()
        if not title:
            raise ValidationFailed.for_field("milestones", f"第 {number} 行缺少节点内容")
        milestones.append({"title": title, "due": due.isoformat(), "done": (due.isoformat(), title) in done})
    return milestones


def plan_data(form: Mapping[str, str], plan: _Plan | None) -> dict[str, Any]:
    """Every plan field from the form: a blank field clears what was there.
    Raises ValidationFailed for a bad milestone line."""
    data: dict[str, Any] = {name: (form.get(name) or "").strip() or None for name in PLAN_FIELDS}
    existing = plan.milestones if plan is not None else []
    data["milestones"] = milestones_from_text(form.get("milestones") or "", existing)
    return data


def form_action(slug: str) -> HazardAction:
    """The action a form's URL names. Raises NotFound for anything not offered as a form."""
    try:
        action = HazardAction(slug)
    except ValueError:
        raise NotFound(NOT_A_FORM) from None
    if action not in FORM_ACTIONS:
        raise NotFound(NOT_A_FORM)
    return action


def action_data(action: HazardAction, form: Mapping[str, str], plan: _Plan | None) -> dict[str, Any]:
    """The data of `action`'s form for service.act (photos aside: see uploads.form_photos).
    `plan` is the hazard's current plan, whose done milestones stay done.
    Raises ValidationFailed (the plan form's milestones)."""
    if action is HazardAction.SAVE_PLAN:
        return plan_data(form, plan)
    return filled(form, *ACTION_FIELDS[action])


def report_values(form: Mapping[str, str]) -> dict[str, str]:
    """The 随手拍 form as filled in, to show it again."""
    return {name: form.get(name, "") for name in REPORT_FIELDS}


def report_data(
    form: Mapping[str, str], enterprises: Sequence[_Choice], sites: Sequence[_SiteChoice]
) -> dict[str, Any]:
    """The 随手拍 form as report_hazard data, from the enterprises and sites it offered. No
    enterprise chosen: the chosen site's, else the only one offered. Raises ValidationFailed
    (nothing offered, no enterprise, a level that is not offered)."""
    if not enterprises:
        raise ValidationFailed.for_field("enterprise_id", "您还不是任何企业的成员，不能上报隐患")
    data: dict[str, Any] = {"source": HazardSource.ADHOC.value}
    data |= filled(form, "enterprise_id", "site_id", "description", "location", "category")
    if "enterprise_id" not in data:
        site = next((s for s in sites if str(s.id) == data.get("site_id")), None)
        if site is not None:
            data["enterprise_id"] = site.enterprise_id
        elif len(enterprises) == 1:
            data["enterprise_id"] = enterprises[0].id
        else:
            raise ValidationFailed.for_field("enterprise_id", "请选择企业")
    level = (form.get("level") or HazardLevel.GENERAL.value).strip()
    if level not in {lv.value for lv in HazardLevel}:
        raise ValidationFailed.for_field("level", "请选择“一般隐患”或“可能重大”")
    # The service lets any member claim a major hazard; the 评估认定 step confirms it, and
    # only the principal may dismiss the claim (domain.py, REJECT of a major hazard).
    data["level"] = level
    return data
