"""Input shapes of the risk register's editor and import (pydantic, Chinese titles so
ValidationFailed names fields the way a user sees them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from app.hazard_reporting.risks.domain import ControlKind, ControlLevel, RiskPointKind
from app.ids import MAX_ID


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _split_types(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", "、").replace("，", "、").split("、") if part.strip()]
    return value


def _in_range(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_ID:
        raise ValueError("编号无效")
    return value


OptionalId = Annotated[int | None, BeforeValidator(_blank_is_none), AfterValidator(_in_range)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RiskPointIn(_Input):
    name: str = Field(title="风险点名称", min_length=1, max_length=64)
    kind: RiskPointKind = Field(title="类型")
    area: str = Field("", title="所在区域", max_length=128)
    site_id: OptionalId = None


class RiskSourceIn(_Input):
    name: str = Field(title="危险源", min_length=1, max_length=128)
    is_major_factor: bool = Field(False, title="较大危险因素")
    accident_types: Annotated[list[str], BeforeValidator(_split_types)] = Field(default_factory=list, title="事故类型")
    likelihood: str = Field(title="L")
    exposure: str = Field(title="E")
    consequence: str = Field(title="C")


class RiskControlIn(_Input):
    text: str = Field(title="管控措施", min_length=1, max_length=500)
    kind: ControlKind = Field(title="措施类别")
    control_level: ControlLevel = Field(title="管控层级")
    department_id: OptionalId = None
    team_id: OptionalId = None
    post_id: OptionalId = None
    responsible_user_id: OptionalId = None
