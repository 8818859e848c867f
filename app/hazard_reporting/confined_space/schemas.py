"""Input shapes of confined-space jobs and their confirmations (pydantic, Chinese titles so
ValidationFailed names fields the way a user sees them)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConfinedSpaceJobIn(_Input):
    site_id: int = Field(title="作业点位")
    description: str = Field(title="作业内容", min_length=1, max_length=1000)
    planned_start: AwareDatetime = Field(title="计划开始时间")


class ConfirmationIn(_Input):
    item_code: str = Field(title="确认项", min_length=1, max_length=16)
    passed: bool = Field(title="是否符合")
    confirmed_by: str = Field(title="确认人", min_length=1, max_length=64)
    note: str = Field("", title="说明", max_length=256)
