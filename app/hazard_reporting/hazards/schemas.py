"""Input and output shapes of hazards, validated with pydantic (Chinese messages).

Cross-field rules that depend on the database or the clock (which source allows which
fields, deadlines in the future) are the service's; these shapes check one field at a time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.clock import LOCAL_TZ
from app.hazard_reporting.hazards.domain import (
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
